/**
 * `--compare FILE.json …`: earlier `--json` results (the same sweep on each card type, say) read
 * back and lined up by their labels, with the current run when there is one, for one table and
 * one chart per figure.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { BenchError } from './bench-errors.js';
import { RESULT_TOOL, type BenchResult } from './result.js';

export interface LabelledResult {
  label: string;
  /** The file it came from, or 'this run'. */
  source: string;
  result: BenchResult;
}

export function readResultFile(file: string): BenchResult {
  const bad = (why: string) => new BenchError('BAD_INPUT_FILE', `--compare ${file}: ${why}`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw bad(code ? `cannot read it (${code})` : `not JSON (${(err as Error).message})`);
  }
  const result = json as Partial<BenchResult> | null;
  if (!result || result.tool !== RESULT_TOOL || !Array.isArray(result.steps) || !result.settings || !result.target) {
    throw bad(`not a result of ${RESULT_TOOL} --json`);
  }
  return result as BenchResult;
}

/** Each result with a label that tells it apart: its --label, else its file name; repeats get " (2)", " (3)". */
export function labelResults(results: Array<{ source: string; result: BenchResult }>): LabelledResult[] {
  const seen = new Map<string, number>();
  return results.map(({ source, result }) => {
    const base = result.label ?? basename(source).replace(/\.json$/i, '');
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return { label: n === 1 ? base : `${base} (${n})`, source, result };
  });
}

export const COMPARE_COLUMNS = ['Label', 'Load', 'Infer/s', 'Success %', 'p50 µs', 'p99 µs', 'p99.9 µs', 'Failed', 'Timed out', 'Refused', 'Dropped', 'Target'];

/** One row per step of every result, in the order given. */
export function compareRows(runs: readonly LabelledResult[]): Array<Array<string | number | null>> {
  const round = (v: number | undefined) => (v === undefined ? null : Math.round(v));
  return runs.flatMap(({ label, result }) => result.steps.map((s) => [
    label,
    s.mode === 'concurrency' ? `concurrency ${s.level}` : `${s.level} req/s`,
    Number(s.summary.inferencesPerSec.toFixed(1)),
    s.summary.successRate === null ? null : Number((s.summary.successRate * 100).toFixed(2)),
    round(s.summary.latencyUs?.p50Us),
    round(s.summary.latencyUs?.p99Us),
    round(s.summary.latencyUs?.p999Us),
    s.summary.counts.failed,
    s.summary.counts.timedOut,
    s.summary.counts.refused,
    s.summary.counts.dropped,
    `${result.target.model} ${result.target.protocol}${result.target.protocol === 'http' ? `/${result.target.encoding}` : ''}`,
  ]));
}
