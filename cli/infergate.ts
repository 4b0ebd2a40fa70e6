#!/usr/bin/env node
/**
 * The one CLI. Verbs: serve (embedded default), gateway, backend, bench (a load tool that
 * runs against any of them), devices (the cards found and the engine each model would use) and
 * calibrate (measures the declared models on this machine's cards). Each prints its flags with --help; SIGTERM and SIGINT stop a
 * process cleanly (a backend drains first; a gateway finishes its in-flight requests within
 * --shutdown-timeout-ms and exits 1 if it had to cut any).
 */
import { DEFAULT_HEARTBEAT_INTERVAL_MS } from '../node/heartbeat-sender.js';
import { DEFAULT_BACKEND_CONNECTIONS, DEFAULT_CONNECT_TIMEOUT_MS } from '../transport/remote-backend.js';
import { DEFAULT_EVICT_AFTER_MS } from '../scheduler/registry.js';
import { DEFAULT_QUEUE_BUDGET } from '../scheduler/in-flight-guard.js';
import { DEFAULT_SLOW_START_WINDOW_MS } from '../scheduler/slow-start.js';
import { DEFAULT_ROUTING_POLICY_NAME, ROUTING_POLICY_NAMES } from '../scheduler/routing-policy.js';
import { BENCH_SUMMARY, CALIBRATE_SUMMARY, DEVICES_SUMMARY } from './verb-summaries.js';
import { DEFAULT_CALIBRATE_MS } from '../node/calibration.js';
import { DEFAULT_ETCD_PREFIX, DEFAULT_LEASE_TTL_S } from '../core/etcd-settings.js';
import { DEFAULT_GATEWAY_WORKERS, startGateway } from './gateway.js';
import { DEFAULT_DRAIN_GRACE_MS, DEFAULT_DRAIN_TIMEOUT_MS, startModelNode } from './model-node.js';
import { COMMON_OPTIONS, MODEL_NODE_OPTIONS, NODE_SECRET_OPTIONS, SHUTDOWN_OPTIONS, helpText, parseVerbOptions, type OptionSpec } from './options.js';
import { GATEWAY_OVERLOAD_OPTIONS } from './overload-options.js';

export const DEFAULT_WEIGHT_INTERVAL_MS = 1_000;

/** Membership through etcd (README "Membership on etcd"); the password comes from ETCD_PASSWORD. */
const ETCD_OPTIONS: Record<string, OptionSpec> = {
  etcd: { type: 'string', help: 'etcd endpoint(s), comma-separated: membership through etcd instead of heartbeats' },
  'etcd-prefix': { type: 'string', default: DEFAULT_ETCD_PREFIX, help: 'key prefix of this fleet in etcd' },
  'etcd-ca': { type: 'string', help: 'PEM file of the CA that signed etcd\'s certificate (TLS)' },
  'etcd-cert': { type: 'string', help: 'PEM client certificate for etcd (mutual TLS; with --etcd-key)' },
  'etcd-key': { type: 'string', help: 'PEM client key for etcd (with --etcd-cert)' },
  'etcd-user': { type: 'string', help: 'etcd user (password in the ETCD_PASSWORD environment variable)' },
};

