/**
 * A real cluster on loopback for cluster tests and failover benchmarks: `infergate gateway` and
 * `infergate backend` started as child processes of `dist/cli/infergate.js`, a closed-loop load
 * generator, a sampler of the gateway's `/infergate/pools`, and cleanup that kills every child it
 * started. Nothing here reaches into the server: what it knows, it reads over HTTP or from the logs.
 *
 * All times are `performance.now()` of the calling process, so load records, pool samples and the
 * moment a signal was sent compare directly.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Pool } from 'undici';
import { packageRoot } from '../../core/package-root.js';
import type { PoolMemberView, PoolView } from '../../scheduler/pool.js';

export const SIM_MODEL = 'sim_echo';
/** Longest wait for a child to print where it listens. */
export const DEFAULT_START_TIMEOUT_MS = 20_000;
/** Log lines kept per child (the tail), for failure messages. */
const LOG_TAIL_LINES = 200;

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Path of the built CLI; the cluster runs what `npm run build` produced. */
export function cliPath(): string {
  const cli = path.join(packageRoot(), 'dist', 'cli', 'infergate.js');
  if (!existsSync(cli)) throw new Error(`${cli} is missing: build first (npx tsc -p tsconfig.json)`);
  return cli;
}

/** What a cluster's model repository holds besides sim_echo, and how sim_echo is set up. */
export interface SimModelsOptions {
  /** Replaces sim_echo's `sim.service_ms`: a longer simulated execution makes the event-loop lag of a busy shared machine a smaller part of what a node measures about itself. */
  serviceMs?: number;
  /** Replaces sim_echo's instances per card. */
  instances?: number;
  /** Bundled models to copy in too (e.g. identity). */
  bundled?: string[];
  /** Replaces sim_echo's `max_queue_size` (a small queue fills at once: queue_full answers). */
  maxQueueSize?: number;
}

