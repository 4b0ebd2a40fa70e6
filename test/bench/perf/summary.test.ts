import { describe, expect, it } from 'vitest';
import type { RequestRecord } from '../../../bench/perf/issue.js';
import { latencyTimeline, summarize } from '../../../bench/perf/summary.js';
import type { Outcome } from '../../../bench/perf/outcome.js';

/** A record scheduled at `at` ms whose latency is `latencyMs`. */
const record = (index: number, at: number, latencyMs: number, outcome: Outcome = 'ok', error?: string): RequestRecord => ({
  index, scheduledMs: at, sentMs: outcome === 'dropped' ? Number.NaN : at, endMs: outcome === 'dropped' ? Number.NaN : at + latencyMs, outcome,
  ...(error ? { error } : {}),
});

describe('step summary', () => {
  it('takes nearest-rank percentiles of the successful requests, exactly', () => {
    const records = [3, 1, 4, 10, 5, 9, 2, 6, 8, 7].map((ms, i) => record(i, i * 10, ms));
    const s = summarize({ startMs: 0, endMs: 1_000, records });
    expect(s.latencyUs).toEqual({ p50Us: 5_000, p90Us: 9_000, p95Us: 10_000, p99Us: 10_000, p999Us: 10_000, maxUs: 10_000, minUs: 1_000, meanUs: 5_500 });
  });

  it('takes p99 and p99.9 apart on a thousand requests', () => {
    const records = Array.from({ length: 1_000 }, (_, i) => record(i, 0, (1_000 - i) / 1_000));
    const s = summarize({ startMs: 0, endMs: 1_000, records });
    expect(s.latencyUs!.p50Us).toBeCloseTo(500, 6);
    expect(s.latencyUs!.p99Us).toBeCloseTo(990, 6);
    expect(s.latencyUs!.p999Us).toBeCloseTo(999, 6);
    expect(s.latencyUs!.maxUs).toBeCloseTo(1_000, 6);
  });

  it('counts every outcome beside the throughput, which counts successes only', () => {
    const records = [
      record(0, 0, 10), record(1, 10, 20), record(2, 20, 30), record(3, 30, 40),
      record(4, 40, 5, 'failed', 'bad input'), record(5, 50, 5, 'failed', 'bad input'),
      record(6, 60, 100, 'timed_out', 'no answer'), record(7, 70, 1, 'refused', 'ECONNREFUSED'), record(8, 80, 0, 'dropped'),
      record(9, 90, 50),
    ];
    const s = summarize({ startMs: 0, endMs: 2_000, records }, { inferencesPerRequest: 4 });
    expect(s.counts).toEqual({ ok: 5, failed: 2, timedOut: 1, refused: 1, dropped: 1 });
    expect(s.requests).toBe(10);
    expect(s.successRate).toBe(0.5);
    expect(s.requestsPerSec).toBe(2.5);
    expect(s.inferencesPerSec).toBe(10);
    expect(s.latencyUs!.p50Us).toBe(30_000);
    expect(s.errors[0]).toEqual({ outcome: 'failed', message: 'bad input', count: 2 });
    expect(s.errors.map((e) => e.outcome).sort()).toEqual(['dropped', 'failed', 'refused', 'timed_out']);
  });

  it('takes throughput from the generator\'s count of successes that ended in the window', () => {
    const records = [record(0, 0, 10), record(1, 10, 5_000)];
    expect(summarize({ startMs: 0, endMs: 1_000, records, okEndedInWindow: 1 }, { inferencesPerRequest: 2 })).toMatchObject({ requestsPerSec: 1, inferencesPerSec: 2 });
  });

  it('measures latency from the scheduled time and reports the send delay apart', () => {
    const late: RequestRecord = { index: 0, scheduledMs: 100, sentMs: 130, endMs: 140, outcome: 'ok' };
    const s = summarize({ startMs: 0, endMs: 1_000, records: [late] });
    expect(s.latencyUs!.p50Us).toBeCloseTo(40_000, 6);
    expect(s.sendDelayUs!.maxUs).toBeCloseTo(30_000, 6);
  });

  it('has no latency and no success rate for an empty or all-failed window', () => {
    expect(summarize({ startMs: 0, endMs: 1_000, records: [] })).toMatchObject({ requests: 0, successRate: null, latencyUs: null, inferencesPerSec: 0 });
    expect(summarize({ startMs: 0, endMs: 1_000, records: [record(0, 0, 1, 'failed')] })).toMatchObject({ successRate: 0, latencyUs: null });
  });

  it('buckets latency over the window by scheduled time', () => {
    const records = [record(0, 1_000, 1), record(1, 1_050, 3), record(2, 1_120, 2), record(3, 1_130, 9, 'failed')];
    expect(latencyTimeline({ startMs: 1_000, records }, 100)).toEqual([
      { tMs: 0, count: 2, p50Us: 1_000, p99Us: 3_000 },
      { tMs: 100, count: 1, p50Us: 2_000, p99Us: 2_000 },
    ]);
  });
});
