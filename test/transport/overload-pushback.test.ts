/**
 * The transports read a node's overload answer into WireAnswer.retryAfterMs, so the router can
 * hold the node off and a gateway pass the wait on: gRPC's grpc-retry-pushback-ms trailer (or
 * retry-after in seconds) through the forwarder, against a real grpc-js server on loopback.
 */
import { Metadata, Server, ServerCredentials, status, type ServerUnaryCall, type sendUnaryData } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { Cancellation } from '../../core/cancellation.js';
import type { InferCall } from '../../core/infer-call.js';
import { HTTP_STATUS_TRAILER, MODEL_INFER_PATH, RETRY_PUSHBACK_TRAILER } from '../../core/kserve-grpc-envelope.js';
import { GrpcForwarder } from '../../transport/grpc-forwarder.js';

const asIs = (b: Buffer) => b;
let server: Server | undefined;
let forwarder: GrpcForwarder | undefined;

afterEach(async () => {
  forwarder?.close();
  await new Promise<void>((r) => (server ? server.tryShutdown(() => r()) : r()));
  server = forwarder = undefined;
});

/** A node's gRPC door that answers every ModelInfer UNAVAILABLE with these trailers. */
async function busyNode(trailers: Record<string, string>): Promise<string> {
  server = new Server();
  server.register(MODEL_INFER_PATH, (_call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
    const metadata = new Metadata();
    for (const [k, v] of Object.entries(trailers)) metadata.set(k, v);
    callback({ code: status.UNAVAILABLE, details: 'queue is full', metadata });
  }, asIs, asIs, 'unary');
  const port = await new Promise<number>((resolve, reject) => server!.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  return `127.0.0.1:${port}`;
}

const call = (): InferCall => ({
  model: 'm', version: '1', requestId: 'r', deadlineMs: Date.now() + 5_000, cancellation: new Cancellation(),
  payload: { format: 'kserve-grpc', body: Buffer.alloc(0) },
});

describe('GrpcForwarder overload answers', () => {
  it('reads grpc-retry-pushback-ms into the answer\'s retryAfterMs', async () => {
    forwarder = new GrpcForwarder(await busyNode({ [HTTP_STATUS_TRAILER]: '503', [RETRY_PUSHBACK_TRAILER]: '1500', 'retry-after': '2' }), { maxMessageBytes: 1 << 20 });
    const answer = await forwarder.infer(call(), '1');
    expect(answer.status).toBe(503);
    expect(answer.retryAfterMs).toBe(1_500);
  });

  it('falls back to retry-after in seconds, and to none', async () => {
    forwarder = new GrpcForwarder(await busyNode({ [HTTP_STATUS_TRAILER]: '503', 'retry-after': '2' }), { maxMessageBytes: 1 << 20 });
    expect((await forwarder.infer(call(), '1')).retryAfterMs).toBe(2_000);
  });

  it('an answer without pushback carries none', async () => {
    forwarder = new GrpcForwarder(await busyNode({ [HTTP_STATUS_TRAILER]: '503' }), { maxMessageBytes: 1 << 20 });
    const answer = await forwarder.infer(call(), '1');
    expect(answer.status).toBe(503);
    expect(answer.retryAfterMs).toBeUndefined();
  });
});