/** A fresh model repository holding a copy of sim_echo's declaration (fast to load) and any bundled models asked for. */
export function createSimModelsDir(options: SimModelsOptions = {}): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'infergate-cluster-models-'));
  try {
    const target = path.join(dir, SIM_MODEL, 'model.yaml');
    cpSync(path.join(packageRoot(), 'models', SIM_MODEL, 'model.yaml'), target);
    let text = readFileSync(target, 'utf8');
    const replace = (pattern: RegExp, value: number, what: string) => {
      if (!pattern.test(text)) throw new Error(`no ${what} in ${target}`);
      text = text.replace(pattern, `$1${value}`);
    };
    if (options.serviceMs !== undefined) replace(/^(\s*service_ms:\s*)\S+/m, options.serviceMs, 'sim.service_ms');
    if (options.instances !== undefined) replace(/^(\s*count:\s*)\S+/m, options.instances, 'instances count');
    if (options.maxQueueSize !== undefined) replace(/^(max_queue_size:\s*)\S+/m, options.maxQueueSize, 'max_queue_size');
    writeFileSync(target, text);
    for (const model of options.bundled ?? []) cpSync(path.join(packageRoot(), 'models', model), path.join(dir, model), { recursive: true });
    return dir;
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** A loopback port that was free a moment ago (listen on 0, read it, close). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface NodeProcessOptions {
  /** Where the child serves, when known in advance; otherwise read from its `KServe v2 HTTP on …` log line. */
  url?: string;
  /** Log lines kept (the tail), for failure messages. */
  logTailLines?: number;
  /** Variables added to this process's environment for the child (e.g. NODE_OPTIONS for a probe). */
  env?: NodeJS.ProcessEnv;
  /** A command the child is started through, e.g. `['ip', 'netns', 'exec', NS]`; it must exec node (same pid), not fork it. */
  launcher?: string[];
}

/**
 * One Node.js child process (`node script args…`) with its log tail and exit; `url` is where it
 * serves KServe v2 HTTP, read from its log unless given. It is killed (SIGKILL) if still running
 * when this process exits.
 */
export class NodeProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<ChildExit>;
  /** Set once the child has exited. */
  exit?: ChildExit;
  url: string;
  /** `host:port` of its gRPC door, read from its `KServe v2 gRPC on …` log line; empty until then (or without one). */
  grpcAddress = '';
  readonly #log: string[] = [];
  readonly #logTailLines: number;
  /** performance.now() of each signal sent, by signal name (the last one). */
  readonly signalledAtMs = new Map<NodeJS.Signals, number>();

  constructor(readonly name: string, script: string, args: string[], options: NodeProcessOptions = {}) {
    this.url = options.url ?? '';
    this.#logTailLines = options.logTailLines ?? LOG_TAIL_LINES;
    const env = options.env ? { ...process.env, ...options.env } : undefined;
    const [command, ...launcherArgs] = [...(options.launcher ?? []), process.execPath];
    this.child = spawn(command, [...launcherArgs, script, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...(env ? { env } : {}) });
    LIVE_CHILDREN.add(this.child);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
      // Spawning failed: there will be no 'exit'.
      this.child.once('error', (err) => {
        this.#keep(`spawn error: ${err.message}`);
        this.exit ??= { code: null, signal: null };
        resolve(this.exit);
      });
    });
    void this.exited.then(() => LIVE_CHILDREN.delete(this.child));
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      let partial = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) this.#keep(line);
      });
    }
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** The last log lines, JSON as the process printed them. */
  logs(): string[] {
    return [...this.#log];
  }

  /** Messages (`msg`) of the log lines, for assertions on what the process said. */
  messages(): string[] {
    return this.#log.map((line) => {
      try {
        return String((JSON.parse(line) as { msg?: unknown }).msg ?? line);
      } catch {
        return line;
      }
    });
  }

  /** Sends a signal and notes when; false when the process is already gone. */
  signal(signal: NodeJS.Signals): boolean {
    if (!this.running) return false;
    this.signalledAtMs.set(signal, performance.now());
    return this.child.kill(signal);
  }

  /** Resolves with the URL once the process logs `KServe v2 HTTP on …`; rejects if it exits first. */
  async started(timeoutMs = DEFAULT_START_TIMEOUT_MS): Promise<string> {
    const deadline = performance.now() + timeoutMs;
    while (!this.url) {
      if (!this.running) throw new Error(`${this.name} exited (${describeExit(this.exit!)}) before listening:\n${this.logs().join('\n')}`);
      if (performance.now() > deadline) throw new Error(`${this.name} did not listen within ${timeoutMs} ms:\n${this.logs().join('\n')}`);
      await sleep(20);
    }
    return this.url;
  }

  /** Resolves with `host:port` once the process logs `KServe v2 gRPC on …`; rejects if it exits first. */
  async grpcStarted(timeoutMs = DEFAULT_START_TIMEOUT_MS): Promise<string> {
    const deadline = performance.now() + timeoutMs;
    while (!this.grpcAddress) {
      if (!this.running) throw new Error(`${this.name} exited (${describeExit(this.exit!)}) before its gRPC door listened:\n${this.logs().join('\n')}`);
      if (performance.now() > deadline) throw new Error(`${this.name} did not log a gRPC door within ${timeoutMs} ms:\n${this.logs().join('\n')}`);
      await sleep(20);
    }
    return this.grpcAddress;
  }

  #keep(line: string): void {
    if (!line) return;
    this.#log.push(line);
    if (this.#log.length > this.#logTailLines) this.#log.shift();
    if (!this.grpcAddress) {
      // "KServe v2 gRPC on 127.0.0.1:PORT, …" (every verb).
      const grpc = /KServe v2 gRPC on (\[[^\]]+\]|[^\s,:]+):(\d+)/.exec(line);
      if (grpc) this.grpcAddress = `${grpc[1] === '0.0.0.0' ? '127.0.0.1' : grpc[1]}:${grpc[2]}`;
    }
    if (this.url) return;
    // Backend/serve: "KServe v2 HTTP on http://127.0.0.1:PORT"; gateway: "… KServe v2 HTTP on 127.0.0.1:PORT, …".
    const match = /KServe v2 HTTP on (?:https?:\/\/)?(\[[^\]]+\]|[^\s,:]+):(\d+)/.exec(line);
    if (match) this.url = `http://${match[1] === '0.0.0.0' ? '127.0.0.1' : match[1]}:${match[2]}`;
  }
}

