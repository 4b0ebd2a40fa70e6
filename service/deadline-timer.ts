/**
 * Fires each request's deadline, with one timer for every request in flight: a setTimeout per
 * request, cleared again by nearly every request, showed in profiles of the request path. Pending
 * deadlines sit in a binary min-heap; the timer is armed for the earliest. A request that ends
 * first leaves the heap and the timer is left armed (it re-arms for the then earliest deadline when
 * it fires), so the common case touches no timer.
 */

/** One watched deadline; hand it back to `unwatch` when the work ended first. */
export interface DeadlineWatch {
  readonly deadlineMs: number;
  /** Position in the heap; -1 once it left (unwatched or expired). */
  index: number;
  readonly onExpire: () => void;
}

export class DeadlineTimer {
  readonly #heap: DeadlineWatch[] = [];
  #timer: NodeJS.Timeout | undefined;
  /** The deadline the timer is armed for. */
  #armedForMs = Infinity;

  /** Number of deadlines being watched. */
  get size(): number {
    return this.#heap.length;
  }

  /** Calls `onExpire` once Date.now() reaches `deadlineMs`, unless unwatched before. */
  watch(deadlineMs: number, onExpire: () => void): DeadlineWatch {
    const watch: DeadlineWatch = { deadlineMs, index: this.#heap.length, onExpire };
    this.#heap.push(watch);
    this.#siftUp(watch.index);
    if (watch.index === 0 && deadlineMs < this.#armedForMs) this.#arm(deadlineMs);
    return watch;
  }

  /** Stops watching (the work ended first); a no-op for a watch that already expired. */
  unwatch(watch: DeadlineWatch): void {
    const i = watch.index;
    if (i < 0) return;
    watch.index = -1;
    const last = this.#heap.pop()!;
    if (last !== watch) {
      this.#heap[i] = last;
      last.index = i;
      this.#siftDown(i);
      this.#siftUp(last.index);
    }
    // Nothing left to watch: no timer may keep the process alive.
    if (this.#heap.length === 0) this.#disarm();
  }

  #arm(deadlineMs: number): void {
    clearTimeout(this.#timer);
    this.#armedForMs = deadlineMs;
    this.#timer = setTimeout(this.#fire, Math.max(0, deadlineMs - Date.now()));
  }

  #disarm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedForMs = Infinity;
  }

  /** Expires every deadline reached (the one armed for counts as reached, as its own timer would). */
  readonly #fire = (): void => {
    const reachedMs = Math.max(Date.now(), this.#armedForMs);
    this.#timer = undefined;
    this.#armedForMs = Infinity;
    while (this.#heap.length > 0 && this.#heap[0].deadlineMs <= reachedMs) {
      const watch = this.#heap[0];
      this.unwatch(watch);
      watch.onExpire();
    }
    if (this.#heap.length > 0) this.#arm(this.#heap[0].deadlineMs);
  };

  #siftUp(i: number): void {
    const heap = this.#heap;
    const watch = heap[i];
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent].deadlineMs <= watch.deadlineMs) break;
      heap[i] = heap[parent];
      heap[i].index = i;
      i = parent;
    }
    heap[i] = watch;
    watch.index = i;
  }

  #siftDown(i: number): void {
    const heap = this.#heap;
    const n = heap.length;
    const watch = heap[i];
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && heap[right].deadlineMs < heap[left].deadlineMs ? right : left;
      if (heap[child].deadlineMs >= watch.deadlineMs) break;
      heap[i] = heap[child];
      heap[i].index = i;
      i = child;
    }
    heap[i] = watch;
    watch.index = i;
  }
}
