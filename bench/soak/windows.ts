/**
 * The soak's figures from its raw records, as pure functions: requests grouped into fixed windows
 * by the time they were due (so a stall shows in the window that caused it), memory samples in
 * the same windows, and the run's summary, including the slope of the gateway's RSS over the last
 * half of the run (a leak shows as a steady positive slope; flat is the target).
 */
import { quantile } from '../support/cluster-processes.js';

/** One request of an open-loop run; times are ms since the load started. */
export interface SoakRecord {
  /** When the schedule said to send it; latency is measured from here. */
  dueMs: number;
  endMs: number;
  /** HTTP status; 0 when no answer came (then `error` names why). */
  status: number;
  /** A transport error's code (ECONNRESET, timeout, …) when no answer came. */
  error?: string;
  /** The answer carried a Retry-After header. */
  retryAfter: boolean;
  /** An error answer's message, cut short. */
  reason?: string;
}

/** One reading of the gateway's memory (ms since the load started). */
export interface MemorySample {
  atMs: number;
  rssBytes: number;
  /** V8 heap in use, when the heap probe runs in the gateway. */
  heapUsedBytes?: number;
}

/** Something that happened to the cluster, drawn on the timeline. */
export interface TimelineEvent {
  atMs: number;
  label: string;
}

export interface WindowFigures {
  startS: number;
  /** The window's length: `windowMs`, less for a last window cut short by the run's end. */
  lengthS: number;
  sent: number;
  served: number;
  failed: number;
  /** Failed requests by status code, or by transport error when no answer came. */
  failedBy: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  /** The slowest answer: a request held by a stopped node shows here long before it moves p99. */
  maxMs: number;
  /** Last RSS sample of the window, and the largest. */
  rssMb: number;
  rssMaxMb: number;
  heapMb: number;
  events: string[];
}

export interface SoakSummary {
  durationS: number;
  sent: number;
  served: number;
  failed: number;
  failureRate: number;
  failedBy: Record<string, number>;
  /** The most frequent error answers ("503 pool … saturated"), most frequent first. */
  failureReasons: [string, number][];
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  worstWindowP99Ms: number;
  worstWindowStartS: number;
  rssFirstMb: number;
  rssLastMb: number;
  rssMaxMb: number;
  /** Least-squares slope of RSS over the second half of the run. */
  rssSlopeLastHalfMbPerMin: number;
  heapFirstMb: number;
  heapLastMb: number;
  heapSlopeLastHalfMbPerMin: number;
  memorySamples: number;
}

const MB = 1024 * 1024;

/** What a failed record is counted under: its status, or its transport error. */
export function failureKey(record: SoakRecord): string {
  return record.status !== 0 ? String(record.status) : (record.error ?? 'no answer');
}

export function isServed(record: SoakRecord): boolean {
  return record.status >= 200 && record.status < 300;
}

function sortedLatencies(records: readonly SoakRecord[]): number[] {
  return records.filter(isServed).map((r) => r.endMs - r.dueMs).sort((a, b) => a - b);
}

/** Reasons kept in a summary. */
const TOP_REASONS = 5;

