/**
 * Weight policies turn a snapshot of a pool's members (hardware prior, latest load report, join
 * time) into the weights the SWRR picker runs on. They are pure apart from per-node smoothing state,
 * and `nowMs` is their only clock, so a test drives them with plain numbers and no timers.
 *
 * This module is the contract and the helpers the policies share; it imports no policy. A policy
 * computes only its formula: hiding stale reports and slow start are applied once, around any
 * policy, by `AdjustedWeightPolicy` (weight-policy-adjusted.ts), and the built-in policies are
 * built by name in weight-policy-factory.ts.
 */
import type { LoadReport } from '../core/load-report.js';

export interface WeightInput {
  readonly id: string;
  /**
   * Hardware prior, in card-coefficient units (T4 = 1): `hardwareCapacity(report.cards)`, or the
   * configured weight of a static backend. Not finite or <= 0 gives weight 0: the node sits out.
   */
  readonly capacity: number;
  /** Operator-given weight (`--backend URL=weight`); only the `static` policy reads it. */
  readonly staticWeight?: number;
  /**
   * Latest load report; absent for static backends and before the first heartbeat. A policy wrapped
   * in AdjustedWeightPolicy also sees it absent once it is stale.
   */
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

/** A prior that can be used as a weight: finite and > 0, else 0 (the node sits out). */
export function usablePrior(value: number): number {
  return Number.isFinite(value) && value > 0 ? value : 0;
}
