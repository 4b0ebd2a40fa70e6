/**
 * nginx's smooth weighted round-robin as written there (ngx_http_upstream_get_peer): one scan of
 * every member per pick, O(n). Kept as the reference that SwrrPicker must match pick for pick, and
 * as the baseline of bench/pick-cost.ts. Same API, same errors, same random start phase.
 */
import {
  assertSwrrCurrent,
  assertSwrrWeight,
  duplicateSwrrMember,
  swrrStartCurrent,
  unknownSwrrMember,
  type SwrrMemberState,
  type SwrrPickerOptions,
} from './picker-swrr.js';

interface NaiveMember {
  id: string;
  weight: number;
  current: number;
  eligible: boolean;
}

export class NaiveSwrrPicker {
  readonly #random: (() => number) | undefined;
  /** Insertion order: the scan order, hence the tie-break. */
  #members: NaiveMember[] = [];
  #byId = new Map<string, NaiveMember>();

  constructor(options: SwrrPickerOptions = {}) {
    this.#random = options.random;
  }

  get size(): number {
    return this.#members.length;
  }

  has(id: string): boolean {
    return this.#byId.has(id);
  }

  /** Goes on from another picker's snapshot, as SwrrPicker.fromSnapshot (no random numbers drawn). */
  static fromSnapshot(members: readonly SwrrMemberState[], options: SwrrPickerOptions = {}): NaiveSwrrPicker {
    const picker = new NaiveSwrrPicker(options);
    for (const m of members) {
      assertSwrrCurrent(m.id, m.current);
      picker.#insert({ id: m.id, weight: m.weight, current: m.current, eligible: m.eligible });
    }
    return picker;
  }

  add(id: string, weight: number): void {
    // Checked before the phase is drawn, as SwrrPicker does: both draw the same random numbers.
    if (this.#byId.has(id)) throw duplicateSwrrMember(id);
    assertSwrrWeight(id, weight);
    this.#insert({ id, weight, current: swrrStartCurrent(weight, this.#random), eligible: true });
  }

  remove(id: string): void {
    const member = this.#member(id);
    this.#byId.delete(id);
    this.#members.splice(this.#members.indexOf(member), 1);
  }

  setWeight(id: string, weight: number): void {
    const member = this.#member(id);
    assertSwrrWeight(id, weight);
    member.weight = weight;
  }

  setEligible(id: string, eligible: boolean): void {
    this.#member(id).eligible = eligible;
  }

  pick(): string | undefined {
    let best: NaiveMember | undefined;
    let total = 0;
    for (const m of this.#members) {
      // Sitting out (nginx: down, max_conns reached) or weight 0: no step, no share of the total.
      if (!m.eligible || m.weight <= 0) continue;
      m.current += m.weight;
      total += m.weight;
      if (best === undefined || m.current > best.current) best = m;
    }
    if (best === undefined) return undefined;
    best.current -= total;
    return best.id;
  }

  snapshot(): SwrrMemberState[] {
    return this.#members.map((m) => ({ id: m.id, weight: m.weight, current: m.current, eligible: m.eligible }));
  }

  #insert(member: NaiveMember): void {
    if (this.#byId.has(member.id)) throw duplicateSwrrMember(member.id);
    assertSwrrWeight(member.id, member.weight);
    this.#members.push(member);
    this.#byId.set(member.id, member);
  }

  #member(id: string): NaiveMember {
    const member = this.#byId.get(id);
    if (member === undefined) throw unknownSwrrMember(id);
    return member;
  }
}
