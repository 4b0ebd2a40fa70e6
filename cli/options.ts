/**
 * Command-line options of every verb, parsed with node:util's parseArgs. Each limit and timing is
 * a named flag with its default shown in --help; nothing is configurable only by editing code.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_SHUTDOWN_TIMEOUT_MS } from './graceful-shutdown.js';
import { DEFAULT_MAX_TENSOR_ELEMENTS } from '../core/infer-json.js';
import { DEFAULT_MODEL_CONTROL_MODE, DEFAULT_REPOSITORY_POLL_SECS } from '../core/model-control.js';
import { DEFAULT_GRPC_MAX_MESSAGE_BYTES } from '../core/kserve-grpc-envelope.js';
import { DEFAULT_MAX_QUEUE_DEPTH } from '../node/model-executor.js';
import {
  DEFAULT_BODY_TIMEOUT_MS, DEFAULT_HEADER_TIMEOUT_MS, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_HEADER_BYTES, DEFAULT_MAX_JSON_DEPTH, DEFAULT_MAX_STRING_BYTES,
  DEFAULT_REQUEST_TIMEOUT_MS, type FrontDoorLimits,
} from '../service/limits.js';

export const DEFAULT_HTTP_PORT = 8000;
export const DEFAULT_GRPC_PORT = 8001;
export const DEFAULT_METRICS_PORT = 8002;
export const DEFAULT_HOST = '0.0.0.0';

export interface OptionSpec {
  type: 'string' | 'boolean';
  multiple?: boolean;
  default?: string;
  help: string;
}

export const COMMON_OPTIONS: Record<string, OptionSpec> = {
  'http-port': { type: 'string', default: String(DEFAULT_HTTP_PORT), help: 'KServe v2 HTTP port (0 = any free port)' },
  'grpc-port': { type: 'string', default: String(DEFAULT_GRPC_PORT), help: 'KServe v2 gRPC port (0 = any free port, off = none)' },
  'metrics-port': { type: 'string', default: String(DEFAULT_METRICS_PORT), help: 'Prometheus metrics port (0 = any free port, off = none)' },
  host: { type: 'string', default: DEFAULT_HOST, help: 'address to listen on' },
  'max-body-bytes': { type: 'string', default: String(DEFAULT_MAX_BODY_BYTES), help: 'largest request body, as sent and once inflated from gzip or deflate (413 above it)' },
  'max-tensor-elements': { type: 'string', default: String(DEFAULT_MAX_TENSOR_ELEMENTS), help: 'most elements summed over one request’s inputs (413 above it)' },
  'grpc-max-message-bytes': { type: 'string', default: String(DEFAULT_GRPC_MAX_MESSAGE_BYTES), help: 'largest gRPC message either way (RESOURCE_EXHAUSTED above it)' },
  'request-timeout-ms': { type: 'string', default: String(DEFAULT_REQUEST_TIMEOUT_MS), help: 'end-to-end time a request may take (504 after it)' },
  'max-json-depth': { type: 'string', default: String(DEFAULT_MAX_JSON_DEPTH), help: 'deepest nesting of arrays and objects in a JSON body (400 above it)' },
  'max-string-bytes': { type: 'string', default: String(DEFAULT_MAX_STRING_BYTES), help: 'longest name, id, datatype or parameter string of a request, not tensor data (400 above it)' },
  'max-header-bytes': { type: 'string', default: String(DEFAULT_MAX_HEADER_BYTES), help: 'largest request header section: HTTP headers (431 above it), gRPC metadata (RESOURCE_EXHAUSTED)' },
  'header-timeout-ms': { type: 'string', default: String(DEFAULT_HEADER_TIMEOUT_MS), help: 'time a client has to send its request headers (408 and the connection closed after it)' },
  'body-timeout-ms': { type: 'string', default: String(DEFAULT_BODY_TIMEOUT_MS), help: 'time a client has to send its whole request, headers and body (408 and the connection closed after it)' },
  'tls-cert': { type: 'string', help: 'PEM certificate (chain): HTTP, gRPC and metrics ports speak TLS (with --tls-key; default: plaintext)' },
  'tls-key': { type: 'string', help: 'PEM private key of --tls-cert' },
  'tls-client-ca': { type: 'string', help: 'PEM CA: every port asks for a client certificate it signed and refuses a client without one (mutual TLS; default: none asked)' },
  'api-keys': { type: 'string', help: 'YAML/JSON file of API keys: per key its endpoint groups, models, rate and concurrency limits (default: INFERGATE_API_KEYS inline, else none: every endpoint open)' },
  'log-level': { type: 'string', default: 'info', help: 'fatal | error | warn | info | debug | silent' },
  help: { type: 'boolean', help: 'show this help' },
};

/** Node registration with a shared secret (README "TLS and node registration"); a gateway and its backends take the same. */
export const NODE_SECRET_OPTIONS: Record<string, OptionSpec> = {
  'node-secret-file': { type: 'string', help: 'file holding the fleet\'s node secret (≥ 16 bytes; else INFERGATE_NODE_SECRET): backends sign heartbeats and etcd records with it, a gateway takes only signed ones (default: none, any node joins)' },
};

