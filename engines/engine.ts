/**
 * The engine lifecycle, tiered as in Triton's backend API: an Engine loads a model version
 * (LoadedModel), which creates one ModelInstance per card × count. Only the instance runs work.
 */
import type { InferError } from '../core/errors.js';
import type { ModelMetadata } from '../core/model-metadata.js';
import type { InferRequest, InferResponse } from '../core/tensor.js';
import type { Card } from '../adapters/card.js';
import type { ModelDeclaration } from '../core/model-declaration.js';

export interface ModelLoadSpec {
  declaration: ModelDeclaration;
  version: string;
  /** Absolute path of the model file for this version; undefined for engines that need none (sim). */
  modelPath?: string;
  metadata: ModelMetadata;
}

export interface Engine {
  /** The name a declaration's `engine` field uses: onnx, sim, ... */
  readonly name: string;
  /** Whether this engine can run on this card (pure; adapters use it to choose an engine). */
  supports(card: Card): boolean;
  loadModel(spec: ModelLoadSpec): Promise<LoadedModel>;
}

export interface LoadedModel {
  readonly metadata: ModelMetadata;
  createInstance(card: Card, index: number): Promise<ModelInstance>;
  unload(): Promise<void>;
}

export type ExecuteResult = InferResponse | InferError;

/** A model run that succeeded: the batch rows it ran (1 for a model without a batch dim) and its milliseconds. */
export type RunObserver = (rows: number, ms: number) => void;

/**
 * What an instance really runs on, which is not always what its card asked for: onnxruntime starts
 * a session on the next provider list when the first cannot start.
 */
export interface InstanceRuntime {
  /** The providers (or backend) the instance runs on, best first: `['cuda', 'cpu']`, `['cpu']`. */
  providers: string[];
  /** True when it runs on less than its card asked for. */
  degraded: boolean;
  /** Why, when degraded: what did not start and onnxruntime's reason. */
  reason?: string;
}

export interface ModelInstance {
  readonly card: Card;
  /** What the instance runs on after any fallback; engines without providers leave it out. */
  readonly runtime?: InstanceRuntime;
  /**
   * Runs a batch of validated requests. Never called twice at once on one instance. Resolves with
   * exactly one result per request, in request order; a rejected promise means nothing ran.
   * `onRun` is told of every model run that succeeded, with its batch rows and duration: what the
   * statistics' execution_count counts (one execute may make several runs, e.g. a failed batched
   * run retried request by request). An instance that never calls it is counted once per execute.
   */
  execute(batch: InferRequest[], onRun?: RunObserver): Promise<ExecuteResult[]>;
  unload(): Promise<void>;
}
