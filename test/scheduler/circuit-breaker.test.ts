import { describe, expect, it } from 'vitest';
import { CircuitBreaker, checkBreakerOptions } from '../../scheduler/circuit-breaker.js';
import { BackendPool, DEFAULT_POOL_OPTIONS } from '../../scheduler/pool.js';
import { createRoutingPolicy } from '../../scheduler/routing-policy.js';
import type { ModelMetadata } from '../../core/model-metadata.js';
import type { Backend } from '../../scheduler/backend.js';

const OPTIONS = { failuresToOpen: 3, baseOpenMs: 1_000, maxOpenMs: 8_000 };

describe('CircuitBreaker (fake clock)', () => {
  it('opens after N consecutive failures, not N − 1; a success in between starts the count again', () => {
    const b = new CircuitBreaker(OPTIONS);
    expect(b.failed(false)).toBe(false);
    expect(b.failed(false)).toBe(false);
    b.succeeded(0, false);
    expect(b.failed(false)).toBe(false);
    expect(b.failed(false)).toBe(false);
    expect(b.failed(false)).toBe(true);
    expect(b.trip(100)).toBe(true);
    expect(b.state(100)).toBe('open');
    expect(b.allows(100)).toBe(false);
    expect(b.state(1_099)).toBe('open');
    expect(b.state(1_100)).toBe('half_open');
  });

  it('lets exactly one probe through when half-open; its success closes the breaker', () => {
    const b = new CircuitBreaker(OPTIONS);
    b.trip(0);
    expect(b.allows(1_000)).toBe(true);
    expect(b.sent(1_000)).toBe(true); // the probe
    expect(b.allows(1_000)).toBe(false); // every other request still avoids the node
    expect(b.sent(1_000)).toBe(false);
    // A failure of a request sent before it opened says nothing now.
    expect(b.failed(false)).toBe(false);
    b.succeeded(1_050, true);
    expect(b.state(1_050)).toBe('closed');
    expect(b.allows(1_050)).toBe(true);
  });

  it('reopens on a failed probe for twice as long, then four times, up to the maximum', () => {
    const b = new CircuitBreaker(OPTIONS);
    b.trip(0);
    const openTimes: number[] = [];
    let now = 0;
    for (let i = 0; i < 6; i++) {
      openTimes.push(b.openUntilMs - now);
      now = b.openUntilMs;
      expect(b.state(now)).toBe('half_open');
      expect(b.sent(now)).toBe(true);
      expect(b.failed(true)).toBe(true);
      b.trip(now);
    }
    expect(openTimes).toEqual([1_000, 2_000, 4_000, 8_000, 8_000, 8_000]);
    expect(b.openings).toBe(7);
  });

  it('a probe that ends saying nothing about the node (cancelled, 503) frees the slot for the next one', () => {
    const b = new CircuitBreaker(OPTIONS);
    b.trip(0);
    expect(b.sent(1_000)).toBe(true);
    b.neutral(true);
    expect(b.state(1_000)).toBe('half_open');
    expect(b.sent(1_001)).toBe(true);
  });

  it('does not trip again while open (many requests failing at once open it once)', () => {
    const b = new CircuitBreaker(OPTIONS);
    expect(b.trip(0)).toBe(true);
    for (let i = 0; i < 50; i++) expect(b.trip(10)).toBe(false);
    expect(b.openUntilMs).toBe(1_000);
    expect(b.openings).toBe(1);
  });

  it('forgets its openings after staying closed for the maximum open time', () => {
    const b = new CircuitBreaker(OPTIONS);
    b.trip(0);
    b.sent(1_000);
    b.succeeded(1_000, true);
    b.trip(2_000); // closed only 1 s: the next open time grows
    expect(b.openUntilMs).toBe(4_000);
    b.sent(4_000);
    b.succeeded(4_000, true);
    b.trip(4_000 + OPTIONS.maxOpenMs); // closed long enough: back to the base
    expect(b.openUntilMs).toBe(4_000 + OPTIONS.maxOpenMs + 1_000);
  });

  it('rejects settings that make no sense', () => {
    expect(() => checkBreakerOptions({ failuresToOpen: 0, baseOpenMs: 1, maxOpenMs: 1 })).toThrow(/failures/);
    expect(() => checkBreakerOptions({ failuresToOpen: 1, baseOpenMs: 10, maxOpenMs: 5 })).toThrow(/open times/);
  });
});

