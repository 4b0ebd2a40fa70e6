/**
 * Weight policies turn a snapshot of a pool's members (hardware prior, latest load report, join
 * time) into the weights the SWRR picker runs on. They are pure apart from per-node smoothing state,
 * and `nowMs` is their only clock, so a test drives them with plain numbers and no timers.
 *
 * Every policy applies slow start (`slow-start.ts`) to its output, and every policy that reads load
 * reports ignores one older than `staleAfterMs`.
 *
 * The policy modules import the helpers below and this module imports the policies for the
 * factory: an import cycle, safe because the policy modules touch these bindings only inside
 * functions and constructors, never while they are being evaluated. Keep it that way.
 */
import { invalidArg } from '../core/errors.js';
import type { LoadReport } from '../core/load-report.js';
import { AstraWeightPolicy, type AstraWeightPolicyOptions } from './weight-policy-astra.js';
import { CapacityWeightPolicy, type CapacityWeightPolicyOptions } from './weight-policy-capacity.js';
import { StaticWeightPolicy } from './weight-policy-static.js';

/** A report this much older than now no longer counts: the node is likely being evicted anyway. */
export const DEFAULT_STALE_AFTER_MS = 5_000;

export interface WeightInput {
  readonly id: string;
  /**
   * Hardware prior, in card-coefficient units (T4 = 1): `hardwareCapacity(report.cards)`, or the
   * configured weight of a static backend. Not finite or <= 0 gives weight 0: the node sits out.
   */
  readonly capacity: number;
  /** Operator-given weight (`--backend URL=weight`); only the `static` policy reads it. */
  readonly staticWeight?: number;
  /** Latest load report; absent for static backends and before the first heartbeat. */
  readonly report?: LoadReport;
  /** nowMs − when the report was received, by the receiver's clock; Infinity when there is none. */
  readonly reportAgeMs: number;
  /** When the node (re)joined the pool: the start of its slow-start ramp. */
  readonly joinedAtMs: number;
}

export interface WeightPolicy {
  /** A built-in name (WEIGHT_POLICY_NAMES) or a plugged-in policy's own. */
  readonly name: string;
  /**
   * Next weights for `inputs`, one entry per input id, every value finite and >= 0. A policy may
   * keep per-node state between calls (smoothing); members absent from `inputs` keep theirs until
   * `forget`. A node whose `joinedAtMs` changed is treated as new.
   */
  update(inputs: readonly WeightInput[], nowMs: number): Map<string, number>;
  /** Drops the state kept for a node that left the pool. */
  forget(id: string): void;
}

/** Options every policy accepts. */
export interface WeightPolicyOptions {
  /** See DEFAULT_SLOW_START_WINDOW_MS; 0 turns slow start off. */
  slowStartWindowMs?: number;
  /** See DEFAULT_SLOW_START_FLOOR. */
  slowStartFloor?: number;
  /** See DEFAULT_STALE_AFTER_MS. */
  staleAfterMs?: number;
}

export const WEIGHT_POLICY_NAMES = ['static', 'astra', 'capacity'] as const;
export type WeightPolicyName = (typeof WEIGHT_POLICY_NAMES)[number];

/**
 * Proposed default: it measures capacity, so its weights do not move with the load they cause
 * (DESIGN §4). Bench has the last word.
 */
export const DEFAULT_WEIGHT_POLICY_NAME: WeightPolicyName = 'capacity';

export function isWeightPolicyName(name: string): name is WeightPolicyName {
  return (WEIGHT_POLICY_NAMES as readonly string[]).includes(name);
}

/** Union of every policy's options; each policy reads the ones it knows. */
export type AnyWeightPolicyOptions = AstraWeightPolicyOptions & CapacityWeightPolicyOptions;

/** Builds a built-in policy by name (a CLI flag); unknown names and bad options throw INVALID_ARG. */
export function createWeightPolicy(name: string, options: AnyWeightPolicyOptions = {}): WeightPolicy {
  switch (name) {
    case 'static':
      return new StaticWeightPolicy(options);
    case 'astra':
      return new AstraWeightPolicy(options);
    case 'capacity':
      return new CapacityWeightPolicy(options);
    default:
      throw invalidArg(
        `unknown weight policy '${name}' (known: ${WEIGHT_POLICY_NAMES.join(', ')})`,
        'unknown_weight_policy',
      );
  }
}

export function resolveStaleAfterMs(staleAfterMs = DEFAULT_STALE_AFTER_MS): number {
  if (!(staleAfterMs >= 0)) throw invalidArg(`staleAfterMs must be >= 0, got ${staleAfterMs}`);
  return staleAfterMs;
}

/** The member's report if it still counts (reportAgeMs <= staleAfterMs), else undefined. */
export function freshReport(input: WeightInput, staleAfterMs: number): LoadReport | undefined {
  return input.report !== undefined && input.reportAgeMs <= staleAfterMs ? input.report : undefined;
}

/** A prior that can be used as a weight: finite and > 0, else 0 (the node sits out). */
export function usablePrior(value: number): number {
  return Number.isFinite(value) && value > 0 ? value : 0;
}
