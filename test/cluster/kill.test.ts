/**
 * A backend killed with SIGKILL under load (real processes): its in-flight requests fail at the
 * transport and are retried on another node, the gateway ejects it at the first failure and
 * evicts it when its heartbeats stop.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_BASE_EJECTION_MS } from '../../scheduler/pool.js';
import { DEFAULT_EVICT_AFTER_MS, DEFAULT_SWEEP_INTERVAL_MS } from '../../scheduler/registry.js';
import { ClosedLoopLoad, PoolSampler, clusterTest, note, sleep, summarize, traceNode } from '../support/cluster.js';

const newCluster = clusterTest();
/** Scheduling slack of a busy 2-core machine on top of each timer. */
const SLACK_MS = 300;

describe('kill -9 of a backend under load (real processes)', () => {
  it('loses no request; the node gets none after ~1 s and leaves the pool on eviction', async () => {
    const cluster = newCluster();
    const gateway = await cluster.startGateway({ slowStartMs: 0 });
    const [victim] = await cluster.startBackends(['b1', 'b2', 'b3'].map((nodeId) => ({ nodeId, simCards: 'medium:1' })));

    const sampler = new PoolSampler(gateway.url, 10).start();
    const load = new ClosedLoopLoad({ url: gateway.url, concurrency: 16, durationMs: 7_000 }).start();
    await sleep(2_000);
    victim.signal('SIGKILL');
    const killedAtMs = victim.signalledAtMs.get('SIGKILL')!;
    const { records } = await load.done;
    const samples = await sampler.stop();

    const summary = summarize(records);
    const after = summarize(records, killedAtMs);
    const trace = traceNode(samples, 'b1', killedAtMs);
    const atKill = samples.filter((s) => s.atMs < killedAtMs).at(-1)!.nodes.get('b1')!.requests;
    const lastRequestMs = trace.lastRequestByMs - killedAtMs;
    const goneMs = trace.goneAtMs! - killedAtMs;
    note(`kill: ${summary.requests} requests, ${summary.failed} failed; b1 got ${trace.finalRequests - atKill} request(s) after the kill, ` +
      `the last within ${lastRequestMs.toFixed(0)} ms (after ${(trace.lastRequestAfterMs - killedAtMs).toFixed(0)} ms); gone from the pool after ${goneMs.toFixed(0)} ms; ` +
      `p50/p99 after ${after.p50Ms.toFixed(1)}/${after.p99Ms.toFixed(1)} ms`);

    expect(summary.errors).toEqual([]);
    expect(summary.requests).toBeGreaterThan(500);
    expect(after.ok).toBeGreaterThan(200); // the other two nodes kept serving
    expect(victim.exit?.signal).toBe('SIGKILL');
    // The first transport failure ejects b1 for DEFAULT_BASE_EJECTION_MS; when that runs out before
    // eviction, one more request probes it, is refused, and is retried elsewhere. Nothing after.
    // Measured 1.03–1.16 s on a busy 2-core machine: the process takes up to ~0.1 s to die and the
    // gateway to see its sockets close, and the sample that shows the last count lands a bit later.
    expect(lastRequestMs).toBeLessThanOrEqual(DEFAULT_BASE_EJECTION_MS + 400);
    // Silence since its last heartbeat (≤ 1 s before the kill) + one sweep.
    expect(trace.goneAtMs).toBeDefined();
    expect(goneMs).toBeLessThanOrEqual(DEFAULT_EVICT_AFTER_MS + DEFAULT_SWEEP_INTERVAL_MS + SLACK_MS);
    expect(samples.at(-1)!.nodes.has('b1')).toBe(false);
    expect(gateway.messages().some((m) => /node b1 evicted: no heartbeat/.test(m))).toBe(true);
  });

  // sim_echo: a 10 ms SIMULATED execution; identity: the real ONNX model, microseconds per run, so
  // thousands of requests per second go through the gateway when the node dies.
  it.each([
    [32, 'sim_echo'], [64, 'sim_echo'], [32, 'identity'], [64, 'identity'],
  ])('one of four nodes killed under %i concurrent clients (%s): no request lost', async (concurrency, model) => {
    const cluster = newCluster({ bundled: ['identity'] });
    const gateway = await cluster.startGateway({ slowStartMs: 0 });
    const real = model === 'identity';
    const [victim] = await cluster.startBackends(
      ['k1', 'k2', 'k3', 'k4'].map((nodeId) => ({ nodeId, simCards: real ? undefined : 'medium:1' })), model);
    const load = new ClosedLoopLoad({ url: gateway.url, model, shape: real ? [1, 16] : undefined, concurrency, durationMs: 4_000 }).start();
    await sleep(1_500);
    // At this concurrency every node holds more requests than its in-flight cap: the dead node's
    // are all retried elsewhere, however many there are.
    victim.signal('SIGKILL');
    const killedAtMs = victim.signalledAtMs.get('SIGKILL')!;
    const { records } = await load.done;
    const summary = summarize(records);
    const after = summarize(records, killedAtMs);
    note(`kill at c=${concurrency} (${model}): ${summary.requests} requests, ${summary.failed} failed; after the kill ${after.ok} ok, p99 ${after.p99Ms.toFixed(1)} ms`);
    expect(summary.errors).toEqual([]);
    expect(after.ok).toBeGreaterThan(100);
  });
});
