/**
 * The core service every front door calls (HTTP and gRPC). A door only turns its wire
 * format into a request and the answer back; everything a request needs whatever door it came
 * through lives here: the deadline (the client's, capped by --request-timeout-ms), cancellation
 * (one Cancellation per request, by the deadline or by the door when the client goes away),
 * request ids, and per-model metrics. Serving itself is the target's: a node's own models
 * or pools of nodes.
 */
import type { Cancellation } from '../core/cancellation.js';
import { InferError, asInferError, deadlineExceeded } from '../core/errors.js';
import type { InferCall, WireAnswer, WirePayload } from '../core/infer-call.js';
import type { ModelIndexEntry, ModelMetadata } from '../core/model-metadata.js';
import type { ModelStatistics, ModelStatisticsResponse } from '../core/model-statistics.js';
import { DeadlineTimer } from './deadline-timer.js';
import type { Metrics } from './metrics.js';
import { NO_REPOSITORY_CONTROL, type RepositoryControl, type RepositoryParameters } from './repository-control.js';
import type { ServingTarget } from './serving-target.js';

export const SERVER_NAME = 'infergate';
export const PROTOCOL_EXTENSIONS = ['binary_tensor_data', 'classification', 'model_repository', 'statistics'];

export interface ServerMetadata {
  name: string;
  version: string;
  extensions: string[];
}

/** One inference as a front door hands it over. */
export interface ServiceRequest {
  model: string;
  version?: string;
  requestId: string;
  /** What the client asked for (a header or a gRPC deadline); capped by requestTimeoutMs. */
  timeoutMs?: number;
  /** The door cancels it when the client goes away; the service cancels it at the deadline. */
  cancellation: Cancellation;
  payload: WirePayload;
}

export interface InferenceServiceOptions {
  target: ServingTarget;
  version: string;
  /** End-to-end time a request may take; a client may ask for less, never for more. */
  requestTimeoutMs: number;
  /** Whether the process finished starting (models loaded, or membership accepting nodes). */
  started: () => boolean;
  metrics?: Metrics;
  /** Every gateway worker's statistics added up, when this process is one of several workers. */
  gatherStatistics?: () => Promise<ModelStatistics[]>;
  /** Where failures of the server itself (INTERNAL) are reported; client errors are not logged. */
  logError?: (message: string) => void;
  /** Model load and unload (a node's); without it, both are refused as on a gateway. */
  repository?: RepositoryControl;
}

export class InferenceService {
  #live = true;
  #inFlight = 0;
  readonly #deadlines = new DeadlineTimer();
  readonly #target: ServingTarget;

  constructor(private readonly options: InferenceServiceOptions) {
    this.#target = options.target;
  }

  serverMetadata(): ServerMetadata {
    return { name: SERVER_NAME, version: this.options.version, extensions: PROTOCOL_EXTENSIONS };
  }

  isLive(): boolean {
    return this.#live;
  }

  /** Ready when started and every served model takes requests. */
  isReady(): boolean {
    return this.options.started() && this.#target.ready();
  }

  /** Inferences taken and not yet answered, both doors together (a graceful shutdown waits on it). */
  get inFlight(): number {
    return this.#inFlight;
  }

  markNotLive(): void {
    this.#live = false;
  }

  modelMetadata(model: string, version?: string): ModelMetadata {
    return this.#target.metadata(model, version);
  }

  modelReady(model: string, version?: string): boolean {
    return this.#target.modelReady(model, version);
  }

  modelConfig(model: string, version?: string): Promise<unknown> {
    return this.#target.config(model, version);
  }

  modelIndex(): ModelIndexEntry[] {
    return this.#target.index();
  }

  /** The repository extension's load: the same answer for both doors. */
  loadModel(model: string, parameters?: RepositoryParameters): Promise<void> {
    return (this.options.repository ?? NO_REPOSITORY_CONTROL).load(model, parameters);
  }

  unloadModel(model: string, parameters?: RepositoryParameters): Promise<void> {
    return (this.options.repository ?? NO_REPOSITORY_CONTROL).unload(model, parameters);
  }

  /** Without a model: every model and version; the same answer for both doors. */
  /**
   * Statistics of the model (version), or of every model. With gateway workers
   * (`gatherStatistics`), every worker's figures added up; this target answers which (model,
   * version) pairs are asked for, and NOT_FOUND.
   */
  async modelStatistics(model?: string, version?: string): Promise<ModelStatisticsResponse> {
    const local = this.#target.statistics(model, version);
    if (!this.options.gatherStatistics) return { model_stats: local };
    const wanted = new Set(local.map((s) => `${s.name}\0${s.version}`));
    const all = await this.options.gatherStatistics();
    return { model_stats: all.filter((s) => wanted.has(`${s.name}\0${s.version}`)) };
  }

  /**
   * Serves one inference. Resolves with the answer in the request's wire form (an error answer
   * forwarded from a node included); rejects with an InferError. At the deadline the request is
   * cancelled, and every layer below answers at once with DEADLINE_EXCEEDED: a queued request
   * leaves its queue, an upstream request is aborted, a run already started finishes and its
   * result is dropped.
   */
  infer(request: ServiceRequest): Promise<WireAnswer> {
    const startedAt = performance.now();
    const { metrics } = this.options;
    const pending = metrics?.pendingRequests(request.model);
    pending?.inc();
    this.#inFlight++;
    const limitMs = this.options.requestTimeoutMs;
    const timeoutMs = request.timeoutMs === undefined ? limitMs : Math.min(request.timeoutMs, limitMs);
    const deadlineMs = Date.now() + timeoutMs;
    const { cancellation } = request;
    const watch = this.#deadlines.watch(deadlineMs, () => cancellation.cancel(deadlineExceeded()));
    const call: InferCall = {
      model: request.model,
      version: request.version,
      requestId: request.requestId,
      deadlineMs,
      cancellation,
      payload: request.payload,
    };
    let work: Promise<WireAnswer>;
    try {
      work = this.#target.infer(call);
    } catch (err) {
      work = Promise.reject(err);
    }
    // then(), not async/await: one promise less per request on the hottest path.
    return work.then((answer) => {
      this.#deadlines.unwatch(watch);
      pending?.dec();
      this.#inFlight--;
      if (metrics) {
        const version = answer.modelVersion ?? request.version ?? '';
        if (answer.status < 400) {
          const series = metrics.series(request.model, version);
          series.success.inc();
          series.duration.observe((performance.now() - startedAt) / 1000);
        } else {
          metrics.requestFailure.inc({ model: request.model, version, reason: `backend_${answer.status}` });
        }
      }
      return answer;
    }, (err: unknown) => {
      this.#deadlines.unwatch(watch);
      pending?.dec();
      this.#inFlight--;
      const error = asInferError(err);
      this.recordFailure(request.model, request.version, error);
      if (error.code === 'INTERNAL') this.options.logError?.(`request ${request.requestId} to model '${request.model}' failed: ${error.message}`);
      throw error;
    });
  }

  /** Counts a request that failed, also one a door turned away before calling infer (413). */
  recordFailure(model: string, version: string | undefined, error: InferError): void {
    this.options.metrics?.requestFailure.inc({ model, version: version ?? '', reason: error.reason });
  }
}
