/**
 * A bench run's results: what `--json` writes, what the CSV, the table and the report are made
 * from, and what `--compare` reads back. Times in microseconds unless the name says otherwise.
 */
import type { Datatype } from '../../core/datatypes.js';
import type { LoadMode } from './options.js';
import type { Distribution } from './schedule.js';
import type { ServerBreakdown } from './server-stats.js';
import type { StepSummary, TimelinePoint } from './summary.js';
import type { Protocol } from './target.js';

export const RESULT_TOOL = 'infergate bench';
export const RESULT_FORMAT = 1;

export interface StepResult {
  /** The step's load: a concurrency, or a request rate in requests/s. */
  mode: LoadMode;
  level: number;
  summary: StepSummary;
  /** Mean time to build and encode a request / decode an answer (see codec-timing.ts); null when unmeasured. */
  clientSendUs: number | null;
  clientRecvUs: number | null;
  /**
   * perf_analyzer's Network+Server Send/Recv: mean latency − client send − client recv − server
   * queue and compute, floored at 0; null without server statistics.
   */
  networkServerUs: number | null;
  /** From the statistics extension; null when the server gives none. */
  server: ServerBreakdown | null;
  /** Most requests in flight at once during the step (warm-up included). */
  peakInFlight: number;
  /** Successful requests' latency over the window. */
  timeline: TimelinePoint[];
}

export interface BenchResult {
  tool: typeof RESULT_TOOL;
  format: typeof RESULT_FORMAT;
  infergateVersion: string;
  /** The command line that produced it, as typed (quoted for a POSIX shell). */
  command: string;
  label?: string;
  startedAt: string;
  target: { protocol: Protocol; address: string; model: string; version?: string; encoding: 'json' | 'binary' };
  model: {
    maxBatchSize: number | null;
    batchSize: number;
    inferencesPerRequest: number;
    inputs: Array<{ name: string; datatype: Datatype; shape: number[] }>;
    /** Distinct requests cycled through (1 with random data). */
    distinctRequests: number;
  };
  settings: {
    mode: LoadMode;
    levels: number[];
    distribution?: Distribution;
    maxOutstanding?: number;
    warmupMs: number;
    measurementMs: number;
    timeoutMs: number;
    connections: number;
    seed: number;
  };
  notes: string[];
  steps: StepResult[];
}

/** "concurrency 4" / "rate 250/s": a step's load in words. */
export function levelText(mode: LoadMode, level: number): string {
  return mode === 'concurrency' ? `concurrency ${level}` : `rate ${level}/s`;
}