const META: ModelMetadata = { name: 'm', versions: ['1'], platform: 'test', inputs: [], outputs: [], maxBatchSize: 0 };
const idle: Backend = { id: 'x', infer: async () => ({ status: 200, contentType: 'application/json', body: Buffer.alloc(0) }), close: async () => {} };

function pool(ids: string[]): BackendPool {
  const p = new BackendPool('m', '1', META, createRoutingPolicy('static', { slowStartWindowMs: 0 }), DEFAULT_POOL_OPTIONS, () => 0);
  for (const id of ids) p.upsert({ id, nodeId: id, url: `http://${id}`, backend: idle, capacity: 1, staticWeight: 1 }, 0);
  return p;
}

describe('BackendPool with circuit breakers', () => {
  it('after the open time, sends exactly one probe to the node while other requests go elsewhere; a good answer takes it back', () => {
    const p = pool(['a', 'b', 'c', 'd']);
    const a = p.member('a')!;
    for (let i = 0; i < DEFAULT_POOL_OPTIONS.consecutiveFailuresToEject; i++) p.release((a.inFlight++, a), 'server_error', 0);
    expect(p.view(0).nodes[0]).toMatchObject({ state: 'ejected', breaker: 'open' });
    const atOpen = Array.from({ length: 8 }, () => p.attempt(500)!);
    expect(atOpen.filter((x) => x.member.id === 'a')).toHaveLength(0);
    for (const x of atOpen) x.end('ok', 500);
    // Half-open: of many requests held at once, one is the probe.
    const half = Array.from({ length: 12 }, () => p.attempt(1_000)!);
    const probes = half.filter((x) => x.member.id === 'a');
    expect(probes).toHaveLength(1);
    expect(probes[0].probe).toBe(true);
    expect(p.view(1_000).nodes[0].breaker).toBe('half_open');
    probes[0].end('ok', 1_010);
    for (const x of half) x.end('ok', 1_010);
    expect(p.view(1_010).nodes[0]).toMatchObject({ state: 'ready', breaker: 'closed' });
    const after = Array.from({ length: 8 }, () => p.attempt(1_020)!);
    expect(after.filter((x) => x.member.id === 'a').length).toBeGreaterThan(1);
  });

  it('a failed probe reopens for twice the time; a heartbeat (load report) does not close it', () => {
    const p = pool(['a', 'b', 'c']);
    expect(p.eject('a', 0)).toBe(true);
    const probe = Array.from({ length: 6 }, () => p.attempt(1_000)!).find((x) => x.member.id === 'a')!;
    probe.end('server_error', 1_005);
    expect(p.member('a')!.breaker.state(1_005)).toBe('open');
    expect(p.member('a')!.ejectedUntilMs).toBe(1_005 + 2 * DEFAULT_POOL_OPTIONS.baseEjectionMs);
    const report = { nodeId: 'a', url: 'http://a', state: 'ready' as const, cards: [], inFlight: 0, queueDepth: 0, slots: 0, utilization: 0,
      completedPerSec: 0, errorsPerSec: 0, serviceTimeMs: 0, latencyMs: 0, windowMs: 1000, models: [], sentAtMs: 0 };
    p.report('a', report, 1_500);
    expect(p.member('a')!.breaker.state(1_500)).toBe('open');
    expect(p.member('a')!.isEjected(1_500)).toBe(true);
  });

  it('a 503 with Retry-After holds the node off for that long, without counting as its failure', () => {
    const p = pool(['a', 'b']);
    const x = Array.from({ length: 2 }, () => p.attempt(0)!);
    const onA = x.find((y) => y.member.id === 'a')!;
    onA.end('overloaded', 10, 2_000);
    x.find((y) => y.member.id === 'b')!.end('ok', 10);
    expect(p.member('a')!.breaker.state(10)).toBe('closed');
    expect(p.view(10).nodes[0].hold_off_ms).toBe(2_000);
    for (let i = 0; i < 6; i++) {
      const y = p.attempt(1_000)!;
      expect(y.member.id).toBe('b');
      y.end('ok', 1_000);
    }
    const later = Array.from({ length: 4 }, () => p.attempt(2_010)!);
    expect(later.map((y) => y.member.id)).toContain('a');
  });
});
