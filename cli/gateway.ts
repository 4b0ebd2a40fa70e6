/**
 * `infergate gateway`: no models of its own. Backend nodes join by heartbeat (or are listed with
 * --backend), each (model, version) gets a pool routed by adaptive SWRR, and requests are
 * forwarded to the nodes as they came: HTTP over undici keep-alive pools, gRPC to each node's gRPC
 * door. With --workers N > 1 the process is the primary of N gateway workers on one HTTP port and
 * one gRPC port (gateway-workers.ts).
 */
import cluster from 'node:cluster';
import os from 'node:os';
import { AggregatorRegistry } from 'prom-client';
import { RemoteBackend } from '../transport/remote-backend.js';
import { ConfigError, invalidArg, notFound } from '../core/errors.js';
import { packageVersion } from '../core/package-root.js';
import { InferenceService } from '../service/inference-service.js';
import { PoolTarget } from '../service/pool-target.js';
import { PipelineTarget, buildPipelines } from '../service/pipeline-target.js';
import { loadPipelineRepository } from '../core/pipeline-declaration.js';
import { formatDeclarationError } from '../core/model-repository.js';
import { GatewayRepositoryControl } from '../service/repository-control.js';
import { poolRoutes, registryRoutes, type HeartbeatIntake } from '../gateway/http/operator.js';
import { buildHttpServer } from '../gateway/http/server.js';
import { Metrics } from '../service/metrics.js';
import { startMetricsServer } from '../gateway/metrics-server.js';
import { PoolSet } from '../scheduler/pool-set.js';
import { DEFAULT_POOL_OPTIONS } from '../scheduler/pool.js';
import { NodeRegistry } from '../scheduler/registry.js';
import { grpcTargetOf, type LoadReport } from '../core/load-report.js';
import { startGrpcServer } from '../gateway/grpc/server.js';
import { Router } from '../scheduler/router.js';
import { overloadSettingsFrom } from './overload-options.js';
import { StaticBackendProber, StaticMembership, parseStaticBackend } from '../scheduler/static-backends.js';
import type { Membership } from '../scheduler/membership.js';
import { registerMembershipMetrics } from '../service/membership-metrics.js';
import { etcdSettingsFrom, type EtcdSettings } from '../core/etcd-settings.js';
import { createRoutingPolicy, isRoutingPolicyName, ROUTING_POLICY_NAMES } from '../scheduler/routing-policy.js';
import { DEFAULT_HEARTBEAT_INTERVAL_MS } from '../node/heartbeat-sender.js';
import { createLogger } from './logger.js';
import { accessControlFrom } from './api-keys.js';
import { loadAccessTable } from '../service/access-table.js';
import { backendApiKeyOf, doorTlsOf, nodeSecretOf, peerTlsOf } from './transport-security.js';
import { registerNodeAuthMetrics } from '../service/node-auth-metrics.js';
import { grpcMaxMessageBytesFrom, grpcPortFrom, intOption, limitsFrom, metricsPortFrom, type ParsedOptions } from './options.js';
import type { RunningGateway } from './running.js';
import { ShutdownCut, drainWithin } from './graceful-shutdown.js';
import { startGatewayPrimary, WorkerMembershipRelay, type MembershipMessage } from './gateway-workers.js';
import type { Logger } from './logger.js';

/** One gateway worker per core by default. */
export const DEFAULT_GATEWAY_WORKERS = os.availableParallelism();

export async function startGateway(values: ParsedOptions): Promise<RunningGateway> {
  const log = createLogger(String(values['log-level']));
  const workers = intOption(values, 'workers', 1);
  // Flags are checked once, in the primary, before any worker starts.
  policyResolver(String(values.policy), (values['pool-policy'] as string[] | undefined) ?? [], intOption(values, 'slow-start-ms'));
  grpcPortFrom(values);
  grpcMaxMessageBytesFrom(values);
  queueBudgetFrom(values);
  overloadSettingsFrom(values);
  intOption(values, 'shutdown-timeout-ms');
  etcdFrom(values);
  doorTlsOf(values);
  peerTlsOf(values, 'backend');
  nodeSecretOf(values);
  backendApiKeyOf(values);
  loadAccessTable(values['api-keys'] as string | undefined);
  if (workers > 1 && cluster.isPrimary) return startGatewayPrimary(values, workers, log);
  return startGatewayProcess(values, log, cluster.isWorker);
}

