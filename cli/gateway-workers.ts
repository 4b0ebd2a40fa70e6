/**
 * `infergate gateway --workers N`: the front door on every core. N worker processes (node:cluster)
 * share the HTTP port and the gRPC port; each runs a whole gateway (registry, pools, pickers with their own random
 * phase). The primary process only supervises:
 * - membership: a heartbeat or leave reaches one worker; that worker applies it and hands it to
 *   the primary, which passes it to every other worker. So every worker sees every node within
 *   one heartbeat, and none evicts a live node for not hearing from it. Static backends are probed
 *   by the primary and their reports sent to every worker the same way.
 * - metrics: the metrics port is the primary's and sums the workers' registries (prom-client's
 *   AggregatorRegistry; per-node gauges declare how they combine).
 * - whole-gateway views (GET /infergate/pools, statistics): the worker asked collects every
 *   worker's part through the primary and merges them (mergePoolViews, mergeModelStatistics).
 * - a worker that dies is started again; it learns the nodes from the next heartbeats.
 */
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import type { LoadReport } from '../core/load-report.js';
import type { PoolView } from '../scheduler/pool.js';
import { mergePoolViews } from '../scheduler/pool-view-merge.js';
import { mergeModelStatistics, type ModelStatistics } from '../core/model-statistics.js';
import { startMetricsServer } from '../gateway/metrics-server.js';
import { DEFAULT_HEARTBEAT_INTERVAL_MS } from '../node/heartbeat-sender.js';
import { StaticBackendProber, parseStaticBackend } from '../scheduler/static-backends.js';
import { RemoteBackend } from '../transport/remote-backend.js';
import type { Logger } from './logger.js';
import { backendApiKeyOf, doorTlsOf, peerTlsOf } from './transport-security.js';
import { intOption, metricsPortFrom, type ParsedOptions } from './options.js';
import type { RunningGateway } from './running.js';

/** What travels between a worker and the primary. */
export type MembershipMessage =
  | { infergate: 'heartbeat'; report: LoadReport; staticWeight?: number }
  | { infergate: 'leave'; nodeId: string; sentAtMs: number }
  | { infergate: 'listening'; port: number; grpcPort?: number }
  // A view of the whole gateway (operator view, statistics): a worker asks, the primary collects
  // every worker's part and hands the parts back; the asking worker merges them.
  | { infergate: 'collect-request'; requestId: number; what: CollectedView }
  | { infergate: 'collect'; requestId: number; what: CollectedView }
  | { infergate: 'collect-part'; requestId: number; part: unknown }
  | { infergate: 'collect-reply'; requestId: number; parts: unknown[] };

/** What a worker can be asked for its part of. */
export type CollectedView = 'pools' | 'statistics';

export function isMembershipMessage(value: unknown): value is MembershipMessage {
  return typeof value === 'object' && value !== null && typeof (value as { infergate?: unknown }).infergate === 'string';
}

/** Restarting a worker that keeps dying waits at least this long. */
const WORKER_RESTART_DELAY_MS = 500;
/** A worker that has not sent its part of a whole-gateway view by then is left out of it. */
const POOLS_COLLECT_TIMEOUT_MS = 1_000;

