/**
 * How bursty a stream of arrivals is: the coefficient of variation of the inter-arrival times
 * (0 for a metronome, 1 for Poisson, above 1 for clumps), and the share of fixed windows that
 * hold more than `factor` times the mean count (how often a node sees a burst).
 */
export interface Burstiness {
  arrivals: number;
  /** Standard deviation / mean of the gaps between consecutive arrivals. */
  cv: number;
  /** Share of the windows of `windowMs` whose count is above `factor` × the mean count per window. */
  hotWindowShare: number;
  /** Largest count in one window / mean count per window. */
  peakToMean: number;
}

/** `times` in ms, ascending (sorted here if not). Fewer than 3 arrivals or a span under one window: NaN figures. */
export function burstiness(times: readonly number[], windowMs = 100, factor = 1.5): Burstiness {
  if (!(windowMs > 0)) throw new Error(`windowMs must be > 0, got ${windowMs}`);
  const t = [...times].sort((a, b) => a - b);
  const n = t.length;
  const nan: Burstiness = { arrivals: n, cv: NaN, hotWindowShare: NaN, peakToMean: NaN };
  if (n < 3) return nan;
  const gaps = t.slice(1).map((x, i) => x - t[i]);
  const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
  const variance = gaps.reduce((a, g) => a + (g - mean) ** 2, 0) / gaps.length;
  const windows = Math.floor((t[n - 1] - t[0]) / windowMs);
  if (windows < 1) return { ...nan, cv: Math.sqrt(variance) / mean };
  // Whole windows only, from the first arrival: a partial last window would read as a lull.
  const counts = new Array<number>(windows).fill(0);
  for (const x of t) {
    const w = Math.floor((x - t[0]) / windowMs);
    if (w < windows) counts[w]++;
  }
  const meanCount = counts.reduce((a, b) => a + b, 0) / windows;
  return {
    arrivals: n,
    cv: Math.sqrt(variance) / mean,
    hotWindowShare: counts.filter((c) => c > factor * meanCount).length / windows,
    peakToMean: Math.max(...counts) / meanCount,
  };
}
