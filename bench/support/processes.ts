/**
 * Servers of a bench, each in its own process so that the load generator never shares an event
 * loop with the server it measures: `infergate serve | gateway | backend` and the bench's own
 * servers. Every child belongs to a BenchChildren set that stops them all at the end, on an error,
 * and on SIGINT/SIGTERM; spawning, log tails, reading the bound URL from the log and the SIGKILL of
 * children left when the bench process exits any other way come from cluster-processes.ts.
 *
 * CPU accounting reads /proc (Linux): per-process CPU time of a child, and the machine's busy time,
 * so that a bench can say how much of the CPUs other work took while it measured.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { bundledModelsDir } from '../../core/package-root.js';
import { cliPath, freePort, NodeProcess, waitFor } from './cluster-processes.js';

export { freePort };

export const DEFAULT_READY_TIMEOUT_MS = 30_000;
export const DEFAULT_STOP_GRACE_MS = 3_000;
const READY_POLL_INTERVAL_MS = 50;
/** Lines of a child's stdout/stderr kept for error messages. */
const OUTPUT_TAIL_LINES = 40;

export class BenchChild extends NodeProcess {
  /** `url`: where the child serves, when known in advance; otherwise read from its log (see `started`). */
  constructor(name: string, script: string, args: string[], url?: string) {
    super(name, script, args, { url, logTailLines: OUTPUT_TAIL_LINES });
  }

  /** The last lines the child wrote, for an error message. */
  output(): string {
    return this.logs().join('\n');
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = DEFAULT_STOP_GRACE_MS): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** User + system CPU time of the process so far, ms; undefined off Linux or once it has exited. */
  cpuMs(): number | undefined {
    const pid = this.child.pid;
    return pid === undefined || !this.running ? undefined : processCpuMs(pid);
  }
}

/**
 * The children of one bench run, and the temp files to remove with them. `installExitHandlers`
 * makes an interrupted or crashing bench leave no server or temp dir behind.
 */
export class BenchChildren {
  readonly #children = new Set<BenchChild>();
  readonly #cleanups: (() => void)[] = [];

  /** `node script args…`, serving at `url`. */
  spawnNode(name: string, script: string, args: string[], url: string): BenchChild {
    return this.#add(new BenchChild(name, script, args, url));
  }

  /** `infergate verb args…`; its URL comes from its log once it listens. */
  spawnInfergate(name: string, verb: 'serve' | 'gateway' | 'backend', args: string[]): BenchChild {
    return this.#add(new BenchChild(name, cliPath(), [verb, ...args]));
  }

