/**
 * `infergate bench`'s settings, validated from the parsed flags in one place: every flag's meaning
 * and default is here, the CLI only parses and prints. Anything wrong is a BenchError naming the
 * flag (exit 2) before a request is sent.
 */
import { clientTlsFrom, type ClientTls } from '../../core/tls-files.js';
import { BenchError, badArgument } from './bench-errors.js';
import { parseShapeOptions } from './inputs.js';
import { DEFAULT_MAX_OUTSTANDING } from './load-open.js';
import { DISTRIBUTIONS, type Distribution } from './schedule.js';
import { PROTOCOLS, targetAddress, type Protocol } from './target.js';

export const DEFAULT_WARMUP_MS = 1_000;
export const DEFAULT_MEASUREMENT_INTERVAL_MS = 5_000;
export const DEFAULT_BENCH_REQUEST_TIMEOUT_MS = 30_000;
export const DEFAULT_CONCURRENCY_RANGE = '1:1:1';
export const DEFAULT_DISTRIBUTION: Distribution = 'poisson';
/** HTTP connections in request-rate mode (concurrency mode opens one per concurrent request). */
export const DEFAULT_RATE_MODE_CONNECTIONS = 128;
export const DEFAULT_SEED = 1;
/** A range longer than this is a typo, not a sweep. */
export const MAX_SWEEP_STEPS = 1_000;

export type LoadMode = 'concurrency' | 'request_rate';

export interface BenchSettings {
  protocol: Protocol;
  /** -u as given; undefined: the protocol's default. */
  url?: string;
  model: string;
  version?: string;
  binary: boolean;
  batchSize: number;
  shapes: Map<string, number[]>;
  inputDataFile?: string;
  mode: LoadMode;
  /** Concurrencies, or request rates (requests/s), in sweep order. */
  levels: number[];
  distribution: Distribution;
  maxOutstanding: number;
  warmupMs: number;
  measurementMs: number;
  timeoutMs: number;
  /** HTTP keep-alive connections. */
  connections: number;
  seed: number;
  csvFile?: string;
  jsonFile?: string;
  reportDir?: string;
  label?: string;
  compareFiles: string[];
  /** --api-key, else INFERGATE_API_KEY; sent on every call, never written to any output. */
  apiKey?: string;
  /** --tls-ca, --tls-cert, --tls-key, read and checked: TLS to the server. */
  tls?: ClientTls;
}

/** Where the bench reads its API key when --api-key is not given (keeps it off the command line). */
export const BENCH_API_KEY_ENV = 'INFERGATE_API_KEY';

export type FlagValues = Readonly<Record<string, string | boolean | string[] | undefined>>;

/** `start[:end[:step]]` → the values from start to end (inclusive) by step. */
export function parseRange(text: string, flag: string, kind: 'integer' | 'number'): number[] {
  const parts = text.split(':');
  const numbers = parts.map(Number);
  const valid = (n: number) => Number.isFinite(n) && n > 0 && (kind === 'number' || Number.isInteger(n));
  if (parts.length > 3 || parts.some((p) => p.trim() === '') || !numbers.every(valid)) {
    throw badArgument(`--${flag} expects start[:end[:step]] with ${kind === 'integer' ? 'whole numbers' : 'numbers'} > 0, got '${text}'`);
  }
  const [start, end = start, step = 1] = numbers;
  if (end < start) throw badArgument(`--${flag} ${text}: end ${end} is below start ${start}`);
  const count = Math.floor((end - start) / step + 1e-9) + 1;
  if (count > MAX_SWEEP_STEPS) throw badArgument(`--${flag} ${text} makes ${count} steps (at most ${MAX_SWEEP_STEPS})`);
  // start + i × step, rounded off at 1e-9: 0.1 + 0.2 stays 0.3.
  return Array.from({ length: count }, (_, i) => Math.round((start + i * step) * 1e9) / 1e9);
}

function integer(values: FlagValues, flag: string, min: number, fallback?: number): number {
  if (values[flag] === undefined && fallback !== undefined) return fallback;
  const text = String(values[flag]);
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw badArgument(`--${flag} expects a whole number ≥ ${min}, got '${text}'`);
  return n;
}

function optionalString(values: FlagValues, flag: string): string | undefined {
  const v = values[flag];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') throw badArgument(`--${flag} needs a value`);
  return v;
}

function list(values: FlagValues, flag: string): string[] {
  const v = values[flag];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [String(v)]).flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s !== '');
}

/** --compare's files, repeated or comma-separated. */
export function compareFilesFrom(values: FlagValues): string[] {
  return list(values, 'compare');
}

