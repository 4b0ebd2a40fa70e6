/**
 * A node's own overload answer through a gateway: one node whose sim_echo queue holds 2 requests
 * (2 instances of sim_echo at 600 ms, halved by the medium card), behind a gateway whose hard per-node limit is far above that, so the
 * node refuses first. A burst of 16 requests: the ones the node can hold are answered 200, every
 * other one gets a 503 with Retry-After at once (HTTP) or UNAVAILABLE with the pushback trailer
 * (gRPC): the node's `queue_full` answer passed on with its wait, or, while the pool holds the node
 * off for that wait, the gateway's own `pool_saturated`. None waits for a slot.
 */
import { status, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, SIM_MODEL, clusterTest, waitForNodes, type GatewayProcess } from '../support/cluster.js';
import { GrpcTestClient, encodeInferRequestMessage } from '../support/grpc-client.js';

clusterTest();
const SERVICE_MS = 600;
const BURST = 16;
/** Two running and two queued: the rest of a burst cannot be held. */
const HELD = 4;

let cluster: Cluster;
let gateway: GatewayProcess;

beforeAll(async () => {
  cluster = new Cluster({ serviceMs: SERVICE_MS, instances: 2, maxQueueSize: 2 });
  gateway = await cluster.startGateway({ slowStartMs: 0, workers: 1, extraArgs: ['--max-in-flight-per-node', '100'] });
  await cluster.startBackend({ nodeId: 'q1', simCards: 'medium:1' });
  await waitForNodes(gateway.url, ['q1'], { model: SIM_MODEL });
}, 60_000);

afterAll(async () => {
  await cluster?.close();
});

describe('queue_full through a gateway (real processes)', () => {
  it('HTTP: a burst past the node\'s queue gets 200 or an immediate 503 with the Retry-After', async () => {
    const body = JSON.stringify({ inputs: [{ name: 'INPUT0', shape: [4], datatype: 'FP32', data: [1, 2, 3, 4] }] });
    const answers = await Promise.all(Array.from({ length: BURST }, async () => {
      const started = performance.now();
      const response = await fetch(`${gateway.url}/v2/models/${SIM_MODEL}/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      const text = await response.text();
      return { status: response.status, retryAfter: response.headers.get('retry-after'), text, ms: performance.now() - started };
    }));
    const refused = answers.filter((a) => a.status !== 200);
    expect(answers.filter((a) => a.status === 200).length).toBeGreaterThanOrEqual(2);
    expect(refused.length).toBeGreaterThanOrEqual(BURST - 2 * HELD);
    for (const a of refused) {
      expect(a.status, a.text).toBe(503);
      expect(Number(a.retryAfter), a.text).toBeGreaterThanOrEqual(1);
      // At once: within two executions' time (300 ms each on the medium card), room left for a busy core; a request held for a slot would wait longer.
      expect(a.ms, a.text).toBeLessThan(SERVICE_MS);
    }
    // The node's own answer came through with its message (the first refusals, before any hold-off).
    expect(refused.some((a) => /queue is full/.test(a.text))).toBe(true);
  }, 30_000);

  it('gRPC: the same burst gets answers or UNAVAILABLE with grpc-retry-pushback-ms at once', async () => {
    // Let the HTTP test's requests drain and its hold-off pass.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const grpc = new GrpcTestClient(await gateway.grpcStarted());
    const request = encodeInferRequestMessage({
      model_name: SIM_MODEL, inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [4], contents: { fp32_contents: [1, 2, 3, 4] } }],
    });
    try {
      const outcomes = await Promise.all(Array.from({ length: BURST }, async () => {
        const started = performance.now();
        try {
          await grpc.inferBytes(request, { deadline: Date.now() + 10_000 });
          return { ok: true, ms: performance.now() - started };
        } catch (err) {
          const e = err as ServiceError;
          return { ok: false, code: e.code, details: e.details, pushback: e.metadata?.get('grpc-retry-pushback-ms')[0], ms: performance.now() - started };
        }
      }));
      const refused = outcomes.filter((o) => !o.ok);
      expect(outcomes.filter((o) => o.ok).length).toBeGreaterThanOrEqual(2);
      expect(refused.length).toBeGreaterThanOrEqual(BURST - 2 * HELD);
      for (const o of refused) {
        expect(o.code, o.details).toBe(status.UNAVAILABLE);
        expect(Number(o.pushback), o.details).toBeGreaterThan(0);
        expect(o.ms, o.details).toBeLessThan(SERVICE_MS);
      }
      expect(refused.some((o) => /queue is full/.test(String(o.details)))).toBe(true);
    } finally {
      grpc.close();
    }
  }, 30_000);
});
