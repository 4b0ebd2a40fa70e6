/**
 * The members a pick policy may choose from now, as a dense array: O(1) add, delete and uniform
 * random element (the pool flips eligibility on every call that reaches or leaves an in-flight cap,
 * so these must not cost O(n)). A delete moves the last element into the hole, so the order is
 * arbitrary: policies that need a stable order (round robin) keep their own.
 */
export class EligibleSet<T> {
  readonly #items: T[] = [];
  readonly #indexOf = new Map<T, number>();

  get size(): number {
    return this.#items.length;
  }

  has(item: T): boolean {
    return this.#indexOf.has(item);
  }

  /** Adds the item; false when it was already in. */
  add(item: T): boolean {
    if (this.#indexOf.has(item)) return false;
    this.#indexOf.set(item, this.#items.length);
    this.#items.push(item);
    return true;
  }

  /** Removes the item; false when it was not in. */
  delete(item: T): boolean {
    const at = this.#indexOf.get(item);
    if (at === undefined) return false;
    const last = this.#items.pop()!;
    if (last !== item) {
      this.#items[at] = last;
      this.#indexOf.set(last, at);
    }
    this.#indexOf.delete(item);
    return true;
  }

  /** The item at a position in [0, size): for scans from a chosen start. */
  at(index: number): T {
    return this.#items[index];
  }

  /** A uniformly random item, or undefined when empty. */
  random(random: () => number): T | undefined {
    const n = this.#items.length;
    return n === 0 ? undefined : this.#items[randomIndex(random, n)];
  }

  /**
   * Writes `count` distinct uniformly random items into `out` (from index 0) and returns how many
   * it wrote: min(count, size). Draws one random number per item; no allocation.
   */
  sample(count: number, random: () => number, out: T[]): number {
    const n = this.#items.length;
    const k = Math.min(count, n);
    // Floyd's algorithm, positions j = n−k … n−1: take a random position in [0, j]; if already
    // taken, take j itself (which no earlier step could have taken). Every k-subset is equally
    // likely, and with k ≤ a few the "already taken" check is a short scan of `out`.
    for (let i = 0, j = n - k; i < k; i++, j++) {
      let item = this.#items[randomIndex(random, j + 1)];
      for (let seen = 0; seen < i; seen++) {
        if (out[seen] === item) {
          item = this.#items[j];
          break;
        }
      }
      out[i] = item;
    }
    return k;
  }
}

/** An index in [0, n) from a uniform number in [0, 1), clamped against a source that returns 1. */
export function randomIndex(random: () => number, n: number): number {
  const i = Math.floor(random() * n);
  return i < n ? (i >= 0 ? i : 0) : n - 1;
}

/**
 * Two distinct uniformly random indexes in [0, n), n ≥ 2, in draw order: the second is drawn from
 * the n − 1 others. Which came first is itself a fair coin, so a policy may give ties to the first.
 */
export function twoDistinctIndexes(random: () => number, n: number): [number, number] {
  const i = randomIndex(random, n);
  let j = randomIndex(random, n - 1);
  if (j >= i) j++;
  return [i, j];
}
