/**
 * The bookkeeping every pick policy shares: its members by id (one entry each, shaped by the
 * policy) and the ones eligible now, with the misuse errors (an unknown or duplicate id is a bug
 * in the pool, never a client's mistake).
 */
import { duplicatePickMember, unknownPickMember, type PickMember } from './picker.js';
import { EligibleSet } from './eligible-set.js';

export class PolicyMembers<E extends { readonly member: PickMember }> {
  readonly #entries = new Map<string, E>();
  /** The entries that may be picked now (O(1) add, delete and random draw). */
  readonly eligible = new EligibleSet<E>();

  constructor(private readonly policy: string) {}

  /** A new member's entry, eligible. */
  add(entry: E): void {
    const { id } = entry.member;
    if (this.#entries.has(id)) throw duplicatePickMember(this.policy, id);
    this.#entries.set(id, entry);
    this.eligible.add(entry);
  }

  /** Forgets a member; returns its entry for the policy's own clean-up. */
  remove(id: string): E {
    const entry = this.entry(id);
    this.eligible.delete(entry);
    this.#entries.delete(id);
    return entry;
  }

  setEligible(id: string, eligible: boolean): E {
    const entry = this.entry(id);
    if (eligible) this.eligible.add(entry);
    else this.eligible.delete(entry);
    return entry;
  }

  entry(id: string): E {
    const entry = this.#entries.get(id);
    if (entry === undefined) throw unknownPickMember(this.policy, id);
    return entry;
  }
}