  /** The children not yet stopped (for CPU accounting: idle ones still count as the bench's own). */
  list(): BenchChild[] {
    return [...this.#children];
  }

  /** A synchronous step to run when the bench stops (remove a temp dir). */
  onStop(cleanup: () => void): void {
    this.#cleanups.push(cleanup);
  }

  /** Stops one child and forgets it. */
  async stop(child: BenchChild): Promise<void> {
    await child.stop();
    this.#children.delete(child);
  }

  /** Stops the children newest first (a backend before its gateway), then runs the cleanups. */
  async stopAll(): Promise<void> {
    for (const child of [...this.#children].reverse()) await this.stop(child);
    this.#runCleanups();
  }

  installExitHandlers(): void {
    const onSignal = (signal: NodeJS.Signals, code: number) => {
      console.error(`\n${signal}: stopping ${this.#children.size} server process(es)`);
      void this.stopAll().finally(() => process.exit(code));
    };
    process.once('SIGINT', () => onSignal('SIGINT', 130));
    process.once('SIGTERM', () => onSignal('SIGTERM', 143));
    // Children still running are SIGKILLed on exit by cluster-processes.ts.
    process.once('exit', () => this.#runCleanups());
  }

  #add(child: BenchChild): BenchChild {
    this.#children.add(child);
    return child;
  }

  #runCleanups(): void {
    for (const cleanup of this.#cleanups.splice(0)) {
      try {
        cleanup();
      } catch {
        // best effort: a temp dir left behind is not worth failing the bench
      }
    }
  }
}

/**
 * Polls until `check` returns true; fails with the child's output when the child exits or the
 * time runs out.
 */
export async function waitUntil(what: string, check: () => Promise<boolean>, children: BenchChild[], timeoutMs = DEFAULT_READY_TIMEOUT_MS): Promise<void> {
  let dead: BenchChild | undefined;
  try {
    await waitFor(what, async () => {
      dead = children.find((c) => !c.running);
      return dead || (await check()) ? true : undefined;
    }, { timeoutMs, intervalMs: READY_POLL_INTERVAL_MS });
  } catch (err) {
    const outputs = children.map((c) => `--- ${c.name}:\n${c.output()}`).join('\n');
    throw new Error(`${(err as Error).message}\n${outputs}`);
  }
  if (dead) throw new Error(`${dead.name} exited while waiting for ${what}:\n${dead.output()}`);
}

export async function getJson(url: string): Promise<{ status: number; json: unknown }> {
  const res = await request(url, { method: 'GET', headersTimeout: 2_000, bodyTimeout: 2_000 });
  const text = await res.body.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = text;
  }
  return { status: res.statusCode, json };
}

/** Until GET `${child.url}/v2/health/ready` answers 200. */
export function waitForReady(child: BenchChild, timeoutMs?: number): Promise<void> {
  return waitUntil(`${child.name} ready`, async () => (await getJson(`${child.url}/v2/health/ready`)).status === 200, [child], timeoutMs);
}

export interface InfergateOptions {
  host: string;
  /** Model repository; default the bundled models. */
  modelsDir?: string;
  logLevel?: string;
  extraArgs?: string[];
}

function commonArgs(port: number, options: InfergateOptions): string[] {
  return ['--http-port', String(port), '--grpc-port', 'off', '--metrics-port', 'off', '--host', options.host, '--log-level', options.logLevel ?? 'info'];
}

/**
 * `infergate verb …leading …common …trailing …extraArgs` on a free port; resolves once it has
 * logged where it listens and answers ready.
 */
async function startInfergate(children: BenchChildren, name: string, verb: 'serve' | 'gateway' | 'backend', options: InfergateOptions, leading: string[], trailing: string[]): Promise<BenchChild> {
  const port = await freePort(options.host);
  const child = children.spawnInfergate(name, verb, [...leading, ...commonArgs(port, options), ...trailing, ...(options.extraArgs ?? [])]);
  await child.started(DEFAULT_READY_TIMEOUT_MS);
  await waitForReady(child);
  return child;
}

function modelsArgs(options: InfergateOptions): string[] {
  return options.modelsDir ? ['--models', options.modelsDir] : [];
}

/** `infergate serve`, ready to serve (its models loaded). */
export function startServe(children: BenchChildren, options: InfergateOptions, name = 'infergate serve'): Promise<BenchChild> {
  return startInfergate(children, name, 'serve', options, [], modelsArgs(options));
}

/** `infergate gateway` with no static backends: nodes join by heartbeat. */
export function startGateway(children: BenchChildren, options: InfergateOptions, name = 'infergate gateway'): Promise<BenchChild> {
  return startInfergate(children, name, 'gateway', options, [], []);
}

/** `infergate backend --gateway URL`, ready on its own port (not yet necessarily in the gateway's pools). */
export function startBackend(children: BenchChildren, gatewayUrl: string, options: InfergateOptions, name = 'infergate backend'): Promise<BenchChild> {
  return startInfergate(children, name, 'backend', options, ['--gateway', gatewayUrl], modelsArgs(options));
}

interface PoolsView {
  pools?: { model: string; version: string; nodes: { state: string; weight: number }[] }[];
}

/** Until the gateway's GET /infergate/pools shows a pool of `model` with `nodes` ready members of weight > 0. */
export function waitForPool(gateway: BenchChild, model: string, nodes: number, others: BenchChild[] = [], timeoutMs?: number): Promise<void> {
  return waitUntil(`${nodes} ready node(s) in the '${model}' pool of ${gateway.name}`, async () => {
    const { status, json } = await getJson(`${gateway.url}/infergate/pools`);
    if (status !== 200) return false;
    const pools = (json as PoolsView).pools ?? [];
    const ready = pools.filter((p) => p.model === model)
      .flatMap((p) => p.nodes)
      .filter((n) => n.state === 'ready' && n.weight > 0).length;
    return ready >= nodes;
  }, [gateway, ...others], timeoutMs);
}

/**
 * A temp model repository with copies of only the named bundled models (a node loads every model
 * of its repository at start, so fewer models start faster). Removed when the bench stops.
 */
export function modelRepositoryWith(children: BenchChildren, models: string[], sourceDir = bundledModelsDir()): string {
  const dir = mkdtempSync(join(tmpdir(), 'infergate-bench-models-'));
  children.onStop(() => rmSync(dir, { recursive: true, force: true }));
  for (const model of models) cpSync(join(sourceDir, model), join(dir, model), { recursive: true });
  return dir;
}

// ---------------------------------------------------------------------------------------------------
// CPU accounting (/proc)

let clockTicksPerS: number | undefined;

function ticksPerS(): number {
  if (clockTicksPerS === undefined) {
    try {
      clockTicksPerS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicksPerS = 100;
    }
  }
  return clockTicksPerS;
}

/** Fields of /proc/<pid>/stat after the command name (which may hold spaces), 0-based from `state`. */
function statFields(pid: number | 'self'): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** utime + stime of a process, ms (all its threads). */
export function processCpuMs(pid: number): number | undefined {
  const f = statFields(pid);
  if (!f) return undefined;
  return ((Number(f[11]) + Number(f[12])) * 1000) / ticksPerS();
}

/** cutime + cstime of this process: CPU of its children that have exited and been reaped, ms. */
export function reapedChildrenCpuMs(): number | undefined {
  const f = statFields('self');
  if (!f) return undefined;
  return ((Number(f[13]) + Number(f[14])) * 1000) / ticksPerS();
}

/** The machine's CPU time so far (all cores), ms: busy and total. */
export interface MachineCpu {
  busyMs: number;
  totalMs: number;
}

export function machineCpu(): MachineCpu | undefined {
  let line: string | undefined;
  try {
    line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith('cpu '));
  } catch {
    return undefined;
  }
  if (!line) return undefined;
  // user nice system idle iowait irq softirq steal (guest time is already inside user)
  const t = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = t.reduce((a, b) => a + b, 0);
  const idle = t[3] + t[4];
  const toMs = 1000 / ticksPerS();
  return { busyMs: (total - idle) * toMs, totalMs: total * toMs };
}
