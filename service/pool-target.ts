/**
 * Serving from pools of nodes (a gateway): the router picks a node of the (model, version) pool and
 * the call is forwarded to it as it came. Nothing is decoded or validated here; the node does that
 * once, and its answer, success or error, is the answer. The statistics are those of the traffic
 * routed here (ForwardedStatistics).
 */
import type { InferCall, WireAnswer } from '../core/infer-call.js';
import { unavailable } from '../core/errors.js';
import type { UnavailableModelReport } from '../core/load-report.js';
import type { ModelIndexEntry, ModelMetadata } from '../core/model-metadata.js';
import { byModelAndVersion, type ModelStatistics } from '../core/model-statistics.js';
import type { BackendPool } from '../scheduler/pool.js';
import type { PoolSet } from '../scheduler/pool-set.js';
import type { Router } from '../scheduler/router.js';
import { ForwardedStatistics } from './forwarded-statistics.js';
import type { ServingTarget } from './serving-target.js';

/** Fetches a model's configuration from a node of its pool. */
export type PoolConfigSource = (model: string, version: string) => Promise<unknown>;

/** Models the nodes declare but cannot serve, by node (their load reports' `unavailable`). */
export type UnavailableSource = () => ReadonlyArray<{ nodeId: string; unavailable: readonly UnavailableModelReport[] }>;

export class PoolTarget implements ServingTarget {
  readonly #forwarded = new ForwardedStatistics();

  constructor(
    private readonly pools: PoolSet,
    private readonly router: Router,
    private readonly configSource: PoolConfigSource,
    private readonly clock: () => number = Date.now,
    private readonly unavailableSource: UnavailableSource = () => [],
  ) {}

  metadata(model: string, version?: string): ModelMetadata {
    const pool = this.pools.resolve(model, version);
    return { ...pool.metadata, versions: this.pools.versionsOf(model) };
  }

  /** UNAVAILABLE, with the nodes' reasons, for a model no node serves and some node cannot (KServe: 503). */
  modelReady(model: string, version?: string): boolean {
    if (this.pools.versionsOf(model).length === 0) {
      const reasons = this.#unservable().get(model);
      if (reasons) throw unavailable(`model '${model}' is not ready: ${reasons.reason}`, 'model_unavailable');
    }
    return this.pools.resolve(model, version).hasRoutableMember(this.clock());
  }

  /**
   * Models with no pool that some node reports it cannot serve: one entry per model, the version
   * the nodes name (the highest) and every node's reason.
   */
  #unservable(): Map<string, ModelIndexEntry> {
    const byModel = new Map<string, ModelIndexEntry>();
    for (const { nodeId, unavailable: entries } of this.unavailableSource()) {
      for (const u of entries) {
        if (this.pools.versionsOf(u.name).length > 0) continue;
        const entry = byModel.get(u.name);
        const reason = `node ${nodeId}: ${u.reason}`;
        if (!entry) byModel.set(u.name, { name: u.name, version: u.version, state: 'UNAVAILABLE', reason });
        else if (!entry.reason.includes(reason)) entry.reason += `; ${reason}`;
      }
    }
    return byModel;
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
      .concat([...this.#unservable().values()])
      .sort((a, b) => a.name.localeCompare(b.name) || Number(a.version) - Number(b.version));
  }

  /** Every pool's figures (a model without a version: each of its pools); pools with no traffic yet count zero. */
  statistics(model?: string, version?: string): ModelStatistics[] {
    let pools: BackendPool[];
    if (model === undefined) pools = this.pools.pools();
    else if (version) pools = [this.pools.resolve(model, version)];
    else {
      this.pools.resolve(model);
      pools = this.pools.versionsOf(model).map((v) => this.pools.get(model, v)!);
    }
    return pools.map((p) => this.#forwarded.statistics(p.model, p.version)).sort(byModelAndVersion);
  }

  /**
   * Counted per pool, from here to the node's answer: an error answer forwarded from a node is a
   * failure. One for a model or version with no pool counts nowhere.
   */
  async infer(call: InferCall): Promise<WireAnswer> {
    const pool = this.pools.resolve(call.model, call.version);
    const tally = this.#forwarded.of(pool.model, pool.version);
    const startedAt = performance.now();
    try {
      const answer = await this.router.infer(call);
      if (answer.status < 400) tally.succeeded(startedAt);
      else tally.failed(startedAt);
      return answer;
    } catch (err) {
      tally.failed(startedAt);
      throw err;
    }
  }
}
