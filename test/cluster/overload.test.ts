/**
 * Overload answers on a real cluster: one gateway (one worker) in front of one simulated node whose
 * capacity is known (2 instances of sim_echo at 40 ms each: 50 requests/s), driven open-loop at
 * 120 % of that. Requests past what the node can hold (the gateway's hard in-flight limit, from the
 * node's slots and --queue-budget by default) are refused at once: HTTP 503 with Retry-After, gRPC
 * UNAVAILABLE with grpc-retry-pushback-ms. No request waits until it times out.
 */
import { status, type ServiceError } from '@grpc/grpc-js';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, SIM_MODEL, clusterTest, note, quantile, readCounter, sleep, waitForNodes, type GatewayProcess } from '../support/cluster.js';
import { GrpcTestClient, encodeInferRequestMessage } from '../support/grpc-client.js';

clusterTest();
const SERVICE_MS = 40;
const INSTANCES = 2;
const CAPACITY_PER_S = (INSTANCES * 1000) / SERVICE_MS;
const RATE_PER_S = 1.2 * CAPACITY_PER_S;
const DURATION_MS = 8_000;
/** A request that waits this long has not been refused "at once"; far above any admitted latency here. */
const CLIENT_TIMEOUT_MS = 10_000;
/**
 * Refused "at once": alone on this 2-core machine the p99 measures ~30–45 ms (event-loop lag of the
 * client sending 60/s and the gateway included); the limit leaves room for one other busy core and
 * is still far below one admitted request's time (~350 ms at p99) or any timeout.
 */
const REFUSAL_P99_LIMIT_MS = 100;

let cluster: Cluster;
let gateway: GatewayProcess;

beforeAll(async () => {
  cluster = new Cluster({ serviceMs: SERVICE_MS, instances: INSTANCES });
  gateway = await cluster.startGateway({ slowStartMs: 0, workers: 1, metrics: true });
  await cluster.startBackend({ nodeId: 'n1', simCards: 'slow:1' });
  await waitForNodes(gateway.url, ['n1'], { model: SIM_MODEL });
}, 60_000);

afterAll(async () => {
  await cluster?.close();
});

interface Outcome {
  latencyMs: number;
  ok: boolean;
  refused: boolean;
  retryAfterMs?: number;
  other?: string;
}

/** Sends `send()` at RATE_PER_S for DURATION_MS, whatever came back (open loop), and waits for every answer. */
async function openLoop(send: () => Promise<Omit<Outcome, 'latencyMs'>>): Promise<{ outcomes: Outcome[]; seconds: number }> {
  const outcomes: Promise<Outcome>[] = [];
  const started = performance.now();
  const gapMs = 1000 / RATE_PER_S;
  for (let i = 0; performance.now() - started < DURATION_MS; i++) {
    const due = started + i * gapMs;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    const t0 = performance.now();
    outcomes.push(send().then((o) => ({ ...o, latencyMs: performance.now() - t0 }), (err: unknown) => ({ ok: false, refused: false, other: String(err), latencyMs: performance.now() - t0 })));
  }
  const done = await Promise.all(outcomes);
  return { outcomes: done, seconds: (performance.now() - started) / 1000 };
}

function summarize(door: string, outcomes: Outcome[], seconds: number) {
  const refused = outcomes.filter((o) => o.refused);
  const ok = outcomes.filter((o) => o.ok);
  const refusedMs = refused.map((o) => o.latencyMs).sort((a, b) => a - b);
  const okMs = ok.map((o) => o.latencyMs).sort((a, b) => a - b);
  const figures = {
    sent: outcomes.length, ok: ok.length, refused: refused.length, other: outcomes.length - ok.length - refused.length,
    goodputPerS: ok.length / seconds, shedShare: refused.length / outcomes.length,
    refusalP50Ms: quantile(refusedMs, 0.5), refusalP99Ms: quantile(refusedMs, 0.99), admittedP99Ms: quantile(okMs, 0.99),
  };
  note(`${door} at ${RATE_PER_S}/s (capacity ${CAPACITY_PER_S}/s): sent ${figures.sent}, ok ${figures.ok} (goodput ${figures.goodputPerS.toFixed(1)}/s), ` +
    `refused ${figures.refused} (${(figures.shedShare * 100).toFixed(1)} %), other ${figures.other}; refusal p50 ${figures.refusalP50Ms.toFixed(1)} ms, ` +
    `p99 ${figures.refusalP99Ms.toFixed(1)} ms; admitted p99 ${figures.admittedP99Ms.toFixed(1)} ms`);
  return figures;
}

