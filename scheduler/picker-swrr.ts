/**
 * Smooth weighted round-robin (nginx's algorithm) in O(log n) amortized per pick.
 *
 * nginx, per pick: every eligible member does `current += weight`, the largest `current` wins (ties:
 * the member added first), and the winner does `current -= Σ weight`. Done literally that is a scan
 * of every member: milliseconds per pick at a million members, all of it on the event loop.
 *
 * The scan is avoidable because between two events that touch a member, its `current` after p picks
 * is a line, `weight·p + offset`. Only the winner of a pick changes its line (its offset drops by
 * Σ weight), and so do weight or eligibility changes. A kinetic tournament tree (Basch, Guibas and
 * Hershberger's kinetic data structures) keeps, over member slots, the winner of every subtree and
 * the pick at which a loser's line could overtake it (the certificate's failure time). A pick
 * recomputes the nodes whose certificate has failed plus the path of the leaf it changed, and
 * produces the very sequence of the scan; `NaiveSwrrPicker` is that scan, kept as the reference.
 *
 * Exactness: the tree evaluates `weight·p + offset` where the scan accumulates `current += weight`.
 * Both are exact, hence identical pick for pick, while every value is an integer (or a multiple of
 * 1/256, the random-phase step) below 2^45 in magnitude; the picker re-bases `p` to zero before
 * `weight·p` can leave that range. Non-dyadic float weights (an adaptive policy's 41.7) are rounded
 * on every operation, and the two ways of computing `current` round differently: both pickers are
 * still SWRR with the right long-run shares, but a near-tie may break differently.
 */
import { PickerError } from './picker.js';
export { PickerError } from './picker.js';

export interface SwrrMemberState {
  id: string;
  weight: number;
  current: number;
  eligible: boolean;
}

export interface SwrrPickerOptions {
  /**
   * Source of uniform numbers in [0, 1). When given, each member starts at a random phase instead
   * of nginx's `current = 0`, so that several pickers over one pool do not pick in lock-step.
   */
  random?: () => number;
}

/** The random start phase is quantised to 1/256 of a weight unit, so integer arithmetic stays exact. */
export const SWRR_PHASE_STEPS_PER_UNIT = 256;

/**
 * Starting `current` of a new member: 0 (nginx) or, with `random`, a random point in (−weight, 0].
 *
 * Why this range keeps shares exact: let every member of a fixed pool start with
 * `current_i ∈ (−weight_i, 0]`, so their sum S is above −W (W = Σ weight). A pick adds W to the sum
 * and takes W away, so the sum stays S. The winner had the largest `current + weight`, at least the
 * mean (S + W)/m > 0, so after paying W it is still above −W; the others only rise. So every
 * `current` stays above −W forever. After W picks, `current_i = start_i + W·(weight_i − picks_i)`; a
 * member picked more than `weight_i` times would sit at or below start_i − W ≤ −W, impossible. So no
 * member is picked more than its weight in W picks, and as the picks add up to W, each is picked
 * exactly its weight: the state is back at its start, and every window of W picks has exact shares,
 * as from nginx's all-zero start (a special case). Different phases only reorder the picks inside
 * the window, which is what de-synchronises the pickers.
 */
export function swrrStartCurrent(weight: number, random: (() => number) | undefined): number {
  if (random === undefined || weight === 0) return 0;
  const u = random();
  if (!(u >= 0 && u < 1)) {
    throw new PickerError('PICKER_BAD_RANDOM', `SWRR random() returned ${u}, expected a number in [0, 1)`);
  }
  const steps = Math.floor(u * weight * SWRR_PHASE_STEPS_PER_UNIT);
  return steps === 0 ? 0 : -steps / SWRR_PHASE_STEPS_PER_UNIT;
}

export function assertSwrrWeight(id: string, weight: number): void {
  if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0) {
    throw new PickerError('PICKER_BAD_WEIGHT', `SWRR member '${id}': weight must be a finite number ≥ 0, got ${weight}`);
  }
}

/** A snapshot's `current` is taken as is, so it must be a number the pick arithmetic can carry. */
export function assertSwrrCurrent(id: string, current: number): void {
  if (typeof current !== 'number' || !Number.isFinite(current)) {
    throw new PickerError('PICKER_BAD_SNAPSHOT', `SWRR member '${id}': current must be a finite number, got ${current}`);
  }
}