function topReasons(records: readonly SoakRecord[]): [string, number][] {
  const counts = new Map<string, number>();
  for (const r of records) {
    if (isServed(r)) continue;
    const key = `${failureKey(r)}${r.reason ? ` ${r.reason}` : ''}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1]).slice(0, TOP_REASONS);
}

function countFailures(records: readonly SoakRecord[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of records) if (!isServed(r)) out[failureKey(r)] = (out[failureKey(r)] ?? 0) + 1;
  return out;
}

/** Windows of `windowMs` from 0 to `durationMs` (the last one may be shorter). */
export function windowFigures(
  records: readonly SoakRecord[],
  memory: readonly MemorySample[],
  events: readonly TimelineEvent[],
  durationMs: number,
  windowMs: number,
): WindowFigures[] {
  const count = Math.max(1, Math.ceil(durationMs / windowMs));
  const slot = (ms: number) => Math.min(count - 1, Math.max(0, Math.floor(ms / windowMs)));
  const byWindow: SoakRecord[][] = Array.from({ length: count }, () => []);
  for (const r of records) byWindow[slot(r.dueMs)].push(r);
  const memByWindow: MemorySample[][] = Array.from({ length: count }, () => []);
  for (const m of memory) if (m.atMs >= 0 && m.atMs <= durationMs) memByWindow[slot(m.atMs)].push(m);
  const eventsByWindow: string[][] = Array.from({ length: count }, () => []);
  for (const e of events) if (e.atMs >= 0 && e.atMs <= durationMs) eventsByWindow[slot(e.atMs)].push(e.label);

  return byWindow.map((rs, i) => {
    const latencies = sortedLatencies(rs);
    const mem = memByWindow[i];
    const last = mem.at(-1);
    const heap = mem.filter((m) => m.heapUsedBytes !== undefined).at(-1)?.heapUsedBytes;
    return {
      startS: (i * windowMs) / 1000,
      lengthS: (Math.min(durationMs, (i + 1) * windowMs) - i * windowMs) / 1000,
      sent: rs.length,
      served: latencies.length,
      failed: rs.length - latencies.length,
      failedBy: countFailures(rs),
      p50Ms: quantile(latencies, 0.5),
      p99Ms: quantile(latencies, 0.99),
      maxMs: latencies.at(-1) ?? Number.NaN,
      rssMb: last ? last.rssBytes / MB : Number.NaN,
      rssMaxMb: mem.length ? Math.max(...mem.map((m) => m.rssBytes)) / MB : Number.NaN,
      heapMb: heap !== undefined ? heap / MB : Number.NaN,
      events: eventsByWindow[i],
    };
  });
}

/** Least-squares slope of y over x; NaN with fewer than two distinct x. */
export function slope(points: readonly { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const mx = points.reduce((a, p) => a + p.x, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den > 0 ? num / den : Number.NaN;
}

/** MB per minute over the samples from `fromMs` on. */
function memorySlope(memory: readonly MemorySample[], fromMs: number, pick: (m: MemorySample) => number | undefined): number {
  const points = memory
    .filter((m) => m.atMs >= fromMs && pick(m) !== undefined)
    .map((m) => ({ x: m.atMs / 60_000, y: pick(m)! / MB }));
  return slope(points);
}

export function summarizeSoak(records: readonly SoakRecord[], memory: readonly MemorySample[], windows: readonly WindowFigures[], durationMs: number): SoakSummary {
  const latencies = sortedLatencies(records);
  const failed = records.length - latencies.length;
  let worst = windows[0];
  for (const w of windows) if (Number.isFinite(w.p99Ms) && !(w.p99Ms <= worst.p99Ms)) worst = w;
  const rss = memory.map((m) => m.rssBytes / MB);
  const heaps = memory.filter((m) => m.heapUsedBytes !== undefined).map((m) => m.heapUsedBytes! / MB);
  return {
    durationS: durationMs / 1000,
    sent: records.length,
    served: latencies.length,
    failed,
    failureRate: records.length ? failed / records.length : 0,
    failedBy: countFailures(records),
    failureReasons: topReasons(records),
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    maxMs: latencies.at(-1) ?? Number.NaN,
    worstWindowP99Ms: worst?.p99Ms ?? Number.NaN,
    worstWindowStartS: worst?.startS ?? Number.NaN,
    rssFirstMb: rss[0] ?? Number.NaN,
    rssLastMb: rss.at(-1) ?? Number.NaN,
    rssMaxMb: rss.length ? Math.max(...rss) : Number.NaN,
    rssSlopeLastHalfMbPerMin: memorySlope(memory, durationMs / 2, (m) => m.rssBytes),
    heapFirstMb: heaps[0] ?? Number.NaN,
    heapLastMb: heaps.at(-1) ?? Number.NaN,
    heapSlopeLastHalfMbPerMin: memorySlope(memory, durationMs / 2, (m) => m.heapUsedBytes),
    memorySamples: memory.length,
  };
}

/** Overload figures: what got through, what was shed and how, and how fast a refusal came back. */
export interface OverloadFigures {
  durationS: number;
  offeredPerS: number;
  capacityPerS: number;
  sent: number;
  served: number;
  goodputPerS: number;
  /** goodput ÷ capacity */
  goodputShare: number;
  /** Shed (503/429) answers ÷ requests sent. */
  shedRate: number;
  /** Refusals by status, split by whether they carried Retry-After. */
  shed: { status: number; withRetryAfter: number; withoutRetryAfter: number }[];
  /** Other failures (timeouts, 5xx other than 503, transport errors). */
  otherFailures: Record<string, number>;
  /** The most frequent error answers, most frequent first. */
  failureReasons: [string, number][];
  admittedP50Ms: number;
  admittedP99Ms: number;
  refusalP50Ms: number;
  refusalP99Ms: number;
}

const SHED_STATUSES = [503, 429];

export function overloadFigures(records: readonly SoakRecord[], durationMs: number, offeredPerS: number, capacityPerS: number): OverloadFigures {
  const admitted = sortedLatencies(records);
  const refusals = records.filter((r) => SHED_STATUSES.includes(r.status));
  const refusalLatencies = refusals.map((r) => r.endMs - r.dueMs).sort((a, b) => a - b);
  const other: Record<string, number> = {};
  for (const r of records) if (!isServed(r) && !SHED_STATUSES.includes(r.status)) other[failureKey(r)] = (other[failureKey(r)] ?? 0) + 1;
  const goodputPerS = admitted.length / (durationMs / 1000);
  return {
    durationS: durationMs / 1000,
    offeredPerS,
    capacityPerS,
    sent: records.length,
    served: admitted.length,
    goodputPerS,
    goodputShare: capacityPerS > 0 ? goodputPerS / capacityPerS : Number.NaN,
    shedRate: records.length ? refusals.length / records.length : 0,
    shed: SHED_STATUSES.map((status) => {
      const of = refusals.filter((r) => r.status === status);
      const withRetryAfter = of.filter((r) => r.retryAfter).length;
      return { status, withRetryAfter, withoutRetryAfter: of.length - withRetryAfter };
    }),
    otherFailures: other,
    failureReasons: topReasons(records),
    admittedP50Ms: quantile(admitted, 0.5),
    admittedP99Ms: quantile(admitted, 0.99),
    refusalP50Ms: quantile(refusalLatencies, 0.5),
    refusalP99Ms: quantile(refusalLatencies, 0.99),
  };
}
