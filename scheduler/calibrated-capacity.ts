/**
 * The capacity prior of a pool's members, from calibration where nodes measured it. A node's card
 * table says how fast its cards are in general (T4 = 1); its calibration says how fast this model
 * ran on them, in inferences/s, which is the better guide per model (a pool is per model). The two
 * units differ, so measured figures are mapped into coefficient units by the pool's median rate
 * per unit, k = median_i(measured_i / prior_i) over the members that measured:
 *
 *   capacity_i = clamp(measured_i / k, prior_i / clampRatio, prior_i · clampRatio)
 *
 * Measured members keep exactly their measured ratios; a node that runs the model as its cards
 * promise lands on its prior, so members without a figure (old nodes, calibration off, static
 * backends) stay comparable on their prior. This is the same mapping the `capacity` weight
 * policy makes for live rates (weight-policy-capacity.ts); the clamp bounds a faulty measurement.
 */
import type { LoadReport } from '../core/load-report.js';
import { DEFAULT_CAPACITY_CLAMP_RATIO } from './weight-policy-capacity.js';

export interface CapacityEvidence {
  /** Σ card coefficients (or a static backend's weight). */
  prior: number;
  /** Calibrated inferences/s of this pool's model on the node; undefined when not measured. */
  measured?: number;
}

/** One capacity per member, in prior units, same order. */
export function calibratedCapacities(members: readonly CapacityEvidence[], clampRatio = DEFAULT_CAPACITY_CLAMP_RATIO): number[] {
  const usable = (m: CapacityEvidence) => m.measured !== undefined && m.measured > 0 && Number.isFinite(m.measured) && m.prior > 0 && Number.isFinite(m.prior);
  const ratios = members.filter(usable).map((m) => m.measured! / m.prior).sort((a, b) => a - b);
  if (ratios.length === 0) return members.map((m) => m.prior);
  const mid = ratios.length >> 1;
  const k = ratios.length % 2 === 1 ? ratios[mid] : (ratios[mid - 1] + ratios[mid]) / 2;
  return members.map((m) => (usable(m) ? Math.min(Math.max(m.measured! / k, m.prior / clampRatio), m.prior * clampRatio) : m.prior));
}

/** The node's calibrated inferences/s for (model, version), summed over its cards; undefined when absent. */
export function calibratedThroughput(report: LoadReport | undefined, model: string, version: string): number | undefined {
  let total: number | undefined;
  for (const c of report?.calibration ?? []) {
    if (c.model === model && c.version === version && c.inferencesPerSec > 0) total = (total ?? 0) + c.inferencesPerSec;
  }
  return total;
}