const VERBS: Record<string, { summary: string; options: Record<string, OptionSpec> }> = {
  serve: {
    summary: 'Serve the declared models in this one process (no remote backends): the embedded default.',
    options: { ...MODEL_NODE_OPTIONS, ...SHUTDOWN_OPTIONS, ...COMMON_OPTIONS },
  },
  backend: {
    summary: 'Serve the declared models on this node\'s cards and join one or more gateways by heartbeat.',
    options: {
      gateway: { type: 'string', help: 'gateway URL(s) to heartbeat to, comma-separated (required unless --etcd)' },
      'node-id': { type: 'string', help: 'this node\'s id (default: hostname:port)' },
      'advertise-url': { type: 'string', help: 'URL the gateways use to reach this node (default: from --host and the port)' },
      'advertise-grpc-url': { type: 'string', help: 'grpc://host:port (grpcs:// for TLS) the gateways use to reach this node over gRPC (default: the host of --advertise-url and the gRPC port, grpcs:// with --tls-cert)' },
      'heartbeat-ms': { type: 'string', default: String(DEFAULT_HEARTBEAT_INTERVAL_MS), help: 'heartbeat interval' },
      'drain-grace-ms': { type: 'string', default: String(DEFAULT_DRAIN_GRACE_MS), help: 'on SIGTERM, time to keep serving after announcing draining' },
      'drain-timeout-ms': { type: 'string', default: String(DEFAULT_DRAIN_TIMEOUT_MS), help: 'on SIGTERM, longest wait for in-flight requests' },
      ...ETCD_OPTIONS,
      'etcd-lease-ttl-s': { type: 'string', default: String(DEFAULT_LEASE_TTL_S), help: 'with --etcd: this node\'s lease; its record is gone this long after the node dies' },
      'gateway-ca': { type: 'string', help: 'PEM CA trusted for https:// gateways (default: the system\'s roots)' },
      'gateway-cert': { type: 'string', help: 'PEM client certificate for gateways that ask for one (with --gateway-key)' },
      'gateway-key': { type: 'string', help: 'PEM key of --gateway-cert' },
      ...NODE_SECRET_OPTIONS,
      'calibrate-ms': { type: 'string', default: String(DEFAULT_CALIBRATE_MS), help: 'at load, time spent measuring each (model, card) pair; the figures go into the load report as the capacity prior (0 = off; simulated engines are never measured)' },
      ...MODEL_NODE_OPTIONS,
      ...SHUTDOWN_OPTIONS,
      ...COMMON_OPTIONS,
    },
  },
  gateway: {
    summary: 'Route KServe v2 requests to pools of backend nodes by adaptive smooth weighted round-robin.',
    options: {
      backend: { type: 'string', multiple: true, help: 'static backend URL[=weight] (any KServe v2 server); repeatable' },
      workers: { type: 'string', default: String(DEFAULT_GATEWAY_WORKERS), help: 'gateway processes sharing the HTTP port (default: one per core)' },
      policy: { type: 'string', default: DEFAULT_ROUTING_POLICY_NAME, help: `routing policy of every pool: ${ROUTING_POLICY_NAMES.join(' | ')} (README "Routing policies")` },
      'pool-policy': { type: 'string', multiple: true, help: 'MODEL[:VERSION]=POLICY for one pool; repeatable' },
      'weight-interval-ms': { type: 'string', default: String(DEFAULT_WEIGHT_INTERVAL_MS), help: 'how often weights are recomputed from load reports' },
      'queue-budget': { type: 'string', default: String(DEFAULT_QUEUE_BUDGET), help: 'closed-loop guard: a node takes requests while their expected delay stays within this many times the pool\'s median service time, and a request goes where its expected delay is shortest; off = no guard' },
      'evict-after-ms': { type: 'string', default: String(DEFAULT_EVICT_AFTER_MS), help: 'a node silent this long is evicted' },
      ...GATEWAY_OVERLOAD_OPTIONS,
      'slow-start-ms': { type: 'string', default: String(DEFAULT_SLOW_START_WINDOW_MS), help: 'a joining or returning node ramps its weight up over this window (0 = off)' },
      'backend-connections': { type: 'string', default: String(DEFAULT_BACKEND_CONNECTIONS), help: 'keep-alive connections per backend node' },
      'connect-timeout-ms': { type: 'string', default: String(DEFAULT_CONNECT_TIMEOUT_MS), help: 'connect timeout to a backend (then retried elsewhere)' },
      'backend-ca': { type: 'string', help: 'PEM CA trusted for https:// and grpcs:// nodes (default: the system\'s roots)' },
      'backend-cert': { type: 'string', help: 'PEM client certificate for nodes that ask for one (mutual TLS; with --backend-key)' },
      'backend-key': { type: 'string', help: 'PEM key of --backend-cert' },
      'backend-api-key-file': { type: 'string', help: 'file holding the API key this gateway presents to nodes started with --api-keys (default: INFERGATE_BACKEND_API_KEY, else none)' },
      ...NODE_SECRET_OPTIONS,
      ...ETCD_OPTIONS,
      pipelines: { type: 'string', help: 'model repository whose pipeline declarations (`pipeline:`) this gateway runs, each model step routed to its pool; its plain models are ignored (default: none)' },
      ...SHUTDOWN_OPTIONS,
      ...COMMON_OPTIONS,
    },
  },
  // These parse their own flags (and print their own --help); their modules load only when chosen.
  bench: { summary: BENCH_SUMMARY, options: {} },
  devices: { summary: DEVICES_SUMMARY, options: {} },
  calibrate: { summary: CALIBRATE_SUMMARY, options: {} },
};

function usage(): string {
  return [
    'usage: infergate <verb> [options]',
    '',
    'verbs:',
    ...Object.entries(VERBS).map(([verb, v]) => `  ${verb.padEnd(12)}${v.summary}`),
    '',
    'infergate <verb> --help lists the options of a verb.',
  ].join('\n');
}

async function main(argv: string[]): Promise<void> {
  const [verb, ...rest] = argv;
  if (!verb || verb === '--help' || verb === '-h' || verb === 'help') {
    console.log(usage());
    return;
  }
  const spec = VERBS[verb];
  if (!spec) {
    console.error(`infergate: unknown verb '${verb}'\n\n${usage()}`);
    process.exitCode = 2;
    return;
  }
  // A client, not a server: it parses its own flags (perf_analyzer's short ones too) and ends with an exit code.
  if (verb === 'bench') {
    process.exitCode = await (await import('./bench.js')).benchMain(rest);
    return;
  }
  // Detects, plans, prints and exits: its own flags and an exit code.
  if (verb === 'devices') {
    process.exitCode = await (await import('./devices.js')).devicesMain(rest);
    return;
  }
  // Measures and exits: like bench, its own flags and an exit code.
  if (verb === 'calibrate') {
    process.exitCode = await (await import('./calibrate.js')).calibrateMain(rest);
    return;
  }
  let values;
  try {
    values = parseVerbOptions(rest, spec.options);
  } catch (err) {
    console.error(`infergate ${verb}: ${(err as Error).message}\n\n${helpText(verb, spec.summary, spec.options)}`);
    process.exitCode = 2;
    return;
  }
  if (values.help) {
    console.log(helpText(verb, spec.summary, spec.options));
    return;
  }
  const running = verb === 'gateway' ? await startGateway(values) : await startModelNode(values, verb as 'serve' | 'backend');
  const shutdown = (signal: string) => {
    running.stop().then(
      () => process.exit(0),
      (err) => {
        console.error(`infergate ${verb}: error while stopping on ${signal}: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main(process.argv.slice(2)).catch((err) => {
  console.error(`infergate: ${(err as Error).message}`);
  process.exit(1);
});
