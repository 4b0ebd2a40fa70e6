/**
 * Every HTTP header the project reads or writes, one constant each, lower-case as node:http and
 * undici hand them over (HTTP header names are case-insensitive). Messages name a header in the
 * spelling its spec gives (`headerName`).
 */

/** The binary tensor extension: byte length of the JSON header at the start of the body. */
export const INFERENCE_HEADER_CONTENT_LENGTH = 'inference-header-content-length';

/** `inference-header-content-length` → `Inference-Header-Content-Length`, for messages. */
export function headerName(header: string): string {
  return header.replace(/(^|-)([a-z])/g, (_, dash: string, letter: string) => dash + letter.toUpperCase());
}
/** A request's id: the client's if it sends one, else the front door's; passed on to the node. */
export const REQUEST_ID = 'x-request-id';
/**
 * Milliseconds the request may still take, relative (as gRPC's grpc-timeout), so that no clock
 * has to agree with another: a gateway sends what is left of the client's deadline, a node caps
 * it by its own --request-timeout-ms. Clients may send it too.
 */
export const TIMEOUT_MS = 'infergate-timeout-ms';
export const CONTENT_TYPE = 'content-type';
/** The codings applied to a body (gzip, deflate): a request's, undone by the node; an answer's, set by the node. */
export const CONTENT_ENCODING = 'content-encoding';
/** The codings a client takes its answer in; a gateway forwards it to the node, which compresses. */
export const ACCEPT_ENCODING = 'accept-encoding';
export const CONTENT_LENGTH = 'content-length';

export const JSON_CONTENT_TYPE = 'application/json';
/** What Triton sends with a binary body, and what its clients send. */
export const BINARY_CONTENT_TYPE = 'application/octet-stream';
/** When an overloaded server (503) or a key over its limit (429) may be asked again, in seconds (RFC 9110 §10.2.3). */
export const RETRY_AFTER = 'retry-after';
/** Where a client (or a gateway, to its nodes) presents its API key: `Bearer <key>`. */
export const AUTHORIZATION = 'authorization';
