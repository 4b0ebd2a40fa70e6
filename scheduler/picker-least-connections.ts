/**
 * Weighted least connections, in the form DESIGN §4 calls shortest expected delay (LVS's `sed`
 * scheduler): the eligible member with the least (inFlight + 1) / weight, the one whose queue would
 * drain first if a call took 1/weight each. The + 1 counts the call being placed, so between two
 * idle members the heavier wins instead of a tie. Closed-loop by construction: a member that slows
 * down keeps its calls longer and so gets fewer new ones, without waiting for a report.
 *
 * O(n) per pick: it reads every eligible member's live in-flight count. Members with weight 0 are
 * never picked (the weight policy has taken them out).
 */
import type { CompletedPick, PickMember, PickPolicy, PickPolicyContext, PickResult } from './picker.js';
import { EMPTY_PICK } from './picker.js';
import { randomIndex } from './eligible-set.js';
import { PolicyMembers } from './picker-members.js';

const NAME = 'wlc';

interface Entry {
  readonly member: PickMember;
  readonly pick: CompletedPick;
  eligible: boolean;
}

/** Start offsets cycle through 2^31 values; any n ≤ that sees every start. */
const ROTOR_PERIOD = 2 ** 31;

export class WeightedLeastConnectionsPickPolicy implements PickPolicy {
  readonly name = NAME;
  readonly #members = new PolicyMembers<Entry>(NAME);
  /**
   * Where the next scan starts. A scan keeps the first of equal minima, so moving the start by one
   * each pick hands ties round in turn: idle equal members share evenly instead of the first one
   * taking everything. Starts at random, so gateways do not all favour the same member.
   */
  #rotor: number;

  constructor(context: PickPolicyContext) {
    this.#rotor = randomIndex(context.random, ROTOR_PERIOD);
  }

  add(member: PickMember): void {
    const entry: Entry = { member, pick: Object.freeze({ kind: 'complete', memberId: member.id }), eligible: true };
    this.#members.add(entry);
  }

  remove(id: string): void {
    const entry = this.#members.remove(id);
  }

  /** Weights are read live from the member at pick time. */
  setWeight(id: string, _weight: number): void {
    this.#members.entry(id);
  }

  setEligible(id: string, eligible: boolean): void {
    this.#members.setEligible(id, eligible).eligible = eligible;
  }

  pick(_nowMs: number): PickResult {
    const set = this.#members.eligible;
    const n = set.size;
    if (n === 0) return EMPTY_PICK;
    const start = this.#rotor % n;
    this.#rotor = (this.#rotor + 1) % ROTOR_PERIOD;
    let best: Entry | undefined;
    // Compared as (in + 1)·w_best < (in_best + 1)·w: no division, and no ±Infinity from a weight 0.
    let bestLoad = 0;
    let bestWeight = 0;
    for (let i = 0, at = start; i < n; i++, at = at + 1 === n ? 0 : at + 1) {
      const entry = set.at(at);
      const weight = entry.member.weight;
      if (!(weight > 0)) continue;
      const load = entry.member.inFlight + 1;
      if (best === undefined || load * bestWeight < bestLoad * weight) {
        best = entry;
        bestLoad = load;
        bestWeight = weight;
      }
    }
    return best === undefined ? EMPTY_PICK : best.pick;
  }

}
