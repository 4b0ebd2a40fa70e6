/**
 * A full model queue answers at once with UNAVAILABLE and a Retry-After estimated from the queue:
 * queued requests × the recent execution time ÷ instances; and no declared model runs unbounded.
 */
import { describe, expect, it } from 'vitest';
import type { ModelMetadata } from '../../core/model-metadata.js';
import type { ModelDeclaration } from '../../core/model-declaration.js';
import type { InferRequest, InferResponse } from '../../core/tensor.js';
import type { ExecuteResult, ModelInstance } from '../../engines/engine.js';
import { LoadMeter } from '../../node/load-meter.js';
import { DEFAULT_MAX_QUEUE_DEPTH, MIN_QUEUE_FULL_RETRY_AFTER_MS, ModelExecutor, executorOptions } from '../../node/model-executor.js';

const META: ModelMetadata = { name: 'm', versions: ['1'], platform: 'test', inputs: [], outputs: [], maxBatchSize: 0 };

/** Takes `ms` of wall time per execution (a unit-test double for an engine). */
class TimedInstance implements ModelInstance {
  readonly card = { id: 'cpu0', kind: 'cpu', type: 'cpu-core', coefficient: 1 } as ModelInstance['card'];
  constructor(private readonly ms: number) {}
  async execute(batch: InferRequest[]): Promise<ExecuteResult[]> {
    await new Promise((r) => setTimeout(r, this.ms));
    return batch.map((r): InferResponse => ({ modelName: 'm', modelVersion: '1', id: r.id, outputs: [] }));
  }
  async unload(): Promise<void> {}
}

const request = (id: string): InferRequest => ({ modelName: 'm', id, inputs: [] });

describe('queue_full answers', () => {
  it('refuse at once with a Retry-After of about queue × service time ÷ instances', async () => {
    const instances = [new TimedInstance(50), new TimedInstance(50)];
    const executor = new ModelExecutor(META, '1', instances, { maxQueueSize: 8, maxBatchSize: 0 }, new LoadMeter());
    // Before any execution finished: the floor or the unmeasured guess, never 0.
    expect(executor.queueFullRetryAfterMs()).toBeGreaterThanOrEqual(MIN_QUEUE_FULL_RETRY_AFTER_MS);
    await Promise.all([executor.infer(request('w1')), executor.infer(request('w2'))]); // measures ~50 ms
    const admitted = Array.from({ length: 10 }, (_, i) => executor.infer(request(`a${i}`))); // 2 run, 8 queue
    const started = performance.now();
    const refusal = await executor.infer(request('over')).then(() => undefined, (e: unknown) => e);
    expect(performance.now() - started).toBeLessThan(20);
    expect(refusal).toMatchObject({ code: 'UNAVAILABLE', reason: 'queue_full' });
    // 8 queued × ~50 ms ÷ 2 instances ≈ 200 ms (timer lateness on a busy machine only adds).
    const retryAfterMs = (refusal as { retryAfterMs: number }).retryAfterMs;
    expect(retryAfterMs).toBeGreaterThanOrEqual(190);
    expect(retryAfterMs).toBeLessThan(600);
    await Promise.all(admitted);
  });

  it('a declaration that leaves the queue unlimited (max_queue_size 0) gets the node\'s --max-queue-depth', () => {
    const unlimited = { name: 'm', max_batch_size: 0, max_queue_size: 0 } as ModelDeclaration;
    expect(executorOptions(unlimited).maxQueueSize).toBe(DEFAULT_MAX_QUEUE_DEPTH);
    expect(executorOptions(unlimited, 64).maxQueueSize).toBe(64);
    expect(executorOptions({ ...unlimited, max_queue_size: 16 }, 64).maxQueueSize).toBe(16);
    const batching = { ...unlimited, dynamic_batching: { max_queue_delay_us: 100, max_queue_size: 0 } } as ModelDeclaration;
    expect(executorOptions(batching, 32).maxQueueSize).toBe(32);
  });
});
