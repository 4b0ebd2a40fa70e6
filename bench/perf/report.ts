/**
 * `--report DIR`: the run (and any --compare results) as an HTML page with SVG charts, through
 * bench/report: throughput and latency percentiles against the sweep's load, the error counts
 * per step, latency over time inside each step's window, and with --compare the same figures of
 * every labelled run side by side.
 */
import { barChartSvg, lineChartSvg, type ChartPoint } from '../report/charts.js';
import { writeReport, type Report, type ReportChart, type ReportSection, type ReportTable } from '../report/html-report.js';
import { COMPARE_COLUMNS, compareRows, type LabelledResult } from './compare.js';
import { csvHeader } from './csv.js';
import type { LoadMode } from './options.js';
import { levelText, type BenchResult, type StepResult } from './result.js';

export const REPORT_NAME = 'bench';
/** A sweep whose largest load is this many times its smallest gets a log x axis. */
const LOG_X_FROM_RATIO = 8;

const xTitleOf = (mode: LoadMode) => (mode === 'concurrency' ? 'concurrency (requests outstanding)' : 'offered request rate (requests/s)');
const xScaleOf = (levels: number[]): 'log' | 'linear' => (Math.max(...levels) / Math.min(...levels) >= LOG_X_FROM_RATIO ? 'log' : 'linear');

/** The definitions every report carries, so a reader of the page alone knows what each figure is. */
export const DEFINITIONS = [
  'Throughput: successful requests that ended inside the measurement window (requests × batch size when the model batches), per second of window, as perf_analyzer counts it: an overloaded server shows what it served, not what it was offered. Every other figure is of the requests sent in the window, including those that ended after it.',
  'Latency: of successful requests, from the scheduled send time (request-rate mode: the arrival schedule, so queueing in a stalled server or client is included; concurrency mode: the send) to the answer; nearest-rank percentiles.',
  'Failed: an error answer other than the ones below. Timed out: no answer within the request timeout, or HTTP 504 / gRPC DEADLINE_EXCEEDED. Refused: connection refused or reset before an answer, HTTP 503 or 429, gRPC UNAVAILABLE or RESOURCE_EXHAUSTED. Dropped by client: not sent because --max-outstanding requests were in flight. Success rate: successful ÷ all requests of the window.',
  'Client send / recv: mean time of the client library\'s own request encoding and answer decoding, timed by the bench on this run\'s request and a real answer before the load. Server queue and compute: from the statistics extension, difference of the nanosecond totals over the window ÷ difference of the counts. Network+Server: mean latency − client send − client recv − server queue and compute (perf_analyzer\'s definition), floored at 0.',
];

export async function buildReport(current: BenchResult | undefined, compared: readonly LabelledResult[]): Promise<Report> {
  const sections: ReportSection[] = [];
  if (current) sections.push(await runSection(current));
  if (compared.length > 0) sections.push(...(await compareSections(compared)));
  sections.push({ heading: 'How the figures are obtained', paragraphs: DEFINITIONS });
  const facts: [string, string][] = current
    ? [
        ['command', current.command],
        ['target', `${current.target.address} (${current.target.protocol}${current.target.protocol === 'http' ? `, ${current.target.encoding}` : ''})`],
        ['model', `${current.target.model}${current.target.version ? ` v${current.target.version}` : ''}: ${current.model.inputs.map((i) => `${i.name} ${i.datatype} [${i.shape.join(',')}]`).join(', ')}`],
        ['load', loadText(current)],
        ...(current.label !== undefined ? [['label', current.label] as [string, string]] : []),
        ['started', current.startedAt],
        ['infergate', current.infergateVersion],
      ]
    : compared.map((c): [string, string] => [c.label, c.result.command]);
  return {
    title: current ? `infergate bench: ${current.target.model}${current.label !== undefined ? ` on ${current.label}` : ''}` : 'infergate bench: comparison',
    subtitle: current ? levelSweepText(current) : `${compared.length} runs by label`,
    facts,
    sections,
  };
}

export async function writeBenchReport(dir: string, current: BenchResult | undefined, compared: readonly LabelledResult[]): Promise<string[]> {
  return writeReport(dir, REPORT_NAME, await buildReport(current, compared));
}

