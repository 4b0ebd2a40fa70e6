/**
 * What became of one request, and the pure rules that decide it from what the client saw:
 *
 *   ok         an answer with outputs
 *   timed_out  no answer within the request timeout (the bench's own timer, the client's socket
 *              timeouts), or the server said so: HTTP 504 / gRPC DEADLINE_EXCEEDED
 *   refused    the server shed it: connection refused or reset before an answer, HTTP 503 or 429,
 *              gRPC UNAVAILABLE or RESOURCE_EXHAUSTED
 *   failed     any other error answer (400, 404, 500, INVALID_ARGUMENT, INTERNAL, …)
 *   dropped    never sent: the client was at --max-outstanding (open loop only)
 *
 * The HTTP and gRPC tables agree through core/errors.ts's mapping, which the client applies to a
 * gRPC status before it throws (UNAVAILABLE arrives as status 503, DEADLINE_EXCEEDED as 504).
 */
import { InferenceServerError } from '../../client/client-errors.js';

export type Outcome = 'ok' | 'failed' | 'timed_out' | 'refused' | 'dropped';
export type ErrorOutcome = Exclude<Outcome, 'ok' | 'dropped'>;

export const OUTCOMES: readonly Outcome[] = ['ok', 'failed', 'timed_out', 'refused', 'dropped'];

export function classifyHttpStatus(status: number): Outcome {
  if (status >= 200 && status < 300) return 'ok';
  if (status === 504) return 'timed_out';
  if (status === 503 || status === 429) return 'refused';
  return 'failed';
}

/** gRPC status codes by number (grpc's status.proto). */
export function classifyGrpcCode(code: number): Outcome {
  switch (code) {
    case 0: return 'ok';
    case 4: return 'timed_out'; // DEADLINE_EXCEEDED
    case 8: // RESOURCE_EXHAUSTED
    case 14: return 'refused'; // UNAVAILABLE (also: the channel could not connect)
    default: return 'failed';
  }
}

/** Transport error codes (Node's net, undici) that mean the connection was refused or dropped before an answer. */
const REFUSED_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ENOTCONN', 'EHOSTUNREACH', 'ENETUNREACH',
  'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_CONNECT_TIMEOUT',
]);
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT', 'ABORT_ERR']);
const TIMEOUT_NAMES = new Set(['TimeoutError', 'AbortError']);

/** The outcome of a request that threw `err`, and a short message for the error summary. */
export function classifyError(err: unknown): { outcome: ErrorOutcome; message: string } {
  const message = errorMessage(err);
  if (err instanceof InferenceServerError) {
    const outcome = classifyHttpStatus(err.status);
    return { outcome: outcome === 'ok' || outcome === 'dropped' ? 'failed' : outcome, message };
  }
  // A gRPC ServiceError that did not go through the client library still carries its numeric code.
  const grpcCode = (err as { code?: unknown; metadata?: unknown } | null)?.metadata !== undefined ? (err as { code?: unknown }).code : undefined;
  if (typeof grpcCode === 'number') {
    const outcome = classifyGrpcCode(grpcCode);
    return { outcome: outcome === 'ok' || outcome === 'dropped' ? 'failed' : outcome, message };
  }
  for (const e of causes(err)) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && REFUSED_CODES.has(code)) return { outcome: 'refused', message };
    if (typeof code === 'string' && TIMEOUT_CODES.has(code)) return { outcome: 'timed_out', message };
    if (TIMEOUT_NAMES.has((e as { name?: unknown }).name as string)) return { outcome: 'timed_out', message };
  }
  return { outcome: 'failed', message };
}

/** The error, its `cause` chain and an AggregateError's members (Node's connect tries each address). */
function causes(err: unknown): object[] {
  const out: object[] = [];
  const visit = (e: unknown, depth: number) => {
    if (e === null || typeof e !== 'object' || depth > 4) return;
    out.push(e);
    visit((e as { cause?: unknown }).cause, depth + 1);
    const members = (e as { errors?: unknown }).errors;
    if (Array.isArray(members)) for (const m of members) visit(m, depth + 1);
  };
  visit(err, 0);
  return out;
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const text = err.message || (err instanceof AggregateError ? err.errors.map((e) => errorMessage(e)).join('; ') : err.name);
    return typeof code === 'string' && !text.includes(code) ? `${code}: ${text}` : text;
  }
  return String(err);
}
