/**
 * A token bucket, kept pure: the caller passes the clock value, so a test states exactly when a
 * request is taken and when the next one may come, with no timers.
 */

export interface RateLimit {
  /** Tokens added per second: the sustained request rate. */
  requestsPerSecond: number;
  /** Most tokens the bucket holds: how many requests may come at once after a quiet spell. */
  burst: number;
}

export interface TokenBucketState {
  tokens: number;
  /** When `tokens` was last brought up to date (ms). */
  atMs: number;
}

/** A full bucket at `nowMs`. */
export function fullBucket(limit: RateLimit, nowMs: number): TokenBucketState {
  return { tokens: limit.burst, atMs: nowMs };
}

/**
 * Takes one token if there is one. Returns 0 when taken, else the ms until a whole token is back
 * (what Retry-After tells the client). Mutates `state`.
 */
export function takeToken(state: TokenBucketState, limit: RateLimit, nowMs: number): number {
  // A clock that steps back (tests, a system clock change) refills nothing rather than draining.
  const elapsedMs = Math.max(0, nowMs - state.atMs);
  state.tokens = Math.min(limit.burst, state.tokens + (elapsedMs * limit.requestsPerSecond) / 1000);
  state.atMs = nowMs;
  if (state.tokens >= 1) {
    state.tokens -= 1;
    return 0;
  }
  // The epsilon keeps float residue (0.998 tokens read as 0.99800000001) from adding a whole ms.
  return Math.max(1, Math.ceil(((1 - state.tokens) * 1000) / limit.requestsPerSecond - 1e-6));
}
