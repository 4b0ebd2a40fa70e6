/**
 * Every pool of one gateway, keyed by (model, version), and the default-version rule: a request
 * without a version goes to the highest version that has a pool.
 */
import { notFound } from '../core/errors.js';
import type { ModelMetadata } from '../core/model-metadata.js';
import { BackendPool, DEFAULT_POOL_OPTIONS, type PoolOptions, type PoolView } from './pool.js';
import type { RoutingPolicy } from './routing-policy.js';

/** The routing policy of each new pool (`--policy`, overridden per pool by `--pool-policy`). */
export type PolicyFactory = (model: string, version: string) => RoutingPolicy;

export class PoolSet {
  readonly #pools = new Map<string, Map<string, BackendPool>>();
  /** Per model, the pool of its highest version (where a request without a version goes); dropped on any change. */
  readonly #defaults = new Map<string, BackendPool>();

  constructor(
    private readonly policyFor: PolicyFactory,
    private readonly options: PoolOptions = DEFAULT_POOL_OPTIONS,
    private readonly random: () => number = Math.random,
  ) {}

  getOrCreate(model: string, version: string, metadata: ModelMetadata): BackendPool {
    let versions = this.#pools.get(model);
    if (!versions) {
      versions = new Map();
      this.#pools.set(model, versions);
    }
    let pool = versions.get(version);
    if (!pool) {
      pool = new BackendPool(model, version, metadata, this.policyFor(model, version), this.options, this.random);
      versions.set(version, pool);
      this.#defaults.delete(model);
    }
    return pool;
  }

  get(model: string, version: string): BackendPool | undefined {
    return this.#pools.get(model)?.get(version);
  }

  /** The pool a request goes to; NOT_FOUND names what is missing. */
  resolve(model: string, version?: string): BackendPool {
    const versions = this.#pools.get(model);
    if (!versions || versions.size === 0) throw notFound(`unknown model: '${model}'`, 'unknown_model');
    if (version) {
      const pool = versions.get(version);
      if (!pool) throw notFound(`unknown version '${version}' of model '${model}'`, 'unknown_version');
      return pool;
    }
    let pool = this.#defaults.get(model);
    if (!pool) {
      pool = versions.get(highestVersion([...versions.keys()]))!;
      this.#defaults.set(model, pool);
    }
    return pool;
  }

  /** Versions of a model that have a pool, lowest first. */
  versionsOf(model: string): string[] {
    return sortVersions([...(this.#pools.get(model)?.keys() ?? [])]);
  }

  pools(): BackendPool[] {
    return [...this.#pools.values()].flatMap((v) => [...v.values()]);
  }

  /** Drops a member from every pool; empty pools go too. */
  removeMember(memberId: string): void {
    for (const pool of this.pools()) pool.remove(memberId);
    this.prune();
  }

  /** Removes pools that have no member left, so the model stops being listed as served. */
  prune(): void {
    for (const [model, versions] of this.#pools) {
      for (const [version, pool] of versions) {
        if (pool.size > 0) continue;
        versions.delete(version);
        this.#defaults.delete(model);
      }
      if (versions.size === 0) this.#pools.delete(model);
    }
  }

  recomputeWeights(nowMs: number): void {
    for (const pool of this.pools()) pool.recomputeWeights(nowMs);
  }

  /** The gateway's periodic update: new weights, then success-rate outlier detection over the interval. */
  tick(nowMs: number): void {
    for (const pool of this.pools()) {
      pool.recomputeWeights(nowMs);
      pool.detectOutliers(nowMs);
    }
  }

  view(nowMs: number): PoolView[] {
    return this.pools().map((p) => p.view(nowMs));
  }
}

export function sortVersions(versions: string[]): string[] {
  return [...versions].sort((a, b) => Number(a) - Number(b) || a.localeCompare(b));
}

function highestVersion(versions: string[]): string {
  const sorted = sortVersions(versions);
  return sorted[sorted.length - 1];
}
