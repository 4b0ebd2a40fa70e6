/**
 * Smooth weighted round-robin (nginx's algorithm) in O(log n) amortized per pick.
 *
 * nginx, per pick: every eligible member does `current += weight`, the largest `current` wins (ties:
 * the member added first), and the winner does `current -= Σ weight`. Done literally that is a scan
 * of every member, about 1.4 ms per pick at a million members, all of it on the event loop.
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
import { InferError } from '../core/errors.js';

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
    throw new InferError('INVALID_ARG', `SWRR random() returned ${u}, expected a number in [0, 1)`);
  }
  const steps = Math.floor(u * weight * SWRR_PHASE_STEPS_PER_UNIT);
  return steps === 0 ? 0 : -steps / SWRR_PHASE_STEPS_PER_UNIT;
}

export function assertSwrrWeight(id: string, weight: number): void {
  if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0) {
    throw new InferError('INVALID_ARG', `SWRR member '${id}': weight must be a finite number ≥ 0, got ${weight}`);
  }
}

export function unknownSwrrMember(id: string): InferError {
  return new InferError('NOT_FOUND', `SWRR member '${id}' is not in the picker`);
}

export function duplicateSwrrMember(id: string): InferError {
  return new InferError('ALREADY_EXISTS', `SWRR member '${id}' is already in the picker`);
}

const INITIAL_CAPACITY = 8;
/**
 * Bound on `weight · p` between re-bases. Values carry at most 8 fraction bits (the phase step),
 * so 53 − 8 = 45 integer bits are exact; one bit is kept for the sum with the offset.
 */
const MAX_EXACT_PRODUCT = 2 ** 44;
const NO_SLOT = -1;

export class SwrrPicker {
  readonly #random: (() => number) | undefined;

  // Per slot. A slot is "active" when its member is eligible with weight > 0: only active slots are
  // leaves of the tournament; the others sit out with their `current` frozen in #frozen.
  #capacity = INITIAL_CAPACITY;
  #ids: (string | undefined)[] = new Array(INITIAL_CAPACITY).fill(undefined);
  #weight = new Float64Array(INITIAL_CAPACITY);
  /** Active slot: current after p picks = weight·p + offset. */
  #offset = new Float64Array(INITIAL_CAPACITY);
  /** Inactive slot: its current, unchanged while it sits out. */
  #frozen = new Float64Array(INITIAL_CAPACITY);
  /** Insertion number: the tie-break (earliest wins), as the scan's order. */
  #seq = new Float64Array(INITIAL_CAPACITY);
  #eligible = new Uint8Array(INITIAL_CAPACITY);
  #active = new Uint8Array(INITIAL_CAPACITY);

  // Tournament over slots, heap layout: node 1 is the root, node k has children 2k and 2k+1,
  // slot s is leaf #capacity + s. #winner covers all nodes, #fail only internal ones (1..capacity-1).
  #winner = new Int32Array(2 * INITIAL_CAPACITY).fill(NO_SLOT);
  /**
   * Pick number from which the node's winner may be stale: a loser overtakes it, or a child's
   * certificate fails. −Infinity marks a node on the path of a changed leaf.
   */
  #fail = new Float64Array(INITIAL_CAPACITY).fill(-Infinity);
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

