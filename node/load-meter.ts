/**
 * Node-wide load accounting for heartbeats: counters that only grow, read as differences between
 * two snapshots, so the window is whatever elapsed between two reports.
 */
import type { LoadProbe } from '../core/load-probe.js';
export interface LoadCounters {
  atMs: number;
  completed: number;
  errors: number;
  /** Sum over finished requests of their execution time. */
  serviceMsTotal: number;
  /** Sum over finished requests of acceptance-to-answer time. */
  latencyMsTotal: number;
  /** Slot-milliseconds spent executing, including executions still running. */
  busyMs: number;
}

export interface LoadWindow {
  windowMs: number;
  completedPerSec: number;
  errorsPerSec: number;
  serviceTimeMs: number;
  latencyMs: number;
  utilization: number;
}

/** Weight of the newest request in recentServiceMs: about the last ten requests count. */
const RECENT_SERVICE_WEIGHT = 0.2;

export class LoadMeter {
  #completed = 0;
  #errors = 0;
  #serviceMsTotal = 0;
  #latencyMsTotal = 0;
  #busyMsFinished = 0;
  /** Start times of executions running now, by token. */
  #running = new Map<number, number>();
  #nextToken = 0;
  inFlight = 0;
  queueDepth = 0;
  /** EWMA of the execution time of recent requests (0 before the first): what a probe's estimate scales. */
  recentServiceMs = 0;

  constructor(private readonly now: () => number = () => performance.now()) {}

  executionStarted(): number {
    const token = this.#nextToken++;
    this.#running.set(token, this.now());
    return token;
  }

  executionFinished(token: number): void {
    const startedAt = this.#running.get(token);
    if (startedAt === undefined) return;
    this.#running.delete(token);
    this.#busyMsFinished += this.now() - startedAt;
  }

  requestFinished(ok: boolean, serviceMs: number, latencyMs: number): void {
    if (ok) this.#completed++;
    else this.#errors++;
    this.#serviceMsTotal += serviceMs;
    this.#latencyMsTotal += latencyMs;
    if (serviceMs > 0) {
      this.recentServiceMs = this.recentServiceMs === 0 ? serviceMs : this.recentServiceMs + RECENT_SERVICE_WEIGHT * (serviceMs - this.recentServiceMs);
    }
  }

  /**
   * A load probe's answer: in flight now, and the latency a request accepted now should see, the
   * recent execution time times one plus the queue ahead of it per slot. Present-tense, unlike the
   * windowed report, so it shows a slowdown within a few requests.
   */
  probe(slots: number): LoadProbe {
    const queuedPerSlot = this.queueDepth / Math.max(slots, 1);
    return { inFlight: this.inFlight, latencyMs: this.recentServiceMs * (1 + queuedPerSlot) };
  }

  snapshot(): LoadCounters {
    const atMs = this.now();
    let busyMs = this.#busyMsFinished;
    for (const startedAt of this.#running.values()) busyMs += atMs - startedAt;
    return {
      atMs,
      completed: this.#completed,
      errors: this.#errors,
      serviceMsTotal: this.#serviceMsTotal,
      latencyMsTotal: this.#latencyMsTotal,
      busyMs,
    };
  }
}

/** Figures over the window between two snapshots; `slots` = executions the node can run at once. */
export function loadWindow(before: LoadCounters, after: LoadCounters, slots: number): LoadWindow {
  const windowMs = Math.max(after.atMs - before.atMs, 1e-3);
  const finished = after.completed - before.completed + (after.errors - before.errors);
  return {
    windowMs,
    completedPerSec: ((after.completed - before.completed) * 1000) / windowMs,
    errorsPerSec: ((after.errors - before.errors) * 1000) / windowMs,
    serviceTimeMs: finished > 0 ? (after.serviceMsTotal - before.serviceMsTotal) / finished : 0,
    latencyMs: finished > 0 ? (after.latencyMsTotal - before.latencyMsTotal) / finished : 0,
    utilization: slots > 0 ? Math.min(1, (after.busyMs - before.busyMs) / (windowMs * slots)) : 0,
  };
}
