/**
 * One node's circuit breaker, as one gateway sees it. Closed: traffic flows, and consecutive
 * failures (no answer, or a 5xx other than 503/504) are counted. Open: the node gets nothing for an
 * open time that doubles with each opening (base × 2^(openings − 1), capped). Half-open, once that
 * time has passed: exactly one request, the probe, goes through; its success closes the breaker,
 * its failure opens it again for longer; an outcome that says nothing about the node (cancelled,
 * 503, 504) frees the probe slot for the next request.
 *
 * Only traffic moves it. A heartbeat saying the node is fine does not close an open breaker: a
 * node can report itself ready while its answers fail (a broken model, a card in a bad state), and
 * only an answer shows otherwise. Pure and clock-driven: every method takes the time it acts at.
 */
import { ConfigError } from '../core/errors.js';

export const DEFAULT_FAILURES_TO_OPEN = 5;
export const DEFAULT_BASE_OPEN_MS = 1_000;
export const DEFAULT_MAX_OPEN_MS = 30_000;

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface CircuitBreakerOptions {
  /** Consecutive failures that open a closed breaker. */
  failuresToOpen: number;
  /** Open time of the first opening; each further one doubles it. */
  baseOpenMs: number;
  /** Longest open time; also how long a breaker must stay closed before its openings are forgotten. */
  maxOpenMs: number;
}

export const DEFAULT_BREAKER_OPTIONS: CircuitBreakerOptions = {
  failuresToOpen: DEFAULT_FAILURES_TO_OPEN,
  baseOpenMs: DEFAULT_BASE_OPEN_MS,
  maxOpenMs: DEFAULT_MAX_OPEN_MS,
};

export function checkBreakerOptions(options: CircuitBreakerOptions): void {
  if (!Number.isInteger(options.failuresToOpen) || options.failuresToOpen < 1) {
    throw new ConfigError(`breaker failures to open must be an integer ≥ 1, got ${options.failuresToOpen}`);
  }
  if (!(options.baseOpenMs > 0) || !(options.maxOpenMs >= options.baseOpenMs)) {
    throw new ConfigError(`breaker open times must satisfy 0 < base (${options.baseOpenMs}) ≤ max (${options.maxOpenMs})`);
  }
}

export class CircuitBreaker {
  #open = false;
  #openUntilMs = -Infinity;
  #openings = 0;
  #closedAtMs = -Infinity;
  #consecutiveFailures = 0;
  #probeInFlight = false;

  constructor(private readonly options: CircuitBreakerOptions = DEFAULT_BREAKER_OPTIONS) {}

  state(nowMs: number): BreakerState {
    if (!this.#open) return 'closed';
    return nowMs < this.#openUntilMs ? 'open' : 'half_open';
  }

  /** When the current (or last) open time ends; -Infinity if it never opened. */
  get openUntilMs(): number {
    return this.#openUntilMs;
  }

  /** Openings since it was last closed for maxOpenMs (what sets the next open time). */
  get openings(): number {
    return this.#openings;
  }

  get consecutiveFailures(): number {
    return this.#consecutiveFailures;
  }

  get probeInFlight(): boolean {
    return this.#probeInFlight;
  }

  /** Whether a request may be sent now: closed, or half-open with no probe out. */
  allows(nowMs: number): boolean {
    const state = this.state(nowMs);
    return state === 'closed' || (state === 'half_open' && !this.#probeInFlight);
  }

  /** A request is being sent; returns true when it is the half-open probe (its outcome decides). */
  sent(nowMs: number): boolean {
    if (this.state(nowMs) !== 'half_open' || this.#probeInFlight) return false;
    this.#probeInFlight = true;
    return true;
  }

  /** The node answered (any status that is not its failure). */
  succeeded(nowMs: number, probe: boolean): void {
    this.#consecutiveFailures = 0;
    if (!probe || !this.#open) return;
    this.#open = false;
    this.#probeInFlight = false;
    this.#closedAtMs = nowMs;
  }

  /**
   * The node failed a request. Returns true when the breaker should open now: the probe failed, or
   * a closed breaker reached failuresToOpen. The caller opens it (trip) or, where it may not take
   * the node out (the pool's panic threshold), calls forgive().
   */
  failed(probe: boolean): boolean {
    if (probe) return true;
    if (this.#open) return false; // answers of requests sent before it opened
    this.#consecutiveFailures++;
    return this.#consecutiveFailures >= this.options.failuresToOpen;
  }

  /** The request ended without saying anything about the node: a probe's slot is free again. */
  neutral(probe: boolean): void {
    if (probe) this.#probeInFlight = false;
  }

  /** Opens (or re-opens, from half-open) for the next open time; false when already open. */
  trip(nowMs: number): boolean {
    if (this.state(nowMs) === 'open') return false;
    if (!this.#open && nowMs - this.#closedAtMs >= this.options.maxOpenMs) this.#openings = 0;
    this.#openings++;
    this.#open = true;
    this.#probeInFlight = false;
    this.#consecutiveFailures = 0;
    this.#openUntilMs = nowMs + Math.min(this.options.baseOpenMs * 2 ** (this.#openings - 1), this.options.maxOpenMs);
    return true;
  }

  /** The failures that asked to open it are dropped (the pool could not take the node out). */
  forgive(): void {
    this.#consecutiveFailures = 0;
  }
}
