/**
 * Smooth weighted round-robin over the pool's weights (DESIGN §4): the product's own policy. Which
 * weights (static card prior, AstraRay's formula, measured capacity) is the pool's WeightPolicy's
 * business; this policy only names itself after it.
 */
import type { CompletedPick, PickMember, PickPolicy, PickPolicyContext, PickResult } from './picker.js';
import { EMPTY_PICK } from './picker.js';
import { HybridSwrrPicker } from './picker-swrr-hybrid.js';
import { unknownSwrrMember } from './picker-swrr.js';

export class SwrrPickPolicy implements PickPolicy {
  readonly #picker: HybridSwrrPicker;
  /**
   * One frozen result per member, handed out on every pick of it: SWRR learns nothing from how a
   * call ends, so there is no per-call state and a pick allocates nothing.
   */
  readonly #picks = new Map<string, CompletedPick>();

  /**
   * `name`: the weight policy it runs over ('static', 'astra', 'capacity'). `context.random` sets each
   * member's start phase, so that several gateways over one pool do not pick in lock-step.
   */
  constructor(
    readonly name: string,
    context: PickPolicyContext,
  ) {
    this.#picker = new HybridSwrrPicker({ random: context.random });
  }

  add(member: PickMember): void {
    this.#picker.add(member.id, member.weight);
    this.#picks.set(member.id, Object.freeze({ kind: 'complete', memberId: member.id }));
  }

  remove(id: string): void {
    this.#picker.remove(id);
    this.#picks.delete(id);
  }

  setWeight(id: string, weight: number): void {
    this.#picker.setWeight(id, weight);
  }

  setEligible(id: string, eligible: boolean): void {
    this.#picker.setEligible(id, eligible);
  }

  pick(_nowMs: number): PickResult {
    const id = this.#picker.pick();
    if (id === undefined) return EMPTY_PICK;
    const pick = this.#picks.get(id);
    // The picker and the map change together, so a miss is a bug here, not the caller's.
    if (pick === undefined) throw unknownSwrrMember(id);
    return pick;
  }
}