/** One infergate child process of the built CLI (`infergate <verb> args…`). */
export class InfergateProcess extends NodeProcess {
  /** Where it serves Prometheus metrics, when it was started with a metrics port. */
  metricsUrl?: string;

  constructor(name: string, verb: 'gateway' | 'backend' | 'serve', args: string[], options: NodeProcessOptions = {}) {
    super(name, cliPath(), [verb, ...args], options);
  }
}

/** Children still alive when this process exits (a crashed test or bench run) are killed, not orphaned. */
const LIVE_CHILDREN = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of LIVE_CHILDREN) child.kill('SIGKILL');
});

export function describeExit(exit: ChildExit): string {
  return exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
}

export interface GatewayOptions {
  /** A routing policy name (--policy). */
  policy?: string;
  weightIntervalMs?: number;
  evictAfterMs?: number;
  /** 0 turns slow start off (the gateway's --slow-start-ms). */
  slowStartMs?: number;
  /** Serve Prometheus metrics (on a free port, recorded in `metricsUrl`). */
  metrics?: boolean;
  /** --workers; the CLI's default (one per core) when not given. */
  workers?: number;
  /** Membership from etcd (`--etcd`), instead of heartbeats. */
  etcd?: string;
  extraArgs?: string[];
  /** Variables added to the gateway's environment. */
  env?: NodeJS.ProcessEnv;
}

export class GatewayProcess extends InfergateProcess {}

export interface BackendOptions {
  nodeId: string;
  /** `--sim-cards`, e.g. `fast:1`; without it the node serves on this machine's real CPU. */
  simCards?: string;
  heartbeatMs?: number;
  drainGraceMs?: number;
  /** Serve Prometheus metrics (on a free port, recorded in `metricsUrl`). */
  metrics?: boolean;
  /** Register in etcd (`--etcd`) instead of heartbeating to the cluster's gateway. */
  etcd?: string;
  extraArgs?: string[];
}

/**
 * Every process of one cluster and the temp model repository they share. `close()` kills whatever
 * is still running (SIGKILL, stopped ones included) and removes the repository: call it from
 * afterEach/afterAll so a failed test leaves nothing behind.
 */
export class Cluster {
  readonly modelsDir: string;
  readonly #processes = new Set<InfergateProcess>();
  #gateway?: GatewayProcess;

  constructor(options: SimModelsOptions = {}) {
    this.modelsDir = createSimModelsDir(options);
  }

