/**
 * The closed-loop guard's claims on the bench fleet, checked on the virtual clock of
 * bench/routing/simulate.ts: the real pool, pick and weight policies, with simulated nodes, so the
 * figures are exact for a seed and free of the machine's noise. The real-process bench
 * (bench/routing) measures the same scenarios with sockets and processes.
 */
import { describe, expect, it } from 'vitest';
import { latencyQuantile, simulateRouting, type SimulationOptions } from '../../bench/routing/simulate.js';

const SEEDS = [1, 2, 3];
const WARMUP_MS = 5_000;
const SLOWED = { fromMs: 15_000, toMs: 27_000 };

/** p-quantile of each seed's run, over the steady part or the slowed phase. */
function quantiles(options: Omit<SimulationOptions, 'seed'>, p: number, fromMs: number, toMs: number): number[] {
  return SEEDS.map((seed) => latencyQuantile(simulateRouting({ ...options, seed }), p, fromMs, toMs));
}

const steady = (policy: string, load: number, queueBudget?: number) =>
  ({ policy, load, queueBudget, durationMs: 25_000 });
const slowdown = (policy: string, queueBudget?: number) =>
  ({ policy, load: 0.5, queueBudget, durationMs: 30_000, slowdowns: [{ node: 'n4', factor: 10, ...SLOWED }] });

describe('routing on the simulated bench fleet (speeds 1,1,2,4,1,1,2,4; 2 slots; 100 ms at speed 1)', () => {
  it('S1 at 50 % load: the guarded default keeps requests off the speed-1 cards (p99 ≤ 0.7× static SWRR)', () => {
    const guarded = quantiles(steady('capacity', 0.5), 0.99, WARMUP_MS, Infinity);
    const plain = quantiles(steady('static', 0.5, 0), 0.99, WARMUP_MS, Infinity);
    for (let i = 0; i < SEEDS.length; i++) expect(guarded[i]).toBeLessThanOrEqual(0.7 * plain[i]);
  });

  it('S1 at 85 % load: the guard costs neither p99 nor p50 against plain capacity-weighted SWRR', () => {
    const guardedP99 = quantiles(steady('capacity', 0.85), 0.99, WARMUP_MS, Infinity);
    const plainP99 = quantiles(steady('capacity', 0.85, 0), 0.99, WARMUP_MS, Infinity);
    const guardedP50 = quantiles(steady('capacity', 0.85), 0.5, WARMUP_MS, Infinity);
    const plainP50 = quantiles(steady('capacity', 0.85, 0), 0.5, WARMUP_MS, Infinity);
    for (let i = 0; i < SEEDS.length; i++) {
      expect(guardedP99[i]).toBeLessThanOrEqual(1.05 * plainP99[i]);
      expect(guardedP50[i]).toBeLessThanOrEqual(1.3 * plainP50[i]);
    }
  });

  it('S2, the fastest node slowed 10×: the guarded default’s p99 ≤ 0.3× weighted least-connections', () => {
    const guarded = quantiles(slowdown('capacity'), 0.99, SLOWED.fromMs, SLOWED.toMs);
    const wlc = quantiles(slowdown('wlc', 0), 0.99, SLOWED.fromMs, SLOWED.toMs);
    for (let i = 0; i < SEEDS.length; i++) expect(guarded[i]).toBeLessThanOrEqual(0.3 * wlc[i]);
    // Without the latency signal a guarded pool still sends the slowed node its share until the
    // next weights: plain capacity-weighted SWRR with no guard at all waits seconds.
    const unguarded = quantiles(slowdown('capacity', 0), 0.99, SLOWED.fromMs, SLOWED.toMs);
    for (let i = 0; i < SEEDS.length; i++) expect(unguarded[i]).toBeGreaterThan(1_000);
  });

  it('is deterministic for a seed', () => {
    const a = simulateRouting({ ...slowdown('capacity'), seed: 7 });
    const b = simulateRouting({ ...slowdown('capacity'), seed: 7 });
    expect(a.length).toBeGreaterThan(3_000);
    expect(b).toEqual(a);
  });
});
