/**
 * `infergate gateway`: no models of its own. Backend nodes join by heartbeat (or are listed with
 * --backend), each (model, version) gets a pool routed by adaptive SWRR, and requests go to the
 * nodes over undici keep-alive pools with binary tensors.
 */
import { RemoteBackend } from '../transport/remote-backend.js';
import { notFound } from '../core/errors.js';
import { packageVersion } from '../core/package-root.js';
import { InferenceService } from '../service/inference-service.js';
import { PoolTarget } from '../service/pool-target.js';
import { poolRoutes, registryRoutes } from '../gateway/http/operator.js';
import { buildHttpServer } from '../gateway/http/server.js';
import { Metrics } from '../service/metrics.js';
import { startMetricsServer } from '../gateway/metrics-server.js';
import { PoolSet } from '../scheduler/pool-set.js';
import { DEFAULT_POOL_OPTIONS } from '../scheduler/pool.js';
import { NodeRegistry } from '../scheduler/registry.js';
import { Router } from '../scheduler/router.js';
import { StaticBackendProber, parseStaticBackend } from '../scheduler/static-backends.js';
import { createWeightPolicy, isWeightPolicyName, WEIGHT_POLICY_NAMES } from '../scheduler/weight-policy-factory.js';
import { DEFAULT_HEARTBEAT_INTERVAL_MS } from '../node/heartbeat-sender.js';
import { createLogger } from './logger.js';
import { intOption, limitsFrom, metricsPortFrom, type ParsedOptions } from './options.js';
import type { RunningGateway } from './running.js';

export async function startGateway(values: ParsedOptions): Promise<RunningGateway> {
  const log = createLogger(String(values['log-level']));
  const host = String(values.host);
  const limits = limitsFrom(values);
  const slowStartWindowMs = intOption(values, 'slow-start-ms');
  const policyFor = policyResolver(String(values.policy), (values['pool-policy'] as string[] | undefined) ?? [], slowStartWindowMs);
  const weightIntervalMs = intOption(values, 'weight-interval-ms', 10);
  const heartbeatIntervalMs = DEFAULT_HEARTBEAT_INTERVAL_MS;

  const pools = new PoolSet(policyFor, { ...DEFAULT_POOL_OPTIONS, inFlightPerSlot: intOption(values, 'in-flight-per-slot', 1) });
  const metrics = new Metrics({ pools: () => pools });
  const createBackend = (nodeId: string, url: string) => new RemoteBackend(nodeId, url, {
    connections: intOption(values, 'backend-connections', 1),
    connectTimeoutMs: intOption(values, 'connect-timeout-ms', 1),
  });
  const registry = new NodeRegistry(pools, {
    evictAfterMs: intOption(values, 'evict-after-ms', 1),
    createBackend,
    clock: Date.now,
    log: (m) => log.info(m),
  });
  const router = new Router(pools, {}, {
    retry: (pool, reason) => metrics.retries.inc({ model: pool.model, version: pool.version, reason }),
  });
  const target = new PoolTarget(pools, router, async (model, version) => {
    const member = pools.get(model, version)?.members().find((m) => m.state === 'ready');
    if (!member) throw notFound(`no ready backend holds model '${model}' version ${version}`);
    return (member.spec.backend as RemoteBackend).getJson(`/v2/models/${encodeURIComponent(model)}/versions/${encodeURIComponent(version)}/config`);
  });
  const service = new InferenceService({
    target,
    version: packageVersion(),
    requestTimeoutMs: limits.requestTimeoutMs,
    started: () => true,
    metrics,
    logError: (m) => log.error(m),
  });
  const http = await buildHttpServer({
    service, limits, metrics, logger: log.fastify, logError: (m) => log.error(m),
    plugins: [poolRoutes(() => pools.view(Date.now())), registryRoutes(registry, heartbeatIntervalMs)],
  });
  registry.start();
  const weightTimer = setInterval(() => pools.recomputeWeights(Date.now()), weightIntervalMs);
  const staticSpecs = ((values.backend as string[] | undefined) ?? []).map(parseStaticBackend);
  const prober = staticSpecs.length ? new StaticBackendProber(staticSpecs, registry, createBackend, (m) => log.warn(m)) : undefined;
  prober?.start(heartbeatIntervalMs);

  await http.listen({ host, port: intOption(values, 'http-port') });
  const port = (http.server.address() as { port: number }).port;
  const metricsPort = metricsPortFrom(values);
  const metricsServer = metricsPort === undefined ? undefined : await startMetricsServer(metrics, host, metricsPort);
  log.info(`gateway: KServe v2 HTTP on ${host}:${port}, policy ${values.policy}, weights every ${weightIntervalMs} ms, ${staticSpecs.length} static backend(s)`);

  let stopping: Promise<void> | undefined;
  return {
    http,
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    stop: () => (stopping ??= (async () => {
      clearInterval(weightTimer);
      await prober?.close();
      await http.close();
      await metricsServer?.close();
      await registry.close();
    })()),
  };
}

/** `--policy capacity --pool-policy ocr_det=astra --pool-policy identity:2=static`. */
function policyResolver(defaultPolicy: string, perPool: string[], slowStartWindowMs: number) {
  const check = (name: string) => {
    if (!isWeightPolicyName(name)) throw new Error(`unknown weight policy '${name}' (known: ${WEIGHT_POLICY_NAMES.join(', ')})`);
    return name;
  };
  check(defaultPolicy);
  const overrides = new Map<string, string>();
  for (const entry of perPool) {
    const match = /^([^=:]+)(?::([^=]+))?=(.+)$/.exec(entry);
    if (!match) throw new Error(`--pool-policy expects MODEL[:VERSION]=POLICY, got '${entry}'`);
    overrides.set(match[2] ? `${match[1]}:${match[2]}` : match[1], check(match[3]));
  }
  return (model: string, version: string) =>
    createWeightPolicy(overrides.get(`${model}:${version}`) ?? overrides.get(model) ?? defaultPolicy, { slowStartWindowMs });
}
