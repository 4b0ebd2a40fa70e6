/**
 * `infergate bench`: a perf_analyzer-style load tool against any KServe v2 server (infergate,
 * Triton, …). This file is the verb's shell: flags, short aliases, where each output goes, exit
 * codes. The work is in bench/perf/ (run.ts drives a sweep).
 *
 * Exit codes: 0 when the run completed (failed requests are reported, not fatal), 2 for a bad
 * flag or anything the bench cannot build requests from (unknown model, shape, input file), 1 when
 * no server answers at the target.
 */
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { BenchError } from '../bench/perf/bench-errors.js';
import { runRoutingBench } from '../bench/routing/main.js';
import { compareRows, COMPARE_COLUMNS, labelResults, readResultFile, type LabelledResult } from '../bench/perf/compare.js';
import { toCsv } from '../bench/perf/csv.js';
import { DEFAULT_MAX_OUTSTANDING } from '../bench/perf/load-open.js';
import {
  DEFAULT_BENCH_REQUEST_TIMEOUT_MS, DEFAULT_CONCURRENCY_RANGE, DEFAULT_DISTRIBUTION, DEFAULT_MEASUREMENT_INTERVAL_MS,
  DEFAULT_RATE_MODE_CONNECTIONS, DEFAULT_SEED, DEFAULT_WARMUP_MS, benchSettingsFrom, compareFilesFrom, isCompareOnly, type BenchSettings,
} from '../bench/perf/options.js';
import { writeBenchReport } from '../bench/perf/report.js';
import { levelText, type StepResult } from '../bench/perf/result.js';
import { runBench, type StepProgress } from '../bench/perf/run.js';
import { alignedTable, tableHeader, tableRow } from '../bench/perf/table.js';
import { DEFAULT_GRPC_URL, DEFAULT_HTTP_URL, targetAddress } from '../bench/perf/target.js';
import { helpText, parseVerbOptions, type OptionSpec, type ParsedOptions } from './options.js';
import { BENCH_SUMMARY } from './verb-summaries.js';


export const BENCH_OPTIONS: Record<string, OptionSpec> = {
  url: { type: 'string', help: `-u: server, http://host:port or host:port (default ${DEFAULT_HTTP_URL} for HTTP, ${DEFAULT_GRPC_URL} for gRPC)` },
  model: { type: 'string', help: '-m: model name (required, except with --compare alone)' },
  'model-version': { type: 'string', help: '-x: model version (default: the server\'s choice)' },
  protocol: { type: 'string', default: 'http', help: '-i: http | grpc' },
  binary: { type: 'boolean', help: 'HTTP: binary tensor extension instead of JSON (gRPC is always binary)' },
  'batch-size': { type: 'string', default: '1', help: '-b: rows per request when the model batches (max_batch_size > 0)' },
  shape: { type: 'string', multiple: true, help: 'NAME:d1,d2,… dims of an input, without the batch dim; sets its variable (-1) dims (else 1); repeatable' },
  'input-data': { type: 'string', help: 'perf_analyzer JSON file {"data": [{"INPUT0": [...]}, ...]} cycled through (default: random data)' },
  'concurrency-range': { type: 'string', help: `start[:end[:step]] closed-loop sweep: N requests outstanding (default ${DEFAULT_CONCURRENCY_RANGE})` },
  'request-rate-range': { type: 'string', help: 'start[:end[:step]] open-loop sweep in requests/s instead (latency from the scheduled send)' },
  'request-distribution': { type: 'string', help: `poisson | constant arrivals of the request-rate sweep (default ${DEFAULT_DISTRIBUTION})` },
  'max-outstanding': { type: 'string', default: String(DEFAULT_MAX_OUTSTANDING), help: 'request-rate sweep: most requests in flight; requests due beyond it are dropped by the client and counted' },
  'warmup-ms': { type: 'string', default: String(DEFAULT_WARMUP_MS), help: 'load before each measurement window, not measured' },
  'measurement-interval-ms': { type: 'string', default: String(DEFAULT_MEASUREMENT_INTERVAL_MS), help: '-p: measurement window of each step' },
  'request-timeout-ms': { type: 'string', default: String(DEFAULT_BENCH_REQUEST_TIMEOUT_MS), help: 'a request unanswered this long counts as timed out (also sent to the server)' },
  connections: { type: 'string', help: `HTTP keep-alive connections (default: the sweep's highest concurrency; ${DEFAULT_RATE_MODE_CONNECTIONS} for a request-rate sweep)` },
  seed: { type: 'string', default: String(DEFAULT_SEED), help: 'seed of the random data and the Poisson arrivals' },
  csv: { type: 'string', help: '-f: write perf_analyzer\'s CSV (its columns, then Failed, Timed out, Refused, Dropped by client, p99.9 latency, Success rate)' },
  json: { type: 'string', help: 'write every figure, the settings and the exact command as JSON (what --compare reads)' },
  report: { type: 'string', help: 'write an HTML report with SVG charts into this directory' },
  label: { type: 'string', help: 'a name for this run (e.g. the card type), in every output' },
  'api-key': { type: 'string', help: 'the server\'s API key, sent as Authorization: Bearer on every call (default: INFERGATE_API_KEY, else none); shown as *** in outputs' },
  'tls-ca': { type: 'string', help: 'PEM CA to trust for an https:// or TLS gRPC server (default: the system\'s roots)' },
  'tls-cert': { type: 'string', help: 'PEM client certificate, for a server started with --tls-client-ca (with --tls-key)' },
  'tls-key': { type: 'string', help: 'PEM key of --tls-cert' },
  compare: { type: 'string', multiple: true, help: 'earlier --json result(s) to show beside this run by label (alone, without -m: only compare); repeatable or comma-separated' },
  help: { type: 'boolean', help: '-h: show this help' },
};

