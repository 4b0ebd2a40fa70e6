/**
 * Sends one call to a backend of its pool, and again to another one when it cannot have been
 * served:
 * - no answer at all (a TransportError: refused, reset, connect timeout). The node is ejected at
 *   once, so such a retry adds no load to a failing node; it is bounded by the attempts, not by
 *   the retry budget, so a node that dies holding many requests loses none of them.
 * - 503 (draining, queue full, unloading): once, within the retry budget, since a pool answering
 *   503 everywhere is overloaded and retries would only add to it.
 * Every other answer, success or error, is the answer and goes back unchanged. An aborted call
 * (client gone, deadline passed) stops at once with the abort's reason.
 */
import { InferError, TransportError, asInferError } from '../core/errors.js';
import type { InferCall, WireAnswer } from '../core/infer-call.js';
import type { BackendPool } from './pool.js';
import type { ReleaseOutcome } from './pool-outcome.js';
import type { PoolSet } from './pool-set.js';
import { RetryBudget } from './retry-budget.js';

/** One try plus two more on other nodes when nodes gave no answer. */
export const DEFAULT_MAX_ATTEMPTS = 3;
const HTTP_UNAVAILABLE = 503;

export interface RouterOptions {
  maxAttempts: number;
  clock: () => number;
}

export interface RouteObserver {
  retry?(pool: BackendPool, reason: string): void;
}

export class Router {
  readonly #budget = new RetryBudget();
  readonly #options: RouterOptions;

  constructor(
    readonly pools: PoolSet,
    options: Partial<RouterOptions> = {},
    private readonly observer: RouteObserver = {},
  ) {
    this.#options = { maxAttempts: DEFAULT_MAX_ATTEMPTS, clock: Date.now, ...options };
  }

  /** Routes the call to a node of its (model, version) pool; NOT_FOUND when there is none. */
  async infer(call: InferCall): Promise<WireAnswer> {
    const pool = this.pools.resolve(call.model, call.version);
    const clock = this.#options.clock;
    this.#budget.requestStarted();
    let budgetTaken = false;
    let tried: Set<string> | undefined;
    let last: WireAnswer | InferError | undefined;
    try {
      for (let tries = 1; tries <= this.#options.maxAttempts; tries++) {
        if (call.cancellation.reason) throw call.cancellation.reason;
        if (tries > 1 && clock() >= call.deadlineMs) break;
        const attempt = pool.attempt(clock(), tried);
        if (!attempt) break;
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
        attempt.end(outcomeOf(answer.status), clock());
        if (answer.status !== HTTP_UNAVAILABLE) return answer;
        last = answer;
        if (budgetTaken || !this.#budget.tryRetry()) break;
        budgetTaken = true;
        (tried ??= new Set()).add(member.id);
        this.observer.retry?.(pool, 'unavailable');
      }
    } finally {
      this.#budget.requestFinished(budgetTaken);
    }
    if (last instanceof InferError) throw last;
    if (last) return last;
    throw new InferError('UNAVAILABLE', `no ready backend for model '${pool.model}' version ${pool.version}`, 'no_backend');
  }
}

/**
 * 5xx counts toward outlier ejection, except 504: a node answers it when the request's own
 * deadline passed, which says more about the deadline than about the node.
 */
function outcomeOf(status: number): ReleaseOutcome {
  if (status < 400) return 'ok';
  if (status === 504) return 'cancelled';
  return status >= 500 ? 'server_error' : 'client_error';
}
