/**
 * The retry loop against real nodes on loopback: RemoteBackends (the gateway's transport) talking
 * to tiny HTTP servers that answer 503 + Retry-After, hold requests, or answer 200.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Cancellation } from '../../core/cancellation.js';
import { InferError } from '../../core/errors.js';
import type { InferCall } from '../../core/infer-call.js';
import type { ModelMetadata } from '../../core/model-metadata.js';
import { PoolSet } from '../../scheduler/pool-set.js';
import { DEFAULT_POOL_OPTIONS, type PoolOptions } from '../../scheduler/pool.js';
import { Router, jitteredBackoffMs, type RouterOptions } from '../../scheduler/router.js';
import { createRoutingPolicy } from '../../scheduler/routing-policy.js';
import { RemoteBackend } from '../../transport/remote-backend.js';

const META: ModelMetadata = { name: 'm', versions: ['1'], platform: 'test', inputs: [], outputs: [], maxBatchSize: 0 };

type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void;

interface TinyNode {
  url: string;
  server: Server;
  /** Arrival times (performance.now()) of every infer request. */
  arrivals: number[];
  backend: RemoteBackend;
}

const open: TinyNode[] = [];

async function tinyNode(id: string, handler: Handler): Promise<TinyNode> {
  const arrivals: number[] = [];
  const server = createServer((req, res) => {
    arrivals.push(performance.now());
    req.resume();
    req.on('end', () => handler(req, res, arrivals.length));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const node = { url, server, arrivals, backend: new RemoteBackend(id, url) };
  open.push(node);
  return node;
}

const ok = (id: string): Handler => (_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ node: id }));
};
const busy = (retryAfter?: string): Handler => (_req, res) => {
  res.writeHead(503, { 'content-type': 'application/json', ...(retryAfter ? { 'retry-after': retryAfter } : {}) });
  res.end(JSON.stringify({ error: 'queue is full' }));
};

afterEach(async () => {
  for (const n of open.splice(0)) {
    await n.backend.close();
    n.server.closeAllConnections();
    await new Promise((r) => n.server.close(r));
  }
});

function routerOver(nodes: Record<string, { node: TinyNode; weight: number }>, options: Partial<RouterOptions> = {}, poolOptions: Partial<PoolOptions> = {}) {
  const pools = new PoolSet(() => createRoutingPolicy('static', { slowStartWindowMs: 0 }), { ...DEFAULT_POOL_OPTIONS, ...poolOptions }, () => 0);
  const pool = pools.getOrCreate('m', '1', META);
  for (const [id, { node, weight }] of Object.entries(nodes)) {
    pool.upsert({ id, nodeId: id, url: node.url, backend: node.backend, capacity: weight, staticWeight: weight }, Date.now());
  }
  return { router: new Router(pools, options), pool };
}

function call(deadlineMs = Date.now() + 10_000): InferCall {
  return { model: 'm', requestId: 'r', deadlineMs, cancellation: new Cancellation(), payload: { format: 'kserve-http', body: Buffer.from('{}'), contentType: 'application/json' } };
}

const bodyOf = (answer: { body: Uint8Array }) => JSON.parse(Buffer.from(answer.body).toString()) as { node?: string; error?: string };

describe('full-jitter backoff', () => {
  it('stays within [0, min(max, base × 2^(n−1))] and spreads over it', () => {
    for (const [n, bound] of [[1, 25], [2, 50], [3, 100], [4, 200], [5, 250], [9, 250]] as const) {
      const samples = Array.from({ length: 2_000 }, () => jitteredBackoffMs(n, 25, 250, Math.random));
      expect(Math.min(...samples)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...samples)).toBeLessThanOrEqual(bound);
      // Full jitter: about uniform, so the mean sits near half the bound.
      const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
      expect(mean / bound).toBeGreaterThan(0.4);
      expect(mean / bound).toBeLessThan(0.6);
    }
  });
});

