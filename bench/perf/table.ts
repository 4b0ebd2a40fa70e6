/**
 * The table `infergate bench` prints on stdout, one row per step as each step ends: fixed-width
 * columns so that rows line up without waiting for the whole sweep. Times in µs; Success is the
 * share of the window's requests that succeeded; the error counts stand beside it.
 */
import type { LoadMode } from './options.js';
import type { StepResult } from './result.js';

interface Column {
  header: string;
  cell(step: StepResult): string;
}

const MIN_WIDTH = 7;
const GROUP_GAP = ' | ';

const int = (value: number | null | undefined): string => (value === null || value === undefined || !Number.isFinite(value) ? '-' : String(Math.round(value)));
const rate = (value: number): string => (value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2));
const percent = (value: number | null): string => (value === null ? '-' : `${(value * 100).toFixed(value === 1 ? 0 : 2)}%`);

function groups(mode: LoadMode): Column[][] {
  return [
    [
      { header: mode === 'concurrency' ? 'Concurrency' : 'Rate req/s', cell: (s) => String(s.level) },
      { header: 'Infer/s', cell: (s) => rate(s.summary.inferencesPerSec) },
      { header: 'Success', cell: (s) => percent(s.summary.successRate) },
      { header: 'Failed', cell: (s) => String(s.summary.counts.failed) },
      { header: 'Timed out', cell: (s) => String(s.summary.counts.timedOut) },
      { header: 'Refused', cell: (s) => String(s.summary.counts.refused) },
      { header: 'Dropped', cell: (s) => String(s.summary.counts.dropped) },
    ],
    [
      { header: 'p50', cell: (s) => int(s.summary.latencyUs?.p50Us) },
      { header: 'p90', cell: (s) => int(s.summary.latencyUs?.p90Us) },
      { header: 'p95', cell: (s) => int(s.summary.latencyUs?.p95Us) },
      { header: 'p99', cell: (s) => int(s.summary.latencyUs?.p99Us) },
      { header: 'p99.9', cell: (s) => int(s.summary.latencyUs?.p999Us) },
      { header: 'Max', cell: (s) => int(s.summary.latencyUs?.maxUs) },
      { header: 'Mean', cell: (s) => int(s.summary.latencyUs?.meanUs) },
    ],
    [
      { header: 'Send', cell: (s) => int(s.clientSendUs) },
      { header: 'Recv', cell: (s) => int(s.clientRecvUs) },
      { header: 'Net+Srv', cell: (s) => int(s.networkServerUs) },
      { header: 'Queue', cell: (s) => int(s.server?.queueUs) },
      { header: 'C.input', cell: (s) => int(s.server?.computeInputUs) },
      { header: 'C.infer', cell: (s) => int(s.server?.computeInferUs) },
      { header: 'C.output', cell: (s) => int(s.server?.computeOutputUs) },
    ],
  ];
}

const width = (c: Column) => Math.max(MIN_WIDTH, c.header.length);
const line = (mode: LoadMode, text: (c: Column) => string) => groups(mode).map((g) => g.map((c) => text(c).padStart(width(c))).join(' ')).join(GROUP_GAP);

/** The two header lines: group titles over the column names. */
export function tableHeader(mode: LoadMode): string {
  const titles = ['requests of the window', 'latency µs (successful requests)', 'µs per request: client, network+server, server'];
  const widths = groups(mode).map((g) => g.reduce((n, c) => n + width(c) + 1, -1));
  const top = titles.map((t, i) => (t.length > widths[i] ? t.slice(0, widths[i]) : t.padStart(widths[i]))).join(GROUP_GAP);
  return `${top}\n${line(mode, (c) => c.header)}`;
}

export function tableRow(step: StepResult): string {
  return line(step.mode, (c) => c.cell(step));
}

/** A plain aligned table (the --compare view): first column left-aligned, the others right. */
export function alignedTable(columns: string[], rows: string[][]): string {
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => (r[i] ?? '').length)));
  const format = (cells: string[]) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  return [format(columns), ...rows.map(format)].join('\n');
}
