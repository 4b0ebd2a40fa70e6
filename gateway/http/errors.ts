/**
 * The one error handler of the HTTP door: every failure leaves as `{"error": "<message>"}` with the
 * status the shared code table gives (KServe v2 error shape).
 */
import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import { InferError, retryAfterSeconds, toHttpStatus } from '../../core/errors.js';
import { RETRY_AFTER } from '../../core/http-headers.js';

/**
 * Sees every failure that leaves through the handler. `framework`: fastify raised it itself before
 * any route handler ran (body over the limit, unreadable body), so no handler has counted it.
 */
export type ErrorObserver = (error: InferError, request: FastifyRequest, framework: boolean) => void;

export function installErrorHandling(app: FastifyInstance, onError?: ErrorObserver, logError?: (message: string) => void): void {
  app.setErrorHandler((err: FastifyError | InferError, request, reply) => {
    const error = toInferError(err);
    onError?.(error, request, !(err instanceof InferError));
    const status = toHttpStatus(error.code);
    // A failure of the server itself is logged at every level; a client's mistake is not.
    if (error.code === 'INTERNAL') logError?.(`${request.method} ${request.url.split('?')[0]} (request ${request.id}) failed: ${err.stack ?? err.message}`);
    if (error.retryAfterMs !== undefined) void reply.header(RETRY_AFTER, retryAfterSeconds(error.retryAfterMs));
    void reply.status(status).send({ error: error.message });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({ error: `no route ${request.method} ${request.url.split('?')[0]}` });
  });
}

/** Fastify's own errors (body too large, bad content type) keep their status, in our shape. */
function toInferError(err: FastifyError | InferError): InferError {
  if (err instanceof InferError) return err;
  const status = (err as FastifyError).statusCode ?? 500;
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return new InferError('PAYLOAD_TOO_LARGE', 'request body is larger than the configured limit (--max-body-bytes)', 'body_too_large');
  }
  // 415, not UNSUPPORTED's 501: the client sent a content type it can change (found by test/fuzz/http-door).
  if (status === 415) return new InferError('UNSUPPORTED_MEDIA_TYPE', err.message, 'unsupported_media_type');
  if (status >= 400 && status < 500) return new InferError('INVALID_ARG', err.message, 'bad_request');
  return new InferError('INTERNAL', err.message, 'internal');
}
