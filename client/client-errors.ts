/**
 * What a call of the client can fail with. A server's answer that is not a success becomes an
 * InferenceServerError carrying the protocol's message, the HTTP status and the error kind from the
 * shared table, so callers match on `code` (NOT_FOUND, INVALID_ARG, UNAVAILABLE, ...), not on text.
 */
import { fromHttpStatus, type ErrorCode } from '../core/errors.js';

export class InferenceServerError extends Error {
  readonly code: ErrorCode;

  constructor(readonly status: number, message: string) {
    super(message);
    this.name = 'InferenceServerError';
    this.code = fromHttpStatus(status);
  }

  /** From a non-success answer: its `{"error": "..."}` message, or the status line when it has none. */
  static fromAnswer(status: number, body: Buffer): InferenceServerError {
    let message = `HTTP ${status}`;
    try {
      const parsed = JSON.parse(body.toString('utf8')) as { error?: unknown };
      if (typeof parsed.error === 'string') message = parsed.error;
    } catch {
      // not the protocol's error shape: keep the status line
    }
    return new InferenceServerError(status, message);
  }
}
