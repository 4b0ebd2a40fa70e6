/**
 * Model load and unload through a gateway, real processes: a node started with
 * --model-control-mode explicit and nothing loaded; a load sent to the gateway reaches the node,
 * the node's next heartbeat adds it to the pool and requests flow; an unload sent to the gateway
 * takes it out again.
 */
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { clusterTest, poolNodes, waitFor } from '../support/cluster.js';

const newCluster = clusterTest();

async function post(url: string, body?: string) {
  const r = await request(url, { method: 'POST', body, headers: body ? { 'content-type': 'application/json' } : {} });
  return { status: r.statusCode, text: await r.body.text() };
}

describe('load and unload through a gateway (real processes)', () => {
  it('reach the nodes, and the pools follow their heartbeats', async () => {
    const cluster = newCluster();
    const gateway = await cluster.startGateway({ slowStartMs: 0 });
    await cluster.startBackend({ nodeId: 'r1', simCards: 'fast:1', heartbeatMs: 200, extraArgs: ['--model-control-mode', 'explicit'] });
    const infer = () => post(`${gateway.url}/v2/models/sim_echo/infer`, JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1], data: [3] }] }));
    expect((await infer()).status).toBe(404);

    expect((await post(`${gateway.url}/v2/repository/models/sim_echo/load`)).status).toBe(200);
    await waitFor('sim_echo in the pool', async () => ((await poolNodes(gateway.url)).some((n) => n.id === 'r1') ? true : undefined));
    // Every gateway worker learns it from the relayed heartbeat, within moments of the first.
    await waitFor('requests flow', async () => ((await infer()).status === 200 ? true : undefined));

    const unknown = await post(`${gateway.url}/v2/repository/models/nope/load`);
    expect(unknown.status).toBe(400);
    expect(JSON.parse(unknown.text).error).toMatch(/node r1: .*nope/);

    expect((await post(`${gateway.url}/v2/repository/models/sim_echo/unload`)).status).toBe(200);
    await waitFor('sim_echo out of the pool', async () => ((await poolNodes(gateway.url)).length === 0 ? true : undefined));
    await waitFor('requests refused', async () => ((await infer()).status === 404 ? true : undefined));
  });
});
