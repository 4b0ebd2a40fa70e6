/**
 * One inference request as it travels below the front door: where it goes, by when, how to call
 * it off, and its body in the wire form the client sent. Tensors are decoded only where a feature
 * needs them (the node that runs the model); a gateway forwards the bytes as they came.
 */

import type { Cancellation } from './cancellation.js';

/**
 * The wire forms a request can arrive in; the answer leaves in the same one.
 * - `kserve-http`: the body of POST .../infer (JSON, or the binary tensor extension);
 * - `kserve-grpc`: a serialized ModelInferRequest; its answer is a serialized ModelInferResponse,
 *   or an error whose body is the status message (core/kserve-grpc-envelope.ts).
 */
export type WireFormat = 'kserve-http' | 'kserve-grpc';

export interface WirePayload {
  readonly format: WireFormat;
  /** The request body, exactly as received. */
  readonly body: Buffer;
  /** Inference-Header-Content-Length as sent (binary tensor extension); undefined for plain JSON and gRPC. */
  readonly headerLength?: string;
  readonly contentType?: string;
  /** Content-Encoding as sent (gzip, deflate): undone by the node that decodes the body; a gateway forwards it. */
  readonly contentEncoding?: string;
  /** Accept-Encoding as sent: the node compresses its answer in a coding it names; a gateway forwards it. */
  readonly acceptEncoding?: string;
  /**
   * The receiving door's --max-body-bytes, which bounds the body after its Content-Encoding is undone
   * too (a gzip bomb gets 413); undefined: the default limit. Not forwarded: each node applies its own.
   */
  readonly maxDecodedBytes?: number;
}

export interface InferCall {
  readonly model: string;
  /** As the client asked; undefined: the default version (the highest served). */
  readonly version?: string;
  readonly requestId: string;
  /** Absolute deadline on the Date.now() clock; past it the request fails with 504. */
  readonly deadlineMs: number;
  /** Cancelled when the client went away or the deadline passed; its reason says which. */
  readonly cancellation: Cancellation;
  readonly payload: WirePayload;
}

/** The answer in the request's wire form: a success or the protocol's error body. */
export interface WireAnswer {
  /** HTTP-style status from the shared table (core/errors.ts), whatever the wire form: 200 or the error's. */
  readonly status: number;
  readonly contentType: string;
  /** Inference-Header-Content-Length of a binary answer. */
  readonly headerLength?: string;
  /**
   * The coding of `body` (gzip, deflate) when the node compressed it for the client's
   * Accept-Encoding; a gateway passes it on with the body. Inference-Header-Content-Length stays the
   * uncompressed JSON header's length, as Triton's.
   */
  readonly contentEncoding?: string;
  readonly body: Uint8Array;
  /** An overload answer's Retry-After, in ms (core/errors.ts InferErrorOptions); a gateway passes it on. */
  readonly retryAfterMs?: number;
  /** The version that answered, when known (for metrics); not sent to the client. */
  readonly modelVersion?: string;
}
