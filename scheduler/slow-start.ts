/**
 * Slow start: a node that joins or returns to a pool ramps its weight up over a window instead of
 * taking its full share at once, so a cold node (empty caches, models still warming, a JIT that has
 * not run yet) is not buried under a burst it cannot absorb. Linear from a floor share, as Envoy's
 * slow_start_config with aggression 1. Applied once, around every weight policy, by
 * AdjustedWeightPolicy (weight-policy-adjusted.ts).
 */
import { ConfigError } from '../core/errors.js';

/** How long a (re)joined node takes to reach its full weight. */
export const DEFAULT_SLOW_START_WINDOW_MS = 10_000;
/** Share of its weight a node gets at the moment it (re)joins; never 0, so it is picked at all. */
export const DEFAULT_SLOW_START_FLOOR = 0.1;

export interface SlowStart {
  /** Ramp length in ms; 0 turns slow start off. */
  readonly windowMs: number;
  /** Starting share of the weight, in (0, 1]. */
  readonly floor: number;
}

export const DEFAULT_SLOW_START: SlowStart = {
  windowMs: DEFAULT_SLOW_START_WINDOW_MS,
  floor: DEFAULT_SLOW_START_FLOOR,
};

/** Fills in defaults and rejects nonsense (ConfigError) at construction, so a bad flag fails the boot. */
export function resolveSlowStart(windowMs = DEFAULT_SLOW_START_WINDOW_MS, floor = DEFAULT_SLOW_START_FLOOR): SlowStart {
  if (!(windowMs >= 0) || !Number.isFinite(windowMs)) {
    throw new ConfigError(`slow-start window must be a finite number of ms >= 0, got ${windowMs}`);
  }
  if (!(floor > 0 && floor <= 1)) {
    throw new ConfigError(`slow-start floor must be in (0, 1], got ${floor}`);
  }
  return { windowMs, floor };
}

/**
 * Multiplier in [floor, 1] for a node that joined at `joinedAtMs`:
 * `floor + (1 − floor) · elapsed / windowMs`, with elapsed = nowMs − joinedAtMs clamped to
 * [0, windowMs]. A join time in the future (clock step) counts as just joined.
 */
export function slowStartFactor(joinedAtMs: number, nowMs: number, ramp: SlowStart = DEFAULT_SLOW_START): number {
  if (ramp.windowMs <= 0) return 1;
  const elapsedMs = nowMs - joinedAtMs;
  if (!(elapsedMs > 0)) return ramp.floor;
  if (elapsedMs >= ramp.windowMs) return 1;
  return ramp.floor + (1 - ramp.floor) * (elapsedMs / ramp.windowMs);
}