/** True when the flags ask only to merge earlier results (--compare without -m). */
export function isCompareOnly(values: FlagValues): boolean {
  return values.model === undefined && list(values, 'compare').length > 0;
}

export function benchSettingsFrom(values: FlagValues): BenchSettings {
  const model = optionalString(values, 'model');
  if (!model) throw badArgument('-m/--model NAME is required (or --compare FILE.json … alone to merge earlier results)');
  const protocol = (values.protocol ?? 'http') as Protocol;
  if (!PROTOCOLS.includes(protocol)) throw badArgument(`-i/--protocol expects ${PROTOCOLS.join(' or ')}, got '${values.protocol}'`);
  const url = optionalString(values, 'url');
  try {
    targetAddress(protocol, url);
  } catch (err) {
    throw badArgument(`-u/--url: ${(err as Error).message}`);
  }
  const binary = values.binary === true;
  if (binary && protocol === 'grpc') throw badArgument('--binary is for HTTP; gRPC always sends binary tensors');

  const concurrency = optionalString(values, 'concurrency-range');
  const rate = optionalString(values, 'request-rate-range');
  if (concurrency && rate) throw badArgument('--concurrency-range and --request-rate-range exclude each other: one sweep at a time');
  const mode: LoadMode = rate ? 'request_rate' : 'concurrency';
  const levels = rate ? parseRange(rate, 'request-rate-range', 'number') : parseRange(concurrency ?? DEFAULT_CONCURRENCY_RANGE, 'concurrency-range', 'integer');

  const distribution = (values['request-distribution'] ?? DEFAULT_DISTRIBUTION) as Distribution;
  if (!DISTRIBUTIONS.includes(distribution)) throw badArgument(`--request-distribution expects ${DISTRIBUTIONS.join(' or ')}, got '${values['request-distribution']}'`);
  if (values['request-distribution'] !== undefined && mode !== 'request_rate') throw badArgument('--request-distribution needs --request-rate-range');

  const connectionsGiven = values.connections !== undefined;
  const connections = connectionsGiven
    ? integer(values, 'connections', 1)
    : mode === 'concurrency' ? Math.max(...levels) : DEFAULT_RATE_MODE_CONNECTIONS;

  let shapes: Map<string, number[]>;
  try {
    shapes = parseShapeOptions(Array.isArray(values.shape) ? values.shape : values.shape === undefined ? [] : [String(values.shape)]);
  } catch (err) {
    throw err instanceof BenchError ? err : badArgument((err as Error).message);
  }

  const apiKey = optionalString(values, 'api-key') ?? (process.env[BENCH_API_KEY_ENV] || undefined);
  let tls: ClientTls | undefined;
  try {
    tls = clientTlsFrom(values, 'tls');
  } catch (err) {
    throw badArgument((err as Error).message);
  }
  return {
    protocol,
    ...(tls ? { tls } : {}),
    ...(url !== undefined ? { url } : {}),
    ...(apiKey !== undefined ? { apiKey } : {}),
    model,
    ...(optionalString(values, 'model-version') !== undefined ? { version: optionalString(values, 'model-version') } : {}),
    binary,
    batchSize: integer(values, 'batch-size', 1, 1),
    shapes,
    ...(optionalString(values, 'input-data') !== undefined ? { inputDataFile: optionalString(values, 'input-data') } : {}),
    mode,
    levels,
    distribution,
    maxOutstanding: integer(values, 'max-outstanding', 1, DEFAULT_MAX_OUTSTANDING),
    warmupMs: integer(values, 'warmup-ms', 0, DEFAULT_WARMUP_MS),
    measurementMs: integer(values, 'measurement-interval-ms', 1, DEFAULT_MEASUREMENT_INTERVAL_MS),
    timeoutMs: integer(values, 'request-timeout-ms', 1, DEFAULT_BENCH_REQUEST_TIMEOUT_MS),
    connections,
    seed: integer(values, 'seed', 0, DEFAULT_SEED),
    ...(optionalString(values, 'csv') !== undefined ? { csvFile: optionalString(values, 'csv') } : {}),
    ...(optionalString(values, 'json') !== undefined ? { jsonFile: optionalString(values, 'json') } : {}),
    ...(optionalString(values, 'report') !== undefined ? { reportDir: optionalString(values, 'report') } : {}),
    ...(optionalString(values, 'label') !== undefined ? { label: optionalString(values, 'label') } : {}),
    compareFiles: compareFilesFrom(values),
  };
}
