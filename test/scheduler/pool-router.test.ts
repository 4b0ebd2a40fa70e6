import { describe, expect, it } from 'vitest';
import { Cancellation } from '../../core/cancellation.js';
import type { Backend } from '../../scheduler/backend.js';
import { InferError, TransportError } from '../../core/errors.js';
import type { ModelMetadata } from '../../core/model-metadata.js';
import type { InferCall, WireAnswer } from '../../core/infer-call.js';
import { PoolSet } from '../../scheduler/pool-set.js';
import { BackendPool, DEFAULT_POOL_OPTIONS } from '../../scheduler/pool.js';
import { RetryBudget } from '../../scheduler/retry-budget.js';
import { Router } from '../../scheduler/router.js';
import { createRoutingPolicy } from '../../scheduler/routing-policy.js';

const META: ModelMetadata = { name: 'm', versions: ['1'], platform: 'test', inputs: [], outputs: [], maxBatchSize: 0 };
const noSlowStart = () => createRoutingPolicy('static', { slowStartWindowMs: 0 });

/** What a scripted node does with one call: answer 200, answer another status, or give no answer (throw). */
type Scripted = 'ok' | number | InferError;

/** A scripted in-memory backend: answers per a function of the call number (unit-test double). */
class ScriptedBackend implements Backend {
  calls = 0;
  versions: string[] = [];
  constructor(readonly id: string, private readonly script: (call: number) => Scripted = () => 'ok') {}
  async infer(_call: InferCall, version: string): Promise<WireAnswer> {
    this.versions.push(version);
    const outcome = this.script(this.calls++);
    if (outcome instanceof InferError) throw outcome;
    const status = outcome === 'ok' ? 200 : outcome;
    return { status, contentType: 'application/json', body: Buffer.from(JSON.stringify({ node: this.id })), modelVersion: version };
  }
  async close(): Promise<void> {}
}

function nodeOf(answer: WireAnswer): string {
  return (JSON.parse(Buffer.from(answer.body).toString()) as { node: string }).node;
}

function callFor(model = 'm', version?: string, deadlineMs = Number.MAX_SAFE_INTEGER, cancellation = new Cancellation()): InferCall {
  return { model, version, requestId: 'r', deadlineMs, cancellation, payload: { format: 'kserve-http', body: Buffer.alloc(0) } };
}

function poolWith(weights: Record<string, number>, options = DEFAULT_POOL_OPTIONS): { pool: BackendPool; backends: Record<string, ScriptedBackend> } {
  const pool = new BackendPool('m', '1', META, noSlowStart(), options, () => 0);
  const backends: Record<string, ScriptedBackend> = {};
  for (const [id, w] of Object.entries(weights)) {
    backends[id] = new ScriptedBackend(id);
    pool.upsert({ id, nodeId: id, url: `http://${id}`, backend: backends[id], capacity: w, staticWeight: w }, 0);
  }
  return { pool, backends };
}

