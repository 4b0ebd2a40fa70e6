/**
 * The executor with the batch planner wired in, against a scripted instance (a unit-test double:
 * what runs together, when and in which order does not depend on the engine; the real engine over
 * sockets is test/cli/dynamic-batching-serve.test.ts): rows bound every batch, a held batch runs at
 * the delay or at a preferred size, priorities, the queue timeout, a cancelled request leaving a
 * held batch, and execution_count counting the runs the instance reports.
 */
import { describe, expect, it } from 'vitest';
import { Cancellation } from '../../core/cancellation.js';
import { InferError } from '../../core/errors.js';
import type { ModelDeclaration } from '../../core/model-declaration.js';
import type { ModelMetadata } from '../../core/model-metadata.js';
import type { InferRequest, InferResponse } from '../../core/tensor.js';
import type { ExecuteResult, ModelInstance, RunObserver } from '../../engines/engine.js';
import { LoadMeter } from '../../node/load-meter.js';
import { ModelExecutor, executorOptions, type DynamicBatchingOptions } from '../../node/model-executor.js';

const META: ModelMetadata = { name: 'm', versions: ['1'], platform: 'test', inputs: [], outputs: [], maxBatchSize: 8 };

/**
 * Runs one batch at a time until the test finishes it; reports one run of all its rows, or with
 * `splitRuns` one run per request (as an engine does when it retries a failed batched run).
 */
class HeldInstance implements ModelInstance {
  readonly card = { id: 'cpu0', kind: 'cpu', type: 'cpu-core', coefficient: 1 } as ModelInstance['card'];
  readonly batches: string[][] = [];
  splitRuns = false;
  #finish: (() => void) | undefined;

  execute(batch: InferRequest[], onRun?: RunObserver): Promise<ExecuteResult[]> {
    this.batches.push(batch.map((r) => r.id ?? '?'));
    return new Promise((resolve) => {
      this.#finish = () => {
        const rows = (r: InferRequest) => r.inputs[0].shape[0];
        if (this.splitRuns) batch.forEach((r) => onRun?.(rows(r), 1));
        else onRun?.(batch.reduce((n, r) => n + rows(r), 0), 1);
        resolve(batch.map((r): InferResponse => ({ modelName: 'm', modelVersion: '1', id: r.id, outputs: [] })));
      };
    });
  }

  get busy(): boolean {
    return this.#finish !== undefined;
  }

  finish(): void {
    const f = this.#finish;
    this.#finish = undefined;
    f?.();
  }

  async unload(): Promise<void> {}
}

const BATCHING: DynamicBatchingOptions = { maxQueueDelayMs: 0, preferredBatchSizes: [], queueTimeoutMs: 0, priorityLevels: 0, defaultPriorityLevel: 0 };

function setup(batching?: Partial<DynamicBatchingOptions>, maxQueueSize = 0) {
  const instance = new HeldInstance();
  const executor = new ModelExecutor(META, '1', [instance], {
    maxQueueSize, maxBatchSize: META.maxBatchSize, batching: batching && { ...BATCHING, ...batching },
  }, new LoadMeter());
  return { instance, executor };
}

const request = (id: string, rows: number, extra: Partial<InferRequest> = {}, width = 4): InferRequest => ({
  modelName: 'm', id, inputs: [{ name: 'IN', datatype: 'FP32', shape: [rows, width], data: new Float32Array(rows * width) }], ...extra,
});
const tick = () => new Promise((r) => setImmediate(r));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('ModelExecutor without dynamic_batching', () => {
  it('bounds a batch by rows, not requests: four queued 8-row requests are four executions', async () => {
    const { instance, executor } = setup();
    const blocker = executor.infer(request('x', 1));
    const queued = ['a', 'b', 'c', 'd'].map((id) => executor.infer(request(id, 8)));
    for (let i = 0; i < 5; i++) {
      await tick();
      instance.finish();
    }
    await Promise.all([blocker, ...queued]);
    expect(instance.batches).toEqual([['x'], ['a'], ['b'], ['c'], ['d']]);
    expect(executor.statistics()).toMatchObject({ execution_count: 5, inference_count: 33 });
  });

  it('takes queued requests of one shape up to max_batch_size rows; another shape waits for the next batch', async () => {
    const { instance, executor } = setup();
    const blocker = executor.infer(request('x', 1));
    const queued = [
      executor.infer(request('a', 3)), executor.infer(request('w', 1, {}, 6)), executor.infer(request('b', 5)), executor.infer(request('c', 1)),
    ];
    for (let i = 0; i < 4; i++) {
      await tick();
      instance.finish();
    }
    await Promise.all([blocker, ...queued]);
    expect(instance.batches).toEqual([['x'], ['a', 'b'], ['w'], ['c']]);
  });

  it('counts every run the instance reports: one execute of three requests run one by one is three executions', async () => {
    const { instance, executor } = setup();
    instance.splitRuns = true;
    const blocker = executor.infer(request('x', 1));
    const queued = [executor.infer(request('a', 2)), executor.infer(request('b', 2)), executor.infer(request('c', 2))];
    await tick();
    instance.finish();
    await tick();
    instance.finish();
    await Promise.all([blocker, ...queued]);
    const stats = executor.statistics();
    expect(instance.batches).toEqual([['x'], ['a', 'b', 'c']]);
    expect(stats.execution_count).toBe(4);
    expect(stats.batch_stats.map((b) => [b.batch_size, b.compute_infer.count])).toEqual([[1, 1], [2, 3]]);
  });
});

