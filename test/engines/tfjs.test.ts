/**
 * The tfjs engine beyond the shared contract: the backend choice and its reasons, the declaration
 * checked against the model at load, model-file errors, tfjs's own input checks, memory returning
 * to its baseline, and a registry that does not import tfjs until a tfjs model loads.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import type { Card } from '../../adapters/card.js';
import { InferError } from '../../core/errors.js';
import { packageRoot } from '../../core/package-root.js';
import type { InferResponse } from '../../core/tensor.js';
import type { ModelLoadSpec } from '../../engines/engine.js';
import { createDefaultEngineRegistry } from '../../engines/engine-registry.js';
import { backendOrder, decideBackend, nativeAddonProblem, TFJS_BACKEND_ORDER } from '../../engines/tfjs-backend.js';
import { TfjsEngine, TfjsModelInstance } from '../../engines/tfjs.js';
import { CONTRACT_CPU_CARD } from './engine-contract.js';
import { denseRequest, livenessReference, livenessRequest, livenessSpec } from './tfjs-fixtures.js';

const GPU: Card = { id: 'gpu0', type: 'nvidia-t4', kind: 'gpu', coefficient: 1 };

describe('tfjs backend choice', () => {
  it.each([
    { attempts: [{ backend: 'tfjs-node-gpu', ok: true }], backend: 'tfjs-node-gpu', why: /first in the preference order/ },
    { attempts: [{ backend: 'tfjs-node-gpu', ok: false, reason: 'no CUDA' }, { backend: 'tfjs-node', ok: true }], backend: 'tfjs-node', why: /tfjs-node-gpu unavailable \(no CUDA\)/ },
    {
      attempts: [{ backend: 'tfjs-node-gpu', ok: false, reason: 'a' }, { backend: 'tfjs-node', ok: false, reason: 'b' }, { backend: 'wasm', ok: true }],
      backend: 'wasm', why: /^wasm: tfjs-node-gpu unavailable \(a\); tfjs-node unavailable \(b\)$/,
    },
    { attempts: [{ backend: 'wasm', ok: false, reason: 'no wasm' }, { backend: 'cpu', ok: true }], backend: 'cpu', why: /wasm unavailable \(no wasm\)/ },
  ] as const)('$backend when the attempts are $attempts', ({ attempts, backend, why }) => {
    const d = decideBackend(attempts);
    expect(d?.backend).toBe(backend);
    expect(d?.why).toMatch(why);
    expect(d?.skipped).toHaveLength(attempts.length - 1);
  });

  it('decides nothing when every backend failed', () => {
    expect(decideBackend([{ backend: 'cpu', ok: false, reason: 'x' }])).toBeUndefined();
  });

  it('checks a preference list', () => {
    expect(backendOrder(undefined)).toEqual([...TFJS_BACKEND_ORDER]);
    expect(() => backendOrder([])).toThrow(/empty/);
    expect(() => backendOrder(['webgl'])).toThrow(/unknown backend 'webgl'.*tfjs-node-gpu, tfjs-node, wasm, cpu/);
    expect(() => backendOrder(['cpu', 'cpu'])).toThrow(/repeats/);
  });

  it('tells a missing optional package from one installed without its native addon', () => {
    expect(nativeAddonProblem('@tensorflow/no-such-package')).toMatch(/not installed/);
    // npm installs tfjs-node here with its install script denied (package.json allowScripts).
    expect(nativeAddonProblem('@tensorflow/tfjs-node')).toMatch(/without its native addon/);
  });

  it('runs on wasm here and says why not on the native backends', async () => {
    const logs: string[] = [];
    const engine = new TfjsEngine({ log: (m) => logs.push(m) });
    // Before any load: tfjs-node-gpu's addon is not built here, so a GPU card is not offered to tfjs.
    expect(engine.supports(GPU)).toBe(false);
    expect(engine.supports(CONTRACT_CPU_CARD)).toBe(true);
    expect(new TfjsEngine({ backends: ['wasm', 'cpu'] }).supports(GPU)).toBe(false);
    const loaded = await engine.loadModel(livenessSpec());
    const instance = await loaded.createInstance(CONTRACT_CPU_CARD, 0) as TfjsModelInstance;
    expect(instance.backend).toBe('wasm');
    expect(instance.backendReason).toMatch(/tfjs-node-gpu unavailable .*tfjs-node unavailable/);
    expect(logs).toEqual([`tfjs engine: backend ${instance.backendReason}`]);
    // A GPU card: only tfjs-node-gpu runs there, and this process did not get it.
    expect(engine.supports(GPU)).toBe(false);
    await expect(loaded.createInstance(GPU, 0)).rejects.toThrow(/backend in use is wasm, which cannot run on a gpu card/);
    await loaded.unload();
  });

  it('gives the same numbers on the cpu backend as on wasm', async () => {
    const req = livenessRequest(3, 7);
    const wasm = new TfjsEngine({ backends: ['wasm'] });
    const cpu = new TfjsEngine({ backends: ['cpu'] });
    const lw = await wasm.loadModel(livenessSpec());
    const lc = await cpu.loadModel(livenessSpec());
    const iw = await lw.createInstance(CONTRACT_CPU_CARD, 0) as TfjsModelInstance;
    const ic = await lc.createInstance(CONTRACT_CPU_CARD, 0) as TfjsModelInstance;
    expect([iw.backend, ic.backend]).toEqual(['wasm', 'cpu']);
    const a = ((await iw.execute([req]))[0] as InferResponse).outputs[0].data as Float32Array;
    const b = ((await ic.execute([req]))[0] as InferResponse).outputs[0].data as Float32Array;
    expect(tf.getBackend()).toBe('cpu');
    const ref = (await livenessReference(req))[0].data as Float32Array; // on cpu, tfjs's active backend now
    for (let i = 0; i < a.length; i++) {
      expect(Math.abs(a[i] - b[i])).toBeLessThan(1e-4);
      expect(Math.abs(b[i] - ref[i])).toBeLessThan(1e-6);
    }
    await lw.unload();
    await lc.unload();
  });
});

describe('tfjs engine', () => {
  const engine = new TfjsEngine({ backends: ['wasm', 'cpu'], log: () => {} });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'infergate-tfjs-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function withDeclaration(change: (s: ModelLoadSpec) => void): ModelLoadSpec {
    const spec = livenessSpec();
    spec.declaration = structuredClone(spec.declaration);
    change(spec);
    return spec;
  }

  it('frees every tensor: tf.memory() returns to its baseline after runs and after unload', async () => {
    const baseline = tf.memory().numTensors;
    const loaded = await engine.loadModel(livenessSpec());
    const withWeights = tf.memory().numTensors;
    expect(withWeights).toBeGreaterThan(baseline);
    const instance = await loaded.createInstance(CONTRACT_CPU_CARD, 0) as TfjsModelInstance;
    const bad = { modelName: 'liveness', inputs: [{ ...livenessRequest(1, 1).inputs[0], shape: [1, 3, 32, 32] }] };
    for (let i = 0; i < 10; i++) {
      const results = await instance.execute([livenessRequest(1, i), livenessRequest(4, i), bad, livenessRequest(2, i)]);
      expect(results.filter((r) => r instanceof InferError)).toHaveLength(1);
    }
    expect(instance.runs).toBeGreaterThanOrEqual(10);
    expect(tf.memory().numTensors).toBe(withWeights);
    await loaded.unload();
    expect(tf.memory().numTensors).toBe(baseline);
  });

  it('passes tfjs’s own refusal of an input shape back as INVALID_ARG', async () => {
    const loaded = await engine.loadModel(livenessSpec());
    const instance = await loaded.createInstance(CONTRACT_CPU_CARD, 0);
    const req = { modelName: 'liveness', inputs: [{ ...livenessRequest(1, 1).inputs[0], shape: [1, 3, 32, 32] }] };
    const [r] = await instance.execute([req]);
    expect(r).toBeInstanceOf(InferError);
    expect((r as InferError).code).toBe('INVALID_ARG');
    expect((r as InferError).reason).toBe('engine_rejected_input');
    expect((r as InferError).message).toMatch(/must be \[-1,32,32,3\], but was \[1,3,32,32\]/);
    const [unsupported] = await instance.execute([{ modelName: 'liveness', inputs: [{ name: 'conv2d_1_input', datatype: 'FP64', shape: [1, 1], data: new Float64Array(1) }] }]);
    expect((unsupported as InferError).code).toBe('UNSUPPORTED');
    await loaded.unload();
  });

  it.each([
    ['an undeclared input name', (s: ModelLoadSpec) => { s.declaration.inputs[0].name = 'image'; }, /input 'image' is not in the model \(its inputs: conv2d_1_input\).*model input 'conv2d_1_input' is not declared/],
    ['a wrong dim', (s: ModelLoadSpec) => { s.declaration.inputs[0].dims = [64, 64, 3]; }, /input 'conv2d_1_input' dim 1 is 32 in the model \[-1,32,32,3\] but 64 in the declaration/],
    ['a wrong rank', (s: ModelLoadSpec) => { s.declaration.outputs[0].dims = [2, 1]; }, /output 'activation_6' has rank 2 \[-1,2\] in the model but the declaration gives rank 3/],
    ['a wrong datatype', (s: ModelLoadSpec) => { s.declaration.inputs[0].datatype = 'INT32'; }, /declared INT32 \(int32\) but the model has float32/],
    ['a datatype tfjs lacks', (s: ModelLoadSpec) => { s.declaration.outputs[0].datatype = 'UINT8'; }, /declared UINT8, which tfjs has no tensor for/],
    ['an unknown output', (s: ModelLoadSpec) => { s.declaration.outputs[0].name = 'Identity:0'; }, /output 'Identity:0' is not in the model \(its outputs: activation_6\)/],
  ])('refuses a declaration with %s at load, naming the tensor', async (_what, change, message) => {
    const before = tf.memory().numTensors;
    await expect(engine.loadModel(withDeclaration(change))).rejects.toThrow(message);
    expect(tf.memory().numTensors).toBe(before); // the refused model's weights are freed
  });

  it('refuses model files that are not tfjs models, with the path and the reason', async () => {
    const spec = (file: string) => withDeclaration((s) => { s.modelPath = file; });
    await expect(engine.loadModel(spec(path.join(dir, 'missing.json')))).rejects.toThrow(/cannot read tfjs model: .*ENOENT/);
    writeFileSync(path.join(dir, 'bad.json'), '{ not json');
    await expect(engine.loadModel(spec(path.join(dir, 'bad.json')))).rejects.toThrow(/bad\.json is not JSON/);
    writeFileSync(path.join(dir, 'other.json'), '{"name": 1}');
    await expect(engine.loadModel(spec(path.join(dir, 'other.json')))).rejects.toThrow(/has no modelTopology: it is not a TensorFlow.js model.json/);
    const json = JSON.parse(readFileSync(livenessSpec().modelPath!, 'utf8'));
    mkdirSync(path.join(dir, 'm'), { recursive: true });
    writeFileSync(path.join(dir, 'm', 'escape.json'), JSON.stringify({ ...json, weightsManifest: [{ ...json.weightsManifest[0], paths: ['../liveness.bin'] }] }));
    await expect(engine.loadModel(spec(path.join(dir, 'm', 'escape.json')))).rejects.toThrow(/weight shard '\.\.\/liveness\.bin' is outside the model's directory/);
    writeFileSync(path.join(dir, 'm', 'noshard.json'), JSON.stringify(json));
    await expect(engine.loadModel(spec(path.join(dir, 'm', 'noshard.json')))).rejects.toThrow(/cannot read weight shard 'liveness\.bin'/);
    await expect(engine.loadModel(withDeclaration((s) => { s.modelPath = undefined; }))).rejects.toThrow(/needs a model file/);
  });

  it('runs a request without inputs it declares as a clear error', async () => {
    const loaded = await engine.loadModel(livenessSpec());
    const instance = await loaded.createInstance(CONTRACT_CPU_CARD, 0);
    const [r] = await instance.execute([denseRequest(1, 1)]);
    expect((r as InferError).message).toMatch(/has no input 'x'/);
    await loaded.unload();
  });
});

describe('tfjs in the default engine registry', () => {
  it('is registered, and importing the registry does not import tfjs', () => {
    expect(createDefaultEngineRegistry().names()).toContain('tfjs');
    const registry = path.join(packageRoot(), 'dist', 'engines', 'engine-registry.js');
    const script = `import(${JSON.stringify(registry)}).then((m) => { m.createDefaultEngineRegistry();
      const loaded = Object.keys(require('node:module').createRequire(${JSON.stringify(registry)}).cache).filter((k) => k.includes('@tensorflow'));
      console.log(JSON.stringify(loaded)); });`;
    const out = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(out.stderr).toBe('');
    expect(JSON.parse(out.stdout)).toEqual([]);
  });
});
