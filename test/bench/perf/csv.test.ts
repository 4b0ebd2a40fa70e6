import { describe, expect, it } from 'vitest';
import { csvHeader, csvRow, formatRate } from '../../../bench/perf/csv.js';
import type { StepResult } from '../../../bench/perf/result.js';

// perf_analyzer's header, as its ReportWriter writes it with server statistics and the default percentiles.
const PERF_ANALYZER = 'Inferences/Second,Client Send,Network+Server Send/Recv,Server Queue,Server Compute Input,Server Compute Infer,Server Compute Output,Client Recv,p50 latency,p90 latency,p95 latency,p99 latency';
const EXTRAS = 'Failed,Timed out,Refused,Dropped by client,p99.9 latency,Success rate';

const step: StepResult = {
  mode: 'concurrency',
  level: 4,
  summary: {
    windowMs: 5_000, requests: 1_000,
    counts: { ok: 996, failed: 1, timedOut: 2, refused: 1, dropped: 0 },
    successRate: 0.996, requestsPerSec: 199.2, inferencesPerSec: 199.2,
    latencyUs: { p50Us: 13_891.7, p90Us: 18_795.2, p95Us: 19_753.9, p99Us: 21_018.1, p999Us: 25_000.9, maxUs: 30_000, minUs: 9_000, meanUs: 14_017 },
    sendDelayUs: { meanUs: 0, p99Us: 0, maxUs: 0 },
    errors: [],
  },
  clientSendUs: 225.9, clientRecvUs: 0.4, networkServerUs: 2_148.2,
  server: { requests: 996, inferences: 996, executions: 996, queueUs: 64.5, computeInputUs: 206.1, computeInferUs: 11_781.9, computeOutputUs: 19, serverUs: 12_100 },
  peakInFlight: 4,
  timeline: [],
};

describe('perf_analyzer CSV', () => {
  it('writes perf_analyzer\'s header exactly, then the extra columns', () => {
    expect(csvHeader('concurrency')).toBe(`Concurrency,${PERF_ANALYZER},${EXTRAS}`);
    expect(csvHeader('request_rate')).toBe(`Request Rate,${PERF_ANALYZER},${EXTRAS}`);
    expect(csvHeader('concurrency', true)).toBe(`Concurrency,${PERF_ANALYZER},${EXTRAS},Label`);
  });

  it('writes times in whole µs, truncated, as perf_analyzer does', () => {
    expect(csvRow(step)).toBe('4,199.2,225,2148,64,206,11781,19,0,13891,18795,19753,21018,1,2,1,0,25000,0.996');
    expect(csvRow(step, 'T4, spot')).toBe('4,199.2,225,2148,64,206,11781,19,0,13891,18795,19753,21018,1,2,1,0,25000,0.996,"T4, spot"');
  });

  it('leaves the cells it has no figure for empty', () => {
    const bare: StepResult = { ...step, server: null, networkServerUs: null, clientSendUs: null, clientRecvUs: null, summary: { ...step.summary, latencyUs: null, successRate: null } };
    expect(csvRow(bare)).toBe('4,199.2,,,,,,,,,,,,1,2,1,0,,');
  });

  it('formats rates like C++\'s default stream (6 significant digits)', () => {
    expect(formatRate(69.2)).toBe('69.2');
    expect(formatRate(1234.5678)).toBe('1234.57');
    expect(formatRate(0.5)).toBe('0.5');
    expect(formatRate(2_500_000.4)).toBe('2500000');
  });
});
