/**
 * Caps retries to a share of recent requests so that a failing pool is not hit by a retry storm
 * (Envoy's retry budget): within the window, retries ≤ max(minRetries, ratio × requests).
 */
export const DEFAULT_RETRY_BUDGET_RATIO = 0.2;
export const DEFAULT_MIN_RETRIES_PER_WINDOW = 10;
export const DEFAULT_RETRY_BUDGET_WINDOW_MS = 1_000;

export interface RetryBudgetOptions {
  ratio: number;
  minRetries: number;
  windowMs: number;
}

export class RetryBudget {
  #windowStart = 0;
  #requests = 0;
  #retries = 0;
  #previousRequests = 0;
  #previousRetries = 0;

  constructor(private readonly options: RetryBudgetOptions = {
    ratio: DEFAULT_RETRY_BUDGET_RATIO,
    minRetries: DEFAULT_MIN_RETRIES_PER_WINDOW,
    windowMs: DEFAULT_RETRY_BUDGET_WINDOW_MS,
  }) {}

  recordRequest(nowMs: number): void {
    this.#roll(nowMs);
    this.#requests++;
  }

  /** Takes one retry from the budget if there is one left. */
  tryRetry(nowMs: number): boolean {
    this.#roll(nowMs);
    // Two-bucket sliding window: the previous window counts in proportion to its overlap.
    const overlap = 1 - (nowMs - this.#windowStart) / this.options.windowMs;
    const requests = this.#requests + this.#previousRequests * overlap;
    const retries = this.#retries + this.#previousRetries * overlap;
    if (retries + 1 > Math.max(this.options.minRetries, this.options.ratio * requests)) return false;
    this.#retries++;
    return true;
  }

  #roll(nowMs: number): void {
    const elapsed = nowMs - this.#windowStart;
    if (elapsed < this.options.windowMs) return;
    const oneWindow = elapsed < 2 * this.options.windowMs;
    this.#previousRequests = oneWindow ? this.#requests : 0;
    this.#previousRetries = oneWindow ? this.#retries : 0;
    this.#requests = 0;
    this.#retries = 0;
    this.#windowStart = oneWindow ? this.#windowStart + this.options.windowMs : nowMs;
  }
}
