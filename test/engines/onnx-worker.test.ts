import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Card } from '../../adapters/card.js';
import { InferError } from '../../core/errors.js';
import { loadDeclaredModel } from '../../core/model-repository.js';
import type { InferRequest, Tensor } from '../../core/tensor.js';
import type { ExecuteResult, LoadedModel } from '../../engines/engine.js';
import { onnxWorkerEntry } from '../../engines/onnx-session-host.js';
import { OnnxEngine, OnnxModelInstance, type OnnxEngineOptions, type OnnxExecution } from '../../engines/onnx.js';
import { compactCopy, forTransfer, ownsWholeBuffer, type WireTensors } from '../../engines/onnx-tensor.js';
import { DEFAULT_WORKER_RESTART_BACKOFF_MS } from '../../engines/worker-supervisor.js';
import { writeModels } from '../../tools/generate-models.js';

/** Every Worker the engine starts, until it exits: so that "no worker is left alive" can be asserted. */
const liveWorkers = vi.hoisted(() => new Set<import('node:worker_threads').Worker>());
vi.mock('node:worker_threads', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:worker_threads')>();
  class TrackedWorker extends actual.Worker {
    constructor(...args: ConstructorParameters<typeof actual.Worker>) {
      super(...args);
      liveWorkers.add(this);
      this.once('exit', () => liveWorkers.delete(this));
    }
  }
  return { ...actual, Worker: TrackedWorker };
});

/**
 * How much earlier than asked a timer may fire, measured with performance.now(): libuv dates a
 * timer from the loop's cached clock, which lags the real one by the current tick's work.
 */
const TIMER_SLACK_MS = 5;

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const MODELS_DIR = join(ROOT, 'models');

function cpuCard(intraOpNumThreads: number): Card {
  return { id: 'cpu', type: 'cpu-core', kind: 'cpu', coefficient: 0.2, engineOptions: { intraOpNumThreads } };
}

async function load(name: string, execution: OnnxExecution, options: OnnxEngineOptions = {}): Promise<LoadedModel> {
  const declared = loadDeclaredModel(join(MODELS_DIR, name, 'model.yaml'));
  const { version, modelPath } = declared.versions[declared.versions.length - 1];
  // The engine option is under test here, so the declaration's own `execution` is cleared.
  return new OnnxEngine({ ...options, execution }).loadModel({ declaration: { ...declared.declaration, execution: undefined }, version, modelPath, metadata: declared.metadata });
}

async function instanceOf(name: string, execution: OnnxExecution, threads = 1, options: OnnxEngineOptions = {}) {
  const loaded = await load(name, execution, options);
  const instance = (await loaded.createInstance(cpuCard(threads), 0)) as OnnxModelInstance;
  return { loaded, instance };
}

function identityRequest(data: Float32Array): InferRequest {
  return { modelName: 'identity', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [data.length / 16, 16], data }] };
}

function detRequest(size: number): InferRequest {
  const data = Float32Array.from({ length: 3 * size * size }, (_, i) => Math.sin(i * 0.001));
  return { modelName: 'ocr_det', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3, size, size], data }] };
}

function output(result: ExecuteResult | undefined, name: string): Tensor {
  if (result === undefined || result instanceof InferError) throw new Error(`expected a response, got ${String(result)}`);
  const t = result.outputs.find((o) => o.name === name);
  if (!t) throw new Error(`no output ${name}`);
  return t;
}

/** Ticks of a 5 ms interval while `work` runs: how free the event loop stayed. */
async function ticksDuring(work: () => Promise<unknown>): Promise<number> {
  let ticks = 0;
  const interval = setInterval(() => { ticks++; }, 5);
  try {
    await work();
  } finally {
    clearInterval(interval);
  }
  return ticks;
}

beforeAll(() => {
  writeModels(MODELS_DIR);
});

