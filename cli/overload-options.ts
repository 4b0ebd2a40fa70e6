/**
 * The gateway's overload flags: the hard per-node in-flight limit, the circuit breaker and the one
 * retry loop (README "Overload, circuit breaking and retries"). Parsed and checked here once, so
 * cli/gateway.ts only hands the results to the pool set and the router.
 */
import { DEFAULT_BASE_OPEN_MS, DEFAULT_FAILURES_TO_OPEN, DEFAULT_MAX_OPEN_MS, checkBreakerOptions } from '../scheduler/circuit-breaker.js';
import { DEFAULT_HARD_LIMIT_CAP_MULTIPLE, type PoolOptions } from '../scheduler/pool.js';
import { DEFAULT_RETRY_BUDGET_RATIO } from '../scheduler/retry-budget.js';
import {
  DEFAULT_MAX_ATTEMPTS, DEFAULT_RETRY_BACKOFF_BASE_MS, DEFAULT_RETRY_BACKOFF_MAX_MS, DEFAULT_ROUTER_OPTIONS, checkRouterOptions, type RouterOptions,
} from '../scheduler/router.js';
import { intOption, type OptionSpec, type ParsedOptions } from './options.js';

export const GATEWAY_OVERLOAD_OPTIONS: Record<string, OptionSpec> = {
  'max-in-flight-per-node': { type: 'string', default: 'auto', help: `hard limit of requests in flight from this gateway to one node; with every node at it a request is refused at once with 503 + Retry-After (pool_saturated). auto = ${DEFAULT_HARD_LIMIT_CAP_MULTIPLE} × the node's in-flight cap from its slots and --queue-budget (none for a node that reports no slots)` },
  'retry-max-attempts': { type: 'string', default: String(DEFAULT_MAX_ATTEMPTS), help: 'most nodes one request is sent to (the first try included)' },
  'retry-backoff-base-ms': { type: 'string', default: String(DEFAULT_RETRY_BACKOFF_BASE_MS), help: 'backoff before retrying a 503 elsewhere: random in [0, min(max, base × 2^(n−1))] (full jitter)' },
  'retry-backoff-max-ms': { type: 'string', default: String(DEFAULT_RETRY_BACKOFF_MAX_MS), help: 'longest backoff before a 503 retry' },
  'retry-budget-ratio': { type: 'string', default: String(DEFAULT_RETRY_BUDGET_RATIO), help: '503 retries in progress ≤ max(10, this × requests in progress); transport-error retries are not budgeted' },
  'breaker-failures': { type: 'string', default: String(DEFAULT_FAILURES_TO_OPEN), help: 'consecutive failures (no answer, or 5xx other than 503/504) that open a node\'s circuit breaker' },
  'breaker-base-open-ms': { type: 'string', default: String(DEFAULT_BASE_OPEN_MS), help: 'first open time of a breaker; it doubles on each reopening, then one probe request goes through (half-open)' },
  'breaker-max-open-ms': { type: 'string', default: String(DEFAULT_MAX_OPEN_MS), help: 'longest open time of a breaker' },
};

export interface OverloadSettings {
  pool: Pick<PoolOptions, 'consecutiveFailuresToEject' | 'baseEjectionMs' | 'maxEjectionMs' | 'maxInFlightPerNode'>;
  router: Omit<RouterOptions, 'clock' | 'random'>;
}

/** The flags above as pool and router options; throws a clear message on a bad value. */
export function overloadSettingsFrom(values: ParsedOptions): OverloadSettings {
  const hard = String(values['max-in-flight-per-node'] ?? 'auto');
  const pool: OverloadSettings['pool'] = {
    consecutiveFailuresToEject: intOption(values, 'breaker-failures', 1),
    baseEjectionMs: intOption(values, 'breaker-base-open-ms', 1),
    maxEjectionMs: intOption(values, 'breaker-max-open-ms', 1),
    ...(hard === 'auto' ? {} : { maxInFlightPerNode: intOption(values, 'max-in-flight-per-node', 1) }),
  };
  const ratio = Number(values['retry-budget-ratio']);
  const router = {
    maxAttempts: intOption(values, 'retry-max-attempts', 1),
    backoffBaseMs: intOption(values, 'retry-backoff-base-ms'),
    backoffMaxMs: intOption(values, 'retry-backoff-max-ms'),
    budgetRatio: ratio,
  };
  try {
    checkBreakerOptions({ failuresToOpen: pool.consecutiveFailuresToEject, baseOpenMs: pool.baseEjectionMs, maxOpenMs: pool.maxEjectionMs });
    checkRouterOptions({ ...DEFAULT_ROUTER_OPTIONS, ...router });
  } catch (err) {
    throw new Error(`gateway overload flags: ${(err as Error).message}`);
  }
  return { pool, router };
}
