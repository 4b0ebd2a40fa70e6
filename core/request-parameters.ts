/**
 * Triton's request parameters that say how a request is served rather than what it computes, in
 * the JSON request's `parameters` and the gRPC request's parameters map alike:
 * - `timeout`: microseconds the request may take on the node that runs it, counted from when it
 *   reached that node; 0 means none (Triton's default). It caps the request's deadline
 *   (--request-timeout-ms, the infergate-timeout-ms header) and never extends it; past it the
 *   request fails with 504 at once, queued or running, as at its deadline. A gateway does not
 *   decode requests: the node applies it and the gateway forwards the node's 504.
 * - `priority`: the request's priority level, 1 served first, 0 the model's default level; honoured
 *   where the model declares dynamic_batching.priority_levels (a level beyond them is 400 there),
 *   ignored elsewhere, as Triton does for a model without priority levels.
 * Both must be non-negative integers (400 naming the parameter otherwise). They stay in the
 * request's parameters, so a gateway that re-encodes a request passes them on.
 */
import { InferError } from './errors.js';
import { describeJsonValue, failRequest } from './infer-json.js';
import type { Parameters } from './tensor.js';

export const TIMEOUT_PARAMETER = 'timeout';
export const PRIORITY_PARAMETER = 'priority';

/** Throws INVALID_ARG, naming the parameter, when `timeout` or `priority` is not a non-negative integer. */
export function checkServingParameters(params: Parameters | undefined): void {
  if (params === undefined) return;
  checkNonNegativeInteger(params, TIMEOUT_PARAMETER, ' (microseconds)');
  checkNonNegativeInteger(params, PRIORITY_PARAMETER, '');
}

function checkNonNegativeInteger(params: Parameters, key: string, unit: string): void {
  if (!(key in params)) return;
  const value = params[key];
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return;
  throw failRequest(`request: parameter '${key}' must be a non-negative integer${unit}, got ${describeJsonValue(value)}`, 'bad_parameter');
}

/** The request's `timeout` in microseconds, as checked by checkServingParameters; undefined when it sets none (absent or 0). */
export function timeoutParameterUs(params: Parameters | undefined): number | undefined {
  const value = params?.[TIMEOUT_PARAMETER];
  return typeof value === 'number' && value > 0 ? value : undefined;
}

/** The answer to a request whose `timeout` parameter passed before it finished. */
export function timeoutParameterPassed(timeoutUs: number): InferError {
  return new InferError('DEADLINE_EXCEEDED', `request did not finish within its timeout parameter (${timeoutUs} µs)`, 'timeout');
}
