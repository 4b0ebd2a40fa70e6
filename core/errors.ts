/**
 * One error type for the whole server. Both front doors map its code through the two pure
 * functions below and nowhere else, so HTTP and gRPC always agree on what a failure means.
 */
export type ErrorCode =
  | 'INVALID_ARG'
  | 'NOT_FOUND'
  | 'UNAVAILABLE'
  | 'UNSUPPORTED'
  | 'INTERNAL'
  | 'ALREADY_EXISTS'
  | 'CANCELLED'
  | 'UNKNOWN'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'DEADLINE_EXCEEDED'
  | 'RESOURCE_EXHAUSTED'
  | 'UNAUTHENTICATED'
  | 'PERMISSION_DENIED';

/**
 * An operator's mistake in configuration (a flag, a card table, a policy option), found at boot or
 * when something is built from it. Not an InferError: it never reaches a client as the answer to
 * its own request.
 */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface InferErrorOptions {
  /**
   * For an overload answer (503 queue full or pool saturated, 429 over a key's limit): when the
   * client may try again, sent as `Retry-After` (whole seconds, at least 1) on HTTP and as
   * `retry-after` plus gRPC's `grpc-retry-pushback-ms` trailers on gRPC.
   */
  retryAfterMs?: number;
}

export class InferError extends Error {
  readonly code: ErrorCode;
  /** Machine-readable reason used as the `reason` label of failure metrics. */
  readonly reason: string;
  readonly retryAfterMs?: number;

  constructor(code: ErrorCode, message: string, reason?: string, options: InferErrorOptions = {}) {
    super(message);
    this.name = 'InferError';
    this.code = code;
    this.reason = reason ?? code.toLowerCase();
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }
}

/** Retry-After's value in whole seconds (HTTP allows no fraction): at least 1, rounded up. */
export function retryAfterSeconds(retryAfterMs: number): number {
  return Math.max(1, Math.ceil(retryAfterMs / 1000));
}

/** Retry-After as received (delta-seconds or an HTTP date), in ms from `nowMs`; undefined if absent or unreadable. */
export function parseRetryAfter(value: string | undefined, nowMs = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d{1,9}$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

const HTTP_STATUS: Record<ErrorCode, number> = {
  INVALID_ARG: 400,
  UNKNOWN: 400,
  ALREADY_EXISTS: 400,
  CANCELLED: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RESOURCE_EXHAUSTED: 429,
  INTERNAL: 500,
  UNSUPPORTED: 501,
  UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 504,
};

/** gRPC status codes (numeric values from grpc's status.proto). */
const GRPC_STATUS: Record<ErrorCode, number> = {
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARG: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  PAYLOAD_TOO_LARGE: 8,
  // An HTTP body's Content-Type: a gRPC message has none to get wrong.
  UNSUPPORTED_MEDIA_TYPE: 3,
  UNSUPPORTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
};

export function toHttpStatus(code: ErrorCode): number {
  return HTTP_STATUS[code];
}

export function toGrpcStatus(code: ErrorCode): number {
  return GRPC_STATUS[code];
}

/** Inverse of toHttpStatus for errors received from a remote KServe v2 server. */
export function fromHttpStatus(status: number): ErrorCode {
  switch (status) {
    case 400: return 'INVALID_ARG';
    case 401: return 'UNAUTHENTICATED';
    case 403: return 'PERMISSION_DENIED';
    case 404: return 'NOT_FOUND';
    case 413: return 'PAYLOAD_TOO_LARGE';
    case 415: return 'UNSUPPORTED_MEDIA_TYPE';
    case 429: return 'RESOURCE_EXHAUSTED';
    case 501: return 'UNSUPPORTED';
    case 503: return 'UNAVAILABLE';
    case 504: return 'DEADLINE_EXCEEDED';
    default: return status >= 500 ? 'INTERNAL' : 'INVALID_ARG';
  }
}

/** Inverse of toGrpcStatus for a status received from a remote gRPC server (RESOURCE_EXHAUSTED: 429). */
export function fromGrpcStatus(code: number): ErrorCode {
  switch (code) {
    case 1: return 'CANCELLED';
    case 2: return 'UNKNOWN';
    case 3: return 'INVALID_ARG';
    case 4: return 'DEADLINE_EXCEEDED';
    case 5: return 'NOT_FOUND';
    case 6: return 'ALREADY_EXISTS';
    case 7: return 'PERMISSION_DENIED';
    case 8: return 'RESOURCE_EXHAUSTED';
    case 9: return 'INVALID_ARG'; // FAILED_PRECONDITION
    case 11: return 'INVALID_ARG'; // OUT_OF_RANGE
    case 12: return 'UNSUPPORTED';
    case 14: return 'UNAVAILABLE';
    case 16: return 'UNAUTHENTICATED';
    default: return 'INTERNAL';
  }
}

/** Wraps anything thrown into an InferError without losing an existing code. */
export function asInferError(err: unknown): InferError {
  if (err instanceof InferError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new InferError('INTERNAL', message, 'internal');
}

export const invalidArg = (message: string, reason = 'invalid_arg') => new InferError('INVALID_ARG', message, reason);
export const notFound = (message: string, reason = 'not_found') => new InferError('NOT_FOUND', message, reason);
export const unavailable = (message: string, reason = 'unavailable') => new InferError('UNAVAILABLE', message, reason);
export const unsupported = (message: string, reason = 'unsupported') => new InferError('UNSUPPORTED', message, reason);

/**
 * The request never got an answer from the node (connection refused or reset, connect timeout):
 * the node is treated as gone for now and the request may be retried on another one.
 */
export class TransportError extends InferError {
  constructor(message: string) {
    super('UNAVAILABLE', message, 'transport');
    this.name = 'TransportError';
  }
}

export function deadlineExceeded(): InferError {
  return new InferError('DEADLINE_EXCEEDED', 'request did not finish within its deadline (--request-timeout-ms or the infergate-timeout-ms header)', 'timeout');
}

export function clientClosed(): InferError {
  return new InferError('CANCELLED', 'the client closed the connection before the answer', 'client_closed');
}