export function unknownSwrrMember(id: string): PickerError {
  return new PickerError('PICKER_UNKNOWN_MEMBER', `SWRR member '${id}' is not in the picker`);
}

export function duplicateSwrrMember(id: string): PickerError {
  return new PickerError('PICKER_DUPLICATE_MEMBER', `SWRR member '${id}' is already in the picker`);
}

const INITIAL_CAPACITY = 8;
/**
 * Bound on `weight · p` between re-bases. Values carry at most 8 fraction bits (the phase step),
 * so 53 − 8 = 45 integer bits are exact; one bit is kept for the sum with the offset.
 */
const MAX_EXACT_PRODUCT = 2 ** 44;
const NO_SLOT = -1;

// Each tree node is a record of four doubles in one Float64Array: its winner's line and the
// certificate. A recompute then reads its two children from one or two cache lines instead of
// chasing their winners into per-slot arrays: at a million members that is the difference.
const RECORD = 4;
const WEIGHT = 0;
const OFFSET = 1;
const SEQ = 2;
const FAIL = 3;

/**
 * Picks in O(log n) amortized (measured: about 1–2 µs at 10^5–10^6 members, see bench/pick-cost.ts).
 * add, remove, setWeight and setEligible mark one leaf-to-root path, O(log n); the next pick
 * recomputes it. Slots of removed members are reused; capacity doubles when full. Below a few dozen
 * members the plain scan of NaiveSwrrPicker is cheaper, with the same sequence.
 */
export class SwrrPicker {
  readonly #random: (() => number) | undefined;

  // Per slot. A slot is "active" when its member is eligible with weight > 0: only active slots are
  // leaves of the tournament; the others sit out with their `current` frozen in #frozen.
  #capacity = INITIAL_CAPACITY;
  #ids: (string | undefined)[] = new Array(INITIAL_CAPACITY).fill(undefined);
  #weight = new Float64Array(INITIAL_CAPACITY);
  /** Inactive slot: its current, unchanged while it sits out. */
  #frozen = new Float64Array(INITIAL_CAPACITY);
  /** Insertion number: the tie-break (earliest wins), as the scan's order. */
  #seq = new Float64Array(INITIAL_CAPACITY);
  #eligible = new Uint8Array(INITIAL_CAPACITY);
  #active = new Uint8Array(INITIAL_CAPACITY);

  // Tournament over slots, heap layout: node 1 is the root, node k has children 2k and 2k+1, slot s
  // is leaf #capacity + s. A node's record holds its winner's weight, offset (current after p
  // picks = weight·p + offset) and seq, and FAIL: the pick from which that winner may be stale,
  // because a loser overtakes it or a child's certificate fails. −Infinity marks a node on the
  // path of a changed leaf; leaves never fail. An active slot's line lives in its leaf record.
  #nodes = SwrrPicker.#emptyNodes(INITIAL_CAPACITY);
  #winner = new Int32Array(2 * INITIAL_CAPACITY).fill(NO_SLOT);
  /** Scratch list of the nodes a refresh recomputes. */
  #stale = new Int32Array(INITIAL_CAPACITY);

  /** Insertion order, for snapshot(); a re-added id moves to the end, as in the scan's list. */
  #slotOf = new Map<string, number>();
  #freeSlots: number[] = [];
  #nextSeq = 0;

  /** Picks since the last re-base. */
  #p = 0;
  #activeCount = 0;
  /** Σ weight of active members: what the winner pays. */
  #totalWeight = 0;
  /** Largest weight seen since the last re-base, to know when weight·p would leave exact range. */
  #maxWeight = 0;
  #rebaseAt = Infinity;

  constructor(options: SwrrPickerOptions = {}) {
    this.#random = options.random;
  }

  get size(): number {
    return this.#slotOf.size;
  }

  has(id: string): boolean {
    return this.#slotOf.has(id);
  }