function loadText(r: BenchResult): string {
  const s = r.settings;
  const load = s.mode === 'concurrency' ? 'closed loop' : `open loop, ${s.distribution} arrivals, at most ${s.maxOutstanding} outstanding`;
  return `${load}; warm-up ${s.warmupMs} ms, window ${s.measurementMs} ms, timeout ${s.timeoutMs} ms, batch ${r.model.batchSize}`;
}

function levelSweepText(r: BenchResult): string {
  const levels = r.settings.levels;
  return `${r.settings.mode === 'concurrency' ? 'concurrency' : 'request rate'} ${levels.length === 1 ? levels[0] : `${levels[0]} → ${levels[levels.length - 1]}`}${r.settings.mode === 'request_rate' ? ' requests/s' : ''}`;
}

function stepTable(r: BenchResult): ReportTable {
  const columns = csvHeader(r.settings.mode).split(',').concat('Max latency', 'Mean latency');
  const n = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? null : Math.round(v));
  return {
    caption: 'perf_analyzer\'s columns (µs), then ours',
    columns,
    rows: r.steps.map((s) => [
      s.level, Number(s.summary.inferencesPerSec.toFixed(1)), n(s.clientSendUs), n(s.networkServerUs), n(s.server?.queueUs),
      n(s.server?.computeInputUs), n(s.server?.computeInferUs), n(s.server?.computeOutputUs), n(s.clientRecvUs),
      n(s.summary.latencyUs?.p50Us), n(s.summary.latencyUs?.p90Us), n(s.summary.latencyUs?.p95Us), n(s.summary.latencyUs?.p99Us),
      s.summary.counts.failed, s.summary.counts.timedOut, s.summary.counts.refused, s.summary.counts.dropped,
      n(s.summary.latencyUs?.p999Us), s.summary.successRate === null ? null : Number(s.summary.successRate.toFixed(4)),
      n(s.summary.latencyUs?.maxUs), n(s.summary.latencyUs?.meanUs),
    ]),
  };
}

const PERCENTILES: Array<[string, (s: StepResult) => number | undefined]> = [
  ['p50', (s) => s.summary.latencyUs?.p50Us],
  ['p90', (s) => s.summary.latencyUs?.p90Us],
  ['p99', (s) => s.summary.latencyUs?.p99Us],
  ['p99.9', (s) => s.summary.latencyUs?.p999Us],
];