export async function startGatewayPrimary(values: ParsedOptions, workers: number, log: Logger): Promise<RunningGateway> {
  const host = String(values.host);
  let stopping = false;
  const alive = new Set<Worker>();
  const listening = new Set<number>();
  let announce!: (ports: { port: number; grpcPort?: number }) => void;
  const firstListen = new Promise<{ port: number; grpcPort?: number }>((resolve) => (announce = resolve));

  const broadcast = (message: MembershipMessage, except?: Worker) => {
    for (const w of alive) if (w !== except && w.isConnected()) w.send(message);
  };
  const collecting = new Map<number, { asker: Worker; askerRequestId: number; parts: unknown[]; waiting: number; timer: NodeJS.Timeout }>();
  let nextCollect = 0;
  const finishCollect = (id: number) => {
    const c = collecting.get(id);
    if (!c) return;
    collecting.delete(id);
    clearTimeout(c.timer);
    if (c.asker.isConnected()) c.asker.send({ infergate: 'collect-reply', requestId: c.askerRequestId, parts: c.parts } satisfies MembershipMessage);
  };
  const collect = (asker: Worker, askerRequestId: number, what: CollectedView) => {
    const id = nextCollect++;
    const targets = [...alive].filter((w) => w.isConnected());
    collecting.set(id, { asker, askerRequestId, parts: [], waiting: targets.length, timer: setTimeout(() => finishCollect(id), POOLS_COLLECT_TIMEOUT_MS) });
    for (const w of targets) w.send({ infergate: 'collect', requestId: id, what } satisfies MembershipMessage);
  };
  const fork = () => {
    const worker = cluster.fork();
    alive.add(worker);
    worker.on('message', (message: unknown) => {
      if (!isMembershipMessage(message)) return;
      switch (message.infergate) {
        case 'listening':
          listening.add(worker.id);
          if (listening.size === workers) announce({ port: message.port, grpcPort: message.grpcPort });
          return;
        case 'collect-request':
          collect(worker, message.requestId, message.what);
          return;
        case 'collect-part': {
          const c = collecting.get(message.requestId);
          if (!c) return;
          c.parts.push(message.part);
          if (--c.waiting === 0) finishCollect(message.requestId);
          return;
        }
        case 'heartbeat':
        case 'leave':
          broadcast(message, worker);
          return;
        default:
          return;
      }
    });
    worker.on('exit', (code, signal) => {
      alive.delete(worker);
      listening.delete(worker.id);
      if (stopping) return;
      log.warn(`gateway worker ${worker.process.pid} exited (${signal ?? `code ${code}`}); starting another`);
      setTimeout(() => { if (!stopping) fork(); }, WORKER_RESTART_DELAY_MS).unref();
    });
  };
  for (let i = 0; i < workers; i++) fork();

  const aggregator = new AggregatorRegistry();
  const metricsPort = metricsPortFrom(values);
  const metricsServer = metricsPort === undefined ? undefined : await startMetricsServer(
    { contentType: aggregator.contentType, read: () => aggregator.clusterMetrics() }, host, metricsPort, doorTlsOf(values),
  );
  const staticSpecs = ((values.backend as string[] | undefined) ?? []).map(parseStaticBackend);
  const prober = staticSpecs.length === 0 ? undefined : new StaticBackendProber(
    staticSpecs,
    { heartbeat: async (report, staticWeight) => broadcast({ infergate: 'heartbeat', report, staticWeight }) },
    (nodeId, url) => new RemoteBackend(nodeId, url, { connectTimeoutMs: intOption(values, 'connect-timeout-ms', 1), tls: peerTlsOf(values, 'backend'), apiKey: backendApiKeyOf(values) }),
    (m) => log.warn(m),
  );
  prober?.start(DEFAULT_HEARTBEAT_INTERVAL_MS);

  const { port, grpcPort } = await firstListen;
  log.info(`gateway: KServe v2 HTTP on ${host}:${port}, ${workers} workers, policy ${values.policy}, ${staticSpecs.length} static backend(s)`);
  if (grpcPort !== undefined) log.info(`gateway: KServe v2 gRPC on ${host}:${grpcPort}, ${workers} workers`);
  let stopped: Promise<void> | undefined;
  return {
    url: `http${doorTlsOf(values) ? 's' : ''}://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    stop: () => (stopped ??= (async () => {
      stopping = true;
      await prober?.close();
      // Each worker drains itself on SIGTERM (--shutdown-timeout-ms) and exits 1 if it cut requests.
      const codes = await Promise.all([...alive].map((w) => new Promise<number | null>((resolve) => {
        if (w.isDead()) return resolve(w.process.exitCode);
        w.once('exit', (code) => resolve(code));
        w.process.kill('SIGTERM');
      })));
      await metricsServer?.close();
      const failed = codes.filter((c) => c !== 0).length;
      if (failed > 0) throw new Error(`${failed} gateway worker(s) did not stop cleanly (cut requests at the shutdown deadline, or crashed)`);
    })()),
  };
}

/** What a worker answers for its part of a whole-gateway view. */
export interface LocalViews {
  pools(): PoolView[];
  statistics(): ModelStatistics[];
}

/**
 * In a worker: hands what this worker received to the primary, applies what others received, and
 * answers for its part of the whole-gateway views (operator view, statistics).
 */
export class WorkerMembershipRelay {
  readonly #waiting = new Map<number, (parts: unknown[]) => void>();
  #nextRequest = 0;

  constructor(private readonly apply: (message: MembershipMessage) => void, private readonly local: LocalViews) {
    process.on('message', (message: unknown) => {
      if (!isMembershipMessage(message)) return;
      if (message.infergate === 'collect') {
        const part = message.what === 'pools' ? this.local.pools() : this.local.statistics();
        this.publish({ infergate: 'collect-part', requestId: message.requestId, part });
      } else if (message.infergate === 'collect-reply') {
        this.#waiting.get(message.requestId)?.(message.parts);
        this.#waiting.delete(message.requestId);
      } else {
        this.apply(message);
      }
    });
    // The primary is gone (killed): a worker alone would serve a view nobody keeps in step.
    process.on('disconnect', () => process.exit(0));
  }

  publish(message: MembershipMessage): void {
    if (process.connected) process.send!(message);
  }

  /** The operator view over every worker (this one's alone if the primary does not answer). */
  async gatewayView(): Promise<PoolView[]> {
    return mergePoolViews((await this.#collect('pools')) as PoolView[][]);
  }

  /** Every worker's statistics, added up (this one's alone if the primary does not answer). */
  async gatewayStatistics(): Promise<ModelStatistics[]> {
    return mergeModelStatistics((await this.#collect('statistics')) as ModelStatistics[][]);
  }

  #collect(what: CollectedView): Promise<unknown[]> {
    return new Promise((resolve) => {
      const requestId = this.#nextRequest++;
      const timer = setTimeout(() => {
        this.#waiting.delete(requestId);
        resolve([what === 'pools' ? this.local.pools() : this.local.statistics()]);
      }, 2 * POOLS_COLLECT_TIMEOUT_MS);
      this.#waiting.set(requestId, (parts) => {
        clearTimeout(timer);
        resolve(parts);
      });
      this.publish({ infergate: 'collect-request', requestId, what });
    });
  }
}
