/**
 * The native engine beyond the shared contract: the ABI version check, the plugin path's
 * confinement, the declaration checked against the plugin, the plugin's own errors, runs off the
 * event loop, unload during a run, and the engine registry's lazy registration. Real parts: the
 * N-API addon and the reference C plugin (built by `npm run build:native`).
 */
import { symlinkSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Card } from '../../adapters/card.js';
import { InferError } from '../../core/errors.js';
import type { InferRequest, InferResponse } from '../../core/tensor.js';
import { createDefaultEngineRegistry } from '../../engines/engine-registry.js';
import { loadNativeAddon } from '../../engines/native-addon.js';
import { NativeEngine, NativeModelInstance } from '../../engines/native.js';
import { denseForward, generateDense } from '../../tools/dense-weights.js';
import { seededValues } from './engine-contract.js';
import { denseRepository, nativeMissing, WRONG_ABI_PLUGIN } from './native-fixtures.js';
import { skipNote } from '../support/skip-reason.js';

const CPU: Card = { id: 'cpu', type: 'cpu-core', kind: 'cpu', coefficient: 1 };
const NPU: Card = { id: 'npu0', type: 'ascend-910b', kind: 'npu', coefficient: 2 };
const SMALL = generateDense(4, [6, 3], 7);
const missing = nativeMissing();

const request = (rows: number, seed: number, width = 4): InferRequest => ({
  modelName: 'dense',
  inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [rows, width], data: seededValues(rows * width, seed) }],
});