  /**
   * A picker that goes on from another one's snapshot (its order is the tie-break order): same
   * weights, currents and eligibility, so its next picks are the ones the other would have made.
   * It draws no random numbers; `options.random` phases the members added after.
   */
  static fromSnapshot(members: readonly SwrrMemberState[], options: SwrrPickerOptions = {}): SwrrPicker {
    const picker = new SwrrPicker(options);
    for (const m of members) {
      assertSwrrCurrent(m.id, m.current);
      picker.#insert(m.id, m.weight, m.current, m.eligible);
    }
    return picker;
  }

  add(id: string, weight: number): void {
    if (this.#slotOf.has(id)) throw duplicateSwrrMember(id);
    assertSwrrWeight(id, weight);
    this.#insert(id, weight, swrrStartCurrent(weight, this.#random), true);
  }

  remove(id: string): void {
    const slot = this.#slotOf.get(id);
    if (slot === undefined) throw unknownSwrrMember(id);
    if (this.#active[slot] === 1) this.#deactivate(slot);
    this.#slotOf.delete(id);
    this.#ids[slot] = undefined;
    this.#eligible[slot] = 0;
    this.#freeSlots.push(slot);
  }

  setWeight(id: string, weight: number): void {
    const slot = this.#slotOf.get(id);
    if (slot === undefined) throw unknownSwrrMember(id);
    assertSwrrWeight(id, weight);
    const old = this.#weight[slot];
    if (weight === old) return;
    this.#noteWeight(weight);
    if (this.#active[slot] === 1) {
      if (weight === 0) {
        this.#deactivate(slot);
        this.#weight[slot] = 0;
      } else {
        // Same current now, new slope from here on: b' = current − w'·p.
        const leaf = (this.#capacity + slot) * RECORD;
        const nodes = this.#nodes;
        const current = old * this.#p + nodes[leaf + OFFSET];
        nodes[leaf + WEIGHT] = weight;
        nodes[leaf + OFFSET] = current - weight * this.#p;
        this.#weight[slot] = weight;
        this.#totalWeight += weight - old;
        this.#invalidatePath(slot);
      }
    } else {
      this.#weight[slot] = weight;
      if (weight > 0 && this.#eligible[slot] === 1) this.#activate(slot);
    }
  }

  setEligible(id: string, eligible: boolean): void {
    const slot = this.#slotOf.get(id);
    if (slot === undefined) throw unknownSwrrMember(id);
    const flag = eligible ? 1 : 0;
    if (this.#eligible[slot] === flag) return;
    this.#eligible[slot] = flag;
    if (!eligible) {
      if (this.#active[slot] === 1) this.#deactivate(slot);
    } else if (this.#weight[slot] > 0) {
      this.#activate(slot);
    }
  }

  pick(): string | undefined {
    if (this.#activeCount === 0) return undefined;
    const t = this.#p + 1;
    if (this.#nodes[RECORD + FAIL] <= t) this.#refresh(t);
    const slot = this.#winner[1];
    this.#nodes[(this.#capacity + slot) * RECORD + OFFSET] -= this.#totalWeight;
    this.#p = t;
    this.#invalidatePath(slot);
    if (t >= this.#rebaseAt) this.#rebase();
    return this.#ids[slot];
  }

  snapshot(): SwrrMemberState[] {
    const out: SwrrMemberState[] = [];
    for (const [id, slot] of this.#slotOf) {
      out.push({ id, weight: this.#weight[slot], current: this.#currentOf(slot), eligible: this.#eligible[slot] === 1 });
    }
    return out;
  }

  #insert(id: string, weight: number, current: number, eligible: boolean): void {
    if (this.#slotOf.has(id)) throw duplicateSwrrMember(id);
    assertSwrrWeight(id, weight);
    if (this.#freeSlots.length === 0 && this.#slotOf.size === this.#capacity) this.#grow();
    const slot = this.#freeSlots.length > 0 ? this.#freeSlots.pop()! : this.#slotOf.size;
    this.#slotOf.set(id, slot);
    this.#ids[slot] = id;
    this.#weight[slot] = weight;
    this.#seq[slot] = this.#nextSeq++;
    this.#eligible[slot] = eligible ? 1 : 0;
    this.#active[slot] = 0;
    this.#frozen[slot] = current;
    this.#noteWeight(weight);
    if (weight > 0 && eligible) this.#activate(slot);
  }

  #currentOf(slot: number): number {
    if (this.#active[slot] === 0) return this.#frozen[slot];
    const leaf = (this.#capacity + slot) * RECORD;
    return this.#nodes[leaf + WEIGHT] * this.#p + this.#nodes[leaf + OFFSET];
  }

  #activate(slot: number): void {
    const w = this.#weight[slot];
    const leaf = (this.#capacity + slot) * RECORD;
    const nodes = this.#nodes;
    nodes[leaf + WEIGHT] = w;
    nodes[leaf + OFFSET] = this.#frozen[slot] - w * this.#p;
    nodes[leaf + SEQ] = this.#seq[slot];
    nodes[leaf + FAIL] = Infinity;
    this.#active[slot] = 1;
    this.#activeCount++;
    this.#totalWeight += w;
    this.#winner[this.#capacity + slot] = slot;
    this.#invalidatePath(slot);
  }

  #deactivate(slot: number): void {
    this.#frozen[slot] = this.#currentOf(slot);
    this.#active[slot] = 0;
    this.#activeCount--;
    // An empty pool must not keep a rounding residue of float weights.
    this.#totalWeight = this.#activeCount === 0 ? 0 : this.#totalWeight - this.#weight[slot];
    this.#winner[this.#capacity + slot] = NO_SLOT;
    this.#invalidatePath(slot);
  }

  /**
   * Marks the ancestors of a changed leaf stale. A stale node's ancestors are always stale too
   * (refresh cleans bottom-up), so the walk stops at the first one already marked.
   */
  #invalidatePath(slot: number): void {
    const nodes = this.#nodes;
    for (let node = (this.#capacity + slot) >> 1; node >= 1; node >>= 1) {
      const at = node * RECORD + FAIL;
      if (nodes[at] === -Infinity) break;
      nodes[at] = -Infinity;
    }
  }

  /**
   * Recomputes every node whose certificate fails at pick t. Those nodes form a subtree hanging
   * from the root (a node fails no later than its children), so one walk down collects them
   * parents-first, and recomputing them in reverse order sees every child fresh before its parent.
   * One flat loop over typed arrays: this is the whole per-pick cost, so no calls and no recursion.
   */
  #refresh(t: number): void {
    const capacity = this.#capacity;
    const nodes = this.#nodes;
    const winnerOf = this.#winner;
    let stale = this.#stale;
    if (stale.length < capacity) stale = this.#stale = new Int32Array(capacity);

    // Collect: `stale` doubles as the queue (entries below `scan` are done, above are pending).
    let count = 0;
    stale[count++] = 1;
    for (let scan = 0; scan < count; scan++) {
      const left = stale[scan] << 1;
      if (left >= capacity) continue;
      if (nodes[left * RECORD + FAIL] <= t) stale[count++] = left;
      if (nodes[(left + 1) * RECORD + FAIL] <= t) stale[count++] = left + 1;
    }

    for (let i = count - 1; i >= 0; i--) {
      const node = stale[i];
      const left = node << 1;
      const a = winnerOf[left];
      const b = winnerOf[left + 1];
      const ra = left * RECORD;
      const rb = ra + RECORD;
      const failA = nodes[ra + FAIL];
      const failB = nodes[rb + FAIL];
      let fail = failA < failB ? failA : failB;
      let win = rb;
      if (b === NO_SLOT) {
        win = ra;
      } else if (a !== NO_SLOT) {
        const va = nodes[ra + WEIGHT] * t + nodes[ra + OFFSET];
        const vb = nodes[rb + WEIGHT] * t + nodes[rb + OFFSET];
        // Larger current wins; equal currents go to the member added first.
        if (va > vb || (va === vb && nodes[ra + SEQ] < nodes[rb + SEQ])) win = ra;
        const lose = win === ra ? rb : ra;
        const ww = nodes[win + WEIGHT];
        const wl = nodes[lose + WEIGHT];
        // A loser with a slope no steeper never catches up (equal slopes keep the tie as it is).
        if (wl > ww) {
          // It wins at x once (wl − ww)·x > bw − bl, or =, if added first. For exact inputs the
          // float quotient's floor is the true quotient's floor or ceiling: the answer is x or x + 1.
          const bw = nodes[win + OFFSET];
          const bl = nodes[lose + OFFSET];
          let x = Math.floor((bw - bl) / (wl - ww));
          if (x <= t) x = t + 1;
          const vl = wl * x + bl;
          const vw = ww * x + bw;
          if (!(vl > vw || (vl === vw && nodes[lose + SEQ] < nodes[win + SEQ]))) x += 1;
          if (x < fail) fail = x;
        }
      }
      const to = node * RECORD;
      winnerOf[node] = win === ra ? a : b;
      nodes[to + WEIGHT] = nodes[win + WEIGHT];
      nodes[to + OFFSET] = nodes[win + OFFSET];
      nodes[to + SEQ] = nodes[win + SEQ];
      nodes[to + FAIL] = fail;
    }
  }

  #noteWeight(weight: number): void {
    if (weight <= this.#maxWeight) return;
    this.#maxWeight = weight;
    this.#rebaseAt = this.#rebaseLimit();
    if (this.#p >= this.#rebaseAt) this.#rebase();
  }

  #rebaseLimit(): number {
    if (this.#maxWeight === 0) return Infinity;
    // Never more often than every `capacity` picks, so the O(capacity) re-base stays O(1) amortized;
    // a pool whose weights are that large is past exact range through Σ weight anyway.
    return Math.max(Math.floor(MAX_EXACT_PRODUCT / this.#maxWeight), this.#capacity);
  }

  /**
   * Moves the time origin to now: every record's offset becomes its current (the same sum on the
   * same inputs in a leaf and in the nodes that copy it), certificate times shift by −p, winners
   * are unchanged. Also re-sums Σ weight, dropping any drift of incremental float sums.
   */
  #rebase(): void {
    const p = this.#p;
    const nodes = this.#nodes;
    const winnerOf = this.#winner;
    for (let node = 1; node < 2 * this.#capacity; node++) {
      const at = node * RECORD;
      if (winnerOf[node] !== NO_SLOT) nodes[at + OFFSET] += nodes[at + WEIGHT] * p;
      nodes[at + FAIL] -= p;
    }
    let total = 0;
    let maxWeight = 0;
    for (let slot = 0; slot < this.#capacity; slot++) {
      if (this.#ids[slot] === undefined) continue;
      const w = this.#weight[slot];
      if (w > maxWeight) maxWeight = w;
      if (this.#active[slot] === 1) total += w;
    }
    this.#p = 0;
    this.#totalWeight = total;
    this.#maxWeight = maxWeight;
    this.#rebaseAt = this.#rebaseLimit();
  }

  #grow(): void {
    const old = this.#capacity;
    const cap = old * 2;
    const grown = <T extends Float64Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(cap);
      b.set(a);
      return b;
    };
    this.#weight = grown(this.#weight, (n) => new Float64Array(n));
    this.#frozen = grown(this.#frozen, (n) => new Float64Array(n));
    this.#seq = grown(this.#seq, (n) => new Float64Array(n));
    this.#eligible = grown(this.#eligible, (n) => new Uint8Array(n));
    this.#active = grown(this.#active, (n) => new Uint8Array(n));
    for (let slot = old; slot < cap; slot++) this.#ids.push(undefined);
    // Leaves move to the new bottom row; every internal node is rebuilt by the next pick:
    // O(capacity), once per doubling.
    const nodes = SwrrPicker.#emptyNodes(cap);
    nodes.set(this.#nodes.subarray(old * RECORD, 2 * old * RECORD), cap * RECORD);
    const winner = new Int32Array(2 * cap).fill(NO_SLOT);
    winner.set(this.#winner.subarray(old, 2 * old), cap);
    this.#nodes = nodes;
    this.#winner = winner;
    this.#capacity = cap;
    this.#rebaseAt = this.#rebaseLimit();
  }

  static #emptyNodes(capacity: number): Float64Array {
    const nodes = new Float64Array(2 * capacity * RECORD);
    for (let node = 1; node < capacity; node++) nodes[node * RECORD + FAIL] = -Infinity;
    for (let node = capacity; node < 2 * capacity; node++) nodes[node * RECORD + FAIL] = Infinity;
    return nodes;
  }
}
