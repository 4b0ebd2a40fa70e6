import { DEFAULT_MAX_BODY_BYTES } from '../core/content-coding.js';
import { DEFAULT_MAX_TENSOR_ELEMENTS } from '../core/infer-json.js';

export { DEFAULT_MAX_BODY_BYTES };

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
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;

export const DEFAULT_LIMITS: FrontDoorLimits = {
  maxBodyBytes: DEFAULT_MAX_BODY_BYTES,
  maxTensorElements: DEFAULT_MAX_TENSOR_ELEMENTS,
  requestTimeoutMs: DEFAULT_REQUEST_TIMEOUT_MS,
};