/** One whole gateway in this process; `asWorker`: one of several on a shared port. */
async function startGatewayProcess(values: ParsedOptions, log: Logger, asWorker: boolean): Promise<RunningGateway> {
  let stopping: Promise<void> | undefined;
  const host = String(values.host);
  const limits = limitsFrom(values);
  const slowStartWindowMs = intOption(values, 'slow-start-ms');
  const policyFor = policyResolver(String(values.policy), (values['pool-policy'] as string[] | undefined) ?? [], slowStartWindowMs);
  const weightIntervalMs = intOption(values, 'weight-interval-ms', 10);
  const heartbeatIntervalMs = DEFAULT_HEARTBEAT_INTERVAL_MS;
  const grpcPort = grpcPortFrom(values);
  const grpcMaxMessageBytes = grpcMaxMessageBytesFrom(values);

  const overload = overloadSettingsFrom(values);
  const pools = new PoolSet(policyFor, { ...DEFAULT_POOL_OPTIONS, ...overload.pool, queueBudget: queueBudgetFrom(values) });
  const metrics = new Metrics({ pools: () => pools });
  const access = accessControlFrom(values, log, () => metrics);
  const tls = doorTlsOf(values);
  const backendTls = peerTlsOf(values, 'backend');
  const backendApiKey = backendApiKeyOf(values);
  // With a secret, only nodes that sign with it join (heartbeats and etcd records alike).
  const nodeSecret = nodeSecretOf(values);
  const refused = registerNodeAuthMetrics(metrics.registry, (m) => log.warn(m));
  // The gRPC door each node advertised in its last heartbeat (none: gRPC goes to it over HTTP).
  const grpcTargets = new Map<string, string>();
  const noteGrpcTarget = (report: LoadReport) => {
    if (report.grpcUrl === undefined) grpcTargets.delete(report.nodeId);
    else grpcTargets.set(report.nodeId, grpcTargetOf(report.grpcUrl));
  };
  const createBackend = (nodeId: string, url: string) => new RemoteBackend(nodeId, url, {
    connections: intOption(values, 'backend-connections', 1),
    connectTimeoutMs: intOption(values, 'connect-timeout-ms', 1),
    grpcTarget: () => grpcTargets.get(nodeId) ?? etcdGrpcTarget(nodeId),
    grpcMaxMessageBytes,
    maxTensorElements: limits.maxTensorElements,
    // The load on every answer goes to the node's pools: load from this gateway's own traffic.
    onLoad: (load) => source.noteLoad(nodeId, load),
    tls: backendTls,
    apiKey: backendApiKey,
  });
  const registry = new NodeRegistry(pools, {
    evictAfterMs: intOption(values, 'evict-after-ms', 1),
    createBackend,
    clock: Date.now,
    log: (m) => log.info(m),
  });
  // A worker's static backends are probed by the primary, which sends every worker the reports.
  const staticSpecs = asWorker ? [] : ((values.backend as string[] | undefined) ?? []).map(parseStaticBackend);
  const etcd = etcdFrom(values);
  // Where membership comes from: etcd's watch, static backends (with heartbeats), or heartbeats alone.
  const source: Membership = etcd
    ? new (await import('../scheduler/etcd-membership.js')).EtcdMembership(pools, {
      settings: etcd, createBackend, clock: Date.now, log: (m) => log.info(m), secret: nodeSecret, onRefused: (reason) => refused('etcd', reason, undefined),
    })
    : staticSpecs.length
      ? new StaticMembership(registry, new StaticBackendProber(staticSpecs, { heartbeat: (r, w) => membership.heartbeat(r, w) }, createBackend, (m) => log.warn(m)), heartbeatIntervalMs)
      : registry;
  const etcdGrpcTarget = (nodeId: string) => {
    const grpcUrl = etcd ? source.nodes().find((n) => n.nodeId === nodeId)?.report.grpcUrl : undefined;
    return grpcUrl === undefined ? undefined : grpcTargetOf(grpcUrl);
  };
  // Every heartbeat and leave goes through here, whoever received it, so the gRPC addresses follow membership.
  const membership: HeartbeatIntake = {
    heartbeat: (report, staticWeight) => {
      if (etcd) throw invalidArg('this gateway takes its membership from etcd (--etcd): start the backend with --etcd, not --gateway', 'membership_from_etcd');
      noteGrpcTarget(report);
      return registry.heartbeat(report, staticWeight);
    },
    leave: (nodeId, sentAtMs) => {
      grpcTargets.delete(nodeId);
      registry.leave(nodeId, sentAtMs);
    },
  };
  const router = new Router(pools, overload.router, {
    retry: (pool, reason) => metrics.retries.inc({ model: pool.model, version: pool.version, reason }),
  });
  const poolTarget = new PoolTarget(pools, router, async (model, version) => {
    const member = pools.get(model, version)?.members().find((m) => m.state === 'ready');
    if (!member) throw notFound(`no ready backend holds model '${model}' version ${version}`);
    return (member.spec.backend as RemoteBackend).getJson(`/v2/models/${encodeURIComponent(model)}/versions/${encodeURIComponent(version)}/config`);
  }, Date.now, () => source.nodes().map((n) => ({ nodeId: n.nodeId, unavailable: n.report.unavailable ?? [] })));
  const target = new PipelineTarget(poolTarget, pipelinesFrom(values), { maxTensorElements: limits.maxTensorElements, maxJsonDepth: limits.maxJsonDepth, maxStringBytes: limits.maxStringBytes });
  const relay = asWorker
    ? new WorkerMembershipRelay((message) => applyMembership(membership, message), {
      pools: () => pools.view(Date.now()),
      statistics: () => target.statistics(),
    })
    : undefined;
  const service = new InferenceService({
    target,
    version: packageVersion(),
    requestTimeoutMs: limits.requestTimeoutMs,
    // Readiness turns false the moment a shutdown begins, before the doors stop accepting.
    started: () => stopping === undefined,
    metrics,
    gatherStatistics: relay ? () => relay.gatewayStatistics() : undefined,
    repository: new GatewayRepositoryControl(() => source.nodes().map((n) => ({
      nodeId: n.nodeId, backend: n.backend, models: n.report.models.map((m) => m.name),
    }))),
    logError: (m) => log.error(m),
  });
  const intake = relay ? {
    heartbeat: async (report: LoadReport) => {
      relay.publish({ infergate: 'heartbeat', report });
      await membership.heartbeat(report);
    },
    leave: (nodeId: string, sentAtMs?: number) => {
      relay.publish({ infergate: 'leave', nodeId, sentAtMs: sentAtMs ?? Number.MAX_SAFE_INTEGER });
      membership.leave(nodeId, sentAtMs);
    },
  } : membership;
  const http = await buildHttpServer({
    tls, access,
    service, limits, metrics, logger: log.fastify, logError: (m) => log.error(m),
    plugins: [
      poolRoutes(relay ? () => relay.gatewayView() : () => pools.view(Date.now()), () => pools.view(Date.now()), () => source.status()),
      registryRoutes(intake, heartbeatIntervalMs, nodeSecret && { secret: nodeSecret, onRefused: (reason, nodeId) => refused('heartbeat', reason, nodeId) }),
    ],
  });
  registerMembershipMetrics(metrics.registry, () => source.status());
  // The heartbeat registry runs in every mode: static backends feed it, and with etcd it takes nothing.
  if (source !== registry) registry.start();
  await source.start();
  const weightTimer = setInterval(() => pools.tick(Date.now()), weightIntervalMs);

  await http.listen({ host, port: intOption(values, 'http-port') });
  const port = (http.server.address() as { port: number }).port;
  const grpc = grpcPort === undefined ? undefined : await startGrpcServer({ service, host, port: grpcPort, maxMessageBytes: grpcMaxMessageBytes, maxMetadataBytes: limits.maxHeaderBytes, tls, access });
  let metricsServer: Awaited<ReturnType<typeof startMetricsServer>> | undefined;
  if (relay) {
    // The primary's metrics port reads this registry: constructing an AggregatorRegistry is what
    // makes prom-client answer the primary's requests in a worker.
    new AggregatorRegistry();
    AggregatorRegistry.setRegistries([metrics.registry]);
    relay.publish({ infergate: 'listening', port, grpcPort: grpc?.port });
  } else {
    const metricsPort = metricsPortFrom(values);
    metricsServer = metricsPort === undefined ? undefined : await startMetricsServer(metrics.source, host, metricsPort, tls);
    if (tls) log.info(`gateway: TLS on every port${tls.clientCa ? ', client certificates required' : ''}`);
    log.info(`gateway: node registration ${nodeSecret ? 'signed with the node secret: unsigned nodes are refused' : 'open: no node secret, any node joins'}`);
    log.info(`gateway: KServe v2 HTTP on ${host}:${port}, policy ${values.policy}, weights every ${weightIntervalMs} ms, ${staticSpecs.length} static backend(s), membership from ${source.status().source}`);
    if (grpc) log.info(`gateway: KServe v2 gRPC on ${host}:${grpc.port}, messages up to ${grpcMaxMessageBytes} bytes`);
  }

  const shutdownTimeoutMs = intOption(values, 'shutdown-timeout-ms');
  return {
    url: `http${tls ? 's' : ''}://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    stop: () => (stopping ??= (async () => {
      registry.stopEvicting();
      log.info(`gateway: shutting down: no new requests, ${service.inFlight} in flight get up to ${shutdownTimeoutMs} ms`);
      const outcome = await drainWithin({
        drain: async () => {
          await Promise.all([http.close(), grpc?.close(shutdownTimeoutMs)]);
        },
        // gRPC calls are cut by the door itself at the same deadline (its close grace above).
        cut: () => http.server.closeAllConnections(),
        inFlight: () => service.inFlight,
      }, shutdownTimeoutMs);
      clearInterval(weightTimer);
      await metricsServer?.close();
      await source.close();
      await registry.close();
      if (outcome.cut > 0) throw new ShutdownCut(outcome, shutdownTimeoutMs);
      log.info(`gateway: stopped after ${outcome.elapsedMs} ms, every request answered`);
    })()),
  };
}

/** --pipelines DIR: every pipeline declared there, built now; a bad one fails the boot. */
function pipelinesFrom(values: ParsedOptions) {
  if (values.pipelines === undefined) return [];
  const dir = String(values.pipelines);
  const declared = loadPipelineRepository(dir);
  const built = buildPipelines(declared.pipelines);
  const errors = [...declared.errors, ...built.errors];
  if (errors.length) throw new ConfigError(`--pipelines ${dir}: ${errors.map(formatDeclarationError).join('; ')}`);
  if (built.executors.length === 0) throw new ConfigError(`--pipelines ${dir}: no pipeline declaration found (a model.yaml with a 'pipeline:' field)`);
  return built.executors;
}

/** --etcd and its companions, checked; undefined without --etcd. */
function etcdFrom(values: ParsedOptions): EtcdSettings | undefined {
  let settings: EtcdSettings | undefined;
  try {
    settings = etcdSettingsFrom(values);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  if (settings && values.backend !== undefined) throw new ConfigError('--backend and --etcd do not go together: list static backends without --etcd, or register every node in etcd');
  return settings;
}

function applyMembership(registry: HeartbeatIntake, message: MembershipMessage): void {
  if (message.infergate === 'heartbeat') void registry.heartbeat(message.report, message.staticWeight);
  else if (message.infergate === 'leave') registry.leave(message.nodeId, message.sentAtMs);
}

/** `--policy capacity --pool-policy ocr_det=astra --pool-policy identity:2=static`. */
function policyResolver(defaultPolicy: string, perPool: string[], slowStartWindowMs: number) {
  const check = (name: string) => {
    if (!isRoutingPolicyName(name)) throw new Error(`unknown routing policy '${name}' (known: ${ROUTING_POLICY_NAMES.join(', ')})`);
    return name;
  };
  check(defaultPolicy);
  const overrides = new Map<string, string>();
  for (const entry of perPool) {
    const match = /^([^=:]+)(?::([^=]+))?=(.+)$/.exec(entry);
    if (!match) throw new Error(`--pool-policy expects MODEL[:VERSION]=POLICY, got '${entry}'`);
    overrides.set(match[2] ? `${match[1]}:${match[2]}` : match[1], check(match[3]));
  }
  const policyFor = (model: string, version: string) =>
    createRoutingPolicy(overrides.get(`${model}:${version}`) ?? overrides.get(model) ?? defaultPolicy, { slowStartWindowMs });
  // Build each named policy once now, so that a bad option fails the boot, not the first heartbeat.
  for (const name of new Set([defaultPolicy, ...overrides.values()])) createRoutingPolicy(name, { slowStartWindowMs });
  return policyFor;
}

/** `--queue-budget F` (F > 0) or `off` (0 to the pool: no closed-loop guard). */
export function queueBudgetFrom(values: ParsedOptions): number {
  const text = String(values['queue-budget']);
  if (text === 'off') return 0;
  const value = Number(text);
  if (!(value > 0) || !Number.isFinite(value)) throw new Error(`--queue-budget expects a number > 0 or 'off', got '${text}'`);
  return value;
}
