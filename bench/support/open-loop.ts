/**
 * Open-loop load whose rate follows a schedule: Poisson arrivals at the rate in force at each
 * moment, sent at their scheduled time whatever the server does, and every latency measured from
 * the scheduled send time (a server that stalls cannot hide the queue it caused: no coordinated
 * omission). Every request is the same POST (an infer call); the caller says what it carries.
 */
import { Pool } from 'undici';
import { classifyError, classifyHttpStatus, type ErrorOutcome } from '../perf/outcome.js';

/** What became of a request (bench/perf/outcome.ts has the rules); a request due at the client's limit counts as refused. */
export type RequestOutcome = 'ok' | ErrorOutcome;

export interface OpenLoopRecord {
  /** ms since the load started, when the request was due. */
  scheduledMs: number;
  /** When it was actually sent (≥ scheduled; later only when this process fell behind). */
  sentMs: number;
  endMs: number;
  status: number;
  outcome: RequestOutcome;
}

/** The request sent each time: path, headers and body of one POST. */
export interface OpenLoopRequest {
  path: string;
  headers: Record<string, string>;
  body: string | Buffer;
}

/** A small JSON infer call (FP32 [4]) to `model`: what the routing bench sends to the SIMULATED echo model. */
export function smallInferRequest(model: string): OpenLoopRequest {
  return {
    path: `/v2/models/${encodeURIComponent(model)}/infer`,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: [{ name: 'INPUT0', shape: [4], datatype: 'FP32', data: [1, 2, 3, 4] }] }),
  };
}

export interface OpenLoopOptions {
  url: string;
  request: OpenLoopRequest;
  durationMs: number;
  /** Requests/s at a time (ms since start); 0 sends nothing then. */
  rateAt: (tMs: number) => number;
  /** Deadline sent with each request (infergate-timeout-ms); the client waits this plus a margin. */
  requestTimeoutMs: number;
  random?: () => number;
  /** Requests in flight at most; a request due while at this many counts as refused by the client. */
  maxOutstanding?: number;
}

/** Margin the client waits past the deadline it sent, so the server's own 504 arrives first. */
const CLIENT_TIMEOUT_MARGIN_MS = 2_000;
const DEFAULT_MAX_OUTSTANDING = 4_096;

export async function runOpenLoop(options: OpenLoopOptions): Promise<{ startedAt: number; records: OpenLoopRecord[] }> {
  const random = options.random ?? Math.random;
  const maxOutstanding = options.maxOutstanding ?? DEFAULT_MAX_OUTSTANDING;
  const client = new Pool(new URL(options.url).origin, { connections: maxOutstanding, pipelining: 1 });
  const { path, body } = options.request;
  const headers = { ...options.request.headers, 'infergate-timeout-ms': String(options.requestTimeoutMs) };
  const clientTimeoutMs = options.requestTimeoutMs + CLIENT_TIMEOUT_MARGIN_MS;
  const records: OpenLoopRecord[] = [];
  const pending = new Set<Promise<void>>();
  const startedAt = performance.now();
  const now = () => performance.now() - startedAt;

  const send = (scheduledMs: number) => {
    const record: OpenLoopRecord = { scheduledMs, sentMs: now(), endMs: 0, status: 0, outcome: 'failed' };
    records.push(record);
    if (pending.size >= maxOutstanding) {
      record.endMs = record.sentMs;
      record.outcome = 'refused';
      return;
    }
    const done = client
      .request({ method: 'POST', path, headers, body, headersTimeout: clientTimeoutMs, bodyTimeout: clientTimeoutMs })
      .then(async (response) => {
        await response.body.dump();
        record.status = response.statusCode;
        const outcome = classifyHttpStatus(response.statusCode);
        record.outcome = outcome === 'dropped' ? 'failed' : outcome;
      })
      .catch((err: unknown) => {
        record.outcome = classifyError(err).outcome;
      })
      .finally(() => {
        record.endMs = now();
        pending.delete(done);
      });
    pending.add(done);
  };

  // Arrivals: exponential gaps at the rate in force when the previous one was due.
  let due = 0;
  for (;;) {
    const rate = options.rateAt(due);
    if (rate <= 0) {
      due += 10;
    } else {
      due += -Math.log(1 - random()) * (1000 / rate);
    }
    if (due >= options.durationMs) break;
    if (rate <= 0) continue;
    const wait = due - now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    send(due);
  }
  await Promise.all(pending);
  await client.close();
  return { startedAt, records };
}
