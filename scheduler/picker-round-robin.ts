/**
 * Plain round robin: eligible members in turn, weights ignored (grpc-js's round_robin, nginx's
 * upstream without weights). The baseline every weighted policy has to beat.
 *
 * The eligible members form a ring in the order they became eligible; `#next` is the one whose turn
 * it is. A member that becomes eligible again (left its in-flight cap, came back from ejection)
 * joins just before `#next`, that is at the end of the current round: it neither jumps the queue
 * nor waits more than one round. Every operation is O(1).
 */
import type { CompletedPick, PickMember, PickPolicy, PickPolicyContext, PickResult } from './picker.js';
import { EMPTY_PICK } from './picker.js';
import { duplicatePickMember, unknownPickMember } from './picker.js';
import { randomIndex } from './eligible-set.js';

const NAME = 'round-robin';

interface RingEntry {
  readonly pick: CompletedPick;
  eligible: boolean;
  /** Neighbours in the ring; both null while the entry is out of it. */
  prev: RingEntry | null;
  next: RingEntry | null;
}

export class RoundRobinPickPolicy implements PickPolicy {
  readonly name = NAME;
  readonly #random: () => number;
  readonly #entries = new Map<string, RingEntry>();
  #next: RingEntry | null = null;
  #ringSize = 0;
  /**
   * Whether the first pick has happened: it starts at a random place in the ring, so that gateways
   * over the same pool do not all send their first requests to the same member.
   */
  #started = false;

  constructor(context: PickPolicyContext) {
    this.#random = context.random;
  }

  add(member: PickMember): void {
    if (this.#entries.has(member.id)) throw duplicatePickMember(NAME, member.id);
    const entry: RingEntry = {
      pick: Object.freeze({ kind: 'complete', memberId: member.id }),
      eligible: true,
      prev: null,
      next: null,
    };
    this.#entries.set(member.id, entry);
    this.#link(entry);
  }

  remove(id: string): void {
    const entry = this.#entry(id);
    if (entry.eligible) this.#unlink(entry);
    this.#entries.delete(id);
  }

  setWeight(id: string, _weight: number): void {
    this.#entry(id);
  }

  setEligible(id: string, eligible: boolean): void {
    const entry = this.#entry(id);
    if (entry.eligible === eligible) return;
    entry.eligible = eligible;
    if (eligible) this.#link(entry);
    else this.#unlink(entry);
  }

  pick(_nowMs: number): PickResult {
    let entry = this.#next;
    if (entry === null) return EMPTY_PICK;
    if (!this.#started) {
      // O(ring) once per policy, never again.
      this.#started = true;
      for (let steps = randomIndex(this.#random, this.#ringSize); steps > 0; steps--) entry = entry.next!;
    }
    this.#next = entry.next;
    return entry.pick;
  }

  #entry(id: string): RingEntry {
    const entry = this.#entries.get(id);
    if (entry === undefined) throw unknownPickMember(NAME, id);
    return entry;
  }

  /** Inserts just before #next: last in the current round. */
  #link(entry: RingEntry): void {
    const next = this.#next;
    if (next === null) {
      entry.prev = entry;
      entry.next = entry;
      this.#next = entry;
    } else {
      const prev = next.prev!;
      entry.prev = prev;
      entry.next = next;
      prev.next = entry;
      next.prev = entry;
    }
    this.#ringSize++;
  }

  #unlink(entry: RingEntry): void {
    this.#ringSize--;
    if (this.#ringSize === 0) {
      this.#next = null;
    } else {
      entry.prev!.next = entry.next;
      entry.next!.prev = entry.prev;
      if (this.#next === entry) this.#next = entry.next;
    }
    entry.prev = null;
    entry.next = null;
  }
}
