/**
 * Closed-loop load: N callers, each issuing its next request as soon as the previous one ends, so
 * the offered load follows the server (perf_analyzer's concurrency mode). Latency is taken per
 * request with hrtime; percentiles are nearest-rank over every request of the run.
 *
 * Two HTTP drivers share one result shape: undici in this process (a Pool with one keep-alive
 * connection per caller, driven through `dispatch` so that no response stream is built), and wrk
 * in a child process when it is on PATH (C, so it takes less of the CPUs the server needs).
 * `combineRuns` takes several short runs of one target as one result: a bench that interleaves its
 * targets in rounds sees the same background load on each, and the rounds show how much it moved.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Pool, type Dispatcher } from 'undici';

export interface LatencySummary {
  p50Us: number;
  p90Us: number;
  p99Us: number;
  meanUs: number;
  minUs: number;
  maxUs: number;
}

/** One closed-loop run of one target at one concurrency. */
export interface LoadRun {
  driver: 'in-process' | 'undici' | 'wrk';
  concurrency: number;
  /** From the first request's start to the last one's end. */
  elapsedS: number;
  /** Successful requests. */
  requests: number;
  /** Failed requests (thrown, non-200); their latencies are left out. */
  errors: number;
  firstError?: string;
  latency: LatencySummary;
  /** Every successful request's latency, when the driver times each one (not wrk). */
  latenciesUs?: Float64Array;
}

/** Throughput and p50 of one run among several of the same target: how much it moved. */
export interface RoundFigures {
  reqPerS: number;
  p50Us: number;
}

/** Several runs of one target and concurrency, taken as one. */
export interface LoadResult {
  driver: LoadRun['driver'];
  concurrency: number;
  elapsedS: number;
  requests: number;
  errors: number;
  firstError?: string;
  reqPerS: number;
  latency: LatencySummary;
  /**
   * 'pooled': percentiles over every request of every run. 'median-of-runs': the median over
   * runs of each run's percentile (wrk reports percentiles, not requests).
   */
  latencyFrom: 'pooled' | 'median-of-runs';
  rounds: RoundFigures[];
}

/** Nearest-rank percentile of ascending values; q in [0, 1]. */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function summarizeLatencies(latenciesUs: Float64Array): LatencySummary {
  const sorted = Float64Array.from(latenciesUs).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    p50Us: percentile(sorted, 0.5),
    p90Us: percentile(sorted, 0.9),
    p99Us: percentile(sorted, 0.99),
    meanUs: sorted.length ? sum / sorted.length : Number.NaN,
    minUs: sorted.length ? sorted[0] : Number.NaN,
    maxUs: sorted.length ? sorted[sorted.length - 1] : Number.NaN,
  };
}

function median(values: number[]): number {
  return percentile([...values].sort((a, b) => a - b), 0.5);
}

/** Relative spread (max − min) / median, e.g. 0.12 when the values sit within ±6 % of the median. */
export function relativeSpread(values: number[]): number | undefined {
  const finite = values.filter(Number.isFinite);
  if (finite.length < 2) return undefined;
  return (Math.max(...finite) - Math.min(...finite)) / median(finite);
}

export function combineRuns(runs: LoadRun[]): LoadResult {
  if (runs.length === 0) throw new Error('combineRuns: no runs');
  const requests = runs.reduce((n, r) => n + r.requests, 0);
  const elapsedS = runs.reduce((n, r) => n + r.elapsedS, 0);
  const errors = runs.reduce((n, r) => n + r.errors, 0);
  const firstError = runs.find((r) => r.firstError !== undefined)?.firstError;
  let latency: LatencySummary;
  let latencyFrom: LoadResult['latencyFrom'];
  if (runs.every((r) => r.latenciesUs)) {
    const all = new Float64Array(runs.reduce((n, r) => n + r.latenciesUs!.length, 0));
    let offset = 0;
    for (const r of runs) {
      all.set(r.latenciesUs!, offset);
      offset += r.latenciesUs!.length;
    }
    latency = summarizeLatencies(all);
    latencyFrom = 'pooled';
  } else {
    const of = (key: keyof LatencySummary) => median(runs.map((r) => r.latency[key]));
    latency = { p50Us: of('p50Us'), p90Us: of('p90Us'), p99Us: of('p99Us'), meanUs: of('meanUs'), minUs: Math.min(...runs.map((r) => r.latency.minUs)), maxUs: Math.max(...runs.map((r) => r.latency.maxUs)) };
    latencyFrom = 'median-of-runs';
  }
  return {
    driver: runs[0].driver,
    concurrency: runs[0].concurrency,
    elapsedS,
    requests,
    errors,
    ...(firstError !== undefined ? { firstError } : {}),
    reqPerS: elapsedS > 0 ? requests / elapsedS : 0,
    latency,
    latencyFrom,
    rounds: runs.map((r) => ({ reqPerS: r.elapsedS > 0 ? r.requests / r.elapsedS : 0, p50Us: r.latency.p50Us })),
  };
}

