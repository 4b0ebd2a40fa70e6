/**
 * `capacity`: a capacity estimate in the manner of gRPC's weighted_round_robin (gRFC A58).
 *
 * Measured capacity of node i from its report (requests/s it would serve fully busy):
 *
 *   m_i = qps / (utilization + errorPenalty · errorsPerSec / qps)        qps = completedPerSec
 *
 * It measures what the node can do, not how busy it is now, so it does not move with the load the
 * weight sends (same qps/utilization, same weight), unlike `astra`.
 *
 * Units. m_i is in requests/s, the prior (Σ card coefficients) in coefficient units, and a pool
 * mixes both (members without usable reports keep the prior). We map m into prior units by the
 * pool's median rate per coefficient unit, k = median_i(m_i / prior_i) over this update's
 * measured members:
 *
 *   target_i = clamp(m_i / k, prior_i / clampRatio, prior_i · clampRatio)
 *            = prior_i × (node's rate per unit ÷ pool's typical rate per unit)
 *
 * Dividing every measured node by the same k leaves their ratios exactly as measured; a node that
 * performs as its cards promise lands on its prior, so measured and unmeasured members stay
 * comparable; the median (not the mean) keeps one throttled or misdeclared node from rescaling
 * everyone else. A per-node calibration against a fixed "expected rate per unit" would need that
 * rate per model, which nobody declares. The band is relative to the prior because accelerators
 * differ by far more than gRPC's 10×, while a node measuring 100× off its declared cards is a
 * measurement fault, not a fact.
 *
 * Per node, the weight then moves towards its target asymmetrically: a drop applies at once (a
 * node that slowed down must shed work now), a rise closes the gap with a half-life in ms
 * (weight += (target − weight) · (1 − 2^(−Δt / riseHalfLifeMs))), so one lucky window cannot pull a
 * burst and the ramp does not depend on how often `update` runs.
 *
 * Target when there is no usable measurement:
 * - no report (none yet, or a stale one hidden by AdjustedWeightPolicy): the prior (seed, and
 *   fallback while heartbeats are missing);
 * - a fresh report whose window had fewer than minCompletions completions, or no utilization:
 *   keep the current weight (a slowdown far below it cuts it: see THIN_WINDOW_CUT_SHARE), until
 *   no measurement was accepted for measurementExpiryMs, then the
 *   prior; without that expiry a node knocked down to a tiny share could get too few requests to
 *   ever be measured again.
 * Both fallbacks go through the same asymmetric step: a node measured slow is not handed a burst
 * because its reports stopped.
 */
import type { LoadReport } from '../core/load-report.js';
import { ConfigError } from '../core/errors.js';
import { usablePrior, type WeightInput, type WeightPolicy } from './weight-policy.js';

/** Utilization charged per error-to-request ratio (gRFC A58 error_utilization_penalty default). */
export const DEFAULT_ERROR_PENALTY = 1.0;
/**
 * Fewest completions in a report's window for its rate to count (completedPerSec × windowMs / 1000).
 * A count rather than a rate: the evidence behind a rate depends on the window it was taken over.
 */
export const DEFAULT_MIN_COMPLETIONS_PER_WINDOW = 10;
/** A node this busy with too few completions to measure is bounded from above instead. */
export const SATURATED_UTILIZATION = 0.8;
/** A rise closes half of the gap to its target in this time. */
export const DEFAULT_RISE_HALF_LIFE_MS = 3_000;
/**
 * A window too thin for a rate cuts a weight only when the execution time it shows puts the node
 * below this share of its weight (a slowdown far beyond one slow execution's noise).
 */
export const THIN_WINDOW_CUT_SHARE = 1 / 3;
/** The weight stays within [prior / ratio, prior × ratio]. */
export const DEFAULT_CAPACITY_CLAMP_RATIO = 100;
/** With fresh reports but no accepted measurement for this long, the target returns to the prior. */
export const DEFAULT_MEASUREMENT_EXPIRY_MS = 30_000;

