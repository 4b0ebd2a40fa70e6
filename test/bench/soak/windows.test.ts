/**
 * The soak's figures from raw records: windows by due time, failures by status, memory per window,
 * the RSS slope of the last half, and the overload split of shed answers by Retry-After.
 */
import { describe, expect, it } from 'vitest';
import { overloadFigures, slope, summarizeSoak, windowFigures, type MemorySample, type SoakRecord } from '../../../bench/soak/windows.js';

const MB = 1024 * 1024;
const ok = (dueMs: number, latencyMs: number): SoakRecord => ({ dueMs, endMs: dueMs + latencyMs, status: 200, retryAfter: false });

describe('soak windows', () => {
  it('groups requests by due time and counts failures by status or transport error', () => {
    const records: SoakRecord[] = [
      ok(100, 10), ok(200, 20), ok(9_999, 500), // window 0: a slow answer due late still belongs to it
      { dueMs: 10_500, endMs: 10_510, status: 503, retryAfter: true, reason: 'pool saturated' },
      { dueMs: 11_000, endMs: 11_002, status: 0, error: 'ECONNRESET', retryAfter: false },
      ok(12_000, 30),
    ];
    const memory: MemorySample[] = [
      { atMs: 0, rssBytes: 100 * MB, heapUsedBytes: 20 * MB },
      { atMs: 5_000, rssBytes: 110 * MB },
      { atMs: 15_000, rssBytes: 105 * MB, heapUsedBytes: 30 * MB },
    ];
    const windows = windowFigures(records, memory, [{ atMs: 10_200, label: 'kill b1' }], 15_000, 10_000);
    expect(windows).toHaveLength(2);
    expect(windows[0]).toMatchObject({ startS: 0, lengthS: 10, sent: 3, served: 3, failed: 0, p50Ms: 20, p99Ms: 500, maxMs: 500, rssMb: 110, rssMaxMb: 110, heapMb: 20, events: [] });
    expect(windows[1]).toMatchObject({ startS: 10, lengthS: 5, sent: 3, served: 1, failed: 2, failedBy: { 503: 1, ECONNRESET: 1 }, p99Ms: 30, events: ['kill b1'] });

    const summary = summarizeSoak(records, memory, windows, 15_000);
    expect(summary).toMatchObject({ sent: 6, served: 4, failed: 2, worstWindowP99Ms: 500, worstWindowStartS: 0, rssFirstMb: 100, rssLastMb: 105, rssMaxMb: 110, heapFirstMb: 20, heapLastMb: 30 });
    expect(summary.failureRate).toBeCloseTo(2 / 6, 10);
    expect(summary.failureReasons).toEqual([['503 pool saturated', 1], ['ECONNRESET', 1]]);
  });

  it('gives the RSS slope over the last half in MB per minute', () => {
    // 2 MB/min in the second half, flat before: only the second half counts.
    const memory: MemorySample[] = [];
    for (let s = 0; s <= 600; s += 10) memory.push({ atMs: s * 1000, rssBytes: (100 + (s >= 300 ? ((s - 300) / 60) * 2 : 0)) * MB });
    const summary = summarizeSoak([ok(0, 1)], memory, windowFigures([ok(0, 1)], memory, [], 600_000, 10_000), 600_000);
    expect(summary.rssSlopeLastHalfMbPerMin).toBeCloseTo(2, 6);
    expect(summary.heapSlopeLastHalfMbPerMin).toBeNaN();
    expect(slope([{ x: 1, y: 5 }])).toBeNaN();
    expect(slope([{ x: 0, y: 1 }, { x: 2, y: 0 }])).toBeCloseTo(-0.5, 10);
  });

  it('splits overload answers into goodput, shed by status and Retry-After, and other failures', () => {
    const records: SoakRecord[] = [
      ...Array.from({ length: 8 }, (_, i) => ok(i * 100, 50 + i)),
      { dueMs: 10, endMs: 12, status: 503, retryAfter: true },
      { dueMs: 20, endMs: 25, status: 503, retryAfter: false },
      { dueMs: 30, endMs: 31, status: 429, retryAfter: true },
      { dueMs: 40, endMs: 140, status: 504, retryAfter: false },
    ];
    const o = overloadFigures(records, 2_000, 6, 5);
    expect(o).toMatchObject({ sent: 12, served: 8, goodputPerS: 4, otherFailures: { 504: 1 }, admittedP99Ms: 57, refusalP50Ms: 2, refusalP99Ms: 5 });
    expect(o.goodputShare).toBeCloseTo(0.8, 10);
    expect(o.shedRate).toBeCloseTo(3 / 12, 10);
    expect(o.shed).toEqual([{ status: 503, withRetryAfter: 1, withoutRetryAfter: 1 }, { status: 429, withRetryAfter: 1, withoutRetryAfter: 0 }]);
  });
});
