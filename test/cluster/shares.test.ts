/**
 * Request shares across backends of different speed, real processes: a gateway and three
 * SIMULATED backends with one card each, fast (coefficient 4), medium (2) and slow (1). Shares are
 * read from the gateway's own `requests` counters in /infergate/pools. The weight tests turn the
 * closed-loop guard off (`--queue-budget off`): with it, the shortest-expected-delay check,
 * not the weights alone, decides where a request goes (the last test).
 */
import { describe, expect, it } from 'vitest';
import { ClosedLoopLoad, PoolSampler, clusterTest, note, pct, requestShares, samplePools, sleep, summarize } from '../support/cluster.js';

const newCluster = clusterTest();

const NODES = [
  { nodeId: 'fast', simCards: 'fast:1' },
  { nodeId: 'medium', simCards: 'medium:1' },
  { nodeId: 'slow', simCards: 'slow:1' },
];
const CAPACITY_SHARE: Record<string, number> = { fast: 4 / 7, medium: 2 / 7, slow: 1 / 7 };
const GUARD_OFF = ['--queue-budget', 'off'];

describe('shares by capacity (real processes)', () => {
  it('static: 840 requests split 4:2:1 within ±3 points', async () => {
    const cluster = newCluster();
    // Slow start off: the static weights are the capacities from the first request.
    const gateway = await cluster.startGateway({ policy: 'static', slowStartMs: 0, extraArgs: GUARD_OFF });
    await cluster.startBackends(NODES);

    const before = await samplePools(gateway.url);
    const result = await new ClosedLoopLoad({ url: gateway.url, concurrency: 8, maxRequests: 840 }).start().done;
    const after = await samplePools(gateway.url);

    const summary = summarize(result.records);
    expect(summary.errors).toEqual([]);
    expect(summary.ok).toBe(840);
    const shares = requestShares(before, after);
    const total = [...shares.values()].reduce((a, s) => a + s.requests, 0);
    note(`static shares over ${total} requests: ${[...shares].map(([id, s]) => `${id} ${pct(s.share)} (${s.requests})`).join(', ')}; ` +
      `p50/p99 ${summary.p50Ms.toFixed(1)}/${summary.p99Ms.toFixed(1)} ms`);
    expect(total).toBe(840);
    for (const [id, expected] of Object.entries(CAPACITY_SHARE)) {
      const { share } = shares.get(id)!;
      expect(Math.abs(share - expected), `${id}: ${pct(share)} vs ${pct(expected)}`).toBeLessThanOrEqual(0.03);
    }
  });

  it('capacity: measured weights converge to 4:2:1 and shares follow within ±5 points', async () => {
    // 60 ms per request on a slow card (15 ms on a fast one): with 20 ms, the fast card's 5 ms sleep
    // is stretched by the event-loop lag of a busy 2-core machine, and the node measures itself
    // ~3× instead of 4× the slow one. The policy reads what the node measures; the longer service
    // time keeps that lag a small part of it.
    const cluster = newCluster({ serviceMs: 60 });
    const gateway = await cluster.startGateway({ policy: 'capacity', slowStartMs: 0, weightIntervalMs: 500, extraArgs: GUARD_OFF });
    await cluster.startBackends(NODES.map((n) => ({ ...n, heartbeatMs: 500 })));

    // Concurrency 12 against 12 execution slots: every node busy (utilization well above zero, so
    // qps / utilization is measured, not the prior).
    const load = new ClosedLoopLoad({ url: gateway.url, concurrency: 12, durationMs: 10_000 }).start();
    const sampler = new PoolSampler(gateway.url, 100).start();
    await sleep(4_000); // several reports and weight updates: the measured weights settle
    const from = await samplePools(gateway.url);
    await sleep(5_500);
    const to = await samplePools(gateway.url);
    const summary = summarize((await load.stop()).records);
    const settled = (await sampler.stop()).filter((s) => s.atMs >= from.atMs && s.atMs <= to.atMs);

    expect(summary.errors).toEqual([]);
    const shares = requestShares(from, to);
    const total = [...shares.values()].reduce((a, s) => a + s.requests, 0);
    expect(total).toBeGreaterThanOrEqual(700);
    // Mean weight over the window: one report can move a weight for a moment (drops apply at once).
    const weights = Object.fromEntries(Object.keys(CAPACITY_SHARE).map((id) =>
      [id, settled.reduce((sum, s) => sum + s.nodes.get(id)!.weight, 0) / settled.length]));
    note(`capacity shares over ${total} requests: ${[...shares].map(([id, s]) => `${id} ${pct(s.share)}`).join(', ')}; ` +
      `mean weights ${Object.entries(weights).map(([id, w]) => `${id} ${w.toFixed(2)}`).join(', ')} over ${settled.length} samples`);
    for (const [id, expected] of Object.entries(CAPACITY_SHARE)) {
      const { share } = shares.get(id)!;
      expect(Math.abs(share - expected), `${id}: ${pct(share)} vs ${pct(expected)}; weights ${JSON.stringify(weights)}`).toBeLessThanOrEqual(0.05);
    }
    // Measured capacity relative to the slow node: 4 and 2, within 25%.
    expect(weights.fast / weights.slow).toBeGreaterThan(3);
    expect(weights.fast / weights.slow).toBeLessThan(5);
    expect(weights.medium / weights.slow).toBeGreaterThan(1.5);
    expect(weights.medium / weights.slow).toBeLessThan(2.5);
  });

  it('with the guard (the default), light load goes to the cards that answer soonest: the slow card gets almost none', async () => {
    const cluster = newCluster();
    const gateway = await cluster.startGateway({ policy: 'static', slowStartMs: 0 });
    await cluster.startBackends(NODES);

    const before = await samplePools(gateway.url);
    // Concurrency 3: the fast card (2 slots, 5 ms) always has a free slot or the shortest wait, so
    // the slow card (20 ms per request) would only ever add latency.
    const result = await new ClosedLoopLoad({ url: gateway.url, concurrency: 3, maxRequests: 600 }).start().done;
    const after = await samplePools(gateway.url);
    const summary = summarize(result.records);
    expect(summary.errors).toEqual([]);
    const shares = requestShares(before, after);
    note(`guarded shares at c=3: ${[...shares].map(([id, s]) => `${id} ${pct(s.share)} (${s.requests})`).join(', ')}`);
    expect(shares.get('slow')!.share).toBeLessThan(0.05);
    expect(shares.get('fast')!.share).toBeGreaterThan(CAPACITY_SHARE.fast);
  });
});