  get gateway(): GatewayProcess {
    if (!this.#gateway) throw new Error('cluster has no gateway yet');
    return this.#gateway;
  }

  async startGateway(options: GatewayOptions = {}): Promise<GatewayProcess> {
    // gRPC on any free port too, so that processes side by side never meet on the default 8001.
    const args = ['--http-port', '0', '--grpc-port', '0', '--host', '127.0.0.1', '--log-level', 'info'];
    let metricsPort: number | undefined;
    if (options.metrics) {
      metricsPort = await freePort();
      args.push('--metrics-port', String(metricsPort));
    } else {
      args.push('--metrics-port', 'off');
    }
    if (options.policy) args.push('--policy', options.policy);
    if (options.weightIntervalMs !== undefined) args.push('--weight-interval-ms', String(options.weightIntervalMs));
    if (options.evictAfterMs !== undefined) args.push('--evict-after-ms', String(options.evictAfterMs));
    if (options.slowStartMs !== undefined) args.push('--slow-start-ms', String(options.slowStartMs));
    if (options.workers !== undefined) args.push('--workers', String(options.workers));
    if (options.etcd !== undefined) args.push('--etcd', options.etcd);
    args.push(...(options.extraArgs ?? []));
    const gateway = this.#track(new GatewayProcess('gateway', 'gateway', args, options.env ? { env: options.env } : {}));
    await gateway.started();
    if (metricsPort !== undefined) gateway.metricsUrl = `http://127.0.0.1:${metricsPort}`;
    this.#gateway = gateway;
    return gateway;
  }

  async startBackend(options: BackendOptions): Promise<InfergateProcess> {
    const metricsPort = options.metrics ? await freePort() : undefined;
    const args = [
      ...(options.etcd !== undefined ? ['--etcd', options.etcd] : ['--gateway', this.gateway.url]),
      '--http-port', '0', '--grpc-port', '0', '--metrics-port', metricsPort === undefined ? 'off' : String(metricsPort), '--host', '127.0.0.1',
      '--node-id', options.nodeId, '--models', this.modelsDir,
    ];
    if (options.simCards !== undefined) args.push('--sim-cards', options.simCards);
    if (options.heartbeatMs !== undefined) args.push('--heartbeat-ms', String(options.heartbeatMs));
    if (options.drainGraceMs !== undefined) args.push('--drain-grace-ms', String(options.drainGraceMs));
    args.push(...(options.extraArgs ?? []));
    const backend = this.#track(new InfergateProcess(options.nodeId, 'backend', args));
    await backend.started();
    if (metricsPort !== undefined) backend.metricsUrl = `http://127.0.0.1:${metricsPort}`;
    return backend;
  }

  /** Starts backends side by side and waits until the gateway's pool lists all of them ready. */
  async startBackends(options: BackendOptions[], model = SIM_MODEL): Promise<InfergateProcess[]> {
    const backends = await Promise.all(options.map((o) => this.startBackend(o)));
    await waitForNodes(this.gateway.url, options.map((o) => o.nodeId), { model });
    return backends;
  }

  processes(): InfergateProcess[] {
    return [...this.#processes];
  }

  async close(): Promise<void> {
    await Promise.all([...this.#processes].map(async (p) => {
      if (p.running) p.child.kill('SIGKILL');
      await p.exited;
    }));
    this.#processes.clear();
    rmSync(this.modelsDir, { recursive: true, force: true });
  }

  #track<P extends InfergateProcess>(p: P): P {
    this.#processes.add(p);
    return p;
  }
}

// ---------------------------------------------------------------------------------------------
// The gateway's operator view

/** One short-lived keep-alive client per origin for operator reads, apart from the load's. */
const operatorClients = new Map<string, Pool>();

function operatorClient(origin: string): Pool {
  let client = operatorClients.get(origin);
  if (!client) {
    client = new Pool(origin, { connections: 2, pipelining: 1 });
    operatorClients.set(origin, client);
  }
  return client;
}

/** Closes the operator clients (so a bench process can exit). */
export async function closeOperatorClients(): Promise<void> {
  const clients = [...operatorClients.values()];
  operatorClients.clear();
  await Promise.all(clients.map((c) => c.close()));
}

export async function httpJson<T>(url: string, method: 'GET' | 'PUT' | 'POST' = 'GET', body?: unknown): Promise<{ status: number; body: T }> {
  const target = new URL(url);
  const response = await operatorClient(target.origin).request({
    method,
    path: target.pathname + target.search,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    headersTimeout: 5_000,
    bodyTimeout: 5_000,
  });
  const text = await response.body.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON (the metrics text): the caller reads the string.
  }
  return { status: response.statusCode, body: parsed as T };
}

export async function readPools(gatewayUrl: string): Promise<PoolView[]> {
  const { status, body } = await httpJson<{ pools: PoolView[] }>(`${gatewayUrl}/infergate/pools`);
  if (status !== 200) throw new Error(`GET /infergate/pools answered ${status}`);
  return body.pools;
}

