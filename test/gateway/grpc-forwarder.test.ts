/**
 * How a gateway's backend sends a gRPC inference to a node, in process over real sockets: an
 * embedded node with its gRPC door and its HTTP app listening, and the gateway's RemoteBackend.
 * With the node's gRPC address the bytes go to the gRPC door (the backend's HTTP URL leads nowhere,
 * so an answer proves it); a node error comes back as an answer with its status and message; no
 * gRPC door listening is a transport failure; cancelling or a deadline passing calls the request
 * off on the node. Without a gRPC address the request is re-encoded over HTTP.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimModelsDir, freePort, waitFor } from '../../bench/support/cluster-processes.js';
import { Cancellation } from '../../core/cancellation.js';
import { InferError, TransportError, clientClosed } from '../../core/errors.js';
import type { InferCall } from '../../core/infer-call.js';
import { DEFAULT_GRPC_MAX_MESSAGE_BYTES, GRPC_ERROR_CONTENT_TYPE, GRPC_MESSAGE_CONTENT_TYPE, grpcErrorMessage } from '../../core/kserve-grpc-envelope.js';
import { startGrpcServer, type GrpcDoor } from '../../gateway/grpc/server.js';
import { RemoteBackend } from '../../transport/remote-backend.js';
import { startEmbeddedServer, type EmbeddedServer } from '../support/embedded-server.js';
import { GrpcTestClient, bytesOf, decodeInferResponseMessage, encodeInferRequestMessage, float32sOf } from '../support/grpc-client.js';

const SIM_SERVICE_MS = 600;

let modelsDir: string;
let server: EmbeddedServer;
let door: GrpcDoor;
let httpUrl: string;
let client: GrpcTestClient;
let overGrpc: RemoteBackend;
let overHttp: RemoteBackend;

beforeAll(async () => {
  modelsDir = createSimModelsDir({ serviceMs: SIM_SERVICE_MS, instances: 1, bundled: ['identity'] });
  server = await startEmbeddedServer({ modelsDir });
  door = await startGrpcServer({ service: server.node.service, host: '127.0.0.1', port: 0, maxMessageBytes: DEFAULT_GRPC_MAX_MESSAGE_BYTES });
  httpUrl = await server.app.listen({ host: '127.0.0.1', port: 0 });
  client = new GrpcTestClient(`127.0.0.1:${door.port}`);
  // Port 1 refuses: only the gRPC door can answer this backend.
  overGrpc = new RemoteBackend('n1', 'http://127.0.0.1:1', { grpcTarget: () => `127.0.0.1:${door.port}` });
  overHttp = new RemoteBackend('n1-http', httpUrl, { grpcTarget: () => undefined });
});

afterAll(async () => {
  client?.close();
  await overGrpc?.close();
  await overHttp?.close();
  await door?.close();
  await server?.close();
  if (modelsDir) rmSync(modelsDir, { recursive: true, force: true });
});

const FLOATS = Array.from({ length: 16 }, (_, i) => i * 1.25);

function call(model: string, body: Uint8Array, options: { version?: string; deadlineMs?: number; cancellation?: Cancellation } = {}): InferCall {
  return {
    model,
    version: options.version,
    requestId: 'fwd-test',
    deadlineMs: options.deadlineMs ?? Date.now() + 10_000,
    cancellation: options.cancellation ?? new Cancellation(),
    payload: { format: 'kserve-grpc', body: Buffer.from(body) },
  };
}

const IDENTITY = encodeInferRequestMessage({
  model_name: 'identity', id: 'f1', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 16] }], raw_input_contents: [bytesOf(Float32Array.from(FLOATS))],
});
const SIM = encodeInferRequestMessage({ model_name: 'sim_echo', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [2] }], raw_input_contents: [bytesOf(Float32Array.from([1, 2]))] });

async function rejection(promise: Promise<unknown>): Promise<InferError> {
  try {
    await promise;
  } catch (err) {
    return err as InferError;
  }
  throw new Error('resolved; expected a rejection');
}

/** Holds the sim model's only instance with a request sent straight to the door. */
async function occupySim(): Promise<{ answer: Promise<unknown> }> {
  const answer = client.inferBytes(SIM);
  await waitFor('the sim instance to be busy', () => (server.node.host.meter.inFlight === 1 && server.node.host.meter.queueDepth === 0 ? true : undefined), { timeoutMs: 5_000, intervalMs: 5 });
  return { answer };
}

