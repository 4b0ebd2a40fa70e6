/**
 * Membership is a seam (DESIGN §1): who the nodes are, where they answer and what they serve comes
 * from one of several sources (heartbeats, a static list that is probed, etcd), and the gateway
 * builds its pools the same way from each. This module holds the contract every source implements
 * and the one table they all write into: node → backend, pools joined, latest report.
 *
 * Load is kept apart from membership: a source says who is there; load figures arrive with
 * heartbeats or on every response (core/load-header.ts) and are merged into the node's report here.
 */
import type { ModelMetadata } from '../core/model-metadata.js';
import { hardwareCapacity, type LoadReport } from '../core/load-report.js';
import type { LoadFigures } from '../core/load-header.js';
import type { PoolSet } from './pool-set.js';
import type { MemberSpec } from './pool.js';
import type { Backend } from './backend.js';

export interface RegisteredBackend extends Backend {
  readonly url: string;
  /** A control request with a JSON body (model load/unload); rejects with the node's error. */
  postJson(path: string, body: unknown): Promise<void>;
  metadata(model: string, version: string): Promise<ModelMetadata>;
  getJson<T>(path: string, method?: 'GET' | 'POST'): Promise<T>;
}

/** One node as the gateway knows it now. */
export interface KnownNode {
  nodeId: string;
  url: string;
  lastSeenMs: number;
  report: LoadReport;
  backend: RegisteredBackend;
}

/**
 * How fresh a source's view is. `live`: the source answers. `stale`: it does not (etcd down), and
 * the gateway routes on the last view it had (static stability); `since` is when it went stale.
 */
export interface MembershipStatus {
  source: 'heartbeat' | 'static' | 'etcd';
  state: 'live' | 'stale' | 'connecting';
  /** Epoch ms of the last change of state. */
  since: number;
  nodes: number;
  detail?: string;
}

/** What every membership source gives the gateway. */
export interface Membership {
  nodes(): ReadonlyArray<KnownNode>;
  /** Load figures a transport read off a node's response: merged into that node's report. */
  noteLoad(nodeId: string, load: LoadFigures): void;
  status(): MembershipStatus;
  start(): void | Promise<void>;
  close(): Promise<void>;
}

export interface MemberTableOptions {
  createBackend: (nodeId: string, url: string) => RegisteredBackend;
  clock: () => number;
  log?: (message: string) => void;
}

interface NodeEntry extends KnownNode {
  staticWeight?: number;
  /** `model\0version` keys of the pools this node is a member of. */
  memberships: Set<string>;
}

/**
 * Nodes and their pool memberships, shared by every source: `apply` a node's report (join the
 * pools of the models it serves, leave the others, follow its state), `remove` it.
 */
export class MemberTable {
  readonly #nodes = new Map<string, NodeEntry>();

  constructor(private readonly pools: PoolSet, private readonly options: MemberTableOptions) {}

  nodes(): ReadonlyArray<KnownNode> {
    return [...this.#nodes.values()];
  }

  get(nodeId: string): KnownNode | undefined {
    return this.#nodes.get(nodeId);
  }

  get size(): number {
    return this.#nodes.size;
  }

  /**
   * Takes a node's report. Joins pools of newly reported models (metadata fetched from the node
   * once). `keepLoad`: the report carries membership only (an etcd record), so the load figures
   * already known for the node stay.
   */
  async apply(report: LoadReport, options: { staticWeight?: number; keepLoad?: boolean } = {}): Promise<void> {
    const now = this.options.clock();
    let entry = this.#nodes.get(report.nodeId);
    if (entry && entry.url !== report.url) {
      // Same id, new address: a restarted node. Start over so connections go to the new place.
      this.remove(report.nodeId, 'address changed');
      entry = undefined;
    }
    if (!entry) {
      entry = {
        nodeId: report.nodeId,
        url: report.url,
        backend: this.options.createBackend(report.nodeId, report.url),
        lastSeenMs: now,
        report,
        staticWeight: options.staticWeight,
        memberships: new Set(),
      };
      this.#nodes.set(report.nodeId, entry);
      this.options.log?.(`node ${report.nodeId} joined from ${report.url} (${report.state})`);
    }
    entry.lastSeenMs = now;
    entry.report = options.keepLoad && entry.report !== report ? { ...report, ...loadOf(entry.report), state: report.state } : report;
    const reported = new Set<string>();
    for (const model of report.models) {
      for (const version of model.versions) {
        const key = poolKey(model.name, version);
        reported.add(key);
        let pool = this.pools.get(model.name, version);
        if (!pool) {
          const metadata = await entry.backend.metadata(model.name, version);
          if (this.#nodes.get(report.nodeId) !== entry) return; // removed while fetching
          pool = this.pools.getOrCreate(model.name, version, metadata);
        }
        pool.upsert(this.#memberSpec(entry), this.options.clock());
        pool.report(entry.nodeId, entry.report, this.options.clock());
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

  /**
   * Load figures from a response header: merged into the node's report and handed to its pools.
   * The node's state travels too, so a drain is seen on the next answer even when the membership
   * source is down. Membership fields (models, cards) stay as the source gave them.
   */
  noteLoad(nodeId: string, load: LoadFigures): void {
    const entry = this.#nodes.get(nodeId);
    if (!entry) return;
    const now = this.options.clock();
    // In place: this runs on every answer, and the pools hold this same object as the member's report.
    Object.assign(entry.report, load);
    for (const key of entry.memberships) {
      const [model, version] = key.split('\0');
      this.pools.get(model, version)?.report(nodeId, entry.report, now);
    }
  }

  /** Takes the node out of every pool and closes its connections. */
  remove(nodeId: string, why: string): void {
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

  async close(): Promise<void> {
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

/** The load figures of a report (what a response header also carries). */
function loadOf(report: LoadReport): LoadFigures {
  return {
    inFlight: report.inFlight,
    queueDepth: report.queueDepth,
    slots: report.slots,
    utilization: report.utilization,
    completedPerSec: report.completedPerSec,
    errorsPerSec: report.errorsPerSec,
    serviceTimeMs: report.serviceTimeMs,
    latencyMs: report.latencyMs,
    windowMs: report.windowMs,
    state: report.state,
  };
}

function poolKey(model: string, version: string): string {
  return `${model}\0${version}`;
}
