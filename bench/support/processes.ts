/**
 * Servers of a bench, each in its own process so that the load generator never shares an event
 * loop with the server it measures: `infergate serve | gateway | backend` and the bench's own
 * servers. Every child belongs to a BenchChildren set that stops them all at the end, on an error,
 * on SIGINT/SIGTERM, and (SIGKILL, synchronously) when the bench process exits any other way.
 *
 * CPU accounting reads /proc (Linux): per-process CPU time of a child, and the machine's busy time,
 * so that a bench can say how much of the CPUs other work took while it measured.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { bundledModelsDir } from '../../core/package-root.js';

export const INFERGATE_CLI = fileURLToPath(new URL('../../cli/infergate.js', import.meta.url));
export const DEFAULT_READY_TIMEOUT_MS = 30_000;
export const DEFAULT_STOP_GRACE_MS = 3_000;
const READY_POLL_INTERVAL_MS = 50;
/** Lines of a child's stdout/stderr kept for error messages. */
const OUTPUT_TAIL_LINES = 40;

export class BenchChild {
  readonly name: string;
  readonly url: string;
  readonly #process: ChildProcess;
  readonly #tail: string[] = [];
  readonly exited: Promise<number | null>;
  #exitCode: number | null | undefined;

  constructor(name: string, url: string, child: ChildProcess) {
    this.name = name;
    this.url = url;
    this.#process = child;
    const keep = (data: Buffer) => {
      for (const line of data.toString().split('\n')) {
        if (!line) continue;
        this.#tail.push(line);
        if (this.#tail.length > OUTPUT_TAIL_LINES) this.#tail.shift();
      }
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.#exitCode = code ?? (signal ? -1 : null);
        resolve(code);
      });
      child.on('error', (err) => {
        this.#tail.push(`spawn error: ${err.message}`);
        this.#exitCode = -1;
        resolve(-1);
      });
    });
  }

  get pid(): number | undefined {
    return this.#process.pid;
  }

  get running(): boolean {
    return this.#exitCode === undefined;
  }

  /** The last lines the child wrote, for an error message. */
  output(): string {
    return this.#tail.join('\n');
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = DEFAULT_STOP_GRACE_MS): Promise<void> {
    if (!this.running) return;
    this.#process.kill('SIGTERM');
    const timer = setTimeout(() => this.#process.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  killNow(): void {
    if (this.running) this.#process.kill('SIGKILL');
  }

  /** User + system CPU time of the process so far, ms; undefined off Linux or once it has exited. */
  cpuMs(): number | undefined {
    return this.pid === undefined || !this.running ? undefined : processCpuMs(this.pid);
  }
}

/**
 * The children of one bench run, and the temp files to remove with them. `installExitHandlers`
 * makes an interrupted or crashing bench leave no server behind.
 */
export class BenchChildren {
  readonly #children = new Set<BenchChild>();
  readonly #cleanups: (() => void)[] = [];

  spawnNode(name: string, script: string, args: string[], url: string): BenchChild {
    const child = new BenchChild(name, url, spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }));
    this.#children.add(child);
    return child;
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
    process.once('exit', () => {
      for (const child of this.#children) child.killNow();
      this.#runCleanups();
    });
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

/** A port free right now on `host` (the OS picks it; a race with another process is possible but rare). */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Polls until `check` returns true; fails with the child's output when the child exits or the
 * time runs out.
 */
export async function waitUntil(what: string, check: () => Promise<boolean>, children: BenchChild[], timeoutMs = DEFAULT_READY_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    const dead = children.find((c) => !c.running);
    if (dead) throw new Error(`${dead.name} exited while waiting for ${what}:\n${dead.output()}`);
    try {
      if (await check()) return;
    } catch (err) {
      lastError = (err as Error).message;
    }
    if (Date.now() > deadline) {
      const outputs = children.map((c) => `--- ${c.name}:\n${c.output()}`).join('\n');
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${lastError})` : ''}\n${outputs}`);
    }
    await new Promise((r) => setTimeout(r, READY_POLL_INTERVAL_MS));
  }
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
  return ['--http-port', String(port), '--metrics-port', 'off', '--host', options.host, '--log-level', options.logLevel ?? 'info'];
}

/** `infergate serve`, ready to serve (its models loaded). */
export async function startServe(children: BenchChildren, options: InfergateOptions, name = 'infergate serve'): Promise<BenchChild> {
  const port = await freePort(options.host);
  const args = ['serve', ...commonArgs(port, options), ...(options.modelsDir ? ['--models', options.modelsDir] : []), ...(options.extraArgs ?? [])];
  const child = children.spawnNode(name, INFERGATE_CLI, args, `http://${options.host}:${port}`);
  await waitForReady(child);
  return child;
}

/** `infergate gateway` with no static backends: nodes join by heartbeat. */
export async function startGateway(children: BenchChildren, options: InfergateOptions, name = 'infergate gateway'): Promise<BenchChild> {
  const port = await freePort(options.host);
  const child = children.spawnNode(name, INFERGATE_CLI, ['gateway', ...commonArgs(port, options), ...(options.extraArgs ?? [])], `http://${options.host}:${port}`);
  await waitForReady(child);
  return child;
}

/** `infergate backend --gateway URL`, ready on its own port (not yet necessarily in the gateway's pools). */
export async function startBackend(children: BenchChildren, gatewayUrl: string, options: InfergateOptions, name = 'infergate backend'): Promise<BenchChild> {
  const port = await freePort(options.host);
  const args = ['backend', '--gateway', gatewayUrl, ...commonArgs(port, options), ...(options.modelsDir ? ['--models', options.modelsDir] : []), ...(options.extraArgs ?? [])];
  const child = children.spawnNode(name, INFERGATE_CLI, args, `http://${options.host}:${port}`);
  await waitForReady(child);
  return child;
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