/** Members of a model's pool (every version), empty when the gateway has no such pool. */
export async function poolNodes(gatewayUrl: string, model = SIM_MODEL): Promise<PoolMemberView[]> {
  return (await readPools(gatewayUrl)).filter((p) => p.model === model).flatMap((p) => p.nodes);
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  { timeoutMs = 15_000, intervalMs = 25 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (performance.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`);
    }
    await sleep(intervalMs);
  }
}

/** Waits until the pool lists exactly `ids`, all in `state`. */
export async function waitForNodes(
  gatewayUrl: string,
  ids: readonly string[],
  { model = SIM_MODEL, state = 'ready', timeoutMs = 15_000 }: { model?: string; state?: PoolMemberView['state']; timeoutMs?: number } = {},
): Promise<PoolMemberView[]> {
  const wanted = [...ids].sort().join(',');
  return waitFor(`pool ${model} = {${wanted}} ${state}`, async () => {
    const nodes = await poolNodes(gatewayUrl, model);
    const ok = nodes.map((n) => n.id).sort().join(',') === wanted && nodes.every((n) => n.state === state);
    return ok ? nodes : undefined;
  }, { timeoutMs });
}

/** Sum of a Prometheus counter over its label sets, from a `/metrics` text; 0 when absent. */
export function counterTotal(metricsText: string, family: string): number {
  let total = 0;
  for (const line of metricsText.split('\n')) {
    if (!line.startsWith(family)) continue;
    const rest = line.slice(family.length);
    if (rest[0] !== '{' && rest[0] !== ' ') continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) total += value;
  }
  return total;
}

export async function readCounter(metricsUrl: string, family: string): Promise<number> {
  const { body } = await httpJson<string>(`${metricsUrl}/metrics`);
  return counterTotal(String(body), family);
}

// ---------------------------------------------------------------------------------------------
// Pool sampler

export interface PoolSample {
  /** performance.now() when the answer arrived: the counters are at least this old. */
  atMs: number;
  /** When the read was sent: every request counted was sent before atMs, and those not counted after sentMs. */
  sentMs: number;
  nodes: Map<string, PoolMemberView>;
}

/** Reads `/infergate/pools` back to back, at most every `intervalMs`, until stopped. */
export class PoolSampler {
  readonly samples: PoolSample[] = [];
  #stopped = false;
  #loop?: Promise<void>;

  constructor(private readonly gatewayUrl: string, private readonly intervalMs = 10, private readonly model = SIM_MODEL) {}

  start(): this {
    this.#loop ??= this.#run();
    return this;
  }

  async stop(): Promise<PoolSample[]> {
    this.#stopped = true;
    await this.#loop;
    return this.samples;
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      const sentMs = performance.now();
      try {
        const nodes = await poolNodes(this.gatewayUrl, this.model);
        this.samples.push({ atMs: performance.now(), sentMs, nodes: new Map(nodes.map((n) => [n.id, n])) });
      } catch {
        // A missed sample is a gap, not a failure.
      }
      const wait = this.intervalMs - (performance.now() - sentMs);
      if (wait > 0) await sleep(wait);
    }
  }
}

export interface NodeTrace {
  /** Final value of the node's `requests` counter while it was listed. */
  finalRequests: number;
  /**
   * The last request sent to the node lies in (lastRequestAfterMs, lastRequestByMs]: between the
   * send of the last sample that did not yet count it and the answer of the first that did.
   */
  lastRequestAfterMs: number;
  lastRequestByMs: number;
  /** First sample (answer time) that no longer lists the node; undefined if it never left. */
  goneAtMs?: number;
  /** Last sample (answer time) that lists the node as ready; -Infinity if never. */
  lastReadyAtMs: number;
  /** First sample that lists it as draining. */
  drainingAtMs?: number;
}

/** What the samples say about one node: its last request, when it left, when it stopped being ready. */
export function traceNode(samples: readonly PoolSample[], nodeId: string, fromMs = -Infinity): NodeTrace {
  let finalRequests = 0;
  let lastRequestAfterMs = -Infinity;
  let lastRequestByMs = -Infinity;
  let previous: PoolSample | undefined;
  let goneAtMs: number | undefined;
  let lastReadyAtMs = -Infinity;
  let drainingAtMs: number | undefined;
  let seen = false;
  for (const s of samples) {
    const node = s.nodes.get(nodeId);
    if (!node) {
      if (seen && goneAtMs === undefined && s.atMs >= fromMs) goneAtMs = s.atMs;
      previous = s;
      continue;
    }
    seen = true;
    goneAtMs = undefined; // listed again: it rejoined
    if (node.state === 'ready') lastReadyAtMs = s.atMs;
    if (node.state === 'draining' && drainingAtMs === undefined && s.atMs >= fromMs) drainingAtMs = s.atMs;
    if (node.requests > finalRequests || !previous) {
      finalRequests = Math.max(finalRequests, node.requests);
      lastRequestAfterMs = previous?.sentMs ?? -Infinity;
      lastRequestByMs = s.atMs;
    }
    previous = s;
  }
  return { finalRequests, lastRequestAfterMs, lastRequestByMs, goneAtMs, lastReadyAtMs, drainingAtMs };
}

/** Share of `requests` per node between two samples (counter differences). */
export function requestShares(from: PoolSample, to: PoolSample): Map<string, { requests: number; share: number }> {
  const deltas = new Map<string, number>();
  for (const [id, node] of to.nodes) deltas.set(id, node.requests - (from.nodes.get(id)?.requests ?? 0));
  const total = [...deltas.values()].reduce((a, b) => a + b, 0);
  return new Map([...deltas].map(([id, requests]) => [id, { requests, share: total > 0 ? requests / total : 0 }]));
}

/** One sample taken now (not part of a sampler's series). */
export async function samplePools(gatewayUrl: string, model = SIM_MODEL): Promise<PoolSample> {
  const sentMs = performance.now();
  const nodes = await poolNodes(gatewayUrl, model);
  return { atMs: performance.now(), sentMs, nodes: new Map(nodes.map((n) => [n.id, n])) };
}

// ---------------------------------------------------------------------------------------------
// Closed-loop load

export interface LoadOptions {
  /** Gateway (or node) base URL. */
  url: string;
  model?: string;
  /** Workers, each with one request in flight at a time. */
  concurrency: number;
  /** Stop starting requests after this long. */
  durationMs?: number;
  /** Stop after this many requests in all. */
  maxRequests?: number;
  /** Client-side limit for one request; a request past it counts as failed ('timeout'). */
  requestTimeoutMs?: number;
  /** Shape of INPUT0 (default [elements]); e.g. [1, 16] for the identity model. */
  shape?: number[];
  /** Elements of INPUT0 per request. */
  elements?: number;
}

export interface RequestRecord {
  worker: number;
  seq: number;
  startMs: number;
  endMs: number;
  /** HTTP status; 0 when no answer came (then `error` says why). */
  status: number;
  /** Set for every failure: a transport error, a non-200 status, or an answer that is not our echo. */
  error?: string;
}

export interface LoadResult {
  startedAtMs: number;
  endedAtMs: number;
  records: RequestRecord[];
}

/**
 * N workers, each sending `POST /v2/models/<model>/infer` and waiting for the answer before the
 * next. Each request carries a recognizable id and INPUT0 = [worker, seq, 0.5, …]; the answer must
 * echo both, or the request counts as failed ('bad_echo').
 */
export class ClosedLoopLoad {
  readonly records: RequestRecord[] = [];
  readonly #client: Pool;
  readonly #options: Required<Omit<LoadOptions, 'durationMs' | 'maxRequests' | 'shape'>> & Pick<LoadOptions, 'durationMs' | 'maxRequests' | 'shape'>;
  #stopped = false;
  #started = 0;
  #run?: Promise<LoadResult>;

  constructor(options: LoadOptions) {
    this.#options = { model: SIM_MODEL, requestTimeoutMs: 30_000, elements: 4, ...options };
    this.#client = new Pool(new URL(options.url).origin, { connections: options.concurrency, pipelining: 1 });
  }

  /** Starts the workers; `done` resolves when they all stopped. */
  start(): this {
    this.#run ??= this.#go();
    return this;
  }

  /** Stops starting new requests; resolves when those in flight have answered. */
  async stop(): Promise<LoadResult> {
    this.#stopped = true;
    return this.done;
  }

  get done(): Promise<LoadResult> {
    if (!this.#run) throw new Error('load not started');
    return this.#run;
  }

  async #go(): Promise<LoadResult> {
    const startedAtMs = performance.now();
    const endBy = this.#options.durationMs === undefined ? Infinity : startedAtMs + this.#options.durationMs;
    const workers = Array.from({ length: this.#options.concurrency }, (_, w) => this.#worker(w, endBy));
    await Promise.all(workers);
    await this.#client.close();
    return { startedAtMs, endedAtMs: performance.now(), records: this.records };
  }

  async #worker(worker: number, endBy: number): Promise<void> {
    const { model, maxRequests } = this.#options;
    const path = `/v2/models/${encodeURIComponent(model)}/infer`;
    for (let seq = 0; ; seq++) {
      if (this.#stopped || performance.now() >= endBy) return;
      if (maxRequests !== undefined && this.#started >= maxRequests) return;
      this.#started++;
      const id = `load-${worker}-${seq}`;
      const shape = this.#options.shape ?? [this.#options.elements];
      const data = Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => (i === 0 ? worker : i === 1 ? seq : 0.5));
      const body = JSON.stringify({ id, inputs: [{ name: 'INPUT0', shape, datatype: 'FP32', data }] });
      const startMs = performance.now();
      const record: RequestRecord = { worker, seq, startMs, endMs: startMs, status: 0 };
      try {
        const response = await this.#client.request({
          method: 'POST',
          path,
          headers: { 'content-type': 'application/json' },
          body,
          headersTimeout: this.#options.requestTimeoutMs,
          bodyTimeout: this.#options.requestTimeoutMs,
        });
        const text = await response.body.text();
        record.status = response.statusCode;
        if (response.statusCode !== 200) {
          record.error = `status ${response.statusCode}: ${text.slice(0, 200)}`;
        } else if (!isEcho(text, id, data)) {
          record.error = `bad_echo: ${text.slice(0, 200)}`;
        }
      } catch (err) {
        const code = (err as { code?: string }).code;
        record.error = code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' ? 'timeout' : `${code ?? 'error'}: ${(err as Error).message}`;
      }
      record.endMs = performance.now();
      this.records.push(record);
    }
  }
}

function isEcho(text: string, id: string, data: number[]): boolean {
  try {
    const body = JSON.parse(text) as { id?: string; outputs?: { name: string; data: number[] }[] };
    const out = body.outputs?.find((o) => o.name === 'OUTPUT0');
    return body.id === id && !!out && out.data.length === data.length && out.data.every((v, i) => v === data[i]);
  } catch {
    return false;
  }
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  return new ClosedLoopLoad(options).start().done;
}

export interface LoadSummary {
  requests: number;
  ok: number;
  failed: number;
  /** Failure messages, by count, most frequent first (at most 5). */
  errors: [string, number][];
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Answered requests per second over the span of the records. */
  throughput: number;
}

/** Summary of the records that started in [fromMs, toMs). */
export function summarize(records: readonly RequestRecord[], fromMs = -Infinity, toMs = Infinity): LoadSummary {
  const chosen = records.filter((r) => r.startMs >= fromMs && r.startMs < toMs);
  const latencies = chosen.filter((r) => !r.error).map((r) => r.endMs - r.startMs).sort((a, b) => a - b);
  const errors = new Map<string, number>();
  for (const r of chosen) if (r.error) errors.set(r.error.slice(0, 120), (errors.get(r.error.slice(0, 120)) ?? 0) + 1);
  const first = Math.min(...chosen.map((r) => r.startMs));
  const last = Math.max(...chosen.map((r) => r.endMs));
  return {
    requests: chosen.length,
    ok: latencies.length,
    failed: chosen.length - latencies.length,
    errors: [...errors].sort((a, b) => b[1] - a[1]).slice(0, 5),
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    maxMs: latencies.length ? latencies[latencies.length - 1] : NaN,
    throughput: chosen.length && last > first ? (latencies.length * 1000) / (last - first) : 0,
  };
}

/** Nearest-rank quantile of sorted values; NaN for none. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