describe('wire tensors for postMessage', () => {
  it('moves only arrays that may move and own their whole buffer; copies the rest compactly', () => {
    const whole = new Float32Array(16);
    const backing = new Float32Array(64);
    const view = backing.subarray(16, 32);
    const pooled = Buffer.from('a short string comes from the shared Buffer pool');
    const shared = new Int32Array(new SharedArrayBuffer(16));
    expect(ownsWholeBuffer(whole)).toBe(true);
    expect(ownsWholeBuffer(view)).toBe(false);
    expect(ownsWholeBuffer(shared)).toBe(false);
    const feeds: WireTensors = {
      whole: { type: 'float32', dims: [16], data: whole },
      view: { type: 'float32', dims: [16], data: view },
      pooled: { type: 'uint8', dims: [pooled.length], data: pooled },
      shared: { type: 'int32', dims: [4], data: shared },
      text: { type: 'string', dims: [1], data: ['kept as is'] },
    };

    const moved = forTransfer(feeds, true);
    expect(moved.tensors.whole.data).toBe(whole);
    for (const name of ['view', 'pooled', 'shared']) {
      const data = moved.tensors[name].data as Float32Array;
      expect(data, name).not.toBe(feeds[name].data);
      expect(ownsWholeBuffer(data), name).toBe(true);
      expect([...data], name).toEqual([...(feeds[name].data as Float32Array)]);
    }
    expect(moved.tensors.pooled.data.constructor).toBe(Uint8Array); // not a Buffer sharing the pool
    expect(moved.tensors.text).toBe(feeds.text);
    expect(moved.transfer).toHaveLength(4);
    expect(moved.transfer).not.toContain(backing.buffer);
    expect(moved.transfer).not.toContain(pooled.buffer);

    const copied = forTransfer(feeds, false);
    expect(copied.tensors.whole.data).not.toBe(whole);
    expect(copied.transfer).not.toContain(whole.buffer);
  });

  it('copies BigInt arrays and Buffers into compact arrays of the right kind', () => {
    const big = new BigInt64Array([1n, -2n, 2n ** 62n]);
    expect(compactCopy(big)).toEqual(big);
    expect(compactCopy(big).constructor).toBe(BigInt64Array);
    const buf = Buffer.from([1, 2, 3]);
    const copy = compactCopy(buf);
    expect(copy.constructor).toBe(Uint8Array);
    expect(copy.buffer.byteLength).toBe(3);
    buf[0] = 9;
    expect(copy[0]).toBe(1);
  });
});

