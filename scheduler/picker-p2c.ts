/**
 * Power of two choices (Mitzenmacher; Azar et al.'s balanced allocations): two distinct eligible
 * members uniformly at random, the one with fewer calls in flight. Ray Serve's default router and
 * Envoy's least_request (when weights are equal) work this way. Two samples instead of one bring
 * the fullest queue down from Θ(log n / log log n) to Θ(log log n), at O(1) per pick and with no
 * shared state to go stale.
 *
 * `weighted: true` compares (inFlight + 1) / weight instead, as least-connections does, so a member
 * with twice the weight is preferred until it holds about twice the calls. (Envoy, when weights
 * differ, schedules by weight / (active + 1)^bias: the same ratio, reached by a weighted schedule
 * rather than by a duel.) The draw stays uniform, so weights tilt the duel, not who enters it; a
 * weight-0 member loses every duel against a member with weight.
 */
import type { CompletedPick, PickMember, PickPolicy, PickPolicyContext, PickResult } from './picker.js';
import { EMPTY_PICK } from './picker.js';
import { twoDistinctIndexes } from './eligible-set.js';
import { PolicyMembers } from './picker-members.js';

const NAME = 'p2c';

export interface PowerOfTwoChoicesOptions {
  /** Compare (inFlight + 1) / weight instead of inFlight. Default false (Ray Serve, Envoy). */
  weighted?: boolean;
}

interface Entry {
  readonly member: PickMember;
  readonly pick: CompletedPick;
}

export class PowerOfTwoChoicesPickPolicy implements PickPolicy {
  readonly name = NAME;
  readonly #random: () => number;
  readonly #weighted: boolean;
  readonly #members = new PolicyMembers<Entry>(NAME);

  constructor(context: PickPolicyContext, options: PowerOfTwoChoicesOptions = {}) {
    this.#random = context.random;
    this.#weighted = options.weighted ?? false;
  }

  add(member: PickMember): void {
    const entry: Entry = { member, pick: Object.freeze({ kind: 'complete', memberId: member.id }) };
    this.#members.add(entry);
  }

  remove(id: string): void {
    this.#members.remove(id);
  }

  /** Weights (when used) are read live from the member at pick time. */
  setWeight(id: string, _weight: number): void {
    this.#members.entry(id);
  }

  setEligible(id: string, eligible: boolean): void {
    this.#members.setEligible(id, eligible);
  }

  pick(_nowMs: number): PickResult {
    const set = this.#members.eligible;
    const n = set.size;
    if (n === 0) return EMPTY_PICK;
    if (n === 1) return set.at(0).pick;
    const [i, j] = twoDistinctIndexes(this.#random, n);
    const a = set.at(i).member;
    const b = set.at(j).member;
    let diff: number;
    if (this.#weighted) {
      // (a.in + 1)/a.w − (b.in + 1)/b.w, in sign, without dividing (a weight may be 0).
      diff = (a.inFlight + 1) * b.weight - (b.inFlight + 1) * a.weight;
    } else {
      diff = a.inFlight - b.inFlight;
    }
    // A tie goes to the first drawn: which of the two was drawn first is itself a fair coin
    // (the ordered pair is uniform), so ties split evenly without a third random number.
    return (diff <= 0 ? set.at(i) : set.at(j)).pick;
  }

}
