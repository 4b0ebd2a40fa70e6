import { describe, expect, it } from 'vitest';
import { CallLatency, DEFAULT_LATENCY_DECAY_MS } from '../../scheduler/call-latency.js';

describe('CallLatency', () => {
  it('knows nothing before the first answer, even with calls outstanding', () => {
    const latency = new CallLatency();
    latency.begin(0, 0, 2);
    expect(latency.estimateMs(10_000)).toBeUndefined();
    expect(latency.sampledMs).toBeUndefined();
  });

  it('takes a higher sample at once and decays towards a lower one with e^(−Δt/decay)', () => {
    const latency = new CallLatency(100);
    latency.end(latency.begin(0, 0, 1), 20, true);
    expect(latency.sampledMs).toBe(20);
    latency.end(latency.begin(20, 0, 1), 220, true); // 200 ms: a peak replaces the estimate
    expect(latency.sampledMs).toBe(200);
    latency.end(latency.begin(300, 0, 1), 320, true); // 20 ms, 100 ms after the last sample
    const keep = Math.exp(-1);
    expect(latency.sampledMs).toBeCloseTo(200 * keep + 20 * (1 - keep), 9);
  });

  it('a rarely sampled node moves almost fully to its next answer', () => {
    const latency = new CallLatency();
    latency.end(latency.begin(0, 0, 2), 250, true);
    latency.end(latency.begin(2_000, 0, 2), 2_025, true);
    expect(latency.sampledMs).toBeLessThan(26);
    expect(DEFAULT_LATENCY_DECAY_MS).toBe(250);
  });

  it.each<[string, number, number, number]>([
    // [label, slots, in flight at pick, latency] → service-time sample = latency × slots / max(slots, inFlight + 1)
    ['a free slot: the whole latency', 2, 1, 40],
    ['queued behind 3 on 2 slots: half of it', 2, 3, 80],
    ['one slot, 4 ahead: a fifth', 1, 4, 200],
    ['unknown slots count as one', 0, 0, 40],
  ])('scales a queued call’s latency to a service time: %s', (_label, slots, inFlight, latencyMs) => {
    const latency = new CallLatency();
    latency.end(latency.begin(0, inFlight, slots), latencyMs, true);
    expect(latency.sampledMs).toBe(40);
  });

  it('raises the estimate to the age of the oldest unanswered call, scaled the same way', () => {
    const latency = new CallLatency();
    latency.end(latency.begin(0, 0, 2), 25, true);
    const first = latency.begin(100, 0, 2); // scale 1
    latency.begin(110, 3, 2); // scale 1/2
    expect(latency.estimateMs(120)).toBe(25);
    expect(latency.estimateMs(400)).toBe(300);
    // The oldest ends (unanswered: cancelled): the next oldest counts, at its own scale.
    latency.end(first, 400, false);
    expect(latency.sampledMs).toBe(25);
    expect(latency.estimateMs(410)).toBe(150);
  });

  it('an unanswered end is no sample, and ending a call twice changes nothing', () => {
    const latency = new CallLatency();
    latency.end(latency.begin(0, 0, 1), 30, true);
    const call = latency.begin(100, 0, 1);
    latency.end(call, 5_000, false);
    latency.end(call, 9_000, true);
    expect(latency.sampledMs).toBe(30);
    expect(latency.estimateMs(10_000)).toBe(30);
  });

  it('keeps the oldest outstanding call right when calls end out of order', () => {
    const latency = new CallLatency();
    latency.end(latency.begin(0, 0, 1), 10, true);
    const a = latency.begin(100, 0, 1);
    const b = latency.begin(200, 0, 1);
    const c = latency.begin(300, 0, 1);
    latency.end(b, 310, false);
    expect(latency.estimateMs(1_000)).toBe(900); // a
    latency.end(a, 320, false);
    expect(latency.estimateMs(1_000)).toBe(700); // c
    latency.end(c, 330, false);
    expect(latency.estimateMs(1_000)).toBe(10);
  });
});
