/**
 * What the inference service serves from: a node's own models (NodeTarget) or pools of nodes
 * (PoolTarget). The service adds what every request needs whatever serves it (deadline,
 * cancellation, metrics); a target adds only what its kind of serving needs.
 */
import type { InferCall, WireAnswer } from '../core/infer-call.js';
import type { ModelIndexEntry, ModelMetadata } from '../core/model-metadata.js';
import type { ModelStatistics } from '../core/model-statistics.js';

export interface ServingTarget {
  /** Metadata of the model (version), with every version served; NOT_FOUND names what is missing. */
  metadata(model: string, version?: string): ModelMetadata;
  /** Whether the model (version) takes requests now; NOT_FOUND when it is not served at all. */
  modelReady(model: string, version?: string): boolean;
  /** Whether every served model takes requests. */
  ready(): boolean;
  /** The model's configuration in the shape of Triton's model config JSON. */
  config(model: string, version?: string): Promise<unknown>;
  /** Served versions and declared-but-unavailable ones, with their state. */
  index(): ModelIndexEntry[];
  /**
   * Statistics in the shape of Triton's extension, sorted by model and version: every served
   * version without a model, every version of the model without a version; NOT_FOUND names what
   * is missing. A node counts what it ran, a gateway what it forwarded.
   */
  statistics(model?: string, version?: string): ModelStatistics[];
  /**
   * Runs or forwards the call. Resolves with the answer in the call's wire form (a forwarded
   * error answer included); rejects with an InferError for a failure of its own.
   */
  infer(call: InferCall): Promise<WireAnswer>;
}
