/**
 * How the gRPC door reports a failure: the code from the shared table (core/errors.ts), the
 * message as the status details, and the status in the HTTP table as a trailer, so a gateway in
 * front tells the node's own error answers from failures to reach it.
 */
import { Metadata, type ServerErrorResponse } from '@grpc/grpc-js';
import { fromHttpStatus, retryAfterSeconds, toGrpcStatus, toHttpStatus, type InferError } from '../../core/errors.js';
import { RETRY_AFTER } from '../../core/http-headers.js';
import type { WireAnswer } from '../../core/infer-call.js';
import { HTTP_STATUS_TRAILER, RETRY_PUSHBACK_TRAILER, grpcErrorMessage } from '../../core/kserve-grpc-envelope.js';

export function grpcError(error: InferError): ServerErrorResponse {
  return statusError(toGrpcStatus(error.code), error.message, toHttpStatus(error.code), error.retryAfterMs);
}

/** An error answer (a node's, forwarded by a gateway) in gRPC form. */
export function grpcErrorOfAnswer(answer: WireAnswer): ServerErrorResponse {
  return statusError(toGrpcStatus(fromHttpStatus(answer.status)), grpcErrorMessage(answer), answer.status, answer.retryAfterMs);
}

/**
 * `retryAfterMs`: an overload answer's wait, as gRPC's pushback trailer (ms, which gRPC clients
 * with retries honour) and as `retry-after` in seconds, the HTTP door's header, for other clients.
 */
function statusError(code: number, details: string, httpStatus: number, retryAfterMs?: number): ServerErrorResponse {
  const metadata = new Metadata();
  metadata.set(HTTP_STATUS_TRAILER, String(httpStatus));
  if (retryAfterMs !== undefined) {
    metadata.set(RETRY_PUSHBACK_TRAILER, String(Math.max(0, Math.round(retryAfterMs))));
    metadata.set(RETRY_AFTER, String(retryAfterSeconds(retryAfterMs)));
  }
  return Object.assign(new Error(details), { code, details, metadata });
}
