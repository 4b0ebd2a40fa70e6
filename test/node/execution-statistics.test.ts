/**
 * The statistics an executor keeps for the statistics extension, against a scripted instance (a
 * unit-test double: what is counted does not depend on the engine; the real engines are counted
 * in test/gateway/http-statistics.test.ts): executions once per batch with all their rows,
 * inferences by rows, queue and compute time of successful requests only, per batch size.
 */
import { describe, expect, it } from 'vitest';
import { Cancellation } from '../../core/cancellation.js';
import { InferError } from '../../core/errors.js';
import type { ModelMetadata } from '../../core/model-metadata.js';
import { NS_PER_MS, RequestTally, statisticDuration, toModelStatistics } from '../../core/model-statistics.js';
import type { InferRequest, InferResponse } from '../../core/tensor.js';
import type { ExecuteResult, ModelInstance } from '../../engines/engine.js';
import { ExecutionTally } from '../../node/execution-tally.js';
import { LoadMeter } from '../../node/load-meter.js';
import { ModelExecutor } from '../../node/model-executor.js';

const BATCHING: ModelMetadata = { name: 'm', versions: ['1'], platform: 'test', inputs: [], outputs: [], maxBatchSize: 8 };

/** Runs one batch at a time, held until the test finishes it; a request with id 'bad' fails alone. */
class HeldInstance implements ModelInstance {
  readonly card = { id: 'cpu0', kind: 'cpu', type: 'cpu-core', coefficient: 1 } as ModelInstance['card'];
  readonly batches: string[][] = [];
  #finish: (() => void) | undefined;

  execute(batch: InferRequest[]): Promise<ExecuteResult[]> {
    this.batches.push(batch.map((r) => r.id ?? '?'));
    return new Promise((resolve) => {
      this.#finish = () => resolve(batch.map((r): ExecuteResult => (r.id === 'bad'
        ? new InferError('INVALID_ARG', 'bad request', 'bad')
        : { modelName: 'm', modelVersion: '1', id: r.id, outputs: [] } satisfies InferResponse)));
    });
  }

  finish(): void {
    const f = this.#finish;
    this.#finish = undefined;
    f?.();
  }

  async unload(): Promise<void> {}
}

/** A request of `rows` batch rows. */
const request = (id: string, rows: number): InferRequest => ({
  modelName: 'm', id, inputs: [{ name: 'IN', datatype: 'FP32', shape: [rows, 4], data: new Float32Array(rows * 4) }],
});
const tick = () => new Promise((r) => setImmediate(r));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function setup(metadata = BATCHING) {
  const instance = new HeldInstance();
  const executor = new ModelExecutor(metadata, '1', [instance], { maxQueueSize: 0, maxBatchSize: metadata.maxBatchSize }, new LoadMeter());
  return { instance, executor };
}

describe('ExecutionTally', () => {
  it('counts rows as inferences, an execution once per batch, and batch sizes lowest first', () => {
    const tally = new ExecutionTally();
    tally.requestRan(3, 2, 10);
    tally.requestRan(1, 4, 10);
    tally.executed(4, 10);
    tally.requestRan(2, 0.5, 1.25);
    tally.executed(2, 1.25);
    const figures = tally.figures();
    expect(figures.inferenceCount).toBe(6);
    expect(figures.executionCount).toBe(2);
    expect(figures.queue).toEqual({ count: 3, ns: 6.5 * NS_PER_MS });
    expect(figures.compute).toEqual({ count: 3, ns: 21.25 * NS_PER_MS });
    expect(figures.batches).toEqual([
      { batchSize: 2, compute: { count: 1, ns: 1.25 * NS_PER_MS } },
      { batchSize: 4, compute: { count: 1, ns: 10 * NS_PER_MS } },
    ]);
  });

  it('nanoseconds are whole numbers', () => {
    expect(statisticDuration(1, 0.0000004)).toEqual({ count: 1, ns: 0 });
    expect(statisticDuration(2, 1.0000006)).toEqual({ count: 2, ns: 1_000_001 });
  });
});