export interface CapacityWeightPolicyOptions {
  /** See DEFAULT_ERROR_PENALTY; >= 0. */
  errorPenalty?: number;
  /** See DEFAULT_MIN_COMPLETIONS_PER_WINDOW; >= 0. */
  minCompletions?: number;
  /** See DEFAULT_RISE_HALF_LIFE_MS; 0 applies rises at once too. */
  riseHalfLifeMs?: number;
  /** See DEFAULT_CAPACITY_CLAMP_RATIO; >= 1. */
  clampRatio?: number;
  /** See DEFAULT_MEASUREMENT_EXPIRY_MS; >= 0. */
  measurementExpiryMs?: number;
}

/**
 * Measured capacity in requests/s (m above), or undefined when the window is too thin or says
 * nothing (no utilization and no errors). Assumes completedPerSec counts every answered request,
 * failed ones included, as A58's qps does.
 */
export function measuredCapacity(
  report: LoadReport,
  errorPenalty = DEFAULT_ERROR_PENALTY,
  minCompletions = DEFAULT_MIN_COMPLETIONS_PER_WINDOW,
): number | undefined {
  if (!(report.windowMs > 0)) return undefined;
  const utilization = Math.min(Math.max(report.utilization, 0), 1);
  let qps = report.completedPerSec;
  if (!(qps >= 0)) return undefined;
  if ((qps * report.windowMs) / 1000 < minCompletions) {
    // Too few completions to measure a rate — unless the node was busy all the same: then it is
    // slow, and minCompletions per window bounds its capacity from above. Without this a node that
    // slowed 100× completes too little to ever be measured and keeps its old weight.
    if (utilization < SATURATED_UTILIZATION) return undefined;
    qps = Math.max(qps, (minCompletions * 1000) / report.windowMs);
  }
  const errorsPerSec = Math.max(report.errorsPerSec, 0);
  const denominator = utilization + (errorPenalty * errorsPerSec) / qps;
  if (!(denominator > 0)) return undefined;
  const m = qps / denominator;
  return Number.isFinite(m) ? m : undefined;
}

/**
 * Capacity from a window too thin for a rate: the node's slots run back to back at the execution
 * time it measured, slots × 1000 / serviceTimeMs requests/s. The same quantity as qps / utilization
 * (busy time is completions × service time), from as little as one execution, hence noisier: the
 * policy lets it raise a weight, and cut one only by more than THIN_WINDOW_CUT_SHARE. It is how a
 * node that gets almost no traffic shows that it has recovered, or that it has slowed far down.
 */
export function thinWindowCapacity(report: LoadReport): number | undefined {
  const completed = (Math.max(report.completedPerSec, 0) * report.windowMs) / 1000;
  if (!(completed >= 1) || !(report.serviceTimeMs > 0) || !(report.slots > 0)) return undefined;
  const m = (report.slots * 1000) / report.serviceTimeMs;
  return Number.isFinite(m) ? m : undefined;
}

interface NodeState {
  /** Current weight, in prior units (slow start scales the output, never this). */
  weight: number;
  /** Clock of the last update that saw this node: the start of the next rise step. */
  atMs: number;
  /** Clock of the last accepted measurement; -Infinity before the first. */
  measuredAtMs: number;
  /** Join time this state belongs to; a different one means the node rejoined. */
  joinedAtMs: number;
}

export class CapacityWeightPolicy implements WeightPolicy {
  readonly name = 'capacity';
  readonly #errorPenalty: number;
  readonly #minCompletions: number;
  readonly #riseHalfLifeMs: number;
  readonly #clampRatio: number;
  readonly #measurementExpiryMs: number;
  readonly #nodes = new Map<string, NodeState>();

