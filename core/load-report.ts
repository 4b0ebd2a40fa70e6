/**
 * What a backend node tells each gateway every heartbeat. Load figures travel here, separate from
 * membership, because they change every second.
 */
export type NodeState = 'ready' | 'draining';

export interface CardReport {
  /** Card type as in the card table (`nvidia-t4`, `cpu-core`, `sim-fast`). */
  type: string;
  count: number;
  /** Relative performance coefficient of one card of this type (T4 = 1.0). */
  coefficient: number;
}

export interface ModelReport {
  name: string;
  versions: string[];
}

/** What a node measured for one (model, version, card) at load: calibration (node/calibration.ts). */
export interface CalibrationReport {
  model: string;
  version: string;
  /** Card id on the node (`cpu`, `gpu0`) and its card-table type. */
  card: string;
  cardType: string;
  engine: string;
  /** Rows per measured execution. */
  batch: number;
  /** Inferences (rows) per second with every instance of the model on the card busy. */
  inferencesPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

/** What one model instance really runs on (after any provider fallback). */
export interface InstanceReport {
  model: string;
  version: string;
  /** Card id on the node (`cpu`, `gpu0`). */
  card: string;
  /** The provider (or backend) it runs on first: `cuda`, `cpu`, `sim`. */
  provider: string;
  /** The whole list it runs on, best first. */
  providers: string[];
  /** True when it runs on less than its card asked for; `reason` says why. */
  degraded: boolean;
  reason?: string;
}

/** A model declared on the node that it cannot serve, and why (one entry per version). */
export interface UnavailableModelReport {
  name: string;
  version: string;
  reason: string;
}

export interface LoadReport {
  nodeId: string;
  /** Base URL where the node serves KServe v2 over HTTP, e.g. http://127.0.0.1:9001 */
  url: string;
  /**
   * Where the node serves KServe v2 over gRPC, `grpc://host:port` (or `host:port`); absent when it
   * has no gRPC door (then a gateway sends it gRPC requests over HTTP, re-encoded).
   */
  grpcUrl?: string;
  state: NodeState;
  cards: CardReport[];
  /** Requests accepted and not yet answered (queued + executing). */
  inFlight: number;
  /** Requests waiting for a free instance. */
  queueDepth: number;
  /** Execution slots (model instances) summed over the node: how much can run at once. */
  slots: number;
  /** Busy share of the node's execution slots over the last window, 0..1. */
  utilization: number;
  completedPerSec: number;
  errorsPerSec: number;
  /** Mean execution time of one request over the window (0 when none ran). */
  serviceTimeMs: number;
  /** Mean time from acceptance to answer over the window (0 when none ran). */
  latencyMs: number;
  windowMs: number;
  models: ModelReport[];
  /** What each instance runs on; absent from older nodes. */
  instances?: InstanceReport[];
  /** Declared models this node cannot serve, with the reason; absent from older nodes. */
  unavailable?: UnavailableModelReport[];
  /** Measured throughput per (model, version, card); absent from nodes that do not calibrate. */
  calibration?: CalibrationReport[];
  /** Sender's clock; receivers use their own clock for ageing. */
  sentAtMs: number;
}

/** Sum of card coefficients: the hardware prior of a node's capacity. */
export function hardwareCapacity(cards: readonly CardReport[]): number {
  let total = 0;
  for (const c of cards) total += c.count * c.coefficient;
  return total;
}

/**
 * `grpc://host:port` or `host:port` (plaintext), `grpcs://host:port` (a TLS door); host a name, an
 * IPv4 address, or an IPv6 address in brackets.
 */
const GRPC_URL = /^(?:grpcs?:\/\/)?(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):\d{1,5}$/;

export function isGrpcUrl(value: string): boolean {
  return GRPC_URL.test(value);
}

/** A report's grpcUrl as a forwarding target: `host:port`, or `grpcs://host:port` for a TLS door (transport/grpc-forwarder.ts). */
export function grpcTargetOf(grpcUrl: string): string {
  return grpcUrl.startsWith('grpc://') ? grpcUrl.slice('grpc://'.length) : grpcUrl;
}

/** Checks a report received over the network; throws a message naming the first bad field. */
export function parseLoadReport(value: unknown): LoadReport {
  const r = value as Record<string, unknown>;
  if (typeof r !== 'object' || r === null) throw new Error('load report must be a JSON object');
  const text = (k: string) => {
    if (typeof r[k] !== 'string' || (r[k] as string).length === 0) throw new Error(`load report field '${k}' must be a non-empty string`);
  };
  const num = (k: string) => {
    if (typeof r[k] !== 'number' || !Number.isFinite(r[k]) || (r[k] as number) < 0) throw new Error(`load report field '${k}' must be a number ≥ 0`);
  };
  text('nodeId');
  text('url');
  if (!/^https?:\/\//.test(r.url as string)) throw new Error(`load report field 'url' must be an http(s) URL, got '${r.url}'`);
  if (r.grpcUrl !== undefined && (typeof r.grpcUrl !== 'string' || !isGrpcUrl(r.grpcUrl))) {
    throw new Error(`load report field 'grpcUrl' must be grpc://host:port, grpcs://host:port or host:port, got ${JSON.stringify(r.grpcUrl)}`);
  }
  if (r.state !== 'ready' && r.state !== 'draining') throw new Error(`load report field 'state' must be 'ready' or 'draining'`);
  for (const k of ['inFlight', 'queueDepth', 'slots', 'utilization', 'completedPerSec', 'errorsPerSec', 'serviceTimeMs', 'latencyMs', 'windowMs', 'sentAtMs']) num(k);
  if (!Array.isArray(r.cards) || !r.cards.every((c) => typeof c?.type === 'string' && c.count >= 0 && c.coefficient >= 0)) {
    throw new Error(`load report field 'cards' must be a list of {type, count, coefficient}`);
  }
  if (!Array.isArray(r.models) || !r.models.every((m) => typeof m?.name === 'string' && Array.isArray(m.versions) && m.versions.every((v: unknown) => typeof v === 'string'))) {
    throw new Error(`load report field 'models' must be a list of {name, versions: string[]}`);
  }
  if (r.calibration !== undefined && !(Array.isArray(r.calibration) && r.calibration.every(isCalibrationEntry))) {
    throw new Error(`load report field 'calibration' must be a list of {model, version, card, inferencesPerSec ≥ 0, ...}`);
  }
  if (r.instances !== undefined && !(Array.isArray(r.instances) && r.instances.every(isInstanceEntry))) {
    throw new Error(`load report field 'instances' must be a list of {model, version, card, provider, providers: string[], degraded: boolean}`);
  }
  if (r.unavailable !== undefined && !(Array.isArray(r.unavailable) && r.unavailable.every(isUnavailableEntry))) {
    throw new Error(`load report field 'unavailable' must be a list of {name, version, reason}`);
  }
  return value as LoadReport;
}

function isInstanceEntry(i: unknown): boolean {
  const e = i as Record<string, unknown> | null;
  return typeof e === 'object' && e !== null && ['model', 'version', 'card', 'provider'].every((k) => typeof e[k] === 'string') &&
    Array.isArray(e.providers) && e.providers.every((p) => typeof p === 'string') && typeof e.degraded === 'boolean' &&
    (e.reason === undefined || typeof e.reason === 'string');
}

function isUnavailableEntry(u: unknown): boolean {
  const e = u as Record<string, unknown> | null;
  return typeof e === 'object' && e !== null && ['name', 'version', 'reason'].every((k) => typeof e[k] === 'string');
}

function isCalibrationEntry(c: unknown): boolean {
  const e = c as Record<string, unknown> | null;
  return typeof e === 'object' && e !== null && typeof e.model === 'string' && typeof e.version === 'string' &&
    typeof e.card === 'string' && typeof e.inferencesPerSec === 'number' && Number.isFinite(e.inferencesPerSec) && e.inferencesPerSec >= 0;
}
