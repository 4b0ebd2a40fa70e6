/**
 * A gateway's statistics (PoolTarget over a real PoolSet and Router, with scripted backends as
 * unit-test doubles for nodes): per (model, version) pool it counts what it forwarded, a node's
 * error answer and a failure to reach any node as failures; queue, compute and executions are the
 * nodes' and stay zero; an unknown model is NOT_FOUND and counts nowhere. Real processes:
 * test/cluster/statistics.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { Cancellation } from '../../core/cancellation.js';
import { InferError, TransportError } from '../../core/errors.js';
import type { InferCall, WireAnswer } from '../../core/infer-call.js';
import type { ModelMetadata } from '../../core/model-metadata.js';
import { mergeModelStatistics } from '../../core/model-statistics.js';
import type { Backend } from '../../scheduler/backend.js';
import { PoolSet } from '../../scheduler/pool-set.js';
import { DEFAULT_POOL_OPTIONS } from '../../scheduler/pool.js';
import { Router } from '../../scheduler/router.js';
import { createRoutingPolicy } from '../../scheduler/routing-policy.js';
import { PoolTarget } from '../../service/pool-target.js';

const META: ModelMetadata = { name: 'm', versions: ['1', '2'], platform: 'test', inputs: [], outputs: [], maxBatchSize: 0 };
const ZERO = { count: 0, ns: 0 };

/** Answers with the status its script gives for the call's request id ('ok' by default), or throws. */
class ScriptedBackend implements Backend {
  constructor(readonly id: string, private readonly script: Record<string, number | InferError> = {}) {}
  async infer(call: InferCall, version: string): Promise<WireAnswer> {
    const outcome = this.script[call.requestId] ?? 200;
    if (outcome instanceof InferError) throw outcome;
    await new Promise((r) => setTimeout(r, 1));
    return { status: outcome, contentType: 'application/json', body: Buffer.from('{}'), modelVersion: version };
  }
  async close(): Promise<void> {}
}

function gatewayOver(backend: Backend) {
  const pools = new PoolSet(() => createRoutingPolicy('static', { slowStartWindowMs: 0 }), DEFAULT_POOL_OPTIONS, () => 0);
  for (const [model, version] of [['m', '1'], ['m', '2'], ['other', '1']]) {
    pools.getOrCreate(model, version, { ...META, name: model })
      .upsert({ id: backend.id, nodeId: backend.id, url: backend.id, backend, capacity: 1, staticWeight: 1 }, Date.now());
  }
  return new PoolTarget(pools, new Router(pools), async () => ({}));
}

const call = (requestId: string, model = 'm', version?: string): InferCall => ({
  model, version, requestId, deadlineMs: Date.now() + 10_000, cancellation: new Cancellation(), payload: { format: 'kserve-http', body: Buffer.alloc(0) },
});

describe('PoolTarget statistics (a gateway)', () => {
  it('counts the successes and failures it forwarded per pool, timed to the node\'s answer', async () => {
    const target = gatewayOver(new ScriptedBackend('n1', { bad: 400, busy: 503, gone: new TransportError('refused') }));
    const before = Date.now();
    for (let i = 0; i < 3; i++) await target.infer(call(`ok-${i}`));
    await target.infer(call('v1', 'm', '1'));
    expect((await target.infer(call('bad'))).status).toBe(400);
    expect((await target.infer(call('busy'))).status).toBe(503);
    await expect(target.infer(call('gone'))).rejects.toBeInstanceOf(TransportError);

    const [v1, v2] = target.statistics('m');
    expect(v1).toMatchObject({ name: 'm', version: '1', inference_stats: { success: { count: 1 }, fail: ZERO } });
    expect(v2).toMatchObject({ name: 'm', version: '2', inference_count: 0, execution_count: 0, batch_stats: [] });
    expect(v2.inference_stats.success.count).toBe(3);
    expect(v2.inference_stats.success.ns).toBeGreaterThan(0);
    expect(v2.inference_stats.fail.count).toBe(3);
    expect(v2.inference_stats.fail.ns).toBeGreaterThan(0);
    for (const key of ['queue', 'compute_input', 'compute_infer', 'compute_output', 'cache_hit', 'cache_miss'] as const) {
      expect(v2.inference_stats[key], key).toEqual(ZERO);
    }
    expect(v2.last_inference).toBeGreaterThanOrEqual(before);
    expect(v2.last_inference).toBeLessThanOrEqual(Date.now() + 1);
  });

  it('lists every pool, those with no traffic at zero; one version alone; unknown model or version is NOT_FOUND and counts nowhere', async () => {
    const target = gatewayOver(new ScriptedBackend('n1'));
    await target.infer(call('a'));
    await expect(target.infer(call('x', 'nope'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(target.infer(call('x', 'm', '9'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const all = target.statistics();
    expect(all.map((s) => `${s.name}/${s.version}`)).toEqual(['m/1', 'm/2', 'other/1']);
    expect(all.map((s) => s.inference_stats.success.count + s.inference_stats.fail.count)).toEqual([0, 1, 0]);
    expect(all[2].last_inference).toBe(0);
    expect(target.statistics('m', '2').map((s) => s.version)).toEqual(['2']);
    expect(() => target.statistics('nope')).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    expect(() => target.statistics('m', '9')).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
  });
});

describe('mergeModelStatistics (gateway workers)', () => {
  it('adds counts and nanoseconds per version and batch size, keeps the latest inference', () => {
    const d = (count: number, ns: number) => ({ count, ns });
    const zero = d(0, 0);
    const stats = (version: string, success: number, last: number, batches: Array<[number, number]>) => ({
      name: 'm', version, last_inference: last, inference_count: success, execution_count: batches.length,
      inference_stats: { success: d(success, success * 10), fail: d(1, 5), queue: zero, compute_input: zero, compute_infer: d(success, 7), compute_output: zero, cache_hit: zero, cache_miss: zero },
      batch_stats: batches.map(([size, n]) => ({ batch_size: size, compute_input: zero, compute_infer: d(n, n * 3), compute_output: zero })),
    });
    const merged = mergeModelStatistics([[stats('1', 4, 100, [[1, 4]])], [stats('1', 6, 300, [[1, 2], [4, 1]]), stats('2', 1, 50, [])]]);
    expect(merged.map((m) => m.version)).toEqual(['1', '2']);
    expect(merged[0]).toMatchObject({
      last_inference: 300, inference_count: 10, execution_count: 3,
      inference_stats: { success: d(10, 100), fail: d(2, 10), compute_infer: d(10, 14) },
      batch_stats: [{ batch_size: 1, compute_infer: d(6, 18) }, { batch_size: 4, compute_infer: d(1, 3) }],
    });
  });
});