describe('OnnxEngine worker mode', () => {
  it('runs from the compiled worker entry, which exists and is not older than its sources', () => {
    const entry = onnxWorkerEntry();
    expect(existsSync(fileURLToPath(entry))).toBe(true);
    expect(fileURLToPath(entry)).toBe(join(ROOT, 'dist', 'engines', 'onnx-worker.js'));
  });

  it('is the default, and the execution option is checked', async () => {
    const declared = loadDeclaredModel(join(MODELS_DIR, 'identity', 'model.yaml'));
    const loaded = await new OnnxEngine().loadModel({ ...declared.versions[0], declaration: { ...declared.declaration, execution: undefined }, metadata: declared.metadata });
    const instance = (await loaded.createInstance(cpuCard(1), 0)) as OnnxModelInstance;
    expect(instance.execution).toBe('worker');
    await loaded.unload();
    // A declaration's own `execution` wins over the engine's default (identity declares inline).
    const declaredInline = await new OnnxEngine({ execution: 'worker' }).loadModel({ ...declared.versions[0], declaration: declared.declaration, metadata: declared.metadata });
    expect(declared.declaration.execution).toBe('inline');
    expect(((await declaredInline.createInstance(cpuCard(1), 0)) as OnnxModelInstance).execution).toBe('inline');
    await declaredInline.unload();
    expect(() => new OnnxEngine({ execution: 'threads' as OnnxExecution })).toThrow(/execution must be 'worker' or 'inline'/);
  });

  it('starts one worker per instance and unload() terminates it', async () => {
    const loaded = await load('identity', 'worker');
    const a = (await loaded.createInstance(cpuCard(1), 0)) as OnnxModelInstance;
    const b = (await loaded.createInstance(cpuCard(1), 1)) as OnnxModelInstance;
    expect(a.execution).toBe('worker');
    expect(a.worker).toBeDefined();
    expect(b.worker).toBeDefined();
    expect(a.worker!.threadId).not.toBe(b.worker!.threadId);
    const exits = [a, b].map((i) => new Promise<number>((r) => i.worker!.once('exit', r)));
    await loaded.unload();
    await expect(Promise.all(exits)).resolves.toHaveLength(2);
    await expect(a.execute([identityRequest(new Float32Array(16))])).rejects.toThrow(/unloaded/);
  });

  it('has no worker in inline mode', async () => {
    const { loaded, instance } = await instanceOf('identity', 'inline');
    expect(instance.execution).toBe('inline');
    expect(instance.worker).toBeUndefined();
    expect(instance.restarts).toBe(0);
    await loaded.unload();
  });

  it('never detaches the caller\'s arrays, views into larger (pooled) buffers included', async () => {
    const { loaded, instance } = await instanceOf('identity', 'worker');
    try {
      // A view into a larger array: moving its buffer would take the whole array away.
      const backing = Float32Array.from({ length: 64 }, (_, i) => i);
      const view = backing.subarray(16, 32);
      // A view into Node's shared Buffer pool, as a small binary request body parsed in place would be.
      const pooled = Buffer.from(new Uint8Array(new Float32Array(16).fill(7).buffer));
      const neighbour = Buffer.from('neighbour in the pool');
      expect(pooled.buffer.byteLength).toBeGreaterThan(pooled.byteLength);
      const poolView = new Float32Array(pooled.buffer, pooled.byteOffset, 16);
      const own = Float32Array.from({ length: 16 }, (_, i) => -i);

      const [r1] = await instance.execute([identityRequest(view)]);
      const [r2] = await instance.execute([identityRequest(poolView)]);
      const [r3] = await instance.execute([identityRequest(own)]);
      // A batch: the concatenation is the engine's own, the requests' arrays stay theirs.
      const batch = await instance.execute([identityRequest(view), identityRequest(own)]);

      expect(backing.buffer.byteLength).toBe(64 * 4);
      expect([...backing]).toEqual(Array.from({ length: 64 }, (_, i) => i));
      expect([...(output(r1, 'OUTPUT0').data as Float32Array)]).toEqual([...view]);
      expect(poolView.byteLength).toBe(64);
      expect(pooled.buffer.byteLength).toBeGreaterThan(0);
      expect([...(output(r2, 'OUTPUT0').data as Float32Array)]).toEqual(new Array(16).fill(7));
      expect(neighbour.toString()).toBe('neighbour in the pool');
      expect(own.length).toBe(16);
      expect([...(output(r3, 'OUTPUT0').data as Float32Array)]).toEqual([...own]);
      expect([...(output(batch[0], 'OUTPUT0').data as Float32Array)]).toEqual([...view]);
      expect([...(output(batch[1], 'OUTPUT0').data as Float32Array)]).toEqual([...own]);
      // Outputs arrive moved: each owns its buffer, nothing more.
      expect(ownsWholeBuffer(output(r1, 'OUTPUT0').data as Float32Array)).toBe(true);
    } finally {
      await loaded.unload();
    }
  });

  it('restarts a worker terminated while idle: the next execute runs on a new worker, from the same model', async () => {
    const lines: string[] = [];
    const { loaded, instance } = await instanceOf('identity', 'worker', 1, { log: (line) => lines.push(line) });
    try {
      const [before] = await instance.execute([identityRequest(new Float32Array(16).fill(1))]);
      expect(output(before, 'OUTPUT0').shape).toEqual([1, 16]);
      const first = instance.worker!;
      const firstThread = first.threadId;
      // Idle: terminating a worker inside session.run would abort the whole process (see onnx.ts).
      await first.terminate();
      expect(instance.worker).toBeUndefined(); // the replacement is on its way
      expect(instance.restarts).toBe(0);

      const data = Float32Array.from({ length: 32 }, (_, i) => i - 7.5);
      const [after] = await instance.execute([identityRequest(data)]);
      expect(output(after, 'OUTPUT0').shape).toEqual([2, 16]);
      expect([...(output(after, 'OUTPUT0').data as Float32Array)]).toEqual([...data]);
      expect(instance.restarts).toBe(1);
      expect(instance.worker!.threadId).not.toBe(firstThread);
      expect(liveWorkers.has(instance.worker!)).toBe(true);
      expect(liveWorkers.has(first)).toBe(false);
      expect(lines).toEqual([
        `model 'identity' instance 0 on card cpu: its onnxruntime worker exited (code 1); restarting it in ${DEFAULT_WORKER_RESTART_BACKOFF_MS} ms`,
      ]);
    } finally {
      await loaded.unload();
    }
  });

  it('fails the execute in flight with INTERNAL, naming the model and the cause, when its worker crashes; the next one runs', async () => {
    const lines: string[] = [];
    const { loaded, instance } = await instanceOf('identity', 'worker', 1, { log: (line) => lines.push(line) });
    try {
      const first = instance.worker!;
      // Messages are handled in order: the worker dies on this one before it reaches the run.
      first.postMessage({ kind: 'no-such-message' });
      const inFlight = instance.execute([identityRequest(new Float32Array(16))]);
      await expect(inFlight).rejects.toMatchObject({
        code: 'INTERNAL',
        reason: 'engine_worker_exit',
        message: expect.stringMatching(/model 'identity' instance 0 on card cpu: its onnxruntime worker exited \(code 1: onnx worker: unknown message "no-such-message"\)/),
      });
      const [next] = await instance.execute([identityRequest(new Float32Array(16).fill(4))]);
      expect([...(output(next, 'OUTPUT0').data as Float32Array)]).toEqual(new Array(16).fill(4));
      expect(instance.restarts).toBe(1);
      expect(instance.worker).not.toBe(first);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^model 'identity' instance 0 on card cpu: its onnxruntime worker exited \(code 1: onnx worker: unknown message "no-such-message"\); restarting it in \d+ ms$/);
    } finally {
      await loaded.unload();
    }
  });

  it('backs off, doubling up to the cap, when every new worker crashes', async () => {
    const lines: string[] = [];
    const { loaded, instance } = await instanceOf('identity', 'worker', 1, {
      restartBackoffMs: 10, restartMaxBackoffMs: 40, log: (line) => lines.push(line),
    });
    const expected = [10, 20, 40, 40, 40];
    try {
      for (const [k, delayMs] of expected.entries()) {
        instance.worker!.postMessage({ kind: 'no-such-message' });
        const crashedAt = performance.now();
        await expect(instance.execute([identityRequest(new Float32Array(16))])).rejects.toMatchObject({ code: 'INTERNAL', reason: 'engine_worker_exit' });
        // Waits out the delay and the new worker's start.
        const [next] = await instance.execute([identityRequest(new Float32Array(16).fill(k))]);
        expect(performance.now() - crashedAt).toBeGreaterThanOrEqual(delayMs - TIMER_SLACK_MS);
        expect([...(output(next, 'OUTPUT0').data as Float32Array)]).toEqual(new Array(16).fill(k));
      }
      expect(lines.map((line) => Number(/restarting it in (\d+) ms$/.exec(line)?.[1]))).toEqual(expected);
      expect(instance.restarts).toBe(expected.length);
    } finally {
      await loaded.unload();
    }
  });

  it('unload() during the restart delay starts no new worker and fails the execute waiting for it', async () => {
    const before = new Set(liveWorkers);
    const { loaded, instance } = await instanceOf('identity', 'worker', 1, { restartBackoffMs: 60_000, restartMaxBackoffMs: 60_000, log: () => {} });
    await instance.worker!.terminate();
    const waiting = instance.execute([identityRequest(new Float32Array(16))]);
    const startedAt = performance.now();
    await loaded.unload();
    expect(performance.now() - startedAt).toBeLessThan(5_000);
    await expect(waiting).rejects.toMatchObject({ code: 'UNAVAILABLE', reason: 'unloaded' });
    await new Promise((r) => setTimeout(r, 50));
    expect([...liveWorkers].filter((w) => !before.has(w))).toEqual([]);
    expect(instance.restarts).toBe(0);
    expect(instance.worker).toBeUndefined();
  });

  it('unload() while a new worker is starting lets it start, then ends it: no worker is left alive', async () => {
    const before = new Set(liveWorkers);
    const { loaded, instance } = await instanceOf('identity', 'worker', 1, { restartBackoffMs: 0, log: () => {} });
    const first = instance.worker!;
    await first.terminate();
    // No delay: the replacement's worker was created on the exit, and is starting its session now.
    const starting = [...liveWorkers].filter((w) => !before.has(w));
    expect(starting).toHaveLength(1);
    expect(starting[0]).not.toBe(first);
    const waiting = instance.execute([identityRequest(new Float32Array(16))]);
    await loaded.unload();
    await expect(waiting).rejects.toMatchObject({ code: 'UNAVAILABLE', reason: 'unloaded' });
    expect([...liveWorkers].filter((w) => !before.has(w))).toEqual([]);
    await new Promise((r) => setTimeout(r, 50));
    expect([...liveWorkers].filter((w) => !before.has(w))).toEqual([]);
    expect(instance.restarts).toBe(0);
    expect(instance.worker).toBeUndefined();
  });

  it('checks the restart options', () => {
    expect(() => new OnnxEngine({ restartBackoffMs: -1 })).toThrow(/restart backoffMs must be a non-negative number of milliseconds, got -1/);
    expect(() => new OnnxEngine({ restartMaxBackoffMs: Number.NaN })).toThrow(/restart maxBackoffMs/);
    expect(() => new OnnxEngine({ restartBackoffMs: 500, restartMaxBackoffMs: 100 })).toThrow(/restartMaxBackoffMs \(100\) is below restartBackoffMs \(500\)/);
  });

  it('lets an idle instance\'s worker not hold the process open, but keeps it open while a run is pending', () => {
    // A script that never unloads: it must print its answer (ref'd while pending) and then exit (unref'd idle).
    const script = `
      import { OnnxEngine } from ${JSON.stringify(pathToFileURL(join(ROOT, 'dist', 'engines', 'onnx.js')).href)};
      import { loadDeclaredModel } from ${JSON.stringify(pathToFileURL(join(ROOT, 'dist', 'core', 'model-repository.js')).href)};
      const d = loadDeclaredModel(${JSON.stringify(join(MODELS_DIR, 'identity', 'model.yaml'))});
      const loaded = await new OnnxEngine().loadModel({ declaration: { ...d.declaration, execution: undefined }, version: d.versions[0].version, modelPath: d.versions[0].modelPath, metadata: d.metadata });
      const instance = await loaded.createInstance({ id: 'cpu', type: 'cpu-core', kind: 'cpu', coefficient: 1, engineOptions: { intraOpNumThreads: 1 } }, 0);
      const [r] = await instance.execute([{ modelName: 'identity', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 16], data: new Float32Array(16).fill(3) }] }]);
      console.log(instance.execution, r.outputs[0].data[0]);
    `;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
    expect(child.error).toBeUndefined();
    expect({ stdout: child.stdout.trim(), stderr: child.stderr }).toEqual({ stdout: 'worker 3', stderr: '' });
    expect(child.status).toBe(0);
  });
});

