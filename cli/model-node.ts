/**
 * `infergate serve` and `infergate backend`: one process that loads declared models on this
 * node's cards and serves KServe v2 over HTTP and gRPC. A backend additionally heartbeats to its
 * gateways (advertising both doors) and drains on SIGTERM (announce draining, finish in-flight
 * work, leave, exit).
 */
import { ShutdownCut, drainWithin } from './graceful-shutdown.js';
import os from 'node:os';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { loadCardTable } from '../adapters/card-table.js';
import { detectCards, summarizeCards } from '../adapters/detect.js';
import { ConfigError, invalidArg } from '../core/errors.js';
import { isGrpcUrl } from '../core/load-report.js';
import { parseModelControlMode } from '../core/model-control.js';
import { bundledModelsDir, packageVersion } from '../core/package-root.js';
import { createEmbeddedNode, type EmbeddedNode } from './embedded-node.js';
import { HeartbeatSender } from '../node/heartbeat-sender.js';
import type { EtcdRegistrar } from '../node/etcd-registrar.js';
import { etcdSettingsFrom } from '../core/etcd-settings.js';
import { ResponseLoad } from '../node/response-load.js';
import { withoutLoad } from '../core/load-header.js';
import { LoadReporter, advertisedGrpcUrl } from '../node/load-reporter.js';
import { loadProbeBody } from '../core/load-probe.js';
import { createDefaultEngineRegistry } from '../engines/engine-registry.js';
import { ortLogSeverityFor } from '../engines/onnx-log-level.js';
import { instanceReports, unavailableReports } from '../node/instance-report.js';
import type { ModelHost } from '../node/model-host.js';
import { SimulationControl } from '../engines/sim.js';
import { buildHttpServer, jsonBody } from '../gateway/http/server.js';
import { poolRoutes } from '../gateway/http/operator.js';
import { startMetricsServer } from '../gateway/metrics-server.js';
import { startGrpcServer, type GrpcDoor } from '../gateway/grpc/server.js';
import { grpcMaxMessageBytesFrom, grpcPortFrom, intOption, limitsFrom, metricsPortFrom, type ParsedOptions } from './options.js';
import { createLogger } from './logger.js';
import { accessControlFrom } from './api-keys.js';
import { doorTlsOf, nodeSecretOf, peerTlsOf } from './transport-security.js';

export const DEFAULT_DRAIN_GRACE_MS = 300;
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;

export interface RunningProcess {
  http: FastifyInstance;
  grpc?: GrpcDoor;
  metrics?: FastifyInstance;
  node: EmbeddedNode;
  url: string;
  stop(): Promise<void>;
}

