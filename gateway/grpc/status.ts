/**
 * How the gRPC door reports a failure: the code from the shared table (core/errors.ts), the
 * message as the status details, and the status in the HTTP table as a trailer, so a gateway in
 * front tells the node's own error answers from failures to reach it.
 */
import { Metadata, type ServerErrorResponse } from '@grpc/grpc-js';
import { fromHttpStatus, toGrpcStatus, toHttpStatus, type InferError } from '../../core/errors.js';
import type { WireAnswer } from '../../core/infer-call.js';
import { HTTP_STATUS_TRAILER, grpcErrorMessage } from '../../core/kserve-grpc-envelope.js';

export function grpcError(error: InferError): ServerErrorResponse {
  return statusError(toGrpcStatus(error.code), error.message, toHttpStatus(error.code));
}

/** An error answer (a node's, forwarded by a gateway) in gRPC form. */
export function grpcErrorOfAnswer(answer: WireAnswer): ServerErrorResponse {
  return statusError(toGrpcStatus(fromHttpStatus(answer.status)), grpcErrorMessage(answer), answer.status);
}

function statusError(code: number, details: string, httpStatus: number): ServerErrorResponse {
  const metadata = new Metadata();
  metadata.set(HTTP_STATUS_TRAILER, String(httpStatus));
  return Object.assign(new Error(details), { code, details, metadata });
}
