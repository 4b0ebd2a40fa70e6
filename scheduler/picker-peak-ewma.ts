/**
 * Peak-EWMA (Finagle's PeakEwma balancer, Linkerd's and tower's peak_ewma): each member's cost is
 * its recent latency times the calls it would then hold, `latency × (inFlight + 1)`, and a pick is a
 * power-of-two-choices duel on that cost.
 *
 * The latency estimate is peak-sensitive: a sample above the estimate replaces it at once, so a
 * member that slows down loses traffic on its first slow answer; samples below only pull it down
 * gradually, weighted by the time since the last update (w = exp(−Δt/τ)). Between samples the
 * estimate decays towards 0 with the same τ (tower decays it on every read), which is what brings a
 * member back: once it has lost every duel it gets no samples, and only the decay makes it worth
 * trying again.
 *
 * All times come from the nowMs arguments (pick and onCallEnded), none from a clock of its own, so
 * tests are exact.
 */
import type { CompletedPick, PickMember, PickPolicy, PickPolicyContext, PickResult } from './picker.js';
import { EMPTY_PICK } from './picker.js';
import type { ReleaseOutcome } from './pool-outcome.js';
import { twoDistinctIndexes } from './eligible-set.js';
import { PolicyMembers } from './picker-members.js';
import { ConfigError } from '../core/errors.js';

const NAME = 'peak-ewma';

/** τ: the time over which old latency loses weight. Linkerd's default (EWMA_DECAY, 10 s). */
export const DEFAULT_PEAK_EWMA_DECAY_MS = 10_000;

/**
 * Latency assumed for a member before its first sample (Linkerd's EWMA_DEFAULT_RTT, 30 ms): low,
 * so that a new member is tried soon and gets a real estimate. It decays like any estimate, from
 * the first pick that sees the member (tower's from the member's creation; add() has no clock), so
 * a member whose default is above everyone's measured latency is still tried within seconds.
 */
export const DEFAULT_PEAK_EWMA_RTT_MS = 30;

/**
 * What a transport failure raises the estimate to: the node gave no answer, so it should lose
 * duels until the penalty has decayed (with τ = 10 s: to 1 s after 23 s, to 50 ms after 53 s).
 * Finagle's PeakEwma gives a member it has no latency for, yet holds calls on, a huge penalty cost
 * in the same spirit. Set it above the slowest normal latency, or a failure would look fast.
 */
export const DEFAULT_PEAK_EWMA_FAILURE_PENALTY_MS = 10_000;

export interface PeakEwmaOptions {
  decayMs?: number;
  defaultRttMs?: number;
  failurePenaltyMs?: number;
}

interface Entry {
  readonly member: PickMember;
  readonly pick: CompletedPick;
  /** Latency estimate at `stampMs`, in ms; `defaultRttMs` until the first sample. */
  estimateMs: number;
  /** When the estimate was last set; NaN until a pick first sees the member. */
  stampMs: number;
  /** Whether the estimate is measured, or still the default. */
  sampled: boolean;
  removed: boolean;
}

export class PeakEwmaPickPolicy implements PickPolicy {
  readonly name = NAME;
  readonly #random: () => number;
  readonly #decayMs: number;
  readonly #defaultRttMs: number;
  readonly #penaltyMs: number;
  readonly #members = new PolicyMembers<Entry>(NAME);

  constructor(context: PickPolicyContext, options: PeakEwmaOptions = {}) {
    this.#random = context.random;
    this.#decayMs = positive('decayMs', options.decayMs ?? DEFAULT_PEAK_EWMA_DECAY_MS);
    this.#defaultRttMs = positive('defaultRttMs', options.defaultRttMs ?? DEFAULT_PEAK_EWMA_RTT_MS);
    this.#penaltyMs = positive('failurePenaltyMs', options.failurePenaltyMs ?? DEFAULT_PEAK_EWMA_FAILURE_PENALTY_MS);
  }

