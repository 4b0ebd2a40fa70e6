/**
 * `astra`: the seed's AstraRay formula, taken literally (DESIGN §4), kept as a comparison anchor.
 *
 *   weight = capacity × ln(1 + remaining%) × busyShare
 *
 * with remaining% = 100 · (1 − utilization) and busyShare the "utilization / concurrency" term, read
 * through Little's law as busy time per in-flight request ≈ serviceTimeMs / latencyMs, normalised
 * per slot (the literal utilization ÷ inFlight equals that ratio divided by the slot count, which
 * would punish a node for having many slots). Both load terms fall as the load the weight itself
 * sends rises, so this policy oscillates at high load; that is the known weakness, not a bug here.
 */
import type { LoadReport } from '../core/load-report.js';
import { ConfigError } from '../core/errors.js';
import { usablePrior, type WeightInput, type WeightPolicy } from './weight-policy.js';

/** ln(1 + 100): the free-share term of an idle node, the most it can be. */
export const ASTRA_IDLE_LOAD_TERM = Math.log(101);

/**
 * Weight floor as a share of the node's idle weight (capacity × ln 101). A saturated node scores
 * exactly 0 and a picker would never send it anything again, nor divide by its weight; the floor
 * keeps it at a trickle until its next report shows it has drained.
 */
export const DEFAULT_ASTRA_MIN_WEIGHT_FRACTION = 0.001;

export interface AstraWeightPolicyOptions {
  /** See DEFAULT_ASTRA_MIN_WEIGHT_FRACTION; in (0, 1]. */
  minWeightFraction?: number;
}

/**
 * The formula for one node, before slow start. `report` undefined (none yet, or stale) gives the
 * idle prior capacity × ln 101. busyShare is 1 when nothing is in flight, nothing completed or no
 * latency was measured, and is clamped to [0, 1] against averaging jitter.
 */
export function astraWeight(
  capacity: number,
  report: LoadReport | undefined,
  minWeightFraction = DEFAULT_ASTRA_MIN_WEIGHT_FRACTION,
): number {
  const idleWeight = usablePrior(capacity) * ASTRA_IDLE_LOAD_TERM;
  if (report === undefined) return idleWeight;
  const utilization = clamp01(report.utilization);
  const freeTerm = Math.log(1 + 100 * (1 - utilization));
  const measured = report.inFlight > 0 && report.completedPerSec > 0 && report.latencyMs > 0;
  const busyShare = measured ? clamp01(report.serviceTimeMs / report.latencyMs) : 1;
  return Math.max(usablePrior(capacity) * freeTerm * busyShare, idleWeight * minWeightFraction);
}

export class AstraWeightPolicy implements WeightPolicy {
  readonly name = 'astra';
  readonly #minWeightFraction: number;

  constructor(options: AstraWeightPolicyOptions = {}) {
    const fraction = options.minWeightFraction ?? DEFAULT_ASTRA_MIN_WEIGHT_FRACTION;
    if (!(fraction > 0 && fraction <= 1)) throw new ConfigError(`minWeightFraction must be in (0, 1], got ${fraction}`);
    this.#minWeightFraction = fraction;
  }

  /** astraWeight of each input's report as given: hiding stale ones is the wrapper's job. */
  update(inputs: readonly WeightInput[], _nowMs: number): Map<string, number> {
    const weights = new Map<string, number>();
    for (const input of inputs) {
      weights.set(input.id, astraWeight(input.capacity, input.report, this.#minWeightFraction));
    }
    return weights;
  }

  forget(_id: string): void {
    // Stateless: the formula reads only the latest report.
  }
}

/** NaN counts as 0: a report that could not say how busy it was is not treated as saturated. */
function clamp01(x: number): number {
  return x > 1 ? 1 : x > 0 ? x : 0;
}