describe('RemoteBackend with a gRPC address', () => {
  it('forwards the bytes to the node\'s gRPC door; the answer is the door\'s ModelInferResponse as it is', async () => {
    const answer = await overGrpc.infer(call('identity', IDENTITY), '1');
    expect(answer).toMatchObject({ status: 200, contentType: GRPC_MESSAGE_CONTENT_TYPE, modelVersion: '1' });
    expect(Buffer.from(answer.body).equals(await client.inferBytes(IDENTITY))).toBe(true);
    expect(float32sOf(decodeInferResponseMessage(answer.body).raw_output_contents[0])).toEqual(FLOATS);
  });

  it('the node runs the version the pool was chosen for, also when the client named none', async () => {
    // The message names no version; the backend sets model_version (here one the node does not serve).
    const answer = await overGrpc.infer(call('identity', IDENTITY), '7');
    expect(answer.status).toBe(404);
    expect(grpcErrorMessage(answer)).toMatch(/version.*7|7.*version/);
  });

  it('a node error is an answer: the status of the shared table and the node\'s message', async () => {
    const unknownModel = encodeInferRequestMessage({ model_name: 'nope', inputs: [] });
    const answer = await overGrpc.infer(call('nope', unknownModel), '1');
    expect(answer.status).toBe(404);
    expect(answer.contentType).toBe(GRPC_ERROR_CONTENT_TYPE);
    expect(grpcErrorMessage(answer)).toMatch(/nope/);
  });

  it('no gRPC door listening at the address: a TransportError (the router tries another node)', async () => {
    const port = await freePort();
    const nowhere = new RemoteBackend('gone', httpUrl, { grpcTarget: () => `127.0.0.1:${port}` });
    try {
      expect(await rejection(nowhere.infer(call('identity', IDENTITY), '1'))).toBeInstanceOf(TransportError);
    } finally {
      await nowhere.close();
    }
  });

  it('a cancelled call cancels the gRPC call: the node drops the queued request', async () => {
    const first = await occupySim();
    const cancellation = new Cancellation();
    const forwarded = rejection(overGrpc.infer(call('sim_echo', SIM, { cancellation }), '1'));
    await waitFor('the forwarded request to queue', () => (server.node.host.meter.queueDepth === 1 ? true : undefined), { timeoutMs: 2_000, intervalMs: 5 });
    cancellation.cancel(clientClosed());
    expect((await forwarded).reason).toBe('client_closed');
    await waitFor('the node to drop it', () => (server.node.host.meter.queueDepth === 0 ? true : undefined), { timeoutMs: 2_000, intervalMs: 5 });
    await first.answer;
    expect(server.node.host.meter.inFlight).toBe(0);
  });

  it('the remaining deadline is the gRPC deadline: the node drops the request when it passes', async () => {
    const first = await occupySim();
    const outcome = await overGrpc.infer(call('sim_echo', SIM, { deadlineMs: Date.now() + 150 }), '1').then((a) => a.status, (e: InferError) => e.code);
    // The node's own 504 or the client's deadline, whichever is first: either way the deadline.
    expect([504, 'DEADLINE_EXCEEDED']).toContain(outcome);
    await waitFor('the node to drop it', () => (server.node.host.meter.queueDepth === 0 ? true : undefined), { timeoutMs: 2_000, intervalMs: 5 });
    await first.answer;
    expect(server.node.host.meter.inFlight).toBe(0);
  });
});

describe('RemoteBackend without a gRPC address', () => {
  it('re-encodes over HTTP (binary extension) and answers the same ModelInferResponse bytes', async () => {
    const answer = await overHttp.infer(call('identity', IDENTITY), '1');
    expect(answer.status).toBe(200);
    expect(Buffer.from(answer.body).equals(await client.inferBytes(IDENTITY))).toBe(true);
  });

  it('the node\'s HTTP error becomes a gRPC error answer with its status and message', async () => {
    const bad = encodeInferRequestMessage({ model_name: 'identity', inputs: [{ name: 'INPUT9', datatype: 'FP32', shape: [1, 16] }], raw_input_contents: [bytesOf(new Float32Array(16))] });
    const answer = await overHttp.infer(call('identity', bad), '1');
    expect(answer.status).toBe(400);
    expect(grpcErrorMessage(answer)).toMatch(/unknown input 'INPUT9' for model 'identity'/);
  });
});