  add(member: PickMember): void {
    const entry: Entry = {
      member,
      // One result per member, its callback bound to the member's entry: a pick allocates nothing.
      pick: Object.freeze({
        kind: 'complete',
        memberId: member.id,
        onCallEnded: (outcome: ReleaseOutcome, latencyMs: number, nowMs: number) => this.#observe(entry, outcome, latencyMs, nowMs),
      }),
      estimateMs: this.#defaultRttMs,
      stampMs: Number.NaN,
      sampled: false,
      removed: false,
    };
    this.#members.add(entry);
  }

  remove(id: string): void {
    const entry = this.#members.remove(id);
    entry.removed = true;
  }

  setWeight(id: string, _weight: number): void {
    this.#members.entry(id);
  }

  setEligible(id: string, eligible: boolean): void {
    this.#members.setEligible(id, eligible);
  }

  pick(nowMs: number): PickResult {
    const set = this.#members.eligible;
    const n = set.size;
    if (n === 0) return EMPTY_PICK;
    if (n === 1) return set.at(0).pick;
    const [i, j] = twoDistinctIndexes(this.#random, n);
    const a = set.at(i);
    const b = set.at(j);
    // A default starts decaying at the first pick that sees its member.
    if (Number.isNaN(a.stampMs)) a.stampMs = nowMs;
    if (Number.isNaN(b.stampMs)) b.stampMs = nowMs;
    // A tie goes to the first drawn, itself a fair coin (see picker-p2c.ts).
    return this.#costAt(a, nowMs) <= this.#costAt(b, nowMs) ? a.pick : b.pick;
  }

  /** The member's cost at nowMs: decayed latency estimate × (inFlight + 1). For tests and views. */
  cost(id: string, nowMs: number): number {
    return this.#costAt(this.#members.entry(id), nowMs);
  }

  /** The member's latency estimate at nowMs, in ms. */
  latencyEstimateMs(id: string, nowMs: number): number {
    return this.#estimateAt(this.#members.entry(id), nowMs);
  }

  #costAt(entry: Entry, nowMs: number): number {
    return this.#estimateAt(entry, nowMs) * (entry.member.inFlight + 1);
  }

  #estimateAt(entry: Entry, nowMs: number): number {
    return entry.estimateMs * this.#weightOfPast(entry, nowMs);
  }

  /** exp(−Δt/τ), with a clock that stepped back counted as no time (and NaN as none either). */
  #weightOfPast(entry: Entry, nowMs: number): number {
    const elapsed = nowMs - entry.stampMs;
    return elapsed > 0 ? Math.exp(-elapsed / this.#decayMs) : 1;
  }

  #observe(entry: Entry, outcome: ReleaseOutcome, latencyMs: number, nowMs: number): void {
    // A member removed meanwhile may come back under the same id as a new member: not this one.
    if (entry.removed || !Number.isFinite(nowMs)) return;
    switch (outcome) {
      case 'ok':
      case 'client_error':
      case 'server_error':
      case 'overloaded':
        // Every answer took real node time, errors included.
        if (Number.isFinite(latencyMs) && latencyMs >= 0) this.#sample(entry, latencyMs, nowMs);
        return;
      case 'transport_error':
        this.#sample(entry, this.#penaltyMs, nowMs);
        return;
      case 'cancelled':
        // The caller stopped waiting: the time says nothing about the node.
        return;
    }
  }

  #sample(entry: Entry, latencyMs: number, nowMs: number): void {
    if (!entry.sampled) {
      // The default was a guess, not a measurement: the first sample replaces it either way.
      entry.sampled = true;
      entry.estimateMs = latencyMs;
    } else {
      const w = this.#weightOfPast(entry, nowMs);
      const decayed = entry.estimateMs * w;
      entry.estimateMs = latencyMs > decayed ? latencyMs : decayed + latencyMs * (1 - w);
    }
    // A sample stamped before the last one (calls end out of order) must not move the stamp back.
    if (!(entry.stampMs > nowMs)) entry.stampMs = nowMs;
  }

}

function positive(name: string, value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) throw new ConfigError(`peak-ewma ${name} must be a finite number > 0, got ${value}`);
  return value;
}
