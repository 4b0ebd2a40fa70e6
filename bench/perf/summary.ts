/**
 * One step's figures from its request records, pure: counts per outcome, success rate, throughput
 * over the window, and latency percentiles (nearest rank, as bench/support/load.ts) of the
 * successful requests, each measured from its scheduled send time to its end. Counts and
 * latencies are of the requests sent in the window; throughput is of the successes that ended in
 * it (see load-window.ts).
 */
import { percentile } from '../support/load.js';
import type { RequestRecord } from './issue.js';
import type { ErrorOutcome } from './outcome.js';

export interface LatencyFigures {
  p50Us: number;
  p90Us: number;
  p95Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
  minUs: number;
  meanUs: number;
}

export interface OutcomeCounts {
  ok: number;
  failed: number;
  timedOut: number;
  refused: number;
  dropped: number;
}

export interface ErrorSample {
  outcome: ErrorOutcome | 'dropped';
  message: string;
  count: number;
}

export interface StepSummary {
  windowMs: number;
  /** Every request of the window, dropped ones included. */
  requests: number;
  counts: OutcomeCounts;
  /** ok ÷ requests; null when the window had no request at all. */
  successRate: number | null;
  /** Successful requests that ended in the window, per second of window. */
  requestsPerSec: number;
  /** Successful inferences per second: requestsPerSec × inferencesPerRequest (the batch size when the model batches). */
  inferencesPerSec: number;
  /** Of the successful requests; null when none succeeded. */
  latencyUs: LatencyFigures | null;
  /**
   * Sent minus scheduled, over the requests sent: how late the generator itself was (always 0 in
   * a closed loop, where a request is scheduled when it is sent). Part of every latency above.
   */
  sendDelayUs: { meanUs: number; p99Us: number; maxUs: number } | null;
  /** The most frequent error messages, most frequent first. */
  errors: ErrorSample[];
}

export interface TimelinePoint {
  /** Start of the bucket, ms from the window's start. */
  tMs: number;
  count: number;
  p50Us: number;
  p99Us: number;
}

/** Error messages kept per step. */
export const ERROR_SAMPLES_KEPT = 5;

export function latencyUsOf(record: RequestRecord): number {
  return (record.endMs - record.scheduledMs) * 1000;
}

export function latencyFigures(latenciesUs: ArrayLike<number>): LatencyFigures | null {
  if (latenciesUs.length === 0) return null;
  const sorted = Float64Array.from(latenciesUs).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    p50Us: percentile(sorted, 0.5),
    p90Us: percentile(sorted, 0.9),
    p95Us: percentile(sorted, 0.95),
    p99Us: percentile(sorted, 0.99),
    p999Us: percentile(sorted, 0.999),
    maxUs: sorted[sorted.length - 1],
    minUs: sorted[0],
    meanUs: sum / sorted.length,
  };
}

export function summarize(
  window: { startMs: number; endMs: number; records: readonly RequestRecord[]; okEndedInWindow?: number },
  options: { inferencesPerRequest?: number } = {},
): StepSummary {
  const windowMs = window.endMs - window.startMs;
  const counts: OutcomeCounts = { ok: 0, failed: 0, timedOut: 0, refused: 0, dropped: 0 };
  const latencies: number[] = [];
  const delays: number[] = [];
  const errors = new Map<string, ErrorSample>();
  for (const r of window.records) {
    if (r.outcome === 'ok') {
      counts.ok++;
      latencies.push(latencyUsOf(r));
    } else {
      if (r.outcome === 'failed') counts.failed++;
      else if (r.outcome === 'timed_out') counts.timedOut++;
      else if (r.outcome === 'refused') counts.refused++;
      else counts.dropped++;
      const message = r.error ?? r.outcome;
      const key = `${r.outcome}\0${message}`;
      const sample = errors.get(key);
      if (sample) sample.count++;
      else errors.set(key, { outcome: r.outcome, message, count: 1 });
    }
    if (r.outcome !== 'dropped') delays.push((r.sentMs - r.scheduledMs) * 1000);
  }
  const requests = window.records.length;
  // Without the generator's count (records built by hand), the window's successes stand in.
  const served = window.okEndedInWindow ?? counts.ok;
  const perSec = (n: number) => (windowMs > 0 ? (n * 1000) / windowMs : 0);
  const delayFigures = latencyFigures(delays);
  return {
    windowMs,
    requests,
    counts,
    successRate: requests > 0 ? counts.ok / requests : null,
    requestsPerSec: perSec(served),
    inferencesPerSec: perSec(served * (options.inferencesPerRequest ?? 1)),
    latencyUs: latencyFigures(latencies),
    sendDelayUs: delayFigures && { meanUs: delayFigures.meanUs, p99Us: delayFigures.p99Us, maxUs: delayFigures.maxUs },
    errors: [...errors.values()].sort((a, b) => b.count - a.count).slice(0, ERROR_SAMPLES_KEPT),
  };
}

/** Latency of the successful requests over the window, per bucket of their scheduled send time. */
export function latencyTimeline(window: { startMs: number; records: readonly RequestRecord[] }, bucketMs: number): TimelinePoint[] {
  const buckets = new Map<number, number[]>();
  for (const r of window.records) {
    if (r.outcome !== 'ok') continue;
    const bucket = Math.floor((r.scheduledMs - window.startMs) / bucketMs);
    let list = buckets.get(bucket);
    if (!list) buckets.set(bucket, (list = []));
    list.push(latencyUsOf(r));
  }
  return [...buckets.entries()].sort((a, b) => a[0] - b[0]).map(([bucket, values]) => {
    const sorted = Float64Array.from(values).sort();
    return { tMs: bucket * bucketMs, count: sorted.length, p50Us: percentile(sorted, 0.5), p99Us: percentile(sorted, 0.99) };
  });
}
