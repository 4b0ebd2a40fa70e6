/**
 * The routing bench's fleet on a virtual clock: the real BackendPool, pick policies and weight
 * policies, fed by simulated nodes (FIFO slots, a service time per request) and Poisson arrivals,
 * with no processes and no sockets. Deterministic for a seed, and a minute of traffic takes well
 * under a second, so a policy change can be judged on many seeds before the real bench (whose p99
 * also carries the noise of two shared cores) and asserted in tests.
 *
 * What it leaves out: the gateway's own CPU, HTTP, retries, ejection and heartbeat timing (reports
 * arrive every reportIntervalMs, exactly); the real bench (bench/routing/main.ts) has those.
 */
import type { LoadReport } from '../../core/load-report.js';
import type { Backend } from '../../scheduler/backend.js';
import { BackendPool, DEFAULT_POOL_OPTIONS } from '../../scheduler/pool.js';
import type { PoolAttempt } from '../../scheduler/pool.js';
import { createRoutingPolicy } from '../../scheduler/routing-policy.js';
import { seededRandom } from '../support/seeded-random.js';
import { DEFAULT_BASE_SERVICE_MS, FLEET, SLOTS_PER_NODE } from './scenarios.js';

export interface SimulatedSlowdown {
  node: string;
  fromMs: number;
  toMs: number;
  factor: number;
}

export interface SimulationOptions {
  policy: string;
  /** The gateway's --queue-budget; 0 = guard off. Default: the pool's default. */
  queueBudget?: number;
  /** Offered load as a share of the fleet's capacity. */
  load: number;
  durationMs: number;
  seed?: number;
  slowdowns?: SimulatedSlowdown[];
  /** Speeds of the nodes n1, n2, …; default the bench fleet. */
  speeds?: readonly number[];
  slots?: number;
  baseServiceMs?: number;
  /** Gateway ↔ node time each way. */
  networkMs?: number;
  reportIntervalMs?: number;
  weightIntervalMs?: number;
}

export interface SimulatedRequest {
  sentAtMs: number;
  latencyMs: number;
  node: string;
}

interface SimNode {
  id: string;
  speed: number;
  busy: number;
  queue: Job[];
  /** Since the last report: completions, busy slot-milliseconds (integrated over time), service times. */
  completed: number;
  busyMs: number;
  serviceMsSum: number;
  /** When busyMs was last brought up to date. */
  accruedAtMs: number;
}

interface Job {
  sentAtMs: number;
  attempt: PoolAttempt;
}

/** A binary min-heap of timed events; ties run in insertion order. */
class EventQueue {
  readonly #heap: { atMs: number; seq: number; run: (nowMs: number) => void }[] = [];
  #seq = 0;

  get size(): number {
    return this.#heap.length;
  }

  push(atMs: number, run: (nowMs: number) => void): void {
    const heap = this.#heap;
    heap.push({ atMs, seq: this.#seq++, run });
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#before(heap[i], heap[parent])) break;
      [heap[i], heap[parent]] = [heap[parent], heap[i]];
      i = parent;
    }
  }

  pop(): { atMs: number; run: (nowMs: number) => void } {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && this.#before(heap[l], heap[m])) m = l;
        if (r < heap.length && this.#before(heap[r], heap[m])) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m], heap[i]];
        i = m;
      }
    }
    return top;
  }

  #before(a: { atMs: number; seq: number }, b: { atMs: number; seq: number }): boolean {
    return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
  }
}

/** Members are picked, never called: the simulation runs the call itself. */
const NO_BACKEND: Backend = {
  id: 'simulated',
  infer: () => Promise.reject(new Error('a simulated member is never called')),
  close: async () => {},
};