describe('BackendPool', () => {
  it('picks in the exact SWRR sequence of its static weights (guard off)', () => {
    const { pool } = poolWith({ a: 5, b: 1, c: 1 }, { ...DEFAULT_POOL_OPTIONS, queueBudget: 0 });
    const seq: string[] = [];
    for (let i = 0; i < 7; i++) {
      const m = pool.acquire(0)!;
      seq.push(m.id);
      pool.release(m, 'ok', 0);
    }
    expect(seq.join(' ')).toBe('a a b a c a a');
  });

  it('takes a draining member out of rotation at once and back when ready', () => {
    const { pool } = poolWith({ a: 1, b: 1 });
    pool.setState('a', 'draining', 0);
    for (let i = 0; i < 10; i++) {
      const m = pool.acquire(0)!;
      expect(m.id).toBe('b');
      pool.release(m, 'ok', 0);
    }
    pool.setState('a', 'ready', 0);
    const ids = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const m = pool.acquire(0)!;
      ids.add(m.id);
      pool.release(m, 'ok', 0);
    }
    expect([...ids].sort()).toEqual(['a', 'b']);
  });

  it('ejects on a transport error for base ejection time, doubling on the next ejection', () => {
    const { pool } = poolWith({ a: 1, b: 1, c: 1, d: 1 });
    const a = pool.member('a')!;
    pool.release((a.inFlight++, a), 'transport_error', 1_000);
    expect(a.isEjected(1_000)).toBe(true);
    expect(a.ejectedUntilMs).toBe(1_000 + DEFAULT_POOL_OPTIONS.baseEjectionMs);
    pool.release((a.inFlight++, a), 'transport_error', 5_000);
    expect(a.ejectedUntilMs).toBe(5_000 + 2 * DEFAULT_POOL_OPTIONS.baseEjectionMs);
    // While ejected it is never picked; after expiry it is again.
    const picked = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const m = pool.acquire(5_500)!;
      picked.add(m.id);
      pool.release(m, 'ok', 5_500);
    }
    expect(picked.has('a')).toBe(false);
    const later = new Set<string>();
    for (let i = 0; i < 8; i++) {
      const m = pool.acquire(7_001)!;
      later.add(m.id);
      pool.release(m, 'ok', 7_001);
    }
    expect(later.has('a')).toBe(true);
  });

  it('keeps a heartbeating node out after a transport failure until a report received later shows it alive', () => {
    const { pool } = poolWith({ a: 1, b: 1, c: 1, d: 1 });
    const report = { nodeId: 'a', url: 'http://a', state: 'ready' as const, cards: [], inFlight: 0, queueDepth: 0, slots: 0, utilization: 0,
      completedPerSec: 0, errorsPerSec: 0, serviceTimeMs: 0, latencyMs: 0, windowMs: 1000, models: [], sentAtMs: 0 };
    pool.report('a', report, 0);
    const a = pool.member('a')!;
    a.inFlight++;
    pool.release(a, 'transport_error', 100);
    // Long after the timed ejection would have ended, still out: no sign of life since the failure.
    expect(a.isEjected(100 + 10 * DEFAULT_POOL_OPTIONS.baseEjectionMs)).toBe(true);
    expect(pool.view(5_000).nodes.find((n) => n.id === 'a')!.state).toBe('ejected');
    pool.report('a', report, 6_000);
    expect(a.isEjected(6_000)).toBe(false);
    const ids = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const m = pool.acquire(6_000)!;
      ids.add(m.id);
      pool.release(m, 'ok', 6_000);
    }
    expect(ids.has('a')).toBe(true);
  });

  it('ignores the release of a member that left the pool while its request was in flight', () => {
    const { pool } = poolWith({ a: 1, b: 1 });
    const a = pool.acquire(0)!;
    pool.remove(a.id);
    expect(() => pool.release(a, 'transport_error', 0)).not.toThrow();
    expect(pool.size).toBe(1);
  });

  it('ejects after N consecutive server errors, not after N-1', () => {
    const { pool } = poolWith({ a: 1, b: 1, c: 1 });
    const a = pool.member('a')!;
    for (let i = 0; i < DEFAULT_POOL_OPTIONS.consecutiveFailuresToEject - 1; i++) pool.release(a, 'server_error', 0);
    expect(a.isEjected(0)).toBe(false);
    pool.release(a, 'ok', 0);
    for (let i = 0; i < DEFAULT_POOL_OPTIONS.consecutiveFailuresToEject - 1; i++) pool.release(a, 'server_error', 0);
    expect(a.isEjected(0)).toBe(false);
    pool.release(a, 'server_error', 0);
    expect(a.isEjected(0)).toBe(true);
  });

  it('never ejects more than half of a pool (panic threshold)', () => {
    const { pool } = poolWith({ a: 1, b: 1, c: 1, d: 1 });
    expect(pool.eject('a', 0)).toBe(true);
    expect(pool.eject('b', 0)).toBe(true);
    expect(pool.eject('c', 0)).toBe(false);
    const single = poolWith({ only: 1 }).pool;
    expect(single.eject('only', 0)).toBe(false);
  });

  it('sits a member out at its cap and sends overflow to the shortest expected delay', () => {
    // Slot services 4/3 and 4; budget 1 × their median, 8/3. a takes 8 (the 9th would wait 2.73);
    // b's own service time exceeds the budget, so it runs what its 4 slots hold and queues nothing.
    const { pool } = poolWith({ a: 3, b: 1 }, { ...DEFAULT_POOL_OPTIONS, queueBudget: 1 });
    pool.upsert({ ...pool.member('a')!.spec, slots: 4 }, 0);
    pool.upsert({ ...pool.member('b')!.spec, slots: 4 }, 0);
    pool.recomputeWeights(0);
    expect([pool.member('a')!.cap, pool.member('b')!.cap]).toEqual([8, 4]);
    for (let i = 0; i < 12; i++) pool.acquire(0);
    expect(pool.member('a')!.inFlight).toBe(8);
    expect(pool.member('b')!.inFlight).toBe(4);
    // Both at cap: the next one goes where its expected delay is least: a (2.73 < 4.8).
    expect(pool.acquire(0)!.id).toBe('a');
  });

  it('with the guard, sends a request where it would be answered sooner than at the policy\'s choice', () => {
    // a: 4 units over 2 slots (one slot serves in 2/4 = 0.5), b and c: 1 unit over 2 slots (2/1 = 2).
    // Budget 1 × the median slot service, 2: a may hold 8, b and c only their 2 slots.
    const { pool } = poolWith({ a: 4, b: 1, c: 1 }, { ...DEFAULT_POOL_OPTIONS, queueBudget: 1 });
    for (const id of ['a', 'b', 'c']) pool.upsert({ ...pool.member(id)!.spec, slots: 2 }, 0);
    pool.recomputeWeights(0);
    const picks: string[] = [];
    // a's expected delay with k in flight stays below b's and c's 2 up to k = 7 (1.83): the first
    // eight picks go to a, whatever the policy chose.
    for (let i = 0; i < 8; i++) picks.push(pool.acquire(0)!.id);
    expect(picks.join('')).toBe('aaaaaaaa');
    // a is at its cap (8): b and c take the traffic.
    const next = [pool.acquire(0)!.id, pool.acquire(0)!.id, pool.acquire(0)!.id, pool.acquire(0)!.id];
    expect(next.sort()).toEqual(['b', 'b', 'c', 'c']);
    expect(pool.member('a')!.inFlight).toBe(8);
  });

  it('gives a fast card a deeper queue than a slow one: about the same time of work each', () => {
    const { pool } = poolWith({ fast: 4, mid: 2, slow: 1 });
    for (const id of ['fast', 'mid', 'slow']) pool.upsert({ ...pool.member(id)!.spec, slots: 2 }, 0);
    pool.recomputeWeights(0);
    // Slot services 0.5, 1, 2 → median 1, default budget 2.
    expect(['fast', 'mid', 'slow'].map((id) => pool.member(id)!.cap)).toEqual([8, 4, 2]);
    // Without the guard no one has a cap.
    const off = poolWith({ fast: 4 }, { ...DEFAULT_POOL_OPTIONS, queueBudget: 0 }).pool;
    off.upsert({ ...off.member('fast')!.spec, slots: 2 }, 0);
    expect(off.member('fast')!.cap).toBe(Infinity);
  });

  /** a: 4 units, b and c: 2 units, 2 slots each; one answer each at the speed its weight says. */
  function measuredPool(): BackendPool {
    const { pool } = poolWith({ a: 4, b: 2, c: 2 });
    for (const id of ['a', 'b', 'c']) pool.upsert({ ...pool.member(id)!.spec, slots: 2 }, 0);
    const serve = (id: string, latencyMs: number) => {
      const others = new Set(['a', 'b', 'c'].filter((x) => x !== id));
      const attempt = pool.attempt(0, others)!;
      expect(attempt.member.id).toBe(id);
      attempt.end('ok', latencyMs);
    };
    serve('a', 25);
    serve('b', 50);
    serve('c', 50);
    pool.recomputeWeights(100); // the pool's typical 50 ms × weight / slot
    return pool;
  }

  it('stops choosing a member on its first late answer, before the weights move', () => {
    const pool = measuredPool();
    const late = pool.attempt(100)!;
    expect(late.member.id).toBe('a');
    late.end('ok', 350); // 250 ms: ten times what a's weight says
    expect(pool.member('a')!.weight).toBe(4);
    const picks = [100, 101, 102, 103].map(() => pool.attempt(360)!.member.id);
    expect(picks.sort()).toEqual(['b', 'b', 'c', 'c']);
  });

  it('stops choosing a member once its oldest unanswered call is twice as old as its answers said', () => {
    const pool = measuredPool();
    expect(pool.attempt(100)!.member.id).toBe('a');
    // 10 ms later the call is younger than a's answers: a (one in flight, a free slot) still wins.
    expect(pool.attempt(110)!.member.id).toBe('a');
    // 60 ms after the first pick (2.4× the 25 ms it answered in before), a sits out.
    const picks = [0, 1, 2, 3].map(() => pool.attempt(160)!.member.id);
    expect(picks).not.toContain('a');
  });

  it('explores a member its answers showed slow once per second, and takes it back when it answers fast', () => {
    const pool = measuredPool();
    pool.attempt(100)!.end('ok', 350);
    const picks = (nowMs: number, n: number) => Array.from({ length: n }, () => pool.attempt(nowMs)!);
    const count = (attempts: { member: { id: string } }[]) => attempts.filter((x) => x.member.id === 'a').length;
    const early = picks(400, 8);
    expect(count(early)).toBe(0);
    for (const x of early) x.end('ok', 450);
    // A second after its last pick, the policy's next choice of a stands: one call explores it.
    const explore = picks(1_400, 8);
    expect(count(explore)).toBe(1);
    for (const x of explore) if (x.member.id !== 'a') x.end('ok', 1_450);
    expect(count(picks(1_410, 8))).toBe(0); // while that call is out, nothing more
    explore.find((x) => x.member.id === 'a')!.end('ok', 1_425); // it answered in 25 ms
    // Taken back at its weight: a (4 of 8 units) gets the first picks again.
    expect(count(picks(1_430, 4))).toBeGreaterThanOrEqual(3);
  });

  it('lets the policy explore a member whose weight was cut far below its prior, once per second', () => {
    // a: cards worth 4, weighted 0.4 (measured slow); b: 1 and 1. The delay check alone would never
    // send a anything (1 / 0.4 > 1 / 1), so a could never show it recovered.
    const pool = new BackendPool('m', '1', META, noSlowStart(), DEFAULT_POOL_OPTIONS, () => 0);
    pool.upsert({ id: 'a', nodeId: 'a', url: 'http://a', backend: new ScriptedBackend('a'), capacity: 4, staticWeight: 0.4 }, 0);
    pool.upsert({ id: 'b', nodeId: 'b', url: 'http://b', backend: new ScriptedBackend('b'), capacity: 1, staticWeight: 1 }, 0);
    const picksOfA = (nowMs: number) => {
      let count = 0;
      for (let i = 0; i < 20; i++) {
        const m = pool.acquire(nowMs)!;
        if (m.id === 'a') count++;
        pool.release(m, 'ok', nowMs);
      }
      return count;
    };
    expect(picksOfA(0)).toBe(1);
    expect(picksOfA(500)).toBe(0); // picked less than a second ago
    expect(picksOfA(1_600)).toBe(1);
    // At its prior share or above, a member is never explored: a slow card stays unused.
    pool.upsert({ id: 'a', nodeId: 'a', url: 'http://a', backend: new ScriptedBackend('a'), capacity: 0.4, staticWeight: 0.4 }, 0);
    expect(picksOfA(5_000)).toBe(0);
  });

  it('without the guard, the policy\'s choice always stands', () => {
    const { pool } = poolWith({ a: 4, b: 1 }, { ...DEFAULT_POOL_OPTIONS, queueBudget: 0 });
    const seq: string[] = [];
    for (let i = 0; i < 5; i++) seq.push(pool.acquire(0)!.id);
    expect(seq.filter((id) => id === 'b')).toHaveLength(1);
  });

  it('the delay check never picks a member excluded for this call', () => {
    const { pool } = poolWith({ a: 4, b: 1 });
    for (let i = 0; i < 5; i++) expect(pool.acquire(0, new Set(['a']))!.id).toBe('b');
  });

  it.each<[string, Record<string, [number, number]>, string[]]>([
    // member → [answers in the interval, fail one in N (0: never)]
    ['one node failing 1 in 5 among healthy ones', { a: [40, 0], b: [40, 0], h: [40, 5] }, ['h']],
    ['two nodes only: still detected', { a: [40, 0], h: [40, 5] }, ['h']],
    ['every node failing alike (a bad model or bad inputs): no one', { a: [40, 5], b: [40, 5], h: [40, 5] }, []],
    ['too few answers from the failing node', { a: [40, 0], h: [15, 5] }, []],
    ['too few answers from the rest', { a: [10, 0], h: [40, 5] }, []],
    ['a small deficit (1 in 20 vs none) is within the margin', { a: [40, 0], h: [40, 20] }, []],
  ])('success-rate ejection over one interval: %s', (_name, script, expected) => {
    const { pool } = poolWith(Object.fromEntries(Object.keys(script).map((id) => [id, 1])));
    for (const [id, [n, failEvery]] of Object.entries(script)) {
      const m = pool.member(id)!;
      for (let i = 0; i < n; i++) {
        m.inFlight++;
        // Failures spread out: never five in a row, so consecutive-failure ejection stays out of it.
        pool.release(m, failEvery > 0 && i % failEvery === 0 ? 'server_error' : 'ok', 0);
      }
    }
    expect(pool.detectOutliers(0)).toEqual(expected);
    for (const id of expected) {
      expect(pool.member(id)!.isEjected(500)).toBe(true);
      expect(pool.member(id)!.isEjected(1_000)).toBe(false); // the base ejection time, 1 s
    }
    // The counts start again each interval: a quiet interval ejects no one.
    expect(pool.detectOutliers(2_000)).toEqual([]);
  });

  it('reports the operator view with every field', () => {
    const { pool } = poolWith({ a: 2 });
    const m = pool.acquire(0)!;
    const view = pool.view(0);
    expect(view).toEqual({
      model: 'm', version: '1', policy: 'static',
      nodes: [{ id: 'a', url: 'http://a', state: 'ready', weight: 2, capacity: 2, in_flight: 1, requests: 1, failures: 0, breaker: 'closed' }],
    });
    pool.release(m, 'ok', 0);
  });
});

