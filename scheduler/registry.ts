/**
 * Membership of backend nodes for one gateway, from heartbeats: a node joins the pools of the
 * models it reports, follows its reported state (ready | draining), and is evicted when its
 * heartbeats stop. Load reports ride on the same heartbeat but are only handed to the pools.
 */
import type { ModelMetadata } from '../core/model-metadata.js';
import { hardwareCapacity, type LoadReport } from '../core/load-report.js';
import type { PoolSet } from './pool-set.js';
import type { MemberSpec } from './pool.js';
import type { Backend } from './backend.js';

/** Three missed beats at the default 1 s interval, minus margin: a stopped node is out within this. */
export const DEFAULT_EVICT_AFTER_MS = 2_500;
export const DEFAULT_SWEEP_INTERVAL_MS = 100;
/** How long a node that said it leaves is remembered, to drop its heartbeats still on the wire. */
export const LEFT_NODE_MEMORY_MS = 60_000;

export interface RegisteredBackend extends Backend {
  readonly url: string;
  /** A control request with a JSON body (model load/unload); rejects with the node's error. */
  postJson(path: string, body: unknown): Promise<void>;
  metadata(model: string, version: string): Promise<ModelMetadata>;
  getJson<T>(path: string, method?: 'GET' | 'POST'): Promise<T>;
}

export interface RegistryOptions {
  evictAfterMs: number;
  createBackend: (nodeId: string, url: string) => RegisteredBackend;
  clock: () => number;
  log?: (message: string) => void;
}

interface NodeEntry {
  nodeId: string;
  url: string;
  backend: RegisteredBackend;
  lastSeenMs: number;
  report: LoadReport;
  staticWeight?: number;
  /** `model\0version` keys of the pools this node is a member of. */
  memberships: Set<string>;
}

export class NodeRegistry {
  readonly #nodes = new Map<string, NodeEntry>();
  /** nodeId → sender clock of its leave message: older heartbeats from it are stale. */
  readonly #left = new Map<string, { sentAtMs: number; atMs: number }>();
  #sweepTimer?: NodeJS.Timeout;

  constructor(private readonly pools: PoolSet, private readonly options: RegistryOptions) {}

  nodes(): ReadonlyArray<{ nodeId: string; url: string; lastSeenMs: number; report: LoadReport; backend: RegisteredBackend }> {
    return [...this.#nodes.values()];
  }

  /** Takes one heartbeat. Joins pools of newly reported models (metadata fetched from the node once). */
  async heartbeat(report: LoadReport, staticWeight?: number): Promise<void> {
    const now = this.options.clock();
    // Heartbeats may overtake each other (a drain announcement sent out of turn, a leave): a report
    // older than one already seen from the node, by the node's own clock, is dropped.
    const left = this.#left.get(report.nodeId);
    if (left && report.sentAtMs <= left.sentAtMs) return;
    let entry = this.#nodes.get(report.nodeId);
    if (entry && report.sentAtMs < entry.report.sentAtMs) return;
    if (entry && entry.url !== report.url) {
      // Same id, new address: a restarted node. Start over so connections go to the new place.
      this.evict(report.nodeId, 'address changed');
      entry = undefined;
    }
    if (!entry) {
      entry = {
        nodeId: report.nodeId,
        url: report.url,
        backend: this.options.createBackend(report.nodeId, report.url),
        lastSeenMs: now,
        report,
        staticWeight,
        memberships: new Set(),
      };
      this.#nodes.set(report.nodeId, entry);
      this.options.log?.(`node ${report.nodeId} joined from ${report.url} (${report.state})`);
    }
    entry.lastSeenMs = now;
    entry.report = report;
    const reported = new Set<string>();
    for (const model of report.models) {
      for (const version of model.versions) {
        const key = poolKey(model.name, version);
        reported.add(key);
        let pool = this.pools.get(model.name, version);
        if (!pool) {
          const metadata = await entry.backend.metadata(model.name, version);
          if (this.#nodes.get(report.nodeId) !== entry) return; // evicted while fetching
          pool = this.pools.getOrCreate(model.name, version, metadata);
        }
        pool.upsert(this.#memberSpec(entry), this.options.clock());
        pool.report(entry.nodeId, report, this.options.clock());
        entry.memberships.add(key);
      }
    }
    for (const key of entry.memberships) {
      if (reported.has(key)) continue;
      const [model, version] = key.split('\0');
      this.pools.get(model, version)?.remove(entry.nodeId);
      entry.memberships.delete(key);
    }
    this.pools.prune();
  }

  /** A node said it is leaving (drained, about to exit); `sentAtMs` is its clock when it said so. */
  leave(nodeId: string, sentAtMs = Number.MAX_SAFE_INTEGER): void {
    const now = this.options.clock();
    for (const [id, l] of this.#left) if (now - l.atMs > LEFT_NODE_MEMORY_MS) this.#left.delete(id);
    this.#left.set(nodeId, { sentAtMs, atMs: now });
    this.evict(nodeId, 'left');
  }

  evict(nodeId: string, why: string): void {
    const entry = this.#nodes.get(nodeId);
    if (!entry) return;
    this.#nodes.delete(nodeId);
    for (const key of entry.memberships) {
      const [model, version] = key.split('\0');
      this.pools.get(model, version)?.remove(nodeId);
    }
    this.pools.prune();
    // Requests still waiting on the node fail as transport errors and are retried elsewhere.
    void entry.backend.close();
    this.options.log?.(`node ${nodeId} evicted: ${why}`);
  }

  /** Evicts every node whose last heartbeat is older than evictAfterMs. */
  sweep(): void {
    const now = this.options.clock();
    for (const entry of [...this.#nodes.values()]) {
      if (now - entry.lastSeenMs > this.options.evictAfterMs) {
        this.evict(entry.nodeId, `no heartbeat for ${Math.round(now - entry.lastSeenMs)} ms`);
      }
    }
  }

  start(intervalMs = DEFAULT_SWEEP_INTERVAL_MS): void {
    this.#sweepTimer ??= setInterval(() => this.sweep(), intervalMs);
    this.#sweepTimer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.#sweepTimer);
    await Promise.all([...this.#nodes.values()].map((e) => e.backend.close()));
    this.#nodes.clear();
  }

  #memberSpec(entry: NodeEntry): MemberSpec {
    return {
      id: entry.nodeId,
      nodeId: entry.nodeId,
      url: entry.url,
      backend: entry.backend,
      capacity: entry.staticWeight ?? hardwareCapacity(entry.report.cards),
      staticWeight: entry.staticWeight,
      slots: entry.report.slots || undefined,
    };
  }

}

function poolKey(model: string, version: string): string {
  return `${model}\0${version}`;
}
