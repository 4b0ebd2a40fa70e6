/**
 * The executor's queue and cancellation, against a scripted instance (a unit-test double: the
 * queue logic does not depend on the engine; real engines run in test/engines and test/cluster).
 */
import { describe, expect, it } from 'vitest';
import { Cancellation } from '../../core/cancellation.js';
import { InferError } from '../../core/errors.js';
import type { ModelMetadata } from '../../core/model-metadata.js';
import type { InferRequest, InferResponse } from '../../core/tensor.js';
import type { ExecuteResult, ModelInstance } from '../../engines/engine.js';
import { LoadMeter } from '../../node/load-meter.js';
import { ModelExecutor } from '../../node/model-executor.js';

const META: ModelMetadata = { name: 'm', versions: ['1'], platform: 'test', inputs: [], outputs: [], maxBatchSize: 0 };

/** Runs one batch at a time and finishes it when the test says so. */
class HeldInstance implements ModelInstance {
  readonly card = { id: 'cpu0', kind: 'cpu', type: 'cpu-core', coefficient: 1 } as ModelInstance['card'];
  readonly ran: string[] = [];
  #finish: (() => void) | undefined;

  execute(batch: InferRequest[]): Promise<ExecuteResult[]> {
    this.ran.push(...batch.map((r) => r.id ?? '?'));
    return new Promise((resolve) => {
      this.#finish = () => resolve(batch.map((r): InferResponse => ({ modelName: 'm', modelVersion: '1', id: r.id, outputs: [] })));
    });
  }

  finish(): void {
    const f = this.#finish;
    this.#finish = undefined;
    f?.();
  }

  async unload(): Promise<void> {}
}

function setup(maxQueueSize = 0) {
  const instance = new HeldInstance();
  const meter = new LoadMeter();
  const executor = new ModelExecutor(META, '1', [instance], { maxQueueSize, maxBatchSize: 0 }, meter);
  return { instance, meter, executor };
}

const request = (id: string): InferRequest => ({ modelName: 'm', id, inputs: [] });
const tick = () => new Promise((r) => setImmediate(r));
const cancelled = () => new InferError('CANCELLED', 'the client closed the connection', 'client_closed');

describe('ModelExecutor cancellation', () => {
  it('a request cancelled while queued leaves the queue and never reaches the instance', async () => {
    const { instance, meter, executor } = setup();
    const first = executor.infer(request('a'));
    const cancellation = new Cancellation();
    const second = executor.infer(request('b'), { cancellation });
    const third = executor.infer(request('c'));
    expect(executor.queueDepth).toBe(2);
    cancellation.cancel(cancelled());
    await expect(second).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(executor.queueDepth).toBe(1);
    expect(meter.queueDepth).toBe(1);
    instance.finish();
    await first;
    await tick();
    instance.finish();
    await expect(third).resolves.toMatchObject({ id: 'c' });
    expect(instance.ran).toEqual(['a', 'c']);
    expect(executor.inFlight).toBe(0);
    expect(meter.inFlight).toBe(0);
    expect(executor.answered).toBe(2);
  });

  it('a request cancelled while running is answered at once; its result is dropped and the instance freed', async () => {
    const { instance, executor } = setup();
    const cancellation = new Cancellation();
    const running = executor.infer(request('a'), { cancellation });
    const next = executor.infer(request('b'));
    await tick();
    cancellation.cancel(new InferError('DEADLINE_EXCEEDED', 'late', 'timeout'));
    await expect(running).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    expect(instance.ran).toEqual(['a']);
    instance.finish(); // the run ends: nobody is told twice, and b runs next
    await tick();
    instance.finish();
    await expect(next).resolves.toMatchObject({ id: 'b' });
    expect(executor.inFlight).toBe(0);
  });

  it('refuses a request already cancelled, and one whose deadline passed while queued is not run', async () => {
    const { instance, executor } = setup();
    const gone = new Cancellation();
    gone.cancel(cancelled());
    await expect(executor.infer(request('x'), { cancellation: gone })).rejects.toMatchObject({ reason: 'client_closed' });
    const first = executor.infer(request('a'));
    const late = executor.infer(request('b'), { deadlineMs: Date.now() - 1 });
    instance.finish();
    await first;
    await expect(late).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED', reason: 'queue_timeout' });
    expect(instance.ran).toEqual(['a']);
  });

  it('cancelled requests do not count toward max_queue_size', async () => {
    const { executor } = setup(1);
    executor.infer(request('a')).catch(() => {});
    const cancellation = new Cancellation();
    const queued = executor.infer(request('b'), { cancellation });
    await expect(executor.infer(request('c'))).rejects.toMatchObject({ reason: 'queue_full' });
    cancellation.cancel(cancelled());
    await expect(queued).rejects.toMatchObject({ code: 'CANCELLED' });
    const again = executor.infer(request('d'));
    expect(executor.queueDepth).toBe(1);
    again.catch(() => {});
  });
});

describe('Cancellation', () => {
  it('cancels once, runs listeners in order, and runs a late listener at once', () => {
    const c = new Cancellation();
    const seen: string[] = [];
    c.onCancel((r) => seen.push(`1:${r.reason}`));
    c.onCancel((r) => seen.push(`2:${r.reason}`));
    expect(c.cancelled).toBe(false);
    c.cancel(new InferError('CANCELLED', 'x', 'first'));
    c.cancel(new InferError('DEADLINE_EXCEEDED', 'y', 'second'));
    c.onCancel((r) => seen.push(`3:${r.reason}`));
    expect(seen).toEqual(['1:first', '2:first', '3:first']);
    expect(c.reason?.reason).toBe('first');
  });
});
