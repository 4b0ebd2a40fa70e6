/**
 * `infergate gateway --workers 2`, real processes: two worker processes share the HTTP port; both
 * serve requests, both see a node join and leave (a heartbeat or leave message reaches one worker,
 * the primary relays it), the operator view and the statistics add both up, and the metrics port
 * sums both.
 */
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import type { PoolView } from '../../scheduler/pool.js';
import { clusterTest, counterTotal, sleep, waitFor } from '../support/cluster.js';

const newCluster = clusterTest();

/** A fresh connection per call: the primary hands each new connection to the next worker. */
async function fresh(url: string, init: { method?: 'GET' | 'POST'; body?: string } = {}) {
  const r = await request(url, {
    method: init.method ?? 'GET', body: init.body, reset: true,
    headers: { connection: 'close', ...(init.body ? { 'content-type': 'application/json' } : {}) },
  });
  return { status: r.statusCode, text: await r.body.text() };
}

async function workerViews(gatewayUrl: string, tries = 12): Promise<Map<number, PoolView[]>> {
  const views = new Map<number, PoolView[]>();
  for (let i = 0; i < tries; i++) {
    const { text } = await fresh(`${gatewayUrl}/infergate/pools?scope=worker`);
    const body = JSON.parse(text) as { worker: number; pools: PoolView[] };
    views.set(body.worker, body.pools);
  }
  return views;
}

const requestsOf = (pools: PoolView[], node: string) =>
  pools.flatMap((p) => p.nodes).filter((n) => n.id === node).reduce((sum, n) => sum + n.requests, 0);

describe('gateway --workers 2 (real processes)', () => {
  it('both workers serve, both see a node join and leave, views and metrics add up', async () => {
    const cluster = newCluster();
    const gateway = await cluster.startGateway({ workers: 2, slowStartMs: 0, metrics: true });
    const [node] = await cluster.startBackends([{ nodeId: 'w1', simCards: 'fast:1' }]);

    // Both workers know the node (whichever received its heartbeats).
    const joined = await waitFor('both workers list w1', async () => {
      const views = await workerViews(gateway.url);
      return views.size === 2 && [...views.values()].every((p) => p.some((pool) => pool.nodes.some((n) => n.id === 'w1'))) ? views : undefined;
    });
    expect(joined.size).toBe(2);

    const body = JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [2], data: [1, 2] }] });
    const answers = await Promise.all(Array.from({ length: 40 }, () => fresh(`${gateway.url}/v2/models/sim_echo/infer`, { method: 'POST', body })));
    expect(answers.map((a) => a.status)).toEqual(Array(40).fill(200));

    const served = await workerViews(gateway.url);
    const perWorker = [...served.values()].map((pools) => requestsOf(pools, 'w1'));
    expect(perWorker).toHaveLength(2);
    for (const n of perWorker) expect(n).toBeGreaterThan(0);
    expect(perWorker[0] + perWorker[1]).toBe(40);
    const merged = JSON.parse((await fresh(`${gateway.url}/infergate/pools`)).text) as { pools: PoolView[] };
    expect(requestsOf(merged.pools, 'w1')).toBe(40);
    const metrics = (await fresh(`${gateway.metricsUrl}/metrics`)).text;
    expect(counterTotal(metrics, 'infergate_request_success_total')).toBe(40);
    // Statistics add up over both workers too, whichever worker answers.
    for (let i = 0; i < 4; i++) {
      const stats = JSON.parse((await fresh(`${gateway.url}/v2/models/sim_echo/stats`)).text) as { model_stats: { inference_stats: { success: { count: number } } }[] };
      expect(stats.model_stats[0].inference_stats.success.count).toBe(40);
    }

    // The node leaves (SIGTERM: drain, then a leave message to one worker): both drop it.
    node.signal('SIGTERM');
    const leftAt = performance.now();
    await waitFor('both workers dropped w1', async () => {
      const views = await workerViews(gateway.url, 6);
      return views.size === 2 && [...views.values()].every((p) => p.length === 0) ? true : undefined;
    });
    expect(performance.now() - leftAt).toBeLessThan(3_000);
    await sleep(100);
    expect((await node.exited).code).toBe(0);
  });
});
