/**
 * Open-loop load at a fixed rate for the soak and overload runs: Poisson arrivals from a seeded
 * source, each sent when due whatever the server does, latency measured from the due time (no
 * coordinated omission). Unlike bench/support/open-loop.ts it keeps what the overload figures need
 * from each answer: the exact status and whether a Retry-After header came with it.
 */
import { Pool } from 'undici';
import { seededRandom } from '../support/seeded-random.js';
import type { SoakRecord } from './windows.js';

export interface FixedRateOptions {
  url: string;
  path: string;
  body: string;
  headers?: Record<string, string>;
  ratePerS: number;
  durationMs: number;
  /** Sent as infergate-timeout-ms; the client waits this plus a margin, then counts 'timeout'. */
  requestTimeoutMs: number;
  seed?: number;
  /** Requests in flight at most; one due beyond it is recorded as 'client-limit', not sent. */
  maxOutstanding?: number;
}

export interface FixedRateRun {
  /** performance.now() when the schedule started: records' times are relative to it. */
  startedAt: number;
  records: SoakRecord[];
}

/** Margin the client waits past the deadline it sent, so the server's own 504 arrives first. */
const CLIENT_TIMEOUT_MARGIN_MS = 2_000;
const DEFAULT_MAX_OUTSTANDING = 2_048;
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
/** Enough of an error answer to tell a saturated pool from a full queue or a dead node. */
const REASON_CHARS = 160;

/** The `error` of a `{"error": "..."}` answer (else the text), cut short. */
function errorReason(text: string): string {
  try {
    const error = (JSON.parse(text) as { error?: unknown }).error;
    if (typeof error === 'string') return error.slice(0, REASON_CHARS);
  } catch {
    // not JSON: the text itself
  }
  return text.slice(0, REASON_CHARS);
}

/** A load that runs until its duration is over; `startedAt` is known as soon as it starts. */
export class FixedRateLoad {
  readonly startedAt = performance.now();
  readonly done: Promise<FixedRateRun>;

  constructor(options: FixedRateOptions) {
    this.done = this.#run(options);
  }

  async #run(options: FixedRateOptions): Promise<FixedRateRun> {
    if (!(options.ratePerS > 0)) throw new Error(`fixed-rate load: rate must be > 0, got ${options.ratePerS}`);
    const random = seededRandom(options.seed ?? 1);
    const maxOutstanding = options.maxOutstanding ?? DEFAULT_MAX_OUTSTANDING;
    const client = new Pool(new URL(options.url).origin, { connections: maxOutstanding, pipelining: 1, keepAliveTimeout: 30_000 });
    const headers = { 'content-type': 'application/json', ...options.headers, 'infergate-timeout-ms': String(options.requestTimeoutMs) };
    const clientTimeoutMs = options.requestTimeoutMs + CLIENT_TIMEOUT_MARGIN_MS;
    const records: SoakRecord[] = [];
    const pending = new Set<Promise<void>>();
    const now = () => performance.now() - this.startedAt;

    const send = (dueMs: number) => {
      const record: SoakRecord = { dueMs, endMs: dueMs, status: 0, retryAfter: false };
      records.push(record);
      if (pending.size >= maxOutstanding) {
        record.error = 'client-limit';
        record.endMs = now();
        return;
      }
      const done = client
        .request({ method: 'POST', path: options.path, headers, body: options.body, headersTimeout: clientTimeoutMs, bodyTimeout: clientTimeoutMs })
        .then(async (response) => {
          record.status = response.statusCode;
          record.retryAfter = response.headers['retry-after'] !== undefined;
          if (response.statusCode >= 200 && response.statusCode < 300) await response.body.dump();
          else record.reason = errorReason(await response.body.text());
        })
        .catch((err: unknown) => {
          const code = (err as { code?: unknown }).code;
          record.error = typeof code === 'string' ? (TIMEOUT_CODES.has(code) ? 'timeout' : code) : 'error';
        })
        .finally(() => {
          record.endMs = now();
          pending.delete(done);
        });
      pending.add(done);
    };

    const gapMs = 1000 / options.ratePerS;
    for (let due = -Math.log(1 - random()) * gapMs; due < options.durationMs; due += -Math.log(1 - random()) * gapMs) {
      const wait = due - now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      send(due);
    }
    await Promise.all(pending);
    await client.close();
    return { startedAt: this.startedAt, records };
  }
}
