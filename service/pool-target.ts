/**
 * Serving from pools of nodes (a gateway): the router picks a node of the (model, version) pool and
 * the call is forwarded to it as it came. Nothing is decoded or validated here; the node does that
 * once, and its answer, success or error, is the answer.
 */
import type { InferCall, WireAnswer } from '../core/infer-call.js';
import type { ModelIndexEntry, ModelMetadata } from '../core/model-metadata.js';
import type { PoolSet } from '../scheduler/pool-set.js';
import type { Router } from '../scheduler/router.js';
import type { ServingTarget } from './serving-target.js';

/** Fetches a model's configuration from a node of its pool. */
export type PoolConfigSource = (model: string, version: string) => Promise<unknown>;

export class PoolTarget implements ServingTarget {
  constructor(
    private readonly pools: PoolSet,
    private readonly router: Router,
    private readonly configSource: PoolConfigSource,
    private readonly clock: () => number = Date.now,
  ) {}

  metadata(model: string, version?: string): ModelMetadata {
    const pool = this.pools.resolve(model, version);
    return { ...pool.metadata, versions: this.pools.versionsOf(model) };
  }

  modelReady(model: string, version?: string): boolean {
    return this.pools.resolve(model, version).hasRoutableMember(this.clock());
  }

  ready(): boolean {
    const nowMs = this.clock();
    return this.pools.pools().every((p) => p.hasRoutableMember(nowMs));
  }

  config(model: string, version?: string): Promise<unknown> {
    const pool = this.pools.resolve(model, version);
    return this.configSource(model, pool.version);
  }

  index(): ModelIndexEntry[] {
    const nowMs = this.clock();
    return this.pools.pools()
      .map((p): ModelIndexEntry => {
        const ready = p.hasRoutableMember(nowMs);
        return { name: p.model, version: p.version, state: ready ? 'READY' : 'UNAVAILABLE', reason: ready ? '' : 'no ready backend' };
      })
      .sort((a, b) => a.name.localeCompare(b.name) || Number(a.version) - Number(b.version));
  }

  infer(call: InferCall): Promise<WireAnswer> {
    return this.router.infer(call);
  }
}
