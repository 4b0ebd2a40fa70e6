/**
 * The pick contract: every routing policy (SWRR over adaptive weights, round robin, weighted
 * least-connections, power of two choices, peak-EWMA, Prequal) is one implementation of it, and the
 * pool (pool.ts) drives whichever the gateway was started with. grpc-js's Picker is the anchor: a
 * pick answers a tagged result, and a completed pick carries the callback that tells the policy how
 * the call ended.
 *
 * Division of labour. The pool owns membership, drain, outlier ejection and the in-flight cap, and
 * tells the policy only which members may be picked now (`setEligible`). A policy owns how to choose
 * among them, and whatever per-member state that needs (SWRR's `current`, an EWMA of latencies, a
 * pool of probe answers). Weights come from the pool's WeightPolicy and are pushed by `setWeight`;
 * policies that ignore weights ignore those calls.
 */
import type { LoadProbe } from '../core/load-probe.js';
import type { ReleaseOutcome } from './pool-outcome.js';

/**
 * What a policy can read of a member at pick time. The pool passes its live member objects, so
 * `inFlight` and `weight` are always current: a policy keeps the reference, not a copy.
 */
export interface PickMember {
  readonly id: string;
  /** Requests this gateway sent the member and has not yet seen end. */
  readonly inFlight: number;
  /** The pool's weight for it (WeightPolicy output, ≥ 0). */
  readonly weight: number;
}

/** A pick that found a member, and the hook that reports how the call on it ended. */
export interface CompletedPick {
  readonly kind: 'complete';
  readonly memberId: string;
  /**
   * Called exactly once when the call ends, with its outcome and the time from pick to end in ms.
   * Absent when the policy learns nothing from completions.
   */
  readonly onCallEnded?: (outcome: ReleaseOutcome, latencyMs: number, nowMs: number) => void;
}

/** No eligible member: every member is drained, ejected, at its cap or excluded. */
export interface EmptyPick {
  readonly kind: 'empty';
}

export type PickResult = CompletedPick | EmptyPick;

export const EMPTY_PICK: EmptyPick = Object.freeze({ kind: 'empty' });

/** What one member's node answers to a load probe (Prequal's probe); see core/load-probe.ts. */
export type ProbeAnswer = LoadProbe;

/** Sends one probe to a member's node; rejects when it cannot answer. Only probing policies call it. */
export type Prober = (memberId: string) => Promise<ProbeAnswer>;

export interface PickPolicy {
  /** The name `--policy` selects it by (pools listings and metrics show it). */
  readonly name: string;
  /** A new member, eligible, with its current weight. Ids are unique within a pool. */
  add(member: PickMember): void;
  remove(id: string): void;
  /** The member's weight changed (already visible on the PickMember). */
  setWeight(id: string, weight: number): void;
  /** Whether the member may be picked until the next call; a new member starts eligible. */
  setEligible(id: string, eligible: boolean): void;
  /** Chooses one eligible member, at the caller's clock value. */
  pick(nowMs: number): PickResult;
}

/** What a pool hands a policy when it builds one: its randomness and, for probing policies, a prober. */
export interface PickPolicyContext {
  /** Uniform numbers in [0, 1): the only source of randomness a policy may use (tests seed it). */
  random: () => number;
  /** Reaches a member's node; absent when the backends cannot be probed (then probing policies fall back). */
  probe?: Prober;
}

/**
 * A misuse of a picker: a bug in its caller, never a client's mistake. Stable codes to match on,
 * as undici's UND_ERR_*; a request that meets one fails as an internal error (500).
 */
export class PickerError extends Error {
  constructor(
    readonly code: 'PICKER_BAD_RANDOM' | 'PICKER_BAD_WEIGHT' | 'PICKER_BAD_SNAPSHOT' | 'PICKER_UNKNOWN_MEMBER' | 'PICKER_DUPLICATE_MEMBER',
    message: string,
  ) {
    super(message);
    this.name = 'PickerError';
  }
}

/** The same misuses, raised by any pick policy (picker.ts); `policy` is its name. */
export function unknownPickMember(policy: string, id: string): PickerError {
  return new PickerError('PICKER_UNKNOWN_MEMBER', `${policy} pick policy: member '${id}' is not in it`);
}

export function duplicatePickMember(policy: string, id: string): PickerError {
  return new PickerError('PICKER_DUPLICATE_MEMBER', `${policy} pick policy: member '${id}' is already in it`);
}