/** A gateway's graceful shutdown (cli/graceful-shutdown.ts). */
export const SHUTDOWN_OPTIONS: Record<string, OptionSpec> = {
  'shutdown-timeout-ms': { type: 'string', default: String(DEFAULT_SHUTDOWN_TIMEOUT_MS), help: 'on SIGTERM/SIGINT: stop accepting, give in-flight requests this long to finish, then cut the rest (exit 1 when any was cut, else 0)' },
};

export const MODEL_NODE_OPTIONS: Record<string, OptionSpec> = {
  models: { type: 'string', help: 'model repository directory (default: the bundled models/)' },
  'sim-cards': { type: 'string', help: 'SIMULATED cards instead of real hardware, e.g. fast:2,slow:1 (tests, benchmarks)' },
  'card-table': { type: 'string', help: 'YAML/JSON file {cards: {type: coefficient}} overriding the default card table' },
  'model-control-mode': { type: 'string', default: DEFAULT_MODEL_CONTROL_MODE, help: 'none: every declared model loads at start, load/unload refused | explicit: only --load-model models load at start, then POST /v2/repository/models/<m>/load|unload | poll: every model loads at start, then the repository directory is watched' },
  'repository-poll-secs': { type: 'string', default: String(DEFAULT_REPOSITORY_POLL_SECS), help: 'poll mode: seconds between two looks at the repository directory' },
  'load-model': { type: 'string', multiple: true, help: "in explicit mode, a model to load at start ('*': all); repeatable" },
  'max-queue-depth': { type: 'string', default: String(DEFAULT_MAX_QUEUE_DEPTH), help: 'queue depth of a model declared with max_queue_size 0 (unlimited): no model queue is unbounded; a full queue answers 503 with a Retry-After at once' },
};

export type ParsedOptions = Record<string, string | boolean | string[] | undefined>;

export function parseVerbOptions(argv: string[], specs: Record<string, OptionSpec>): ParsedOptions {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; default?: string }> = {};
  for (const [name, spec] of Object.entries(specs)) {
    options[name] = { type: spec.type, ...(spec.multiple ? { multiple: true } : {}), ...(spec.default !== undefined ? { default: spec.default } : {}) };
  }
  const { values } = parseArgs({ args: argv, options: options as never, strict: true, allowPositionals: false });
  return values as ParsedOptions;
}

export function helpText(verb: string, summary: string, specs: Record<string, OptionSpec>): string {
  const lines = [`usage: infergate ${verb} [options]`, '', summary, '', 'options:'];
  for (const [name, spec] of Object.entries(specs)) {
    const arg = spec.type === 'string' ? ` <${spec.multiple ? 'value…' : 'value'}>` : '';
    const def = spec.default !== undefined ? ` (default ${spec.default})` : '';
    const flag = `  --${name}${arg}`;
    lines.push(`${flag.padEnd(31)} ${spec.help}${def}`);
  }
  return lines.join('\n');
}

export function intOption(values: ParsedOptions, name: string, min = 0): number {
  const text = String(values[name]);
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new Error(`--${name} expects an integer ≥ ${min}, got '${text}'`);
  return value;
}

/** The metrics port, or undefined when metrics are turned off. */
export function metricsPortFrom(values: ParsedOptions): number | undefined {
  return values['metrics-port'] === 'off' ? undefined : intOption(values, 'metrics-port');
}

/** The gRPC door's port, or undefined when it is turned off. */
export function grpcPortFrom(values: ParsedOptions): number | undefined {
  return values['grpc-port'] === 'off' ? undefined : intOption(values, 'grpc-port');
}

export function grpcMaxMessageBytesFrom(values: ParsedOptions): number {
  return intOption(values, 'grpc-max-message-bytes', 1);
}

export function limitsFrom(values: ParsedOptions): FrontDoorLimits {
  const limits: FrontDoorLimits = {
    maxBodyBytes: intOption(values, 'max-body-bytes', 1),
    maxTensorElements: intOption(values, 'max-tensor-elements', 1),
    requestTimeoutMs: intOption(values, 'request-timeout-ms', 1),
    maxJsonDepth: intOption(values, 'max-json-depth', 1),
    maxStringBytes: intOption(values, 'max-string-bytes', 1),
    maxHeaderBytes: intOption(values, 'max-header-bytes', 1024),
    headerTimeoutMs: intOption(values, 'header-timeout-ms', 1),
    bodyTimeoutMs: intOption(values, 'body-timeout-ms', 1),
  };
  // node:http refuses a header timeout longer than the whole request's.
  if (limits.headerTimeoutMs > limits.bodyTimeoutMs) {
    throw new Error(`--header-timeout-ms (${limits.headerTimeoutMs}) must not exceed --body-timeout-ms (${limits.bodyTimeoutMs})`);
  }
  return limits;
}
