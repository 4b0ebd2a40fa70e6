/**
 * Graceful drain under load (real processes): SIGTERM makes a backend announce `draining` at once,
 * finish what it holds, tell the gateway it leaves and exit 0. No client request fails.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_DRAIN_GRACE_MS } from '../../cli/model-node.js';
import { ClosedLoopLoad, PoolSampler, clusterTest, note, sleep, summarize, traceNode } from '../support/cluster.js';

const newCluster = clusterTest();
const SLACK_MS = 300;

describe('SIGTERM drain of a backend under load (real processes)', () => {
  it('loses no request, stops traffic to the node when it announces draining, and the node exits 0', async () => {
    const cluster = newCluster();
    const gateway = await cluster.startGateway({ slowStartMs: 0 });
    const [victim] = await cluster.startBackends(['b1', 'b2', 'b3'].map((nodeId) => ({ nodeId, simCards: 'medium:1' })));

    const sampler = new PoolSampler(gateway.url, 10).start();
    const load = new ClosedLoopLoad({ url: gateway.url, concurrency: 16, durationMs: 5_000 }).start();
    await sleep(2_000);
    victim.signal('SIGTERM');
    const signalledAtMs = victim.signalledAtMs.get('SIGTERM')!;
    const exit = await victim.exited;
    const exitedMs = performance.now() - signalledAtMs;
    const { records } = await load.done;
    const samples = await sampler.stop();

    const summary = summarize(records);
    const trace = traceNode(samples, 'b1', signalledAtMs);
    const drainingSample = samples.find((s) => s.nodes.get('b1')?.state === 'draining');
    const inFlightAtDraining = drainingSample?.nodes.get('b1')?.in_flight;
    note(`drain: ${summary.requests} requests, ${summary.failed} failed; b1 draining in the pool after ${(trace.drainingAtMs! - signalledAtMs).toFixed(0)} ms ` +
      `(${inFlightAtDraining} in flight then), ${trace.lastRequestByMs > signalledAtMs ? `last request within ${(trace.lastRequestByMs - signalledAtMs).toFixed(0)} ms` : 'no request after SIGTERM'}, ` +
      `exit ${exit.code} after ${exitedMs.toFixed(0)} ms, gone from the pool after ${(trace.goneAtMs! - signalledAtMs).toFixed(0)} ms`);

    expect(summary.errors).toEqual([]);
    expect(summary.requests).toBeGreaterThan(300);
    expect(exit).toEqual({ code: 0, signal: null });
    // Announced by a heartbeat sent at once on SIGTERM, not at the next beat.
    expect(drainingSample).toBeDefined();
    expect(trace.drainingAtMs! - signalledAtMs).toBeLessThanOrEqual(SLACK_MS + 200);
    // Once the gateway shows it draining, it sends the node nothing more.
    expect(drainingSample!.nodes.get('b1')!.requests).toBe(trace.finalRequests);
    // It stays listed (draining) while it finishes, then leaves: gone right after its exit, not
    // after an eviction timeout.
    expect(trace.goneAtMs).toBeDefined();
    expect(trace.goneAtMs! - signalledAtMs).toBeLessThanOrEqual(exitedMs + SLACK_MS);
    expect(exitedMs).toBeGreaterThanOrEqual(DEFAULT_DRAIN_GRACE_MS);
    expect(gateway.messages().some((m) => /node b1 evicted: left/.test(m))).toBe(true);
    expect(victim.messages().some((m) => /^draining: announced/.test(m))).toBe(true);
  });
});
