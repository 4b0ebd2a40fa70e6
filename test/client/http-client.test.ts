/**
 * The TypeScript client against a real embedded node on loopback (real onnxruntime models): every
 * call, JSON and binary tensors, typed arrays in and out, typed errors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InferenceHttpClient, InferenceServerError, tensorValues } from '../../client/index.js';
import { startEmbeddedServer, type EmbeddedServer } from '../support/embedded-server.js';

let server: EmbeddedServer;
let client: InferenceHttpClient;

beforeAll(async () => {
  server = await startEmbeddedServer();
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  client = new InferenceHttpClient(`http://127.0.0.1:${(server.app.server.address() as { port: number }).port}`);
});

afterAll(async () => {
  await client?.close();
  await server?.close();
});

const ints = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));

describe('InferenceHttpClient', () => {
  it('health, server and model metadata, readiness, config and the index', async () => {
    expect(await client.isLive()).toBe(true);
    expect(await client.isReady()).toBe(true);
    expect((await client.serverMetadata()).name).toBe('infergate');
    expect(await client.modelMetadata('identity')).toMatchObject({ name: 'identity', versions: ['1'], inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [-1, 16] }] });
    expect(await client.isModelReady('identity', '1')).toBe(true);
    expect(await client.modelConfig('identity')).toMatchObject({ name: 'identity', max_batch_size: 8 });
    expect(await client.repositoryIndex()).toEqual(expect.arrayContaining([{ name: 'identity', version: '1', state: 'READY', reason: '' }]));
  });

  it.each(['binary', 'json'] as const)('infers with typed arrays in and out (%s)', async (encoding) => {
    const a = Int32Array.from(ints(16, (i) => i));
    const result = await client.infer('add_sub', [
      { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: a },
      { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: ints(16, () => 2) },
    ], { encoding, id: 'req-7' });
    expect(result).toMatchObject({ modelName: 'add_sub', modelVersion: '1', id: 'req-7' });
    expect(result.output('OUTPUT0').data).toBeInstanceOf(Int32Array);
    expect(Array.from(result.output('OUTPUT0').data as Int32Array)).toEqual(ints(16, (i) => i + 2));
    expect(Array.from(result.output('OUTPUT1').data as Int32Array)).toEqual(ints(16, (i) => i - 2));
  });

  it('returns only the outputs asked for', async () => {
    const result = await client.infer('add_sub', [
      { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: ints(16, () => 1) },
      { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: ints(16, () => 1) },
    ], { outputs: ['OUTPUT1'] });
    expect(result.outputs.map((o) => o.name)).toEqual(['OUTPUT1']);
    expect(() => result.output('OUTPUT0')).toThrow(/no output 'OUTPUT0'/);
  });

  it('carries FP16, BOOL, BYTES and 64-bit integers exactly in binary', async () => {
    const meta = await client.modelMetadata('identity_types');
    const special: Record<string, unknown[]> = {
      IN_FP16: [0.5, -2, 1024],
      IN_BOOL: [true, false, true],
      IN_BYTES: ['a', 'héllo', ''],
      IN_INT64: [9223372036854775807n, -9223372036854775808n, 9007199254740993n],
      IN_UINT64: [18446744073709551615n, 0n, 9007199254740993n],
    };
    // The model takes every input at once; the ones not under test carry 1, 2, 3.
    const inputs = meta.inputs.map((t) => ({
      name: t.name,
      datatype: t.datatype,
      shape: t.shape.map((d, k) => (d === -1 ? (k === t.shape.length - 1 ? 3 : 1) : d)),
      data: (special[t.name] ?? [1, 2, 3]) as never,
    }));
    const result = await client.infer('identity_types', inputs);
    for (const [name, values] of Object.entries(special)) {
      if (!meta.inputs.some((t) => t.name === name)) continue;
      expect(tensorValues(result.output(name.replace('IN_', 'OUT_'))), name).toEqual(values);
    }
  });

  it('turns error answers into InferenceServerError with the kind and the server\'s message', async () => {
    const unknown = await client.infer('nope', []).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(InferenceServerError);
    expect(unknown).toMatchObject({ status: 404, code: 'NOT_FOUND', message: "unknown model: 'nope'" });
    const bad = await client.infer('identity', [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 15], data: new Float32Array(15) }]).catch((e: unknown) => e);
    expect(bad).toMatchObject({ status: 400, code: 'INVALID_ARG', message: expect.stringContaining('dim 1 expected 16') });
    await expect(client.modelMetadata('nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(client.isModelReady('nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('refuses values that do not fit the shape before sending anything', async () => {
    await expect(client.infer('identity', [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 16], data: [1, 2] }])).rejects.toThrow(/needs 16 elements, got 2/);
  });
});
