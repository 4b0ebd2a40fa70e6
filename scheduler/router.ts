/**
 * The one retry loop of a gateway (transports never retry): sends a call to a backend of its pool,
 * and again to another one when it cannot have been served:
 * - no answer at all (a TransportError: refused, reset, connect timeout). The node is taken out at
 *   once (its circuit breaker opens), so such a retry adds no load to a failing node; it goes out
 *   at once, bounded by the attempts, not by the retry budget, so a node that dies holding many
 *   requests loses none of them.
 * - 503 (queue full, draining, unloading): within the retry budget, since a pool answering 503
 *   everywhere is overloaded and retries would only add to it; after a backoff with full jitter
 *   (random in [0, min(max, base × 2^(n−1))]), so that refused requests do not come back in step.
 *   The node that answered is held off by the pool for its Retry-After, so no request of this
 *   gateway reaches it sooner. When the deadline leaves no time for the backoff, or no other node
 *   can take it, the 503 goes back as it came, Retry-After included.
 * A pool that can take no more (every node at its hard in-flight limit) refuses at once:
 * UNAVAILABLE `pool_saturated` with a Retry-After from the pool's expected delay.
 * Every other answer, success or error, is the answer and goes back unchanged. An aborted call
 * (client gone, deadline passed) stops at once with the abort's reason.
 */
import { ConfigError, InferError, TransportError, asInferError } from '../core/errors.js';
import type { InferCall, WireAnswer } from '../core/infer-call.js';
import type { Cancellation } from '../core/cancellation.js';
import type { BackendPool } from './pool.js';
import type { ReleaseOutcome } from './pool-outcome.js';
import type { PoolSet } from './pool-set.js';
import { DEFAULT_RETRY_BUDGET_RATIO, DEFAULT_MIN_CONCURRENT_RETRIES, RetryBudget } from './retry-budget.js';

/** One try plus two more on other nodes (--retry-max-attempts). */
export const DEFAULT_MAX_ATTEMPTS = 3;
/** Backoff before a 503 retry: full jitter over [0, min(max, base × 2^(n−1))] (--retry-backoff-base-ms, --retry-backoff-max-ms). */
export const DEFAULT_RETRY_BACKOFF_BASE_MS = 25;
export const DEFAULT_RETRY_BACKOFF_MAX_MS = 250;
const HTTP_UNAVAILABLE = 503;

export interface RouterOptions {
  maxAttempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Retries in progress ≤ max(minConcurrent, ratio × requests in progress) (retry-budget.ts). */
  budgetRatio: number;
  clock: () => number;
  /** In [0, 1): the jitter's source. */
  random: () => number;
}

export const DEFAULT_ROUTER_OPTIONS: RouterOptions = {
  maxAttempts: DEFAULT_MAX_ATTEMPTS,
  backoffBaseMs: DEFAULT_RETRY_BACKOFF_BASE_MS,
  backoffMaxMs: DEFAULT_RETRY_BACKOFF_MAX_MS,
  budgetRatio: DEFAULT_RETRY_BUDGET_RATIO,
  clock: Date.now,
  random: Math.random,
};

export interface RouteObserver {
  retry?(pool: BackendPool, reason: string): void;
}

/** Full-jitter backoff before the n-th 503 retry (n ≥ 1), in ms. */
export function jitteredBackoffMs(retry: number, baseMs: number, maxMs: number, random: () => number): number {
  return random() * Math.min(maxMs, baseMs * 2 ** (retry - 1));
}

export function checkRouterOptions(options: RouterOptions): void {
  if (!Number.isInteger(options.maxAttempts) || options.maxAttempts < 1) throw new ConfigError(`retry max attempts must be an integer ≥ 1, got ${options.maxAttempts}`);
  if (!(options.backoffBaseMs >= 0) || !(options.backoffMaxMs >= options.backoffBaseMs)) {
    throw new ConfigError(`retry backoff must satisfy 0 ≤ base (${options.backoffBaseMs}) ≤ max (${options.backoffMaxMs})`);
  }
  if (!(options.budgetRatio >= 0) || !Number.isFinite(options.budgetRatio)) throw new ConfigError(`retry budget ratio must be a number ≥ 0, got ${options.budgetRatio}`);
}

