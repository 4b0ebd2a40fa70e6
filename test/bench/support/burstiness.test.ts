import { describe, expect, it } from 'vitest';
import { burstiness } from '../../../bench/support/burstiness.js';

describe('burstiness of arrivals', () => {
  it('a metronome: CV 0, no hot window', () => {
    const times = Array.from({ length: 1_000 }, (_, i) => i * 10);
    const b = burstiness(times, 100, 1.5);
    expect(b.arrivals).toBe(1_000);
    expect(b.cv).toBeCloseTo(0, 9);
    expect(b.hotWindowShare).toBe(0);
    expect(b.peakToMean).toBeCloseTo(1, 9);
  });

  it('lockstep triplets (three gateways picking the node at once): CV √2, the same mean rate', () => {
    // Three arrivals at the same instant every 40 ms: gaps 0, 0, 40 → mean 40/3, sd 40·√2/3.
    const times = Array.from({ length: 300 }, (_, i) => Math.floor(i / 3) * 40);
    const b = burstiness(times);
    expect(b.cv).toBeCloseTo(Math.SQRT2, 1);
  });

  it('bursts: a window with 4× the mean counts as hot', () => {
    // 10 arrivals in each of 10 windows of 100 ms, and 40 in one more.
    const times: number[] = [];
    for (let w = 0; w < 11; w++) {
      const n = w === 5 ? 40 : 10;
      for (let i = 0; i < n; i++) times.push(w * 100 + (i * 100) / n);
    }
    times.push(1_100); // closes the 11th window
    const b = burstiness(times, 100, 1.5);
    expect(b.hotWindowShare).toBeCloseTo(1 / 11, 9);
    expect(b.peakToMean).toBeCloseTo(40 / (140 / 11), 9);
    expect(b.cv).toBeGreaterThan(0.3);
  });

  it('too few arrivals: NaN figures; a bad window: a clear error', () => {
    expect(Number.isNaN(burstiness([1, 2]).cv)).toBe(true);
    expect(() => burstiness([1, 2, 3], 0)).toThrow(/windowMs must be > 0/);
  });
});