export async function startModelNode(values: ParsedOptions, mode: 'serve' | 'backend'): Promise<RunningProcess> {
  const log = createLogger(String(values['log-level']));
  const host = String(values.host);
  const port = intOption(values, 'http-port');
  const limits = limitsFrom(values);
  // Flags are checked before any model loads, so a mistake costs no startup time.
  const grpcPort = grpcPortFrom(values);
  const grpcMaxMessageBytes = grpcMaxMessageBytesFrom(values);
  const modelControlMode = parseModelControlMode(String(values['model-control-mode']));
  const loadModels = (values['load-model'] as string[] | undefined) ?? [];
  const advertisedGrpc = values['advertise-grpc-url'] as string | undefined;
  if (advertisedGrpc !== undefined && !isGrpcUrl(advertisedGrpc)) throw new ConfigError(`--advertise-grpc-url expects grpc://host:port, grpcs://host:port (TLS) or host:port, got '${advertisedGrpc}'`);
  const gateways = String(values.gateway ?? '').split(',').map((g) => g.trim()).filter(Boolean);
  let etcd;
  try {
    etcd = mode === 'backend' ? etcdSettingsFrom(values) : undefined;
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  if (mode === 'backend' && gateways.length === 0 && !etcd) throw new ConfigError('infergate backend needs --gateway URL[,URL…] or --etcd URL[,URL…]');
  const tls = doorTlsOf(values);
  // Checked before any model loads; refusals are counted once the node's metrics exist.
  let nodeMetrics: EmbeddedNode['metrics'] | undefined;
  const access = accessControlFrom(values, log, () => nodeMetrics);
  const gatewayTls = mode === 'backend' ? peerTlsOf(values, 'gateway') : undefined;
  const nodeSecret = mode === 'backend' ? nodeSecretOf(values) : undefined;
  const table = await loadCardTable(values['card-table'] as string | undefined);
  const detection = await detectCards({ table, simCards: values['sim-cards'] as string | undefined });
  for (const w of detection.warnings) log.warn(w);
  const simulation = new SimulationControl();
  // onnxruntime's own stderr lines follow --log-level (errors only by default), outside the JSON log.
  const engines = createDefaultEngineRegistry({
    simulation,
    onnx: { log: (m) => log.warn(m), logSeverityLevel: ortLogSeverityFor(String(values['log-level'])) },
    tfjs: { log: (m) => log.info(m) },
  });
  const modelsDir = (values.models as string | undefined) ?? bundledModelsDir();

  const nodeId = (values['node-id'] as string | undefined) ?? `${os.hostname()}:${port}`;
  const node = await createEmbeddedNode({
    nodeId: mode === 'serve' ? 'local' : nodeId,
    url: 'in-process',
    modelsDir,
    cards: detection.cards,
    engines,
    version: packageVersion(),
    limits,
    log: (m) => log.warn(m),
    logError: (m) => log.error(m),
    modelControlMode,
    repositoryPollSecs: intOption(values, 'repository-poll-secs', 1),
    loadModels,
    // Only a backend reports load, so only a backend spends start time measuring.
    calibrateMs: mode === 'backend' ? intOption(values, 'calibrate-ms') : 0,
    maxQueueDepth: intOption(values, 'max-queue-depth', 1),
  });
  nodeMetrics = node.metrics;
  let reporter: LoadReporter | undefined;
  const plugins: FastifyPluginAsync[] = [poolRoutes(node.poolsView), nodeRoutes(() => reporter?.last(), simulation, node.host)];
  // A backend's every answer carries its load, so gateways learn it from their own traffic.
  const responseLoad = mode === 'backend' ? new ResponseLoad(node.host.meter, () => node.host.slots, () => reporter?.state ?? 'ready') : undefined;
  const http = await buildHttpServer({
    tls, access,
    service: node.service, limits, metrics: node.metrics, plugins, logger: log.fastify, logError: (m) => log.error(m),
    loadHeader: responseLoad && (() => responseLoad.header()),
  });
  await http.listen({ host, port });
  const address = http.server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  // Known only after listen (the port may be 0).
  const url = (values['advertise-url'] as string | undefined) ?? `http${tls ? 's' : ''}://${advertiseHost(host)}:${boundPort}`;

  const grpc = grpcPort === undefined ? undefined : await startGrpcServer({
    service: node.service, host, port: grpcPort, maxMessageBytes: grpcMaxMessageBytes, maxMetadataBytes: limits.maxHeaderBytes, loadHeader: responseLoad && (() => responseLoad.header()),
    tls, access,
  });
  const grpcUrl = advertisedGrpc ?? (grpc ? advertisedGrpcUrl(url, grpc.port) : undefined);

  const metricsPort = metricsPortFrom(values);
  const metricsServer = metricsPort === undefined ? undefined : await startMetricsServer(node.metrics.source, host, metricsPort, tls);

  const served = node.host.models().map((m) => `${m.metadata.name} v${[...m.executors.keys()].join(',')}`);
  log.info(`${mode}: ${served.length} model(s) on ${detection.cards.map((c) => c.id).join(', ')}: ${served.join('; ')}`);
  log.info(`KServe v2 HTTP on ${url}${metricsServer ? `, metrics on port ${(metricsServer.server.address() as { port: number }).port}` : ''}`);
  if (grpc) log.info(`KServe v2 gRPC on ${new URL(url).hostname}:${grpc.port}, messages up to ${grpcMaxMessageBytes} bytes`);

  let sender: HeartbeatSender | undefined;
  let registrar: EtcdRegistrar | undefined;
  if (mode === 'backend') {
    reporter = new LoadReporter(node.host, { nodeId, url, grpcUrl, cards: summarizeCards(detection.cards), sourceCards: detection.cards });
    if (gateways.length > 0) {
      const interval = intOption(values, 'heartbeat-ms', 10);
      sender = new HeartbeatSender(gateways, () => reporter!.build(), interval, (m) => log.warn(m), { secret: nodeSecret, tls: gatewayTls });
      sender.start();
      log.info(`backend ${nodeId}: heartbeats every ${interval} ms to ${gateways.join(', ')}`);
    }
    if (etcd) {
      // With heartbeats too, the record reads the last heartbeat's report: building one would cut the heartbeat's load window short.
      // The etcd client loads only when asked for (it brings gRPC and its protos).
      const { EtcdRegistrar } = await import('../node/etcd-registrar.js');
      registrar = new EtcdRegistrar(etcd, nodeId, () => withoutLoad((sender && reporter!.last()) || reporter!.build()), intOption(values, 'etcd-lease-ttl-s', 1), (m) => log.warn(m), nodeSecret);
      await registrar.start();
      log.info(`backend ${nodeId}: ${registrar.registered ? 'registered' : 'registering'} in etcd ${etcd.hosts.join(',')} under ${etcd.prefix}`);
    }
  }

  const shutdownTimeoutMs = intOption(values, 'shutdown-timeout-ms');
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= (async () => {
    node.markStopping();
    if (reporter) {
      const grace = intOption(values, 'drain-grace-ms');
      const timeout = intOption(values, 'drain-timeout-ms');
      // From here every answer says draining too (the load header), whatever etcd or heartbeats do.
      reporter.state = 'draining';
      log.info(`draining: announced to gateways, waiting for ${node.host.meter.inFlight} in-flight request(s)`);
      await Promise.all([sender?.beat(), registrar?.markDraining()]);
      await waitForDrain(node, grace, timeout);
      sender?.stop();
      await Promise.all([sender?.leave(nodeId), registrar?.leave()]);
      await sender?.close();
    }
    // The doors stop accepting; what they hold gets --shutdown-timeout-ms, then is cut (exit 1).
    const outcome = await drainWithin({
      drain: async () => {
        await Promise.all([http.close(), grpc?.close(shutdownTimeoutMs)]);
      },
      cut: () => http.server.closeAllConnections(),
      inFlight: () => node.service.inFlight,
    }, shutdownTimeoutMs);
    await metricsServer?.close();
    await node.close();
    if (outcome.cut > 0) throw new ShutdownCut(outcome, shutdownTimeoutMs);
    log.info(`stopped after ${outcome.elapsedMs} ms, every request answered`);
  })());
  return { http, grpc, metrics: metricsServer, node, url, stop };
}

