/**
 * A Backend answers inference requests for the models it serves. The gateway routes to backends
 * and never cares whether one runs in this process (LocalBackend) or across the network
 * (RemoteBackend).
 */
import type { InferRequest, InferResponse } from '../core/tensor.js';

export interface InferOptions {
  /** Absolute deadline (ms since epoch, Date.now() clock); past it the request fails DEADLINE_EXCEEDED. */
  deadlineMs?: number;
  /** Request id to propagate to logs of the node that runs it. */
  requestId?: string;
}

export interface Backend {
  readonly id: string;
  infer(request: InferRequest, options?: InferOptions): Promise<InferResponse>;
  close(): Promise<void>;
}