const SHORT_FLAGS: Record<string, string> = { '-u': '--url', '-m': '--model', '-x': '--model-version', '-i': '--protocol', '-b': '--batch-size', '-p': '--measurement-interval-ms', '-f': '--csv', '-h': '--help' };

const HELP_FOOTER = `
infergate bench routing [options] runs the routing policies side by side instead (--help there).
Each step warms up, then measures one window. Throughput: successes that ended in the window;
every other figure: the requests sent in the window, waited for up to the request timeout.
Outcomes: timed out = no answer within --request-timeout-ms, or 504 / DEADLINE_EXCEEDED; refused =
connection refused or reset, 503 or 429 / UNAVAILABLE or RESOURCE_EXHAUSTED; failed = any other
error answer; dropped = not sent (--max-outstanding). Exit 0 when the run completed, 2 on bad
arguments or a model the bench cannot build requests for, 1 when no server answers.

examples:
  infergate bench -m identity --concurrency-range 1:8:1 -f identity.csv
  infergate bench -m identity -i grpc -u 127.0.0.1:8001 --request-rate-range 100:1000:300
  infergate bench -m sim_echo --shape INPUT0:64 --label t4 --json t4.json
  infergate bench --compare t4.json --compare l4.json --report out/`;

/** perf_analyzer's short flags as the long ones parseArgs knows. */
export function expandShortFlags(argv: readonly string[]): string[] {
  return argv.map((arg) => SHORT_FLAGS[arg] ?? arg);
}

/** The command line as one could paste it into a POSIX shell. */
export function commandLine(argv: readonly string[]): string {
  const quote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  return ['infergate', 'bench', ...redactApiKey(argv)].map(quote).join(' ');
}

/** The command line as written into results: an API key never is. */
export function redactApiKey(argv: readonly string[]): string[] {
  return argv.map((arg, i) => {
    if (arg.startsWith('--api-key=')) return '--api-key=***';
    return argv[i - 1] === '--api-key' ? '***' : arg;
  });
}

export async function benchMain(argv: string[]): Promise<number> {
  if (argv[0] === 'routing') return routingMain(argv.slice(1));
  let values: ParsedOptions;
  try {
    values = parseVerbOptions(expandShortFlags(argv), BENCH_OPTIONS);
  } catch (err) {
    console.error(`infergate bench: ${(err as Error).message} (infergate bench --help lists the options)`);
    return 2;
  }
  if (values.help) {
    console.log(`${helpText('bench', BENCH_SUMMARY, BENCH_OPTIONS)}\n${HELP_FOOTER}`);
    return 0;
  }
  try {
    if (isCompareOnly(values)) {
      await compareOnly(values);
      return 0;
    }
    const settings = benchSettingsFrom(values);
    for (const file of [settings.csvFile, settings.jsonFile]) if (file !== undefined) checkWritable(file);
    await runAndWrite(settings, commandLine(argv));
    return 0;
  } catch (err) {
    clearProgress();
    console.error(`infergate bench: ${(err as Error).message}`);
    return err instanceof BenchError ? err.exitCode : 1;
  }
}

/** A long run must not end in "cannot write": the folder has to exist before the load starts. */
function checkWritable(file: string): void {
  const dir = dirname(resolve(file));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new BenchError('BAD_ARGUMENT', `cannot write ${file}: no directory ${dir}`);
}

