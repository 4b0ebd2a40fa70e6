/**
 * A backend that slows down 10× at run time (real processes, `capacity` policy): its next load
 * reports measure a tenth of the capacity, the gateway drops its weight at the next weight
 * update (drops apply at once), and its share of requests falls.
 */
import { describe, expect, it } from 'vitest';
import { ClosedLoopLoad, PoolSampler, clusterTest, httpJson, note, pct, requestShares, samplePools, sleep, summarize } from '../support/cluster.js';

const newCluster = clusterTest();
const WEIGHT_INTERVAL_MS = 500;
const HEARTBEAT_MS = 1_000;

describe('a backend degrading 10× under load (real processes, capacity policy)', () => {
  it('loses weight within a few weight intervals and most of its share', async () => {
    const cluster = newCluster();
    const gateway = await cluster.startGateway({ policy: 'capacity', slowStartMs: 0, weightIntervalMs: WEIGHT_INTERVAL_MS });
    const backends = await cluster.startBackends(['b1', 'b2', 'b3'].map((nodeId) => ({ nodeId, simCards: 'medium:1', heartbeatMs: HEARTBEAT_MS })));

    const sampler = new PoolSampler(gateway.url, 20).start();
    const load = new ClosedLoopLoad({ url: gateway.url, concurrency: 12, durationMs: 11_000 }).start();
    await sleep(3_000); // measured weights in place
    const beforeFrom = await samplePools(gateway.url);
    await sleep(1_500);
    const beforeTo = await samplePools(gateway.url);
    const { status } = await httpJson(`${backends[0].url}/infergate/sim`, 'PUT', { slowdown: 10 });
    expect(status).toBe(200);
    const slowedAtMs = performance.now();
    await sleep(3_500);
    const afterFrom = await samplePools(gateway.url);
    await sleep(2_500);
    const afterTo = await samplePools(gateway.url);
    const { records } = await load.stop();
    const samples = await sampler.stop();

    const weightBefore = beforeTo.nodes.get('b1')!.weight;
    const peersBefore = (beforeTo.nodes.get('b2')!.weight + beforeTo.nodes.get('b3')!.weight) / 2;
    // When the gateway first ran b1 at under a third of its old weight.
    const dropped = samples.find((s) => s.atMs > slowedAtMs && s.nodes.get('b1')!.weight < weightBefore / 3);
    const weightAfter = afterTo.nodes.get('b1')!.weight;
    const shareBefore = requestShares(beforeFrom, beforeTo).get('b1')!.share;
    const shareAfter = requestShares(afterFrom, afterTo).get('b1')!.share;
    const summary = summarize(records);
    note(`degrade: b1 weight ${weightBefore.toFixed(2)} (peers ${peersBefore.toFixed(2)}) → ${weightAfter.toFixed(2)}, ` +
      `below a third ${dropped ? `${(dropped.atMs - slowedAtMs).toFixed(0)} ms` : 'never'} after the slowdown; ` +
      `share ${pct(shareBefore)} → ${pct(shareAfter)}; ${summary.requests} requests, ${summary.failed} failed`);

    expect(summary.errors).toEqual([]);
    // Before: three equal nodes, equal weights and shares.
    expect(weightBefore / peersBefore).toBeGreaterThan(0.75);
    expect(weightBefore / peersBefore).toBeLessThan(1.33);
    expect(Math.abs(shareBefore - 1 / 3)).toBeLessThanOrEqual(0.05);
    // The slowed node's first full report window comes within two heartbeats; the next weight
    // update applies it.
    expect(dropped).toBeDefined();
    expect(dropped!.atMs - slowedAtMs).toBeLessThanOrEqual(2 * HEARTBEAT_MS + 2 * WEIGHT_INTERVAL_MS + 500);
    // Share down from a third to under 10%. The delay check stops sending b1 new work on its first
    // late answers, before any weight moves, so b1 sees too little traffic for a full report window;
    // the execution time its thin windows show cuts the weight instead (to about a tenth).
    expect(weightAfter).toBeLessThan(weightBefore / 4);
    expect(shareAfter).toBeLessThan(0.1);
  });
});