/** Runs one simulation; every request sent before durationMs is answered and returned. */
export function simulateRouting(options: SimulationOptions): SimulatedRequest[] {
  const speeds = options.speeds ?? FLEET.map((n) => n.speed);
  const slots = options.slots ?? SLOTS_PER_NODE;
  const baseServiceMs = options.baseServiceMs ?? DEFAULT_BASE_SERVICE_MS;
  const networkMs = options.networkMs ?? 0.5;
  const reportIntervalMs = options.reportIntervalMs ?? 1_000; // the heartbeat interval; its window too
  const weightIntervalMs = options.weightIntervalMs ?? 1_000;
  const random = seededRandom(options.seed ?? 1);
  const metadata = { name: 'm', versions: ['1'], platform: 'simulated', inputs: [], outputs: [], maxBatchSize: 0 };
  const poolOptions = options.queueBudget === undefined ? DEFAULT_POOL_OPTIONS : { ...DEFAULT_POOL_OPTIONS, queueBudget: options.queueBudget };
  const pool = new BackendPool('m', '1', metadata, createRoutingPolicy(options.policy, { slowStartWindowMs: 0 }), poolOptions, seededRandom((options.seed ?? 1) + 1));
  const nodes: SimNode[] = speeds.map((speed, i) => ({ id: `n${i + 1}`, speed, busy: 0, queue: [], completed: 0, busyMs: 0, serviceMsSum: 0, accruedAtMs: 0 }));
  const byId = new Map(nodes.map((n) => [n.id, n]));
  for (const n of nodes) {
    pool.upsert({ id: n.id, nodeId: n.id, url: `http://${n.id}`, backend: NO_BACKEND, capacity: n.speed, staticWeight: options.policy === 'static' ? n.speed : undefined, slots }, 0);
  }

  const events = new EventQueue();
  const done: SimulatedRequest[] = [];
  const ratePerMs = (options.load * speeds.reduce((sum, s) => sum + (slots * 1000 * s) / baseServiceMs, 0)) / 1000;
  const slowdownAt = (node: SimNode, nowMs: number): number => {
    let factor = 1;
    for (const s of options.slowdowns ?? []) if (s.node === node.id && nowMs >= s.fromMs && nowMs < s.toMs) factor *= s.factor;
    return factor;
  };

  const accrue = (node: SimNode, nowMs: number): void => {
    node.busyMs += node.busy * (nowMs - node.accruedAtMs);
    node.accruedAtMs = nowMs;
  };

  const start = (node: SimNode, job: Job, nowMs: number): void => {
    accrue(node, nowMs);
    node.busy++;
    // ±5 % around the card's service time, as the simulated engine's jitter.
    const serviceMs = (baseServiceMs / node.speed) * slowdownAt(node, nowMs) * (0.95 + 0.1 * random());
    events.push(nowMs + serviceMs, (endMs) => {
      accrue(node, endMs);
      node.busy--;
      node.completed++;
      node.serviceMsSum += serviceMs;
      events.push(endMs + networkMs, (answeredMs) => {
        job.attempt.end('ok', answeredMs);
        done.push({ sentAtMs: job.sentAtMs, latencyMs: answeredMs - job.sentAtMs, node: node.id });
      });
      const next = node.queue.shift();
      if (next) start(node, next, endMs);
    });
  };

  const arrive = (nowMs: number): void => {
    const attempt = pool.attempt(nowMs);
    if (!attempt) throw new Error('the simulated pool refused a request');
    const node = byId.get(attempt.member.id)!;
    const job: Job = { sentAtMs: nowMs, attempt };
    events.push(nowMs + networkMs, (atNodeMs) => {
      if (node.busy < slots) start(node, job, atNodeMs);
      else node.queue.push(job);
    });
    const next = nowMs - Math.log(1 - random()) / ratePerMs;
    if (next < options.durationMs) events.push(next, arrive);
  };

  const report = (nowMs: number): void => {
    for (const node of nodes) {
      const windowMs = reportIntervalMs;
      accrue(node, nowMs);
      const loadReport: LoadReport = {
        nodeId: node.id,
        url: `http://${node.id}`,
        state: 'ready',
        cards: [{ type: 'sim', count: 1, coefficient: node.speed }],
        inFlight: node.busy + node.queue.length,
        queueDepth: node.queue.length,
        slots,
        utilization: Math.min(1, node.busyMs / (slots * windowMs)),
        completedPerSec: (node.completed * 1000) / windowMs,
        errorsPerSec: 0,
        serviceTimeMs: node.completed > 0 ? node.serviceMsSum / node.completed : 0,
        latencyMs: 0,
        windowMs,
        models: [{ name: 'm', versions: ['1'] }],
        sentAtMs: nowMs,
      };
      pool.report(node.id, loadReport, nowMs);
      node.completed = 0;
      node.busyMs = 0;
      node.serviceMsSum = 0;
    }
    if (nowMs + reportIntervalMs < options.durationMs) events.push(nowMs + reportIntervalMs, report);
  };

  events.push(0, arrive);
  events.push(reportIntervalMs, report);
  for (let t = weightIntervalMs; t < options.durationMs; t += weightIntervalMs) events.push(t, (nowMs) => pool.recomputeWeights(nowMs));
  while (events.size > 0) {
    const event = events.pop();
    event.run(event.atMs);
  }
  return done;
}

/** The p-quantile (0..1) of the latencies of requests sent in [fromMs, toMs). */
export function latencyQuantile(requests: readonly SimulatedRequest[], p: number, fromMs = 0, toMs = Infinity): number {
  const values = requests.filter((r) => r.sentAtMs >= fromMs && r.sentAtMs < toMs).map((r) => r.latencyMs).sort((a, b) => a - b);
  if (values.length === 0) return NaN;
  return values[Math.min(values.length - 1, Math.floor(p * values.length))];
}