/** Waits for the grace period (requests already on the wire) and until nothing is in flight. */
async function waitForDrain(node: EmbeddedNode, graceMs: number, timeoutMs: number): Promise<void> {
  const startedAt = Date.now();
  await new Promise((r) => setTimeout(r, graceMs));
  while (node.host.meter.inFlight > 0 && Date.now() - startedAt < timeoutMs) {
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * The node's own view: its last load report, what each instance really runs on, the declared models
 * it cannot serve, a load probe, and, with simulated cards, the fault controls.
 */
function nodeRoutes(lastReport: () => unknown, simulation: SimulationControl, host: ModelHost): FastifyPluginAsync {
  return async (app) => {
    const simulationView = () => ({ slowdown: simulation.slowdown, error_rate: simulation.errorRate });
    app.get('/infergate/node', async () => ({
      report: lastReport() ?? null,
      instances: instanceReports(host),
      unavailable: unavailableReports(host),
      simulation: simulationView(),
    }));
    // Prequal's probe: answered from counters, no model work, so a gateway may ask per request.
    app.get('/infergate/probe', async () => loadProbeBody(host.meter.probe(host.slots)));
    app.put('/infergate/sim', async (request) => {
      const body = jsonBody<{ slowdown?: unknown; error_rate?: unknown }>(request.body);
      const { slowdown, error_rate: errorRate } = body ?? {};
      const badSlowdown = slowdown !== undefined && (typeof slowdown !== 'number' || !(slowdown > 0) || !Number.isFinite(slowdown));
      const badErrorRate = errorRate !== undefined && (typeof errorRate !== 'number' || !(errorRate >= 0 && errorRate <= 1));
      if (badSlowdown || badErrorRate || (slowdown === undefined && errorRate === undefined)) {
        throw invalidArg('expected {"slowdown": <number > 0>, "error_rate": <0..1>}, either or both (SIMULATED cards only)', 'bad_sim');
      }
      if (slowdown !== undefined) simulation.slowdown = slowdown as number;
      if (errorRate !== undefined) simulation.errorRate = errorRate as number;
      return simulationView();
    });
  };
}

function advertiseHost(host: string): string {
  if (host !== '0.0.0.0' && host !== '::') return host.includes(':') ? `[${host}]` : host;
  for (const addresses of Object.values(os.networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}
