import { DEFAULT_MAX_TENSOR_ELEMENTS } from '../core/infer-json.js';

/** Every limit a front door enforces, named with its unit; all are flags of the CLI. */
export interface FrontDoorLimits {
  /** Largest request body accepted (413 above it). Triton's default input cap is 64 MiB. */
  maxBodyBytes: number;
  /** Most elements summed over one request's inputs (413 above it), checked from the shapes before allocation. */
  maxTensorElements: number;
  /** Time a request may take end to end before it fails with 504; retries share it. */
  requestTimeoutMs: number;
}

export const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024;
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;

export const DEFAULT_LIMITS: FrontDoorLimits = {
  maxBodyBytes: DEFAULT_MAX_BODY_BYTES,
  maxTensorElements: DEFAULT_MAX_TENSOR_ELEMENTS,
  requestTimeoutMs: DEFAULT_REQUEST_TIMEOUT_MS,
};
