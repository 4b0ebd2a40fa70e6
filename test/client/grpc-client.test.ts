/**
 * The TypeScript client over gRPC against a real embedded node's gRPC door on loopback: the same
 * calls and answers as over HTTP (the two clients agree bit for bit), typed errors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InferenceGrpcClient, InferenceHttpClient, InferenceServerError, tensorValues, type TensorInput } from '../../client/index.js';
import { DEFAULT_GRPC_MAX_MESSAGE_BYTES } from '../../core/kserve-grpc-envelope.js';
import { startGrpcServer, type GrpcDoor } from '../../gateway/grpc/server.js';
import { startEmbeddedServer, type EmbeddedServer } from '../support/embedded-server.js';

let server: EmbeddedServer;
let door: GrpcDoor;
let grpc: InferenceGrpcClient;
let http: InferenceHttpClient;

beforeAll(async () => {
  server = await startEmbeddedServer();
  door = await startGrpcServer({ service: server.node.service, host: '127.0.0.1', port: 0, maxMessageBytes: DEFAULT_GRPC_MAX_MESSAGE_BYTES });
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  grpc = new InferenceGrpcClient(`127.0.0.1:${door.port}`);
  http = new InferenceHttpClient(`http://127.0.0.1:${(server.app.server.address() as { port: number }).port}`);
});

afterAll(async () => {
  grpc?.close();
  await http?.close();
  await door?.close();
  await server?.close();
});

describe('InferenceGrpcClient', () => {
  it('health, metadata and readiness, as the HTTP client sees them', async () => {
    expect(await grpc.isLive()).toBe(true);
    expect(await grpc.isReady()).toBe(true);
    expect((await grpc.serverMetadata()).name).toBe('infergate');
    expect(await grpc.modelMetadata('identity')).toMatchObject({ name: 'identity', versions: ['1'], inputs: [{ name: 'INPUT0', datatype: 'FP32' }] });
    expect(await grpc.isModelReady('identity')).toBe(true);
  });

  it('gives the same outputs as the HTTP client, bit for bit, 64-bit extremes and -0.0 included', async () => {
    const meta = await http.modelMetadata('identity_types');
    const special: Record<string, unknown[]> = {
      IN_INT64: [9223372036854775807n, -9223372036854775808n, 9007199254740993n],
      IN_UINT64: [18446744073709551615n, 0n, 1n],
      IN_FP32: [-0, Number.NaN, Number.POSITIVE_INFINITY],
      IN_FP64: [-0, 1e-300, Number.NEGATIVE_INFINITY],
      IN_BYTES: ['a', 'héllo', ''],
    };
    const inputs: TensorInput[] = meta.inputs.map((t) => ({
      name: t.name, datatype: t.datatype,
      shape: t.shape.map((d, k) => (d === -1 ? (k === t.shape.length - 1 ? 3 : 1) : d)),
      data: (special[t.name] ?? [1, 0, 1]) as never,
    }));
    const [overGrpc, overBinary, overJson] = await Promise.all([
      grpc.infer('identity_types', inputs),
      http.infer('identity_types', inputs),
      http.infer('identity_types', inputs, { encoding: 'json' }),
    ]);
    const bits = (t: { data: unknown }) => (Array.isArray(t.data) ? (t.data as Uint8Array[]).map((b) => Buffer.from(b).toString('hex')) : Buffer.from((t.data as Uint8Array).buffer, (t.data as Uint8Array).byteOffset, (t.data as Uint8Array).byteLength).toString('hex'));
    for (const out of overBinary.outputs) {
      expect(bits(overGrpc.output(out.name)), out.name).toEqual(bits(out));
      expect(bits(overJson.output(out.name)), out.name).toEqual(bits(out));
    }
    expect(tensorValues(overGrpc.output('OUT_INT64'))).toEqual(special.IN_INT64);
  });

  it('turns gRPC errors into InferenceServerError with the same kind and message as HTTP', async () => {
    const overGrpc = await grpc.infer('nope', []).catch((e: unknown) => e);
    const overHttp = await http.infer('nope', []).catch((e: unknown) => e);
    expect(overGrpc).toBeInstanceOf(InferenceServerError);
    expect(overGrpc).toMatchObject({ code: 'NOT_FOUND', status: 404, message: (overHttp as Error).message });
    const bad = await grpc.infer('identity', [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 15], data: new Float32Array(15) }]).catch((e: unknown) => e);
    expect(bad).toMatchObject({ code: 'INVALID_ARG', message: expect.stringContaining('dim 1 expected 16') });
  });
});

describe('InferenceGrpcClient streams', () => {
  it('answers every request of a stream in order; a bad one in the middle answers an error and the stream goes on', async () => {
    const stream = grpc.openStream();
    const good = (v: number): TensorInput[] => [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 16], data: new Float32Array(16).fill(v) }];
    stream.send('identity', good(1), { id: 'a' });
    stream.send('identity', [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 3], data: new Float32Array(3) }], { id: 'bad' });
    stream.send('identity', good(3), { id: 'c' });
    stream.end();
    const answers: Array<{ id?: string; value?: number; error?: string }> = [];
    for await (const answer of stream.results) {
      if (answer instanceof InferenceServerError) answers.push({ error: answer.message });
      else answers.push({ id: answer.id, value: (answer.output('OUTPUT0').data as Float32Array)[0] });
    }
    expect(answers).toEqual([
      { id: 'a', value: 1 },
      { error: expect.stringContaining('dim 1 expected 16') },
      { id: 'c', value: 3 },
    ]);
  });
});