describe('ModelExecutor with dynamic_batching', () => {
  it('holds a partial batch for max_queue_delay, so requests arriving within it run together', async () => {
    const { instance, executor } = setup({ maxQueueDelayMs: 60 });
    const startedAt = performance.now();
    const a = executor.infer(request('a', 1));
    await sleep(10);
    const b = executor.infer(request('b', 2));
    await tick();
    expect(instance.batches).toEqual([]);
    while (!instance.busy) await sleep(2);
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(55);
    expect(instance.batches).toEqual([['a', 'b']]);
    instance.finish();
    await Promise.all([a, b]);
    expect(executor.statistics()).toMatchObject({ execution_count: 1, inference_count: 3 });
  });

  it('runs at once when the rows reach a preferred size or max_batch_size', async () => {
    const { instance, executor } = setup({ maxQueueDelayMs: 5_000, preferredBatchSizes: [4] });
    const first = [executor.infer(request('a', 1)), executor.infer(request('b', 3))];
    await tick();
    expect(instance.batches).toEqual([['a', 'b']]);
    const second = [executor.infer(request('c', 2)), executor.infer(request('d', 6))];
    instance.finish();
    await Promise.all(first);
    await tick();
    expect(instance.batches).toEqual([['a', 'b'], ['c', 'd']]);
    instance.finish();
    await Promise.all(second);
  });

  it('serves priority 1 before the default level, FIFO within a level; refuses a level the model lacks', async () => {
    const { instance, executor } = setup({ priorityLevels: 3, defaultPriorityLevel: 2 });
    const blocker = executor.infer(request('x', 8));
    const p = (id: string, priority?: number) => executor.infer(request(id, 8, priority === undefined ? {} : { parameters: { priority } }));
    const queued = [p('low1', 3), p('mid1'), p('high1', 1), p('mid2', 0), p('high2', 1), p('low2', 3)];
    await expect(p('nope', 4)).rejects.toMatchObject({ code: 'INVALID_ARG', reason: 'bad_parameter', message: expect.stringContaining("parameter 'priority' must be 0 (the default level) to 3") });
    for (let i = 0; i < 7; i++) {
      await tick();
      instance.finish();
    }
    await Promise.all([blocker, ...queued]);
    expect(instance.batches.flat()).toEqual(['x', 'high1', 'high2', 'mid1', 'mid2', 'low1', 'low2']);
  });

  it('answers a request queued past default_queue_timeout at once with 504, while the instance is still busy', async () => {
    const { instance, executor } = setup({ queueTimeoutMs: 30 });
    const blocker = executor.infer(request('x', 8));
    const startedAt = performance.now();
    const late = executor.infer(request('late', 8));
    await expect(late).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED', reason: 'queue_timeout', message: expect.stringContaining('default_queue_timeout_us (30000 µs)') });
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(25);
    expect(instance.busy).toBe(true);
    expect(executor.queueDepth).toBe(0);
    instance.finish();
    await blocker;
    await tick();
    expect(instance.batches).toEqual([['x']]);
    expect(executor.inFlight).toBe(0);
  });

  it('a request cancelled while its batch is held leaves it; the rest run without it', async () => {
    const { instance, executor } = setup({ maxQueueDelayMs: 30 });
    const cancellation = new Cancellation();
    const a = executor.infer(request('a', 1));
    const gone = executor.infer(request('gone', 1), { cancellation });
    const c = executor.infer(request('c', 1));
    cancellation.cancel(new InferError('CANCELLED', 'the client closed the connection', 'client_closed'));
    await expect(gone).rejects.toMatchObject({ code: 'CANCELLED' });
    while (!instance.busy) await sleep(2);
    expect(instance.batches).toEqual([['a', 'c']]);
    instance.finish();
    await Promise.all([a, c]);
    expect(executor.statistics()).toMatchObject({ execution_count: 1, inference_count: 2 });
  });

  it('max_queue_size refuses at once with UNAVAILABLE while a batch is held', async () => {
    const { instance, executor } = setup({ maxQueueDelayMs: 1_000 }, 2);
    const held = [executor.infer(request('a', 1)), executor.infer(request('b', 1))];
    await expect(executor.infer(request('c', 1))).rejects.toMatchObject({ code: 'UNAVAILABLE', reason: 'queue_full' });
    // Closing runs the held batch without waiting out the delay.
    const closed = executor.close();
    await tick();
    expect(instance.batches).toEqual([['a', 'b']]);
    instance.finish();
    await Promise.all([...held, closed]);
  });
});

describe('executorOptions', () => {
  const base = { name: 'm', max_batch_size: 8, max_queue_size: 1024 } as ModelDeclaration;
  it('without dynamic_batching: the limits only', () => {
    expect(executorOptions(base)).toEqual({ maxQueueSize: 1024, maxBatchSize: 8 });
  });
  it('converts microseconds to milliseconds, sorts preferred sizes, defaults the priority to the last level', () => {
    expect(executorOptions({
      ...base,
      dynamic_batching: { max_queue_delay_us: 2500, preferred_batch_sizes: [8, 4], max_queue_size: 16, default_queue_timeout_us: 100_000, priority_levels: 3 },
    })).toEqual({
      maxQueueSize: 16,
      maxBatchSize: 8,
      batching: { maxQueueDelayMs: 2.5, preferredBatchSizes: [4, 8], queueTimeoutMs: 100, priorityLevels: 3, defaultPriorityLevel: 3 },
    });
  });
});
