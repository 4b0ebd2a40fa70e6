/**
 * The soak bench's outputs: markdown tables (summary, churn, windows, capacity ramp, overload)
 * and SVG charts drawn with the repository's chart code (bench/report/charts.ts).
 */
import { lineChartSvg, type ChartPoint } from '../report/charts.js';
import { markdownTable, type ReportTable } from '../report/table.js';
import type { CapacityFigures } from './capacity.js';
import type { ChurnOutcome } from './churn.js';
import type { MemorySample, OverloadFigures, SoakSummary, TimelineEvent, WindowFigures } from './windows.js';

const MB = 1024 * 1024;
const CHART_WIDTH_PX = 900;
const num = (v: number, digits = 1) => (Number.isFinite(v) ? v.toFixed(digits) : '–');
const pct = (v: number) => (Number.isFinite(v) ? `${(v * 100).toFixed(v > 0 && v < 0.001 ? 3 : 2)} %` : '–');
const s = (ms: number | undefined) => (ms === undefined ? '–' : (ms / 1000).toFixed(1));
const reasons = (list: [string, number][]) => list.map(([reason, n]) => `${n}× ${reason}`).join('; ') || '–';
const byKey = (counts: Record<string, number>) =>
  Object.entries(counts).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k}: ${n}`).join(', ') || '–';

export function summaryTable(summary: SoakSummary, ratePerS: number): ReportTable {
  return {
    caption: 'Soak summary (latency from the scheduled send time, successful requests only)',
    columns: ['figure', 'value'],
    rows: [
      ['duration', `${num(summary.durationS, 0)} s at ${num(ratePerS)} req/s offered`],
      ['requests sent', summary.sent],
      ['served (2xx)', summary.served],
      ['failed', `${summary.failed} (${byKey(summary.failedBy)})`],
      ['failure rate', pct(summary.failureRate)],
      ['most frequent failures', reasons(summary.failureReasons)],
      ['p50 / p99 / max overall', `${num(summary.p50Ms)} / ${num(summary.p99Ms)} / ${num(summary.maxMs)} ms`],
      ['p99 of the worst window', `${num(summary.worstWindowP99Ms)} ms (window at ${num(summary.worstWindowStartS, 0)} s)`],
      ['gateway RSS first / last / max', `${num(summary.rssFirstMb)} / ${num(summary.rssLastMb)} / ${num(summary.rssMaxMb)} MB`],
      ['RSS slope over the last half', `${num(summary.rssSlopeLastHalfMbPerMin, 2)} MB/min`],
      ['gateway heap used first / last', `${num(summary.heapFirstMb)} / ${num(summary.heapLastMb)} MB`],
      ['heap slope over the last half', `${num(summary.heapSlopeLastHalfMbPerMin, 2)} MB/min`],
      ['memory samples', summary.memorySamples],
    ],
  };
}

export function churnTable(outcomes: readonly ChurnOutcome[]): ReportTable {
  return {
    caption: 'Churn (times in s since the load started)',
    columns: ['at', 'node', 'action', 'down ms', 'exit', 'back at', 'all ready at', 'error'],
    rows: outcomes.map((o) => [
      s(o.signalledAtMs), o.node, o.action, o.downMs, o.exit ?? '–', s(o.backAtMs), s(o.rejoinedAtMs), o.error ?? '',
    ]),
  };
}

export function windowTable(windows: readonly WindowFigures[], windowS: number): ReportTable {
  return {
    caption: `Per ${windowS}-s window (requests by due time)`,
    columns: ['from s', 'sent', 'served', 'failed (by status)', 'p50 ms', 'p99 ms', 'max ms', 'RSS MB', 'heap MB', 'events'],
    rows: windows.map((w) => [
      num(w.startS, 0), w.sent, w.served, w.failed === 0 ? '0' : `${w.failed} (${byKey(w.failedBy)})`, num(w.p50Ms), num(w.p99Ms), num(w.maxMs),
      num(w.rssMb), num(w.heapMb), w.events.join('; '),
    ]),
  };
}

export function capacityTable(capacity: CapacityFigures): ReportTable {
  return {
    caption: `Capacity ramp (closed loop): capacity = ${num(capacity.capacityPerS)} req/s, the best step`,
    columns: ['concurrency', 'goodput/s', 'p50 ms', 'p99 ms', 'failed'],
    rows: capacity.steps.map((c) => [c.concurrency, num(c.goodputPerS), num(c.p50Ms), num(c.p99Ms), c.failed]),
  };
}

export function overloadTable(o: OverloadFigures): ReportTable {
  const shed = o.shed.map((x) => `${x.status}: ${x.withRetryAfter} with / ${x.withoutRetryAfter} without Retry-After`).join('; ');
  return {
    caption: `Overload: open loop at ${num(o.offeredPerS)} req/s (${num((o.offeredPerS / o.capacityPerS) * 100, 0)} % of capacity) for ${num(o.durationS, 0)} s`,
    columns: ['figure', 'value'],
    rows: [
      ['requests sent', o.sent],
      ['goodput (2xx/s) vs capacity', `${num(o.goodputPerS)} req/s vs ${num(o.capacityPerS)} (${pct(o.goodputShare)})`],
      ['shed rate (503 + 429 of sent)', pct(o.shedRate)],
      ['shed by status', shed],
      ['other failures', byKey(o.otherFailures)],
      ['most frequent error answers', reasons(o.failureReasons)],
      ['admitted p50 / p99', `${num(o.admittedP50Ms)} / ${num(o.admittedP99Ms)} ms`],
      ['refusal latency p50 / p99', `${num(o.refusalP50Ms)} / ${num(o.refusalP99Ms)} ms`],
    ],
  };
}

/** The rate-limit part: one key driven past its limit (the figures' 'capacity' is the key's limit). */
export function rateLimitTable(o: OverloadFigures): ReportTable {
  const shed = o.shed.map((x) => `${x.status}: ${x.withRetryAfter} with / ${x.withoutRetryAfter} without Retry-After`).join('; ');
  return {
    caption: `Per-key rate limit: one key limited to ${num(o.capacityPerS)} req/s, driven open loop at ${num(o.offeredPerS)} req/s for ${num(o.durationS, 0)} s`,
    columns: ['figure', 'value'],
    rows: [
      ['requests sent', o.sent],
      ['served (2xx/s) vs the key\'s limit', `${num(o.goodputPerS)} req/s vs ${num(o.capacityPerS)} (${pct(o.goodputShare)})`],
      ['refused (503 + 429 of sent)', pct(o.shedRate)],
      ['refused by status', shed],
      ['other failures', byKey(o.otherFailures)],
      ['served p50 / p99', `${num(o.admittedP50Ms)} / ${num(o.admittedP99Ms)} ms`],
      ['refusal latency p50 / p99', `${num(o.refusalP50Ms)} / ${num(o.refusalP99Ms)} ms`],
    ],
  };
}

export { markdownTable };

const rulesOf = (events: readonly TimelineEvent[]) => events.map((e) => ({ x: e.atMs / 1000, label: e.label }));

/** Latency per window (p50, p99) with churn marked. */
export function latencyChart(windows: readonly WindowFigures[], events: readonly TimelineEvent[], windowS: number): Promise<string> {
  const points: ChartPoint[] = [];
  for (const w of windows) {
    const x = w.startS + w.lengthS / 2;
    points.push({ x, y: w.p50Ms, series: 'p50' }, { x, y: w.p99Ms, series: 'p99' }, { x, y: w.maxMs, series: 'max' });
  }
  return lineChartSvg({
    title: `Soak: latency per ${windowS}-s window (from the scheduled send time)`,
    xTitle: 'time since the load started (s)',
    yTitle: 'latency (ms)',
    yScale: 'log',
    points,
    rules: rulesOf(events),
    width: CHART_WIDTH_PX,
    pointMarks: true,
  });
}

/** The gateway's RSS (and heap when probed) at every sample, with churn marked. */
export function memoryChart(memory: readonly MemorySample[], events: readonly TimelineEvent[]): Promise<string> {
  const points: ChartPoint[] = [];
  for (const m of memory) {
    points.push({ x: m.atMs / 1000, y: m.rssBytes / MB, series: 'RSS' });
    if (m.heapUsedBytes !== undefined) points.push({ x: m.atMs / 1000, y: m.heapUsedBytes / MB, series: 'V8 heap used' });
  }
  return lineChartSvg({
    title: 'Soak: gateway memory',
    xTitle: 'time since the load started (s)',
    yTitle: 'MB',
    points,
    rules: rulesOf(events),
    width: CHART_WIDTH_PX,
  });
}

/** Requests per second per window: sent, served, failed. */
export function requestsChart(windows: readonly WindowFigures[], events: readonly TimelineEvent[], windowS: number): Promise<string> {
  const points: ChartPoint[] = [];
  for (const w of windows) {
    const x = w.startS + w.lengthS / 2;
    const per = (n: number) => n / w.lengthS;
    points.push({ x, y: per(w.sent), series: 'sent/s' }, { x, y: per(w.served), series: 'served/s' }, { x, y: per(w.failed), series: 'failed/s' });
  }
  return lineChartSvg({
    title: `Soak: requests per second, per ${windowS}-s window`,
    xTitle: 'time since the load started (s)',
    yTitle: 'requests/s',
    points,
    rules: rulesOf(events),
    width: CHART_WIDTH_PX,
    pointMarks: true,
  });
}
