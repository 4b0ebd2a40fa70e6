/**
 * Caps retries so that a failing pool is not hit by a retry storm (Envoy's retry budget): retries
 * in progress ≤ max(minConcurrent, ratio × requests in progress). Sized on what is active now, not
 * on a rate, so a node that dies holding many slow requests still gets all of them retried as long
 * as it held less than `ratio` of the pool's work.
 */
export const DEFAULT_RETRY_BUDGET_RATIO = 0.5;
export const DEFAULT_MIN_CONCURRENT_RETRIES = 10;

export interface RetryBudgetOptions {
  ratio: number;
  minConcurrent: number;
}

export class RetryBudget {
  #activeRequests = 0;
  #activeRetries = 0;

  constructor(private readonly options: RetryBudgetOptions = {
    ratio: DEFAULT_RETRY_BUDGET_RATIO,
    minConcurrent: DEFAULT_MIN_CONCURRENT_RETRIES,
  }) {}

  get activeRequests(): number {
    return this.#activeRequests;
  }

  get activeRetries(): number {
    return this.#activeRetries;
  }

  requestStarted(): void {
    this.#activeRequests++;
  }

  /** Ends a request; `retried` when it took a retry from the budget. */
  requestFinished(retried: boolean): void {
    this.#activeRequests--;
    if (retried) this.#activeRetries--;
  }

  /** Takes one retry from the budget if there is one left; give it back with requestFinished(true). */
  tryRetry(): boolean {
    const allowed = Math.max(this.options.minConcurrent, this.options.ratio * this.#activeRequests);
    if (this.#activeRetries + 1 > allowed) return false;
    this.#activeRetries++;
    return true;
  }
}