describe.skipIf(missing !== undefined)(`native engine (reference C plugin)${skipNote(missing)}`, () => {
  const repos: { remove(): void }[] = [];
  const repo = (o: Parameters<typeof denseRepository>[0]) => {
    const r = denseRepository(o);
    repos.push(r);
    return r;
  };
  afterEach(() => {
    for (const r of repos.splice(0)) r.remove();
  });

  it('refuses a plugin built for another ABI version, naming both versions', async () => {
    const r = repo({ net: SMALL, pluginFile: WRONG_ABI_PLUGIN });
    const err = await new NativeEngine().loadModel(r.spec()).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/model 'dense': plugin .*libdense\.so implements infergate plugin ABI version 999, but this infergate speaks version 1/);
    expect(loadNativeAddon().abiVersion).toBe(1);
  });

  it('refuses an absolute plugin path and one that escapes the model repository', async () => {
    const absolute = repo({ net: SMALL, pluginPath: '/usr/lib/libc.so.6' });
    await expect(new NativeEngine().loadModel(absolute.spec())).rejects.toThrow(/native\.plugin must be relative to the model directory, got the absolute path '\/usr\/lib\/libc\.so\.6'/);
    const climbing = repo({ net: SMALL, pluginPath: '../../../usr/lib/libc.so.6' });
    await expect(new NativeEngine().loadModel(climbing.spec())).rejects.toThrow(/native\.plugin '\.\.\/\.\.\/\.\.\/usr\/lib\/libc\.so\.6' leaves the model repository/);
    // A link inside the model folder that points out of the repository is refused too.
    const linked = repo({ net: SMALL, pluginPath: 'plugin/outside.so' });
    symlinkSync(WRONG_ABI_PLUGIN, path.join(linked.modelDir, 'plugin', 'outside.so'));
    await expect(new NativeEngine().loadModel(linked.spec())).rejects.toThrow(/resolves to .*outside the model repository/);
    const nowhere = repo({ net: SMALL, pluginPath: 'plugin/none.so' });
    await expect(new NativeEngine().loadModel(nowhere.spec())).rejects.toThrow(/native\.plugin: no file at .*none\.so/);
  });

  it('accepts a plugin shared by models of the repository (../shared/...)', async () => {
    const r = repo({ net: SMALL, pluginPath: '../dense/plugin/libdense.so' });
    const loaded = await new NativeEngine().loadModel(r.spec());
    await loaded.unload();
  });

  it('checks the declaration against the plugin description', async () => {
    const wide = repo({ net: SMALL, inputDims: [5] });
    await expect(new NativeEngine().loadModel(wide.spec())).rejects.toThrow(/declaration disagrees with plugin infergate-dense-cpu 1\.0 .*'INPUT' dim 1 is 4 in the plugin, declared 5/);
    const unbatched = repo({ net: SMALL, maxBatchSize: 0 });
    await expect(new NativeEngine().loadModel(unbatched.spec())).rejects.toThrow(/'INPUT' has rank 2 in the plugin \[-1, 4\], declared rank 1 \[4\]/);
    const renamed = repo({ net: SMALL, options: 'input=X' });
    await expect(new NativeEngine().loadModel(renamed.spec())).rejects.toThrow(/the plugin has no input 'INPUT' \(it has 'X'\)/);
  });

  it("passes the plugin's own load errors on: bad options, a broken weights file, a device it cannot use", async () => {
    const options = repo({ net: SMALL, options: 'threads=4' });
    await expect(new NativeEngine().loadModel(options.spec())).rejects.toThrow(/options: unknown key 'threads' \(known: input, output\)/);
    const r = repo({ net: SMALL });
    const spec = r.spec();
    const { writeFileSync } = await import('node:fs');
    const loaded = await new NativeEngine().loadModel(spec);
    await expect(loaded.createInstance(NPU, 0)).rejects.toThrow(/instance 0 on card npu0 .*runs on the CPU only, asked for device 'npu0'/);
    await loaded.unload();
    writeFileSync(spec.modelPath!, Buffer.from('IGDENSE1\x01\x00\x00\x00\x04\x00\x00\x00'));
    await expect(new NativeEngine().loadModel(spec)).rejects.toThrow(/truncated at layer 0 header/);
  });

  it('runs the numbers the JS reference computes, a batch in one plugin call', async () => {
    const r = repo({ net: SMALL });
    const loaded = await new NativeEngine().loadModel(r.spec());
    const instance = (await loaded.createInstance(CPU, 0)) as NativeModelInstance;
    const reqs = [request(1, 1), request(3, 2), request(2, 3)];
    const results = (await instance.execute(reqs)) as InferResponse[];
    expect(instance.runs).toBe(1);
    results.forEach((res, i) => {
      const rows = reqs[i].inputs[0].shape[0];
      expect(res.outputs[0].shape).toEqual([rows, 3]);
      expect(Array.from(res.outputs[0].data as Float32Array)).toEqual(Array.from(denseForward(SMALL, reqs[i].inputs[0].data as Float32Array, rows)));
    });
    expect(instance.runtime).toEqual({ providers: ['native:infergate-dense-cpu 1.0'], degraded: false });
    await loaded.unload();
  });

  it('answers a request the plugin refuses with INVALID_ARG in its slot; the others still answer', async () => {
    // The front door checks declared dims; a request that reaches the engine anyway meets the plugin's check.
    const r = repo({ net: SMALL });
    const loaded = await new NativeEngine().loadModel(r.spec());
    const instance = (await loaded.createInstance(CPU, 0)) as NativeModelInstance;
    const results = await instance.execute([request(1, 1), request(1, 2, 5), request(2, 3)]);
    expect(results[1]).toBeInstanceOf(InferError);
    expect((results[1] as InferError).code).toBe('INVALID_ARG');
    expect((results[1] as InferError).message).toMatch(/the plugin refused the input: input 'INPUT' must have shape \[rows, 4\]/);
    expect(results[0]).not.toBeInstanceOf(InferError);
    expect(results[2]).not.toBeInstanceOf(InferError);
    await loaded.unload();
  });

  it('runs off the event loop: timers fire while a long batch is in the plugin', async () => {
    const heavy = generateDense(256, [1024, 1024, 1024, 16], 3);
    const r = repo({ net: heavy });
    const loaded = await new NativeEngine().loadModel(r.spec());
    const instance = await loaded.createInstance(CPU, 0);
    let ticks = 0;
    const timer = setInterval(() => { ticks++; }, 1);
    const started = performance.now();
    const [res] = await instance.execute([request(8, 5, 256)]);
    const ms = performance.now() - started;
    clearInterval(timer);
    expect(res).not.toBeInstanceOf(InferError);
    // ~2.4M multiply-adds per row, 8 rows: milliseconds, during which a blocked loop could not
    // tick at all (the interval is cleared as soon as the await resumes).
    expect(ms).toBeGreaterThan(3);
    expect(ticks).toBeGreaterThan(0);
    await loaded.unload();
  });

  it('unload during a run lets the run finish, then frees the handle; later executes fail cleanly', async () => {
    const heavy = generateDense(256, [1024, 1024, 16], 4);
    const r = repo({ net: heavy });
    const loaded = await new NativeEngine().loadModel(r.spec());
    const instance = await loaded.createInstance(CPU, 0);
    const running = instance.execute([request(8, 6, 256)]);
    const unloading = instance.unload();
    const [res] = await running;
    await unloading;
    expect((res as InferResponse).outputs[0].shape).toEqual([8, 16]);
    await expect(instance.execute([request(1, 7, 256)])).rejects.toThrow(/was unloaded/);
    await loaded.unload();
  });

  it('is in the default registry when the addon is built, and left out when told so', () => {
    expect(createDefaultEngineRegistry().names()).toContain('native');
    expect(createDefaultEngineRegistry({ native: false }).names()).not.toContain('native');
  });
});

describe('native engine without the addon', () => {
  it('says how to build the addon when a model needs it', async () => {
    const engine = new NativeEngine({ addon: () => loadNativeAddon('/nonexistent/infergate_native.node') });
    const r = denseRepository({ net: SMALL, pluginFile: path.join(import.meta.dirname, 'native-fixtures.ts') });
    try {
      await expect(engine.loadModel(r.spec())).rejects.toThrow(/the native engine's addon is not built \(expected \/nonexistent\/infergate_native\.node\); run 'npm run build:native'/);
    } finally {
      r.remove();
    }
  });
});