  constructor(options: CapacityWeightPolicyOptions = {}) {
    this.#errorPenalty = atLeast('errorPenalty', options.errorPenalty ?? DEFAULT_ERROR_PENALTY, 0);
    this.#minCompletions = atLeast('minCompletions', options.minCompletions ?? DEFAULT_MIN_COMPLETIONS_PER_WINDOW, 0);
    this.#riseHalfLifeMs = atLeast('riseHalfLifeMs', options.riseHalfLifeMs ?? DEFAULT_RISE_HALF_LIFE_MS, 0);
    this.#clampRatio = atLeast('clampRatio', options.clampRatio ?? DEFAULT_CAPACITY_CLAMP_RATIO, 1);
    this.#measurementExpiryMs = atLeast(
      'measurementExpiryMs',
      options.measurementExpiryMs ?? DEFAULT_MEASUREMENT_EXPIRY_MS,
      0,
    );
  }

  update(inputs: readonly WeightInput[], nowMs: number): Map<string, number> {
    const priors = inputs.map((input) => usablePrior(input.capacity));
    const measured = inputs.map(({ report }, i) =>
      report !== undefined && priors[i] > 0
        ? measuredCapacity(report, this.#errorPenalty, this.#minCompletions)
        : undefined,
    );
    const ratios: number[] = [];
    measured.forEach((m, i) => {
      if (m !== undefined) ratios.push(m / priors[i]);
    });
    const ratePerUnit = ratios.length > 0 ? median(ratios) : 1;

    const weights = new Map<string, number>();
    inputs.forEach((input, i) => {
      const prior = priors[i];
      const state = this.#stateFor(input, prior, nowMs);
      const m = measured[i];
      let target: number;
      if (m !== undefined) {
        target = Math.min(Math.max(m / ratePerUnit, prior / this.#clampRatio), prior * this.#clampRatio);
        state.measuredAtMs = nowMs;
      } else if (input.report === undefined || nowMs - state.measuredAtMs > this.#measurementExpiryMs) {
        target = prior;
      } else {
        // Thin evidence may lift a weight towards what the node now shows (recovery). It cuts one
        // only when it shows the node below THIN_WINDOW_CUT_SHARE of its weight: a node the delay
        // check stopped sending work on its first late answers is never loaded enough again for a
        // full window, and would otherwise keep the weight it had before it slowed.
        const thin = thinWindowCapacity(input.report);
        const shown = thin === undefined ? undefined : Math.min(Math.max(thin / ratePerUnit, prior / this.#clampRatio), prior * this.#clampRatio);
        if (shown !== undefined && (shown > state.weight || shown < state.weight * THIN_WINDOW_CUT_SHARE)) target = shown;
        else target = state.weight;
      }
      state.weight = this.#step(state.weight, target, nowMs - state.atMs);
      state.atMs = nowMs;
      weights.set(input.id, state.weight);
    });
    return weights;
  }

  forget(id: string): void {
    this.#nodes.delete(id);
  }

  #stateFor(input: WeightInput, prior: number, nowMs: number): NodeState {
    let state = this.#nodes.get(input.id);
    if (state === undefined || state.joinedAtMs !== input.joinedAtMs) {
      state = { weight: prior, atMs: nowMs, measuredAtMs: -Infinity, joinedAtMs: input.joinedAtMs };
      this.#nodes.set(input.id, state);
    }
    return state;
  }

  /** Drops at once; rises close 1 − 2^(−Δt / halfLife) of the gap. A clock step back moves nothing up. */
  #step(current: number, target: number, elapsedMs: number): number {
    if (target <= current) return target;
    if (this.#riseHalfLifeMs === 0) return target;
    if (!(elapsedMs > 0)) return current;
    return current + (target - current) * (1 - 2 ** (-elapsedMs / this.#riseHalfLifeMs));
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function atLeast(name: string, value: number, min: number): number {
  if (!(value >= min) || !Number.isFinite(value)) {
    throw new ConfigError(`capacity weight policy: ${name} must be a finite number >= ${min}, got ${value}`);
  }
  return value;
}