describe('a cluster driven at 120 % of its capacity', () => {
  it('HTTP: every request is answered 200, or 503 with a Retry-After at once; none times out', async () => {
    const client = new Pool(gateway.url, { connections: 128, pipelining: 1 });
    const body = JSON.stringify({ inputs: [{ name: 'INPUT0', shape: [4], datatype: 'FP32', data: [1, 2, 3, 4] }] });
    try {
      const { outcomes, seconds } = await openLoop(async () => {
        const response = await client.request({
          method: 'POST', path: `/v2/models/${SIM_MODEL}/infer`, headers: { 'content-type': 'application/json' }, body,
          headersTimeout: CLIENT_TIMEOUT_MS, bodyTimeout: CLIENT_TIMEOUT_MS,
        });
        const text = await response.body.text();
        const retryAfter = response.headers['retry-after'];
        if (response.statusCode === 200) return { ok: true, refused: false };
        if (response.statusCode === 503 && typeof retryAfter === 'string') return { ok: false, refused: true, retryAfterMs: Number(retryAfter) * 1000 };
        return { ok: false, refused: false, other: `${response.statusCode} ${text}` };
      });
      const f = summarize('HTTP', outcomes, seconds);
      expect(outcomes.filter((o) => o.other !== undefined).map((o) => o.other)).toEqual([]);
      expect(f.refused).toBeGreaterThan(0.05 * f.sent);
      expect(outcomes.filter((o) => o.refused).every((o) => o.retryAfterMs! >= 1000)).toBe(true);
      // Refused at once: well under one service time of the node, let alone a timeout.
      expect(f.refusalP99Ms).toBeLessThan(REFUSAL_P99_LIMIT_MS);
      expect(f.goodputPerS).toBeGreaterThan(0.8 * CAPACITY_PER_S);
      // The metric counts the refusals by reason.
      expect(await readCounter(gateway.metricsUrl!, 'infergate_request_failure_total')).toBeGreaterThanOrEqual(f.refused);
      const metrics = await (await fetch(`${gateway.metricsUrl}/metrics`)).text();
      expect(metrics).toMatch(/infergate_request_failure_total\{[^}]*reason="pool_saturated"[^}]*\} [1-9]/);
      expect(metrics).toMatch(/infergate_backend_breaker_state\{[^}]*node="n1"[^}]*\} 0/);
    } finally {
      await client.close();
    }
  }, 60_000);

  it('gRPC: every request is answered, or UNAVAILABLE with grpc-retry-pushback-ms at once; none times out', async () => {
    const grpc = new GrpcTestClient(await gateway.grpcStarted());
    const request = encodeInferRequestMessage({
      model_name: SIM_MODEL, inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [4], contents: { fp32_contents: [1, 2, 3, 4] } }],
    });
    try {
      const { outcomes, seconds } = await openLoop(async () => {
        try {
          await grpc.inferBytes(request, { deadline: Date.now() + CLIENT_TIMEOUT_MS });
          return { ok: true, refused: false };
        } catch (err) {
          const e = err as ServiceError;
          const pushback = e.metadata?.get('grpc-retry-pushback-ms')[0];
          if (e.code === status.UNAVAILABLE && typeof pushback === 'string') return { ok: false, refused: true, retryAfterMs: Number(pushback) };
          return { ok: false, refused: false, other: `${e.code} ${e.details}` };
        }
      });
      const f = summarize('gRPC', outcomes, seconds);
      expect(outcomes.filter((o) => o.other !== undefined).map((o) => o.other)).toEqual([]);
      expect(f.refused).toBeGreaterThan(0.05 * f.sent);
      expect(outcomes.filter((o) => o.refused).every((o) => o.retryAfterMs! >= 100)).toBe(true);
      expect(f.refusalP99Ms).toBeLessThan(REFUSAL_P99_LIMIT_MS);
      expect(f.goodputPerS).toBeGreaterThan(0.8 * CAPACITY_PER_S);
    } finally {
      grpc.close();
    }
  }, 60_000);
});