describe('Router', () => {
  function routerOver(scripts: Record<string, (call: number) => Scripted>, clock = () => 0) {
    const pools = new PoolSet(noSlowStart, DEFAULT_POOL_OPTIONS, () => 0);
    const pool = pools.getOrCreate('m', '1', META);
    const backends: Record<string, ScriptedBackend> = {};
    for (const [id, script] of Object.entries(scripts)) {
      backends[id] = new ScriptedBackend(id, script);
      pool.upsert({ id, nodeId: id, url: id, backend: backends[id], capacity: 1, staticWeight: 1 }, 0);
    }
    return { router: new Router(pools, { clock }), pool, backends };
  }

  it('forwards to the pool\'s version and returns the answer unchanged', async () => {
    const { router, backends } = routerOver({ a: () => 'ok' });
    const answer = await router.infer(callFor());
    expect(answer.status).toBe(200);
    expect(nodeOf(answer)).toBe('a');
    expect(backends.a.versions).toEqual(['1']);
  });

  it('retries a transport failure on another node and ejects the failed one', async () => {
    const { router, pool, backends } = routerOver({ a: () => new TransportError('refused'), b: () => 'ok', c: () => 'ok' });
    const answer = await router.infer(callFor());
    expect(nodeOf(answer)).not.toBe('a');
    expect(backends.a.calls).toBe(1);
    expect(pool.member('a')!.isEjected(0)).toBe(true);
    expect(pool.member('a')!.inFlight).toBe(0);
  });

  it('returns an error answer of the node unchanged and does not retry it (the model said no)', async () => {
    const { router, backends } = routerOver({ a: () => 400, b: () => 400 });
    const answer = await router.infer(callFor());
    expect(answer.status).toBe(400);
    expect(backends.a.calls + backends.b.calls).toBe(1);
  });

  it('retries a 503 from a draining node on another node', async () => {
    const { router } = routerOver({ a: () => 503, b: () => 'ok' });
    const answer = await router.infer(callFor());
    expect(nodeOf(answer)).toBe('b');
  });

  it('returns the last 503 when every node is unavailable (each node tried once, up to the attempts)', async () => {
    const { router, backends, pool } = routerOver({ a: () => 503, b: () => 503, c: () => 503, d: () => 503 });
    const answer = await router.infer(callFor());
    expect(answer.status).toBe(503);
    expect(backends.a.calls + backends.b.calls + backends.c.calls + backends.d.calls).toBe(3);
    // A 503 is the node's answer, not its failure: no breaker opens.
    expect(pool.members().every((m) => m.breaker.state(0) === 'closed')).toBe(true);
  });

  it('tries up to three nodes when none answers, then fails with the last transport error', async () => {
    const { router, backends } = routerOver({
      a: () => new TransportError('x'), b: () => new TransportError('y'), c: () => new TransportError('z'), d: () => new TransportError('w'),
    });
    await expect(router.infer(callFor())).rejects.toBeInstanceOf(TransportError);
    expect(backends.a.calls + backends.b.calls + backends.c.calls + backends.d.calls).toBe(3);
  });

  it('retries transport failures beyond the retry budget (a dying node loses nothing)', async () => {
    const pools = new PoolSet(noSlowStart, DEFAULT_POOL_OPTIONS, () => 0);
    const pool = pools.getOrCreate('m', '1', META);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const dying: Backend = { id: 'dead', infer: async () => { await held; throw new TransportError('reset'); }, close: async () => {} };
    const live = new ScriptedBackend('live');
    pool.upsert({ id: 'dead', nodeId: 'dead', url: 'dead', backend: dying, capacity: 1, staticWeight: 1000 }, 0);
    pool.upsert({ id: 'live', nodeId: 'live', url: 'live', backend: live, capacity: 1, staticWeight: 1 }, 0);
    const router = new Router(pools, { clock: () => 0 });
    // 100 requests in flight on the dying node: far more than the 503 retry budget (max(10, 50 %)).
    const answers = Array.from({ length: 100 }, () => router.infer(callFor()));
    release();
    const settled = await Promise.allSettled(answers);
    expect(settled.filter((s) => s.status === 'rejected')).toHaveLength(0);
    expect(live.calls).toBeGreaterThanOrEqual(100);
  });

  it('does not retry past the deadline', async () => {
    let now = 0;
    const { router, backends } = routerOver({ a: () => { now = 2_000; return new TransportError('slow refuse'); }, b: () => 'ok' }, () => now);
    await expect(router.infer(callFor('m', undefined, 1_000))).rejects.toBeInstanceOf(TransportError);
    expect(backends.b.calls).toBe(0);
  });

  it('stops with the abort reason once the call is aborted, and frees the node', async () => {
    const pools = new PoolSet(noSlowStart, DEFAULT_POOL_OPTIONS, () => 0);
    const pool = pools.getOrCreate('m', '1', META);
    const cancellation = new Cancellation();
    const hanging: Backend = {
      id: 'h',
      infer: (call) => new Promise((_, reject) => call.cancellation.onCancel(() => reject(new TransportError('aborted')))),
      close: async () => {},
    };
    pool.upsert({ id: 'h', nodeId: 'h', url: 'h', backend: hanging, capacity: 1, staticWeight: 1 }, 0);
    const router = new Router(pools, { clock: () => 0 });
    const answer = router.infer(callFor('m', undefined, Number.MAX_SAFE_INTEGER, cancellation));
    cancellation.cancel(new InferError('DEADLINE_EXCEEDED', 'late', 'timeout'));
    await expect(answer).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    expect(pool.member('h')!.inFlight).toBe(0);
    expect(pool.member('h')!.isEjected(0)).toBe(false);
  });

  it('answers 404 for an unknown model and version, 503 when no node is routable', async () => {
    const { router, pool } = routerOver({ a: () => 'ok' });
    await expect(router.infer(callFor('nope'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(router.infer(callFor('m', '9'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    pool.setState('a', 'draining', 0);
    await expect(router.infer(callFor())).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });
});

describe('RetryBudget', () => {
  it('allows max(minConcurrent, ratio × active requests) retries at once and gives them back', () => {
    const budget = new RetryBudget({ ratio: 0.5, minConcurrent: 2 });
    expect(budget.tryRetry()).toBe(true);
    expect(budget.tryRetry()).toBe(true);
    expect(budget.tryRetry()).toBe(false);
    for (let i = 0; i < 8; i++) budget.requestStarted();
    expect(budget.tryRetry()).toBe(true); // 3 ≤ 0.5 × 8
    expect(budget.tryRetry()).toBe(true); // 4 ≤ 4
    expect(budget.tryRetry()).toBe(false);
    budget.requestFinished(true);
    budget.requestFinished(true);
    expect(budget.activeRetries).toBe(2);
    expect(budget.activeRequests).toBe(6);
    expect(budget.tryRetry()).toBe(true); // 3 ≤ 0.5 × 6
    expect(budget.tryRetry()).toBe(false);
  });
});
