/**
 * Deadlines and cancellation end to end, real processes: a SIMULATED node with one instance and a
 * 400 ms execution, so a second request waits in its queue. A request whose client goes away, and
 * one whose deadline passes, while queued, never reach the instance: the node's execution count
 * says how many runs happened. Both straight to the node and through a gateway (which forwards the
 * remaining deadline as a header and aborts the upstream request when its client goes away).
 */
import { Agent, request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { clusterTest, readCounter, sleep, type Cluster, type InfergateProcess } from '../support/cluster.js';

const newCluster = clusterTest();
const SERVICE_MS = 400;
const EXECUTIONS = 'infergate_execution_count_total';
const client = new Agent({ connections: 16 });
afterAll(() => client.close());

const BODY = JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [2], data: [1, 2] }] });

function infer(url: string, options: { headers?: Record<string, string>; signal?: AbortSignal } = {}) {
  return request(`${url}/v2/models/sim_echo/infer`, {
    method: 'POST', body: BODY, dispatcher: client, signal: options.signal,
    headers: { 'content-type': 'application/json', ...options.headers },
  }).then(async (r) => ({ status: r.statusCode, body: await r.body.text() }));
}

async function oneSlowNode(gatewayArgs: string[] = []): Promise<{ cluster: Cluster; node: InfergateProcess; gatewayUrl: string }> {
  const cluster = newCluster({ serviceMs: SERVICE_MS, instances: 1 });
  const gateway = await cluster.startGateway({ slowStartMs: 0, extraArgs: gatewayArgs });
  const [node] = await cluster.startBackends([{ nodeId: 'n1', simCards: 'slow:1', metrics: true }]);
  return { cluster, node, gatewayUrl: gateway.url };
}

/**
 * Occupies the single instance with one request, then sends the two that must never run: one
 * whose client goes away after 100 ms, one with a deadline of 150 ms. Returns what each got.
 */
async function occupyAndCancel(url: string, deadlineHeader: boolean) {
  const first = infer(url);
  await sleep(50);
  const abort = new AbortController();
  const abandoned = infer(url, { signal: abort.signal }).then(() => 'answered', (err: Error) => err.name);
  const startedAt = performance.now();
  const late = infer(url, deadlineHeader ? { headers: { 'infergate-timeout-ms': '150' } } : {})
    .then((r) => ({ ...r, ms: performance.now() - startedAt }));
  await sleep(100);
  abort.abort();
  return { first: await first, abandoned: await abandoned, late: await late };
}

describe('deadlines and cancellation (real processes)', () => {
  it('straight to the node: a disconnected client and a passed deadline leave the queue, never run', async () => {
    const { node } = await oneSlowNode();
    const before = await readCounter(node.metricsUrl!, EXECUTIONS);
    const { first, abandoned, late } = await occupyAndCancel(node.url, true);
    expect(first.status).toBe(200);
    expect(abandoned).toBe('AbortError');
    expect(late.status).toBe(504);
    expect(JSON.parse(late.body)).toEqual({ error: expect.stringMatching(/deadline/) });
    expect(late.ms).toBeLessThan(SERVICE_MS); // answered at its deadline, not after the run ahead of it
    // Long enough for both to have run, had they stayed queued.
    await sleep(2 * SERVICE_MS + 200);
    expect(await readCounter(node.metricsUrl!, EXECUTIONS) - before).toBe(1);
    // The node still serves, and counts that run.
    expect((await infer(node.url)).status).toBe(200);
    expect(await readCounter(node.metricsUrl!, EXECUTIONS) - before).toBe(2);
  });

  it('through a gateway: the client deadline header and a client disconnect reach the node\'s queue', async () => {
    const { node, gatewayUrl } = await oneSlowNode();
    const before = await readCounter(node.metricsUrl!, EXECUTIONS);
    const { first, abandoned, late } = await occupyAndCancel(gatewayUrl, true);
    expect(first.status).toBe(200);
    expect(abandoned).toBe('AbortError');
    expect(late.status).toBe(504);
    expect(late.ms).toBeLessThan(SERVICE_MS);
    await sleep(2 * SERVICE_MS + 200);
    expect(await readCounter(node.metricsUrl!, EXECUTIONS) - before).toBe(1);
    expect((await infer(gatewayUrl)).status).toBe(200);
  });

  it('through a gateway: its --request-timeout-ms travels to the node, which drops the request too', async () => {
    const { node, gatewayUrl } = await oneSlowNode(['--request-timeout-ms', '200']);
    const before = await readCounter(node.metricsUrl!, EXECUTIONS);
    // The first request itself takes 400 ms > 200 ms: it times out at the gateway while it runs
    // (a run already started finishes; its result is dropped). The second never runs.
    const first = infer(gatewayUrl);
    await sleep(50);
    const second = await infer(gatewayUrl);
    expect((await first).status).toBe(504);
    expect(second.status).toBe(504);
    await sleep(2 * SERVICE_MS + 200);
    expect(await readCounter(node.metricsUrl!, EXECUTIONS) - before).toBe(1);
  });
});
