/**
 * Membership of backend nodes for one gateway, from heartbeats (one Membership source, see
 * membership.ts): a node joins the pools of the models it reports, follows its reported state
 * (ready | draining), and is evicted when its heartbeats stop. Load reports ride on the same
 * heartbeat but are only handed to the pools.
 */
import type { LoadReport } from '../core/load-report.js';
import type { LoadFigures } from '../core/load-header.js';
import type { PoolSet } from './pool-set.js';
import { MemberTable, type KnownNode, type Membership, type MembershipStatus, type RegisteredBackend } from './membership.js';

/** Three missed beats at the default 1 s interval, minus margin: a stopped node is out within this. */
export const DEFAULT_EVICT_AFTER_MS = 2_500;
export const DEFAULT_SWEEP_INTERVAL_MS = 100;
/** How long a node that said it leaves is remembered, to drop its heartbeats still on the wire. */
export const LEFT_NODE_MEMORY_MS = 60_000;

export type { RegisteredBackend } from './membership.js';

export interface RegistryOptions {
  evictAfterMs: number;
  createBackend: (nodeId: string, url: string) => RegisteredBackend;
  clock: () => number;
  log?: (message: string) => void;
}

/** Membership from heartbeats: the table's nodes, ordered by each node's clock, evicted on silence. */
export class NodeRegistry implements Membership {
  readonly #table: MemberTable;
  /** nodeId → sender clock of its leave message: older heartbeats from it are stale. */
  readonly #left = new Map<string, { sentAtMs: number; atMs: number }>();
  #sweepTimer?: NodeJS.Timeout;
  readonly #since = Date.now();

  constructor(pools: PoolSet, private readonly options: RegistryOptions) {
    this.#table = new MemberTable(pools, options);
  }

  nodes(): ReadonlyArray<KnownNode> {
    return this.#table.nodes();
  }

  status(): MembershipStatus {
    return { source: 'heartbeat', state: 'live', since: this.#since, nodes: this.#table.size };
  }

  noteLoad(nodeId: string, load: LoadFigures): void {
    this.#table.noteLoad(nodeId, load);
  }

  /** Takes one heartbeat. Joins pools of newly reported models (metadata fetched from the node once). */
  async heartbeat(report: LoadReport, staticWeight?: number): Promise<void> {
    // Heartbeats may overtake each other (a drain announcement sent out of turn, a leave): a report
    // older than one already seen from the node, by the node's own clock, is dropped.
    const left = this.#left.get(report.nodeId);
    if (left && report.sentAtMs <= left.sentAtMs) return;
    const entry = this.#table.get(report.nodeId);
    if (entry && report.sentAtMs < entry.report.sentAtMs) return;
    await this.#table.apply(report, { staticWeight });
  }

  /** A node said it is leaving (drained, about to exit); `sentAtMs` is its clock when it said so. */
  leave(nodeId: string, sentAtMs = Number.MAX_SAFE_INTEGER): void {
    const now = this.options.clock();
    for (const [id, l] of this.#left) if (now - l.atMs > LEFT_NODE_MEMORY_MS) this.#left.delete(id);
    this.#left.set(nodeId, { sentAtMs, atMs: now });
    this.evict(nodeId, 'left');
  }

  evict(nodeId: string, why: string): void {
    this.#table.remove(nodeId, why);
  }

  /** Evicts every node whose last heartbeat is older than evictAfterMs. */
  sweep(): void {
    const now = this.options.clock();
    for (const entry of this.#table.nodes()) {
      if (now - entry.lastSeenMs > this.options.evictAfterMs) {
        this.evict(entry.nodeId, `no heartbeat for ${Math.round(now - entry.lastSeenMs)} ms`);
      }
    }
  }

  start(intervalMs = DEFAULT_SWEEP_INTERVAL_MS): void {
    this.#sweepTimer ??= setInterval(() => this.sweep(), intervalMs);
    this.#sweepTimer.unref();
  }

  /**
   * Keeps every member as it is from now on: a gateway that is shutting down stops listening, so
   * heartbeats no longer reach it, and evicting their silent senders would fail over the very
   * requests it is waiting for.
   */
  stopEvicting(): void {
    clearInterval(this.#sweepTimer);
  }

  async close(): Promise<void> {
    clearInterval(this.#sweepTimer);
    await this.#table.close();
  }
}