/** Growable list of doubles. */
class Samples {
  values = new Float64Array(1 << 14);
  length = 0;

  push(value: number): void {
    if (this.length === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.length++] = value;
  }
}

/**
 * Runs `issue` from `concurrency` callers for `durationMs` (no new request starts after it; the
 * ones in flight finish and count). `issue` rejects to report a failed request.
 */
export async function runClosedLoop(issue: () => Promise<unknown>, concurrency: number, durationMs: number): Promise<LoadRun> {
  const samples = new Samples();
  let errors = 0;
  let firstError: string | undefined;
  const start = process.hrtime.bigint();
  const stopAt = start + BigInt(Math.round(durationMs * 1e6));
  let lastEnd = start;

  const caller = async () => {
    for (;;) {
      const t0 = process.hrtime.bigint();
      if (t0 >= stopAt) return;
      try {
        await issue();
        const t1 = process.hrtime.bigint();
        samples.push(Number(t1 - t0) / 1e3);
        if (t1 > lastEnd) lastEnd = t1;
      } catch (err) {
        errors++;
        firstError ??= (err as Error).message;
        // A dead server fails fast; do not spin a core on it.
        await new Promise((r) => setTimeout(r, 1));
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, caller));

  const latenciesUs = samples.values.slice(0, samples.length);
  return {
    driver: 'in-process',
    concurrency,
    elapsedS: Number(lastEnd - start) / 1e9,
    requests: samples.length,
    errors,
    ...(firstError !== undefined ? { firstError } : {}),
    latency: summarizeLatencies(latenciesUs),
    latenciesUs,
  };
}

// ---------------------------------------------------------------------------------------------------
// HTTP

/** One POST, sent the same way by every driver. */
export interface HttpRequestSpec {
  /** `http://host:port` */
  origin: string;
  path: string;
  body: Buffer;
  headers: Record<string, string>;
}

export interface HttpReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A closed-loop HTTP driver; `request` is also used for the correctness probe before a run. */
export interface HttpDriver {
  readonly name: 'undici' | 'wrk';
  request(spec: HttpRequestSpec): Promise<HttpReply>;
  run(spec: HttpRequestSpec, concurrency: number, durationMs: number): Promise<LoadRun>;
  close(): Promise<void>;
}

/**
 * undici in this process. One Pool per (origin, concurrency) with `connections = concurrency`, so
 * that each caller keeps its own keep-alive connection across warm-up and measurement.
 */
export class UndiciDriver implements HttpDriver {
  readonly name = 'undici';
  readonly #pools = new Map<string, Pool>();

  #pool(origin: string, connections: number): Pool {
    const key = `${origin} ${connections}`;
    let pool = this.#pools.get(key);
    if (!pool) {
      pool = new Pool(origin, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
      this.#pools.set(key, pool);
    }
    return pool;
  }

  request(spec: HttpRequestSpec): Promise<HttpReply> {
    return send(this.#pool(spec.origin, 1), spec, true);
  }

  async run(spec: HttpRequestSpec, concurrency: number, durationMs: number): Promise<LoadRun> {
    const pool = this.#pool(spec.origin, concurrency);
    const result = await runClosedLoop(async () => {
      const reply = await send(pool, spec, false);
      if (reply.status !== 200) throw new Error(`HTTP ${reply.status}: ${reply.body.toString('utf8', 0, 300)}`);
    }, concurrency, durationMs);
    return { ...result, driver: 'undici' };
  }

  /** Closes the pools of one origin (its server is about to stop), or all of them. */
  async close(origin?: string): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const [key, pool] of this.#pools) {
      if (origin !== undefined && !key.startsWith(`${origin} `)) continue;
      this.#pools.delete(key);
      closing.push(pool.destroy());
    }
    await Promise.all(closing);
  }
}

/**
 * One request through undici's dispatch handler: no Readable, no Response object. The body is kept
 * only when asked (the probe) or when the status says it is an error worth reporting.
 */
