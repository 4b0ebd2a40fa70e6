/**
 * The core calls both front doors (HTTP now, gRPC later) are built on. It knows the pools (what
 * is served, by whom) and the router (how a request reaches a backend), and nothing of the wire.
 */
import { InferError, notFound } from '../core/errors.js';
import type { ModelMetadata } from '../core/model-metadata.js';
import type { InferRequest, InferResponse } from '../core/tensor.js';
import type { InferOptions } from '../scheduler/backend.js';
import type { ModelIndexEntry } from '../node/model-host.js';
import type { PoolSet } from '../scheduler/pool-set.js';
import type { Router } from '../scheduler/router.js';
import { DeadlineTimer } from './deadline-timer.js';

export const SERVER_NAME = 'infergate';
export const PROTOCOL_EXTENSIONS = ['binary_tensor_data', 'model_repository'];

export interface ServerMetadata {
  name: string;
  version: string;
  extensions: string[];
}

export interface InferenceServiceSources {
  pools: PoolSet;
  router: Router;
  version: string;
  /** Models that are declared but not routable (failed declaration or load), for the index. */
  unavailableModels?: () => ModelIndexEntry[];
  /** Whether the process finished starting (models loaded, or registry accepting nodes). */
  started: () => boolean;
  /** Model configuration as Triton's config endpoint returns it. */
  modelConfig: (model: string, version: string) => Promise<unknown>;
}

export class InferenceService {
  #live = true;
  readonly #deadlines = new DeadlineTimer();

  constructor(private readonly sources: InferenceServiceSources) {}

  serverMetadata(): ServerMetadata {
    return { name: SERVER_NAME, version: this.sources.version, extensions: PROTOCOL_EXTENSIONS };
  }

  isLive(): boolean {
    return this.#live;
  }

  /** Ready when started and every pool has a routable member. */
  isReady(): boolean {
    if (!this.sources.started()) return false;
    const nowMs = Date.now();
    return this.sources.pools.pools().every((p) => p.hasRoutableMember(nowMs));
  }

  markNotLive(): void {
    this.#live = false;
  }

  /** Metadata of a model; with a version, of that version (which must exist). */
  modelMetadata(model: string, version?: string): ModelMetadata {
    const pool = this.sources.pools.resolve(model, version);
    return { ...pool.metadata, versions: this.sources.pools.versionsOf(model) };
  }

  /**
   * What a request to the model (version) is validated against: modelMetadata without the list of
   * versions, which validation does not read and which costs a copy and a sort to build. Shared,
   * not a copy: read-only.
   */
  requestMetadata(model: string, version?: string): ModelMetadata {
    return this.sources.pools.resolve(model, version).metadata;
  }

  modelReady(model: string, version?: string): boolean {
    const pool = this.sources.pools.resolve(model, version);
    return pool.hasRoutableMember(Date.now());
  }

  async modelConfig(model: string, version?: string): Promise<unknown> {
    const pool = this.sources.pools.resolve(model, version);
    return this.sources.modelConfig(model, pool.version);
  }

  /** The repository index: served versions plus declared-but-unavailable ones. */
  modelIndex(): ModelIndexEntry[] {
    const nowMs = Date.now();
    const served: ModelIndexEntry[] = this.sources.pools.pools().map((p) => {
      const ready = p.hasRoutableMember(nowMs);
      return { name: p.model, version: p.version, state: ready ? 'READY' : 'UNAVAILABLE', reason: ready ? '' : 'no ready backend' };
    });
    const extra = this.sources.unavailableModels?.() ?? [];
    return [...served, ...extra].sort((a, b) => a.name.localeCompare(b.name) || Number(a.version) - Number(b.version));
  }

  /** Routes the request; past its deadline the caller gets DEADLINE_EXCEEDED (504) even if a node still works on it. */
  infer(request: InferRequest, options?: InferOptions): Promise<InferResponse> {
    const routed = this.sources.router.infer(request, options);
    if (options?.deadlineMs === undefined) return routed;
    return this.#deadlines.race(routed, options.deadlineMs, deadlineExceeded);
  }
}

function deadlineExceeded(): InferError {
  return new InferError('DEADLINE_EXCEEDED', `request did not finish within its deadline (--request-timeout-ms)`, 'timeout');
}