async function runAndWrite(settings: BenchSettings, command: string): Promise<void> {
  const compared = settings.compareFiles.map((file) => ({ source: file, result: readResultFile(file) }));
  let headerPrinted = false;
  const result = await runBench(settings, command, {
    note: (message) => {
      clearProgress();
      console.error(`note: ${message}`);
    },
    progress: (p) => showProgress(p),
    step: (step, index, steps) => {
      clearProgress();
      if (!headerPrinted) {
        console.log(runHeading(settings));
        console.log(tableHeader(step.mode));
        headerPrinted = true;
      }
      console.log(tableRow(step));
      if (!process.stderr.isTTY) console.error(stepLine(step, index, steps));
    },
  });
  if (settings.csvFile !== undefined) written(settings.csvFile, toCsv(result));
  if (settings.jsonFile !== undefined) written(settings.jsonFile, `${JSON.stringify(result, null, 2)}\n`);
  const labelled = compared.length > 0 ? labelResults([{ source: 'this run', result }, ...compared]) : [];
  if (labelled.length > 0) printComparison(labelled);
  if (settings.reportDir !== undefined) {
    for (const file of await writeBenchReport(settings.reportDir, result, labelled)) console.error(`wrote ${file}`);
  }
}

async function compareOnly(values: ParsedOptions): Promise<void> {
  const files = compareFilesFrom(values);
  const labelled = labelResults(files.map((file) => ({ source: file, result: readResultFile(file) })));
  printComparison(labelled);
  const dir = typeof values.report === 'string' ? values.report : undefined;
  if (dir !== undefined) for (const file of await writeBenchReport(dir, undefined, labelled)) console.error(`wrote ${file}`);
}

function printComparison(runs: LabelledResult[]): void {
  const rows = compareRows(runs).map((r) => r.map((c) => (c === null ? '-' : String(c))));
  console.log(`\n${alignedTable(COMPARE_COLUMNS, rows)}`);
}

function written(file: string, text: string): void {
  writeFileSync(file, text);
  console.error(`wrote ${file}`);
}

function runHeading(s: BenchSettings): string {
  const wire = s.protocol === 'grpc' ? 'gRPC' : `HTTP, ${s.binary ? 'binary' : 'JSON'} tensors`;
  const load = s.mode === 'concurrency' ? 'closed loop' : `open loop, ${s.distribution} arrivals`;
  return `${s.model}${s.version ? ` v${s.version}` : ''} on ${targetAddress(s.protocol, s.url)} (${wire})${s.label !== undefined ? ` [${s.label}]` : ''}: `
    + `${load}, batch ${s.batchSize}, warm-up ${s.warmupMs} ms, window ${s.measurementMs} ms`;
}

function stepLine(step: StepResult, index: number, steps: number): string {
  const s = step.summary;
  const us = (v: number | undefined) => (v === undefined ? '-' : `${Math.round(v)} µs`);
  return `[${index + 1}/${steps}] ${levelText(step.mode, step.level)}: ${s.inferencesPerSec.toFixed(1)} infer/s, p50 ${us(s.latencyUs?.p50Us)}, p99 ${us(s.latencyUs?.p99Us)}; `
    + `${s.counts.ok} ok, ${s.counts.failed} failed, ${s.counts.timedOut} timed out, ${s.counts.refused} refused, ${s.counts.dropped} dropped`
    + (s.errors.length > 0 ? ` (first error: ${s.errors[0].message})` : '');
}

let progressShown = false;

/** Only on a terminal: one line rewritten in place. */
function showProgress(p: StepProgress): void {
  if (!process.stderr.isTTY) return;
  const phase = p.phase === 'drain' ? 'waiting for the last answers' : `${p.phase === 'warmup' ? 'warming up' : 'measuring'} ${(p.elapsedMs / 1000).toFixed(1)}/${(p.phaseMs / 1000).toFixed(1)} s`;
  const line = `[${p.step + 1}/${p.steps}] ${levelText(p.mode, p.level)}: ${phase}, ${p.ok} ok, ${p.errors} errors, ${p.inFlight} in flight`;
  process.stderr.write(`\r\x1b[K${line.slice(0, (process.stderr.columns || 120) - 1)}`);
  progressShown = true;
}

function clearProgress(): void {
  if (!progressShown) return;
  process.stderr.write('\r\x1b[K');
  progressShown = false;
}

/** `infergate bench routing …`: the routing policies side by side on a SIMULATED fleet (bench/routing/). */
async function routingMain(argv: string[]): Promise<number> {
  try {
    await runRoutingBench(argv);
    return 0;
  } catch (err) {
    const bad = (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') || /^(unknown|--)/.test((err as Error).message);
    console.error(`infergate bench routing: ${(err as Error).message}${bad ? ' (infergate bench routing --help lists the options)' : ''}`);
    return bad ? 2 : 1;
  }
}