describe('Router over real nodes answering 503 + Retry-After', () => {
  it('retries a 503 on another node after the jittered backoff, and holds the 503 node off for its Retry-After', async () => {
    const a = await tinyNode('a', busy('1'));
    const b = await tinyNode('b', ok('b'));
    // a first (weight), backoff base 60 ms with the jitter drawing 0.5: the retry waits 30 ms.
    const { router, pool } = routerOver({ a: { node: a, weight: 10 }, b: { node: b, weight: 1 } }, { backoffBaseMs: 60, backoffMaxMs: 60, random: () => 0.5 });
    const answer = await router.infer(call());
    expect(answer.status).toBe(200);
    expect(bodyOf(answer).node).toBe('b');
    const gapMs = b.arrivals[0] - a.arrivals[0];
    expect(gapMs).toBeGreaterThanOrEqual(29);
    expect(gapMs).toBeLessThan(30 + 200); // loopback and a busy core
    expect(pool.view(Date.now()).nodes.find((n) => n.id === 'a')!.hold_off_ms).toBeGreaterThan(800);
    // Within its Retry-After (1 s) a gets nothing, though its weight makes it the policy's choice.
    for (let i = 0; i < 10; i++) expect(bodyOf(await router.infer(call())).node).toBe('b');
    expect(a.arrivals).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 1_050));
    await router.infer(call());
    expect(a.arrivals).toHaveLength(2);
    expect(a.arrivals[1] - a.arrivals[0]).toBeGreaterThanOrEqual(1_000);
  });

  it('gives the node\'s 503 back with its Retry-After when every node is busy', async () => {
    const a = await tinyNode('a', busy('3'));
    const b = await tinyNode('b', busy('3'));
    const { router } = routerOver({ a: { node: a, weight: 1 }, b: { node: b, weight: 1 } }, { backoffBaseMs: 5, backoffMaxMs: 5 });
    const answer = await router.infer(call());
    expect(answer.status).toBe(503);
    expect(answer.retryAfterMs).toBe(3_000);
    expect(a.arrivals.length + b.arrivals.length).toBe(2);
  });

  it('gives the 503 back at once when the deadline leaves no time for the backoff', async () => {
    const a = await tinyNode('a', busy('2'));
    const b = await tinyNode('b', ok('b'));
    const { router } = routerOver({ a: { node: a, weight: 10 }, b: { node: b, weight: 1 } }, { backoffBaseMs: 5_000, backoffMaxMs: 5_000, random: () => 0.9 });
    const started = performance.now();
    const answer = await router.infer(call(Date.now() + 1_000));
    expect(answer.status).toBe(503);
    expect(answer.retryAfterMs).toBe(2_000);
    expect(performance.now() - started).toBeLessThan(500);
    expect(b.arrivals).toHaveLength(0);
  });

  it('caps 503 retries at the budget: max(10, ratio × requests in progress)', async () => {
    const n = 40;
    // a holds every request until all n are there, then answers each 503 (no Retry-After);
    // b holds its retries 300 ms, so the budget's tokens are all taken at once.
    const held: ServerResponse[] = [];
    const a = await tinyNode('a', (_req, res) => {
      held.push(res);
      if (held.length === n) for (const r of held) busy()(_req, r, 0);
    });
    const b = await tinyNode('b', (req, res) => setTimeout(() => ok('b')(req, res, 0), 300));
    const { router } = routerOver({ a: { node: a, weight: 1_000 }, b: { node: b, weight: 1 } }, { backoffBaseMs: 0, backoffMaxMs: 0, budgetRatio: 0.5 });
    const answers = await Promise.all(Array.from({ length: n }, () => router.infer(call())));
    expect(a.arrivals).toHaveLength(n);
    // 0.5 × 40 = 20 retries in progress at most: 20 reach b, 20 get the 503.
    expect(b.arrivals).toHaveLength(20);
    expect(answers.filter((x) => x.status === 503)).toHaveLength(20);
    expect(answers.filter((x) => x.status === 200)).toHaveLength(20);
  });

  it('refuses at once with pool_saturated and a Retry-After when every node is at its hard in-flight limit', async () => {
    const held: ServerResponse[] = [];
    const hold: Handler = (_req, res) => held.push(res);
    const a = await tinyNode('a', hold);
    const b = await tinyNode('b', hold);
    const { router, pool } = routerOver({ a: { node: a, weight: 1 }, b: { node: b, weight: 1 } }, {}, { maxInFlightPerNode: 2 });
    const admitted = Array.from({ length: 4 }, () => router.infer(call()));
    while (held.length < 4) await new Promise((r) => setTimeout(r, 5));
    const refusals: number[] = [];
    for (let i = 0; i < 20; i++) {
      const started = performance.now();
      const error = await router.infer(call()).then(() => undefined, (e: unknown) => e as InferError);
      refusals.push(performance.now() - started);
      expect(error).toBeInstanceOf(InferError);
      expect(error).toMatchObject({ code: 'UNAVAILABLE', reason: 'pool_saturated' });
      expect(error!.retryAfterMs).toBeGreaterThanOrEqual(100);
    }
    expect(Math.max(...refusals)).toBeLessThan(20);
    expect(held).toHaveLength(4); // nothing more reached the nodes
    for (const res of held) ok('x')(undefined as never, res, 0);
    expect((await Promise.all(admitted)).every((x) => x.status === 200)).toBe(true);
    expect(pool.members().every((m) => m.inFlight === 0)).toBe(true);
  });
});