export class Router {
  readonly #budget: RetryBudget;
  readonly #options: RouterOptions;

  constructor(
    readonly pools: PoolSet,
    options: Partial<RouterOptions> = {},
    private readonly observer: RouteObserver = {},
  ) {
    this.#options = { ...DEFAULT_ROUTER_OPTIONS, ...options };
    checkRouterOptions(this.#options);
    this.#budget = new RetryBudget({ ratio: this.#options.budgetRatio, minConcurrent: DEFAULT_MIN_CONCURRENT_RETRIES });
  }

  /** Routes the call to a node of its (model, version) pool; NOT_FOUND when there is none. */
  async infer(call: InferCall): Promise<WireAnswer> {
    const pool = this.pools.resolve(call.model, call.version);
    const { clock, maxAttempts } = this.#options;
    this.#budget.requestStarted();
    let budgetTaken = false;
    let unavailableRetries = 0;
    let tried: Set<string> | undefined;
    let last: WireAnswer | InferError | undefined;
    try {
      for (let tries = 1; tries <= maxAttempts; tries++) {
        if (call.cancellation.reason) throw call.cancellation.reason;
        if (tries > 1 && clock() >= call.deadlineMs) break;
        const attempt = pool.attempt(clock(), tried);
        if (!attempt) {
          if (last) break;
          const retryAfterMs = pool.saturatedRetryAfterMs(clock());
          if (retryAfterMs === undefined) break;
          throw new InferError('UNAVAILABLE', `every backend of model '${pool.model}' version ${pool.version} is at its in-flight limit (--max-in-flight-per-node): try again later`, 'pool_saturated', { retryAfterMs });
        }
        const { member } = attempt;
        let answer: WireAnswer;
        try {
          answer = await member.spec.backend.infer(call, pool.version);
        } catch (err) {
          if (call.cancellation.reason) {
            attempt.end('cancelled', clock());
            throw call.cancellation.reason;
          }
          const error = asInferError(err);
          // end() ignores a member evicted while this attempt was in flight (see BackendPool.release).
          attempt.end(error instanceof TransportError ? 'transport_error' : 'server_error', clock());
          if (!(error instanceof TransportError)) throw error;
          last = error;
          (tried ??= new Set()).add(member.id);
          this.observer.retry?.(pool, error.reason);
          continue;
        }
        attempt.end(outcomeOf(answer.status), clock(), answer.retryAfterMs);
        if (answer.status !== HTTP_UNAVAILABLE) return answer;
        last = answer;
        if (tries >= maxAttempts) break;
        if (!budgetTaken) {
          if (!this.#budget.tryRetry()) break;
          budgetTaken = true;
        }
        unavailableRetries++;
        const backoffMs = jitteredBackoffMs(unavailableRetries, this.#options.backoffBaseMs, this.#options.backoffMaxMs, this.#options.random);
        // No time left to wait and try again: the client gets the node's 503 and its Retry-After.
        if (clock() + backoffMs >= call.deadlineMs) break;
        (tried ??= new Set()).add(member.id);
        this.observer.retry?.(pool, 'unavailable');
        if (backoffMs > 0) await sleep(backoffMs, call.cancellation);
      }
    } finally {
      this.#budget.requestFinished(budgetTaken);
    }
    if (last instanceof InferError) throw last;
    if (last) return last;
    throw new InferError('UNAVAILABLE', `no ready backend for model '${pool.model}' version ${pool.version}`, 'no_backend');
  }
}

/** Waits `ms`, or less when the call is called off (the loop then stops with its reason). */
function sleep(ms: number, cancellation: Cancellation): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    cancellation.onCancel(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * 5xx counts toward the node's circuit breaker, except 503 (the node answered that it is busy or
 * leaving: overloaded, held off for its Retry-After) and 504 (the request's own deadline passed,
 * which says more about the deadline than about the node).
 */
function outcomeOf(status: number): ReleaseOutcome {
  if (status < 400) return 'ok';
  if (status === 504) return 'cancelled';
  if (status === HTTP_UNAVAILABLE) return 'overloaded';
  return status >= 500 ? 'server_error' : 'client_error';
}
