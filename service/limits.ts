import { DEFAULT_MAX_BODY_BYTES } from '../core/content-coding.js';
import { DEFAULT_MAX_TENSOR_ELEMENTS } from '../core/infer-json.js';
import { DEFAULT_MAX_JSON_DEPTH, DEFAULT_MAX_STRING_BYTES } from '../core/json-limits.js';

export { DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_JSON_DEPTH, DEFAULT_MAX_STRING_BYTES };

/** Every limit a front door enforces, named with its unit; all are flags of the CLI. */
export interface FrontDoorLimits {
  /**
   * Largest request body accepted (413 above it), as sent and, for a compressed body, once inflated
   * on the node that decodes it. Triton's default input cap is 64 MiB.
   */
  maxBodyBytes: number;
  /** Most elements summed over one request's inputs (413 above it), checked from the shapes before allocation. */
  maxTensorElements: number;
  /** Time a request may take end to end before it fails with 504; retries share it. */
  requestTimeoutMs: number;
  /**
   * Deepest nesting of arrays and objects in a JSON body (400 above it), counted before parsing. An
   * infer body is checked by the node that decodes it; other JSON bodies by the door that gets them.
   */
  maxJsonDepth: number;
  /** Longest name, id, datatype, parameter key or value of a request, in UTF-8 bytes (400 above it); not tensor data. */
  maxStringBytes: number;
  /** Largest request header section (HTTP: 431 from node:http; gRPC: metadata, RESOURCE_EXHAUSTED above it). */
  maxHeaderBytes: number;
  /** Time from a request's first byte until its headers are in (HTTP 408 and the connection closed). */
  headerTimeoutMs: number;
  /** Time from a request's first byte until its whole body is in (HTTP 408 and the connection closed): a client trickling bytes. */
  bodyTimeoutMs: number;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
/** node:http's own default (16 KiB), kept: far above what KServe clients send, small enough to read at once. */
export const DEFAULT_MAX_HEADER_BYTES = 16 * 1024;
/** A client on a working link sends its headers in well under a second; a slowloris takes its time. */
export const DEFAULT_HEADER_TIMEOUT_MS = 10_000;
/** 64 MiB (--max-body-bytes) arrives in this time at about 9 Mbit/s; raise it with the body limit for slow links. */
export const DEFAULT_BODY_TIMEOUT_MS = 60_000;

export const DEFAULT_LIMITS: FrontDoorLimits = {
  maxBodyBytes: DEFAULT_MAX_BODY_BYTES,
  maxTensorElements: DEFAULT_MAX_TENSOR_ELEMENTS,
  requestTimeoutMs: DEFAULT_REQUEST_TIMEOUT_MS,
  maxJsonDepth: DEFAULT_MAX_JSON_DEPTH,
  maxStringBytes: DEFAULT_MAX_STRING_BYTES,
  maxHeaderBytes: DEFAULT_MAX_HEADER_BYTES,
  headerTimeoutMs: DEFAULT_HEADER_TIMEOUT_MS,
  bodyTimeoutMs: DEFAULT_BODY_TIMEOUT_MS,
};