  add(id: string, weight: number): void {
    if (this.#slotOf.has(id)) throw duplicateSwrrMember(id);
    assertSwrrWeight(id, weight);
    const current = swrrStartCurrent(weight, this.#random);
    if (this.#freeSlots.length === 0 && this.#slotOf.size === this.#capacity) this.#grow();
    const slot = this.#freeSlots.length > 0 ? this.#freeSlots.pop()! : this.#slotOf.size;
    this.#slotOf.set(id, slot);
    this.#ids[slot] = id;
    this.#weight[slot] = weight;
    this.#seq[slot] = this.#nextSeq++;
    this.#eligible[slot] = 1;
    this.#active[slot] = 0;
    this.#frozen[slot] = current;
    this.#noteWeight(weight);
    if (weight > 0) this.#activate(slot);
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
        const current = old * this.#p + this.#offset[slot];
        this.#offset[slot] = current - weight * this.#p;
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
    if (this.#fail[1] <= t) this.#refresh(t);
    const slot = this.#winner[1];
    this.#offset[slot] -= this.#totalWeight;
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

  #currentOf(slot: number): number {
    return this.#active[slot] === 1 ? this.#weight[slot] * this.#p + this.#offset[slot] : this.#frozen[slot];
  }

  #activate(slot: number): void {
    const w = this.#weight[slot];
    this.#offset[slot] = this.#frozen[slot] - w * this.#p;
    this.#active[slot] = 1;
    this.#activeCount++;
    this.#totalWeight += w;
    this.#winner[this.#capacity + slot] = slot;
    this.#invalidatePath(slot);
  }

  #deactivate(slot: number): void {
    this.#frozen[slot] = this.#weight[slot] * this.#p + this.#offset[slot];
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
    const fail = this.#fail;
    for (let node = (this.#capacity + slot) >> 1; node >= 1 && fail[node] !== -Infinity; node >>= 1) {
      fail[node] = -Infinity;
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
    const fail = this.#fail;
    const winnerOf = this.#winner;
    const weight = this.#weight;
    const offset = this.#offset;
    const seq = this.#seq;
    let stale = this.#stale;
    if (stale.length < capacity) stale = this.#stale = new Int32Array(capacity);

    // Collect: `stale` doubles as the DFS stack (entries below `scan` are final, above are pending).
    let count = 0;
    stale[count++] = 1;
    for (let scan = 0; scan < count; scan++) {
      const left = stale[scan] << 1;
      if (left >= capacity) continue;
      if (fail[left] <= t) stale[count++] = left;
      if (fail[left + 1] <= t) stale[count++] = left + 1;
    }

    for (let i = count - 1; i >= 0; i--) {
      const node = stale[i];
      const left = node << 1;
      const a = winnerOf[left];
      const b = winnerOf[left + 1];
      let nodeFail = Infinity;
      if (left < capacity) {
        const fl = fail[left];
        const fr = fail[left + 1];
        nodeFail = fl < fr ? fl : fr;
      }
      if (a === NO_SLOT) {
        winnerOf[node] = b;
      } else if (b === NO_SLOT) {
        winnerOf[node] = a;
      } else {
        const wa = weight[a];
        const wb = weight[b];
        const va = wa * t + offset[a];
        const vb = wb * t + offset[b];
        // Larger current wins; equal currents go to the member added first.
        const aWins = va > vb || (va === vb && seq[a] < seq[b]);
        const win = aWins ? a : b;
        const lose = aWins ? b : a;
        winnerOf[node] = win;
        const dw = weight[lose] - weight[win];
        // A loser with a slope no steeper never catches up (equal slopes keep the tie as it is).
        if (dw > 0) {
          // It wins at x once dw·x > db (or = db, if added first). For exact inputs floor(db/dw)
          // is the true quotient's floor or ceiling, so the answer is x or x + 1.
          const db = offset[win] - offset[lose];
          let x = Math.floor(db / dw);
          if (x <= t) x = t + 1;
          const vl = weight[lose] * x + offset[lose];
          const vw = weight[win] * x + offset[win];
          if (!(vl > vw || (vl === vw && seq[lose] < seq[win]))) x += 1;
          if (x < nodeFail) nodeFail = x;
        }
      }
      fail[node] = nodeFail;
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
   * Moves the time origin to now: offsets become currents, certificate times shift by −p, winners
   * are unchanged. Also re-sums Σ weight, dropping any drift of incremental float sums.
   */
  #rebase(): void {
    const p = this.#p;
    let total = 0;
    let maxWeight = 0;
    for (let slot = 0; slot < this.#capacity; slot++) {
      if (this.#ids[slot] === undefined) continue;
      const w = this.#weight[slot];
      if (w > maxWeight) maxWeight = w;
      if (this.#active[slot] === 1) {
        this.#offset[slot] += w * p;
        total += w;
      }
    }
    const fail = this.#fail;
    for (let node = 1; node < this.#capacity; node++) fail[node] -= p;
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
    this.#offset = grown(this.#offset, (n) => new Float64Array(n));
    this.#frozen = grown(this.#frozen, (n) => new Float64Array(n));
    this.#seq = grown(this.#seq, (n) => new Float64Array(n));
    this.#eligible = grown(this.#eligible, (n) => new Uint8Array(n));
    this.#active = grown(this.#active, (n) => new Uint8Array(n));
    for (let slot = old; slot < cap; slot++) this.#ids.push(undefined);
    const winner = new Int32Array(2 * cap).fill(NO_SLOT);
    for (let slot = 0; slot < old; slot++) if (this.#active[slot] === 1) winner[cap + slot] = slot;
    this.#winner = winner;
    // Every internal node is rebuilt by the next pick: O(capacity), once per doubling.
    this.#fail = new Float64Array(cap).fill(-Infinity);
    this.#capacity = cap;
    this.#rebaseAt = this.#rebaseLimit();
  }
}
