/**
 * What every policy needs and none should reimplement, applied once around any WeightPolicy,
 * built-in or plugged in:
 *
 * - staleness: a report older than `staleAfterMs` is hidden (passed as `report: undefined`), so the
 *   inner policy falls back to whatever it does without a report and never knows the threshold;
 * - slow start: each weight the inner policy returns is multiplied by `slowStartFactor`, so a
 *   (re)joined node ramps up whatever the formula.
 *
 * Slow start scales the output, never the inner policy's state: a smoothing policy keeps estimating
 * the node's full weight while the ramp runs.
 */
import { resolveSlowStart, slowStartFactor, type SlowStart } from './slow-start.js';
import { ConfigError } from '../core/errors.js';
import { type WeightInput, type WeightPolicy } from './weight-policy.js';

/** A report this much older than now no longer counts: the node is likely being evicted anyway. */
export const DEFAULT_STALE_AFTER_MS = 5_000;

export interface WeightAdjustmentOptions {
  /** See DEFAULT_SLOW_START_WINDOW_MS; 0 turns slow start off. */
  slowStartWindowMs?: number;
  /** See DEFAULT_SLOW_START_FLOOR. */
  slowStartFloor?: number;
  /** See DEFAULT_STALE_AFTER_MS. */
  staleAfterMs?: number;
}

export function resolveStaleAfterMs(staleAfterMs = DEFAULT_STALE_AFTER_MS): number {
  if (!(staleAfterMs >= 0)) throw new ConfigError(`staleAfterMs must be >= 0, got ${staleAfterMs}`);
  return staleAfterMs;
}

/**
 * `input` itself while its report still counts (reportAgeMs <= staleAfterMs) or when it has none;
 * else a copy with `report: undefined`. reportAgeMs is passed on as it is: it is still the truth.
 */
export function withoutStaleReport(input: WeightInput, staleAfterMs: number): WeightInput {
  if (input.report === undefined || input.reportAgeMs <= staleAfterMs) return input;
  return { ...input, report: undefined };
}

export class AdjustedWeightPolicy implements WeightPolicy {
  /** The inner policy's: pool listings and metrics name the formula, not the wrapping. */
  readonly name: string;
  readonly #inner: WeightPolicy;
  readonly #slowStart: SlowStart;
  readonly #staleAfterMs: number;

  /** Rejects bad options here (ConfigError), so a bad flag fails when the policy is built. */
  constructor(inner: WeightPolicy, options: WeightAdjustmentOptions = {}) {
    this.name = inner.name;
    this.#inner = inner;
    this.#slowStart = resolveSlowStart(options.slowStartWindowMs, options.slowStartFloor);
    this.#staleAfterMs = resolveStaleAfterMs(options.staleAfterMs);
  }

  /** inner weight (stale reports hidden) × slowStartFactor; ids the inner policy left out stay out. */
  update(inputs: readonly WeightInput[], nowMs: number): Map<string, number> {
    const innerWeights = this.#inner.update(
      inputs.map((input) => withoutStaleReport(input, this.#staleAfterMs)),
      nowMs,
    );
    // A fresh map: the inner policy may hand back one it keeps.
    const weights = new Map<string, number>();
    for (const input of inputs) {
      const weight = innerWeights.get(input.id);
      if (weight === undefined) continue;
      weights.set(input.id, weight * slowStartFactor(input.joinedAtMs, nowMs, this.#slowStart));
    }
    return weights;
  }

  forget(id: string): void {
    this.#inner.forget(id);
  }
}
