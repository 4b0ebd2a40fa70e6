/**
 * When an open-loop generator sends: arrival times of a request rate, pure and seedable so that a
 * test (or a rerun) gets the same sequence. Poisson arrivals are what independent users produce
 * (exponential gaps, mean 1/rate); constant spacing is what a timer produces.
 */
export type Distribution = 'poisson' | 'constant';
export const DISTRIBUTIONS: readonly Distribution[] = ['poisson', 'constant'];

/** A source of uniform numbers in [0, 1). */
export type Random = () => number;

/** mulberry32: a small, fast, seedable PRNG; plenty for arrival gaps and random tensor data. */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface ScheduleSpec {
  ratePerSec: number;
  distribution: Distribution;
  random: Random;
  /** Time of the schedule's origin; the first arrival is at it (constant) or one gap after it (Poisson). */
  startMs?: number;
}

/**
 * Arrival times, ascending, forever. Constant arrivals are `start + i × period` (a product, not a
 * running sum, so that no rounding accumulates); Poisson arrivals add exponential gaps.
 */
export function* arrivals(spec: ScheduleSpec): Generator<number, never> {
  if (!(spec.ratePerSec > 0) || !Number.isFinite(spec.ratePerSec)) throw new RangeError(`request rate must be a positive number, got ${spec.ratePerSec}`);
  const start = spec.startMs ?? 0;
  const meanGapMs = 1000 / spec.ratePerSec;
  if (spec.distribution === 'constant') {
    for (let i = 0; ; i++) yield start + i * meanGapMs;
  }
  let at = start;
  for (;;) {
    // 1 − u is in (0, 1]: the logarithm is finite.
    at += -Math.log(1 - spec.random()) * meanGapMs;
    yield at;
  }
}

/** Arrival times in [startMs, startMs + durationMs). */
export function arrivalTimes(spec: ScheduleSpec & { durationMs: number }): number[] {
  const end = (spec.startMs ?? 0) + spec.durationMs;
  const times: number[] = [];
  for (const at of arrivals(spec)) {
    if (at >= end) break;
    times.push(at);
  }
  return times;
}
