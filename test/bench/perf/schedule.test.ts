import { describe, expect, it } from 'vitest';
import { arrivalTimes, seededRandom } from '../../../bench/perf/schedule.js';

describe('arrival schedule', () => {
  it('spaces constant arrivals exactly 1/rate apart, from the start, without drift', () => {
    const times = arrivalTimes({ ratePerSec: 3, distribution: 'constant', random: seededRandom(1), durationMs: 10_000, startMs: 500 });
    expect(times).toHaveLength(30);
    times.forEach((t, i) => expect(t).toBe(500 + i * (1000 / 3)));
    expect(arrivalTimes({ ratePerSec: 100, distribution: 'constant', random: seededRandom(1), durationMs: 1_000 })).toHaveLength(100);
  });

  it.each([1, 2, 3, 42, 1234])('gives Poisson arrivals at the asked mean rate (seed %i)', (seed) => {
    const rate = 1_000;
    const durationMs = 60_000;
    const times = arrivalTimes({ ratePerSec: rate, distribution: 'poisson', random: seededRandom(seed), durationMs });
    // 60 000 expected, standard deviation √60 000 ≈ 245: ±2 % is over 4σ.
    expect(times.length).toBeGreaterThan(0.98 * rate * (durationMs / 1000));
    expect(times.length).toBeLessThan(1.02 * rate * (durationMs / 1000));
    const gaps = times.slice(1).map((t, i) => t - times[i]);
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    const sd = Math.sqrt(gaps.reduce((a, g) => a + (g - mean) ** 2, 0) / gaps.length);
    expect(mean).toBeCloseTo(1, 1);
    // Exponential gaps: standard deviation = mean, and e^-1 of them longer than the mean.
    expect(sd / mean).toBeGreaterThan(0.95);
    expect(sd / mean).toBeLessThan(1.05);
    expect(gaps.filter((g) => g > mean).length / gaps.length).toBeCloseTo(Math.exp(-1), 1);
    expect(gaps.every((g) => g >= 0)).toBe(true);
  });

  it('repeats itself for a seed and differs between seeds', () => {
    const run = (seed: number) => arrivalTimes({ ratePerSec: 50, distribution: 'poisson', random: seededRandom(seed), durationMs: 2_000 });
    expect(run(7)).toEqual(run(7));
    expect(run(7)).not.toEqual(run(8));
  });

  it('refuses a rate that is not a positive number', () => {
    expect(() => arrivalTimes({ ratePerSec: 0, distribution: 'constant', random: seededRandom(1), durationMs: 10 })).toThrow(/positive/);
  });
});
