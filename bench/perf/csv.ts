/**
 * `-f/--csv FILE`: perf_analyzer's CSV, so that the spreadsheets and scripts written for it read
 * ours. The columns and their order are perf_analyzer's (ReportWriter::GenerateReport, with server
 * statistics and the default percentiles 50/90/95/99; times in whole microseconds, truncated as it
 * does); ours follow them: Failed, Timed out, Refused, Dropped by client, p99.9 latency, Success
 * rate (successful ÷ all requests of the window, 0 to 1), and Label when --label is given.
 * Differences: rows stay in sweep order (perf_analyzer sorts them by throughput), and a figure we
 * do not have (no server statistics, no successful request) is an empty cell, not a 0.
 */
import type { LoadMode } from './options.js';
import type { BenchResult, StepResult } from './result.js';

export const PERF_ANALYZER_COLUMNS = [
  'Inferences/Second', 'Client Send', 'Network+Server Send/Recv', 'Server Queue', 'Server Compute Input',
  'Server Compute Infer', 'Server Compute Output', 'Client Recv', 'p50 latency', 'p90 latency', 'p95 latency', 'p99 latency',
] as const;
export const EXTRA_COLUMNS = ['Failed', 'Timed out', 'Refused', 'Dropped by client', 'p99.9 latency', 'Success rate'] as const;
export const LABEL_COLUMN = 'Label';

export function firstColumn(mode: LoadMode): string {
  return mode === 'concurrency' ? 'Concurrency' : 'Request Rate';
}

export function csvHeader(mode: LoadMode, withLabel = false): string {
  return [firstColumn(mode), ...PERF_ANALYZER_COLUMNS, ...EXTRA_COLUMNS, ...(withLabel ? [LABEL_COLUMN] : [])].join(',');
}

/** µs as perf_analyzer writes them: whole, truncated; empty when unknown. */
const us = (value: number | null | undefined): string => (value === null || value === undefined || !Number.isFinite(value) ? '' : String(Math.trunc(value)));

/** Like C++'s default stream format (6 significant digits), without an exponent. */
export function formatRate(value: number): string {
  if (!Number.isFinite(value)) return '';
  return Math.abs(value) >= 1e6 ? String(Math.round(value)) : String(Number(value.toPrecision(6)));
}

function quote(text: string): string {
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvRow(step: StepResult, label?: string): string {
  const { summary, server } = step;
  const latency = summary.latencyUs;
  const cells = [
    formatRate(step.level),
    formatRate(summary.inferencesPerSec),
    us(step.clientSendUs),
    us(step.networkServerUs),
    us(server?.queueUs),
    us(server?.computeInputUs),
    us(server?.computeInferUs),
    us(server?.computeOutputUs),
    us(step.clientRecvUs),
    us(latency?.p50Us),
    us(latency?.p90Us),
    us(latency?.p95Us),
    us(latency?.p99Us),
    String(summary.counts.failed),
    String(summary.counts.timedOut),
    String(summary.counts.refused),
    String(summary.counts.dropped),
    us(latency?.p999Us),
    summary.successRate === null ? '' : String(Number(summary.successRate.toFixed(4))),
    ...(label !== undefined ? [quote(label)] : []),
  ];
  return cells.join(',');
}

export function toCsv(result: BenchResult): string {
  const lines = [csvHeader(result.settings.mode, result.label !== undefined), ...result.steps.map((s) => csvRow(s, result.label))];
  return `${lines.join('\n')}\n`;
}