async function runSection(r: BenchResult): Promise<ReportSection> {
  const mode = r.settings.mode;
  const levels = r.steps.map((s) => s.level);
  const xScale = levels.length > 0 ? xScaleOf(levels) : 'linear';
  const charts: ReportChart[] = [];
  charts.push({
    title: 'Throughput',
    file: `${REPORT_NAME}-throughput.svg`,
    svg: await lineChartSvg({
      title: `Throughput by ${mode === 'concurrency' ? 'concurrency' : 'request rate'}`,
      xTitle: xTitleOf(mode), yTitle: 'successful inferences/s', xScale, pointMarks: true,
      points: r.steps.map((s) => ({ x: s.level, y: s.summary.inferencesPerSec, series: r.label ?? 'infer/s' })),
    }),
  });
  charts.push({
    title: 'Latency percentiles',
    file: `${REPORT_NAME}-latency.svg`,
    svg: await lineChartSvg({
      title: 'Latency of successful requests', xTitle: xTitleOf(mode), yTitle: 'latency (ms)', xScale, yScale: 'log', pointMarks: true,
      points: r.steps.flatMap((s) => PERCENTILES.flatMap(([series, get]) => {
        const v = get(s);
        return v === undefined ? [] : [{ x: s.level, y: v / 1000, series }];
      })),
    }),
  });
  const errorKinds: Array<[string, (s: StepResult) => number]> = [
    ['failed', (s) => s.summary.counts.failed], ['timed out', (s) => s.summary.counts.timedOut],
    ['refused', (s) => s.summary.counts.refused], ['dropped by client', (s) => s.summary.counts.dropped],
  ];
  if (r.steps.some((s) => errorKinds.some(([, get]) => get(s) > 0))) {
    charts.push({
      title: 'Requests that did not succeed',
      file: `${REPORT_NAME}-errors.svg`,
      svg: await barChartSvg({
        title: 'Requests that did not succeed, per step', xTitle: mode === 'concurrency' ? 'concurrency' : 'request rate (req/s)', yTitle: 'requests',
        categoryOrder: r.steps.map((s) => String(s.level)), seriesOrder: errorKinds.map(([k]) => k),
        bars: r.steps.flatMap((s) => errorKinds.map(([series, get]) => ({ category: String(s.level), series, value: get(s) }))),
      }),
    });
  }
  const timeline: ChartPoint[] = r.steps.flatMap((s) => s.timeline.flatMap((t) => [
    { x: t.tMs / 1000, y: t.p50Us / 1000, series: 'p50', facet: levelText(s.mode, s.level) },
    { x: t.tMs / 1000, y: t.p99Us / 1000, series: 'p99', facet: levelText(s.mode, s.level) },
  ]));
  if (timeline.length > 0) {
    charts.push({
      title: 'Latency over time within each step',
      file: `${REPORT_NAME}-latency-over-time.svg`,
      svg: await lineChartSvg({
        title: 'Latency over each measurement window', xTitle: 's into the window (by scheduled send)', yTitle: 'latency (ms)', yScale: 'log',
        points: timeline, facetOrder: r.steps.map((s) => levelText(s.mode, s.level)), height: 160,
      }),
    });
  }
  return {
    heading: r.label !== undefined ? `Results: ${r.label}` : 'Results',
    paragraphs: r.notes.map((n) => `Note: ${n}`),
    tables: [stepTable(r)],
    charts,
  };
}

async function compareSections(runs: readonly LabelledResult[]): Promise<ReportSection[]> {
  const sections: ReportSection[] = [];
  for (const mode of ['concurrency', 'request_rate'] as const) {
    const ofMode = runs.filter((c) => c.result.settings.mode === mode);
    if (ofMode.length === 0) continue;
    const levels = ofMode.flatMap((c) => c.result.steps.map((s) => s.level));
    const xScale = xScaleOf(levels);
    const slug = mode === 'concurrency' ? 'concurrency' : 'rate';
    const points = (get: (s: StepResult) => number | undefined): ChartPoint[] => ofMode.flatMap((c) => c.result.steps.flatMap((s) => {
      const y = get(s);
      return y === undefined ? [] : [{ x: s.level, y, series: c.label }];
    }));
    sections.push({
      heading: `Comparison by label (${mode === 'concurrency' ? 'concurrency sweeps' : 'request-rate sweeps'})`,
      paragraphs: ofMode.map((c) => `${c.label}: ${c.source} (${c.result.target.model} at ${c.result.target.address}, ${c.result.startedAt})`),
      tables: [{ columns: COMPARE_COLUMNS, rows: compareRows(ofMode) }],
      charts: [
        {
          title: 'Throughput by label', file: `${REPORT_NAME}-compare-${slug}-throughput.svg`,
          svg: await lineChartSvg({ title: 'Throughput', xTitle: xTitleOf(mode), yTitle: 'successful inferences/s', xScale, pointMarks: true, points: points((s) => s.summary.inferencesPerSec) }),
        },
        {
          title: 'p99 latency by label', file: `${REPORT_NAME}-compare-${slug}-p99.svg`,
          svg: await lineChartSvg({ title: 'p99 latency', xTitle: xTitleOf(mode), yTitle: 'latency (ms)', xScale, yScale: 'log', pointMarks: true, points: points((s) => (s.summary.latencyUs ? s.summary.latencyUs.p99Us / 1000 : undefined)) }),
        },
        {
          title: 'Success rate by label', file: `${REPORT_NAME}-compare-${slug}-success.svg`,
          svg: await lineChartSvg({ title: 'Success rate', xTitle: xTitleOf(mode), yTitle: 'successful requests (%)', xScale, pointMarks: true, points: points((s) => (s.summary.successRate === null ? undefined : s.summary.successRate * 100)) }),
        },
      ],
    });
  }
  return sections;
}