describe('RequestTally and the wire shape', () => {
  it('counts successes and failures with their durations, and the last request\'s end in ms since the epoch', async () => {
    const tally = new RequestTally();
    expect(tally.lastInferenceMs).toBe(0);
    const before = Date.now();
    const startedAt = performance.now();
    await sleep(5);
    tally.succeeded(startedAt);
    tally.failed(performance.now());
    const stats = toModelStatistics('m', '1', tally);
    expect(stats.inference_stats.success.count).toBe(1);
    expect(stats.inference_stats.success.ns).toBeGreaterThanOrEqual(4 * NS_PER_MS);
    expect(stats.inference_stats.fail.count).toBe(1);
    expect(stats.last_inference).toBeGreaterThanOrEqual(before);
    expect(stats.last_inference).toBeLessThanOrEqual(Date.now() + 1);
  });

  it('without execution figures (a gateway) queue, compute, counts and batches are zero', () => {
    const tally = new RequestTally();
    tally.succeeded(performance.now());
    const stats = toModelStatistics('m', '2', tally);
    const zero = { count: 0, ns: 0 };
    expect(stats).toMatchObject({ name: 'm', version: '2', inference_count: 0, execution_count: 0, batch_stats: [] });
    for (const key of ['queue', 'compute_input', 'compute_infer', 'compute_output', 'cache_hit', 'cache_miss'] as const) {
      expect(stats.inference_stats[key], key).toEqual(zero);
    }
  });
});

describe('ModelExecutor statistics', () => {
  it('a batch of queued requests is one execution of all their rows; each request counts the whole compute time', async () => {
    const { instance, executor } = setup();
    const first = executor.infer(request('a', 1));
    const queued = [executor.infer(request('b', 2)), executor.infer(request('c', 3))];
    await sleep(2);
    instance.finish();
    await first;
    await tick();
    expect(instance.batches).toEqual([['a'], ['b', 'c']]);
    await sleep(2);
    instance.finish();
    await Promise.all(queued);
    const stats = executor.statistics();
    expect(stats.inference_count).toBe(6);
    expect(stats.execution_count).toBe(2);
    expect(stats.batch_stats.map((b) => [b.batch_size, b.compute_infer.count])).toEqual([[1, 1], [5, 1]]);
    const { queue, compute_infer, compute_input, compute_output } = stats.inference_stats;
    expect(queue.count).toBe(3);
    expect(compute_infer.count).toBe(3);
    // b and c waited for a's run; both count their shared run's time.
    expect(queue.ns).toBeGreaterThan(2 * NS_PER_MS);
    expect(compute_infer.ns).toBeGreaterThan(2 * stats.batch_stats[1].compute_infer.ns - 1);
    expect(compute_input).toEqual({ count: 0, ns: 0 });
    expect(compute_output).toEqual({ count: 0, ns: 0 });
    // Requests are counted by the caller that hands them over whole (NodeTarget), not here.
    expect(stats.inference_stats.success.count).toBe(0);
  });

  it('a request that fails in a batch adds no inference; an execution where all failed is not counted', async () => {
    const { instance, executor } = setup();
    const blocker = executor.infer(request('x', 1));
    const mixed = [executor.infer(request('a', 2)), executor.infer(request('bad', 1)).catch((e: unknown) => e)];
    instance.finish();
    await blocker;
    await tick();
    instance.finish();
    await Promise.all(mixed);
    await tick();
    const alone = executor.infer(request('bad', 4)).catch((e: unknown) => e);
    await tick();
    instance.finish();
    await alone;
    const stats = executor.statistics();
    expect(instance.batches).toEqual([['x'], ['a', 'bad'], ['bad']]);
    expect(stats.inference_count).toBe(3);
    expect(stats.execution_count).toBe(2);
    expect(stats.batch_stats.map((b) => b.batch_size)).toEqual([1, 3]);
    expect(stats.inference_stats.queue.count).toBe(2);
  });

  it('a model without batching counts one inference per request, whatever its shape', async () => {
    const { instance, executor } = setup({ ...BATCHING, maxBatchSize: 0 });
    const done = executor.infer(request('a', 5));
    instance.finish();
    await done;
    expect(executor.statistics()).toMatchObject({ inference_count: 1, execution_count: 1, batch_stats: [{ batch_size: 1 }] });
  });

  it('a request cancelled while running is not counted as run, though its execution was', async () => {
    const { instance, executor } = setup();
    const cancellation = new Cancellation();
    const running = executor.infer(request('a', 1), { cancellation });
    await tick();
    cancellation.cancel(new InferError('CANCELLED', 'gone', 'client_closed'));
    await expect(running).rejects.toMatchObject({ code: 'CANCELLED' });
    instance.finish();
    await tick();
    const stats = executor.statistics();
    expect(stats.inference_count).toBe(0);
    expect(stats.inference_stats.queue.count).toBe(0);
    expect(stats.execution_count).toBe(1);
  });
});