function send(dispatcher: Dispatcher, spec: HttpRequestSpec, keepBody: boolean): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    let status = 0;
    let headers: Record<string, string | string[] | undefined> = {};
    const chunks: Buffer[] = [];
    let keep = keepBody;
    dispatcher.dispatch({ origin: spec.origin, path: spec.path, method: 'POST', headers: spec.headers, body: spec.body }, {
      onRequestStart() {},
      onResponseStart(_controller, statusCode, responseHeaders) {
        status = statusCode;
        headers = responseHeaders;
        if (statusCode !== 200) keep = true;
      },
      onResponseData(_controller, chunk) {
        if (keep) chunks.push(chunk);
      },
      onResponseEnd() {
        resolve({ status, headers, body: Buffer.concat(chunks) });
      },
      onResponseError(_controller, err) {
        reject(err);
      },
    });
  });
}

/** The first executable named `command` on PATH. */
export function findOnPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, command);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Marks the one line of wrk's output that the Lua `done` hook writes. */
const WRK_RESULT_TAG = 'BENCH_RESULT ';

/**
 * wrk with a Lua script that POSTs the spec's body and prints its own latency histogram's
 * percentiles (µs) as JSON. wrk takes whole seconds: durations are rounded, at least 1 s. It has
 * no per-request times; its percentiles come from its HdrHistogram (1 µs steps).
 * Non-200 replies count as errors only when they are not 2xx/3xx (wrk's rule).
 */
export class WrkDriver implements HttpDriver {
  readonly name = 'wrk';
  readonly #wrk: string;
  readonly #undici = new UndiciDriver();
  readonly #dir = mkdtempSync(join(tmpdir(), 'infergate-wrk-'));
  #scripts = 0;
  #running: ChildProcess | undefined;

  constructor(wrkPath: string) {
    this.#wrk = wrkPath;
  }

  request(spec: HttpRequestSpec): Promise<HttpReply> {
    return this.#undici.request(spec);
  }

  async run(spec: HttpRequestSpec, concurrency: number, durationMs: number): Promise<LoadRun> {
    const n = this.#scripts++;
    const bodyFile = join(this.#dir, `body-${n}.bin`);
    const script = join(this.#dir, `post-${n}.lua`);
    writeFileSync(bodyFile, spec.body);
    writeFileSync(script, wrkScript(spec, bodyFile));
    const seconds = Math.max(1, Math.round(durationMs / 1000));
    const threads = Math.min(concurrency, 2);
    const args = ['-t', String(threads), '-c', String(concurrency), '-d', `${seconds}s`, '--timeout', '10s', '-s', script, `${spec.origin}${spec.path}`];
    const output = await runCommand(this.#wrk, args, (child) => { this.#running = child; });
    this.#running = undefined;
    const line = output.split('\n').find((l) => l.startsWith(WRK_RESULT_TAG));
    if (!line) throw new Error(`wrk printed no result:\n${output.slice(-2000)}`);
    const r = JSON.parse(line.slice(WRK_RESULT_TAG.length)) as Record<string, number>;
    const errors = r.errors_status + r.errors_connect + r.errors_read + r.errors_write + r.errors_timeout;
    const elapsedS = r.duration_us / 1e6;
    return {
      driver: 'wrk',
      concurrency,
      elapsedS,
      requests: r.requests - r.errors_status,
      errors,
      ...(errors > 0 ? { firstError: `wrk: ${r.errors_status} non-2xx/3xx, ${r.errors_connect} connect, ${r.errors_read} read, ${r.errors_write} write, ${r.errors_timeout} timeout` } : {}),
      latency: { p50Us: r.p50, p90Us: r.p90, p99Us: r.p99, meanUs: r.mean, minUs: r.min, maxUs: r.max },
    };
  }

  /** Also ends a wrk still running (the bench is stopping on an error or a signal). */
  async close(): Promise<void> {
    this.#running?.kill('SIGKILL');
    await this.#undici.close();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

function wrkScript(spec: HttpRequestSpec, bodyFile: string): string {
  // JSON string literals of ASCII text are valid Lua string literals.
  const headers = Object.entries(spec.headers)
    .map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`)
    .join('\n');
  return `wrk.method = "POST"
local f = assert(io.open(${JSON.stringify(bodyFile)}, "rb"))
wrk.body = f:read("*a")
f:close()
${headers}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('${WRK_RESULT_TAG}{"requests":%d,"duration_us":%d,"errors_status":%d,"errors_connect":%d,"errors_read":%d,"errors_write":%d,"errors_timeout":%d,"p50":%d,"p90":%d,"p99":%d,"mean":%f,"min":%d,"max":%d}\\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.min, latency.max))
end
`;
}

function runCommand(command: string, args: string[], started: (child: ChildProcess) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    started(child);
    let output = '';
    child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(output);
      else reject(new Error(`${command} exited with ${code}:\n${output.slice(-2000)}`));
    });
  });
}