describe('OnnxEngine worker mode keeps the event loop free and runs instances at once (ocr_det 640x640)', () => {
  const loaded: LoadedModel[] = [];
  const workers: OnnxModelInstance[] = [];
  const inlines: OnnxModelInstance[] = [];
  const request = detRequest(640);
  const smallRequest = detRequest(32);

  beforeAll(async () => {
    for (const execution of ['worker', 'worker', 'inline', 'inline'] as const) {
      const r = await instanceOf('ocr_det', execution, 1);
      loaded.push(r.loaded);
      // Warm-up: the first run of a shape allocates and plans.
      await r.instance.execute([request]);
      await r.instance.execute([smallRequest]);
      (execution === 'worker' ? workers : inlines).push(r.instance);
    }
  });

  afterAll(async () => {
    await Promise.all(loaded.map((m) => m.unload()));
  });

  it('lets timers fire while a worker instance runs, and not while an inline one does', async () => {
    const workerTicks = await ticksDuring(() => workers[0].execute([request]));
    const inlineTicks = await ticksDuring(() => inlines[0].execute([request]));
    // A 640x640 detection takes 100+ ms: 20 or more ticks of 5 ms when the loop is free, none when it is blocked.
    expect(workerTicks).toBeGreaterThanOrEqual(8);
    expect(inlineTicks).toBeLessThanOrEqual(2);
  });

  /**
   * Which of two requests, given at the same moment to two instances, finishes first: a 640x640
   * detection on one, a 32x32 one on the other. Instances that run at once answer the short one in
   * a few ms; instances that take turns answer it after the long one.
   *
   * Not asserted: that two concurrent runs take less time than two in series. On this 2-core
   * machine under load (another test file running, load average 5-8) the best-of-3 ratio of two
   * concurrent runs to one ranged from 1.4 to 1.97, so no bound below 2 holds every time.
   */
  async function finishOrder(long: OnnxModelInstance, short: OnnxModelInstance): Promise<string[]> {
    const order: string[] = [];
    await Promise.all([
      long.execute([request]).then(() => order.push('long')),
      short.execute([smallRequest]).then(() => order.push('short')),
    ]);
    return order;
  }

  it('runs two worker instances at once, where two inline instances take turns', async () => {
    for (let k = 0; k < 3; k++) {
      expect(await finishOrder(workers[0], workers[1])).toEqual(['short', 'long']);
      expect(await finishOrder(inlines[0], inlines[1])).toEqual(['long', 'short']);
    }
  });
});
