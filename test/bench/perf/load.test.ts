/**
 * The two load generators against fake `issue` functions (no network). Timing assertions are
 * lower bounds the code guarantees whatever the machine's load (a stall makes latencies at least
 * this long), or counts; nothing asserts how fast a busy machine is.
 */
import { describe, expect, it } from 'vitest';
import { issueOne, type Issue, type RequestRecord } from '../../../bench/perf/issue.js';
import { runClosedLoop } from '../../../bench/perf/load-closed.js';
import { runOpenLoop } from '../../../bench/perf/load-open.js';
import { seededRandom } from '../../../bench/perf/schedule.js';
import { latencyUsOf, summarize } from '../../../bench/perf/summary.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
/** setTimeout may fire a fraction of a millisecond early by performance.now(). */
const TIMER_SLACK_MS = 2;

const STALL_INDEX = 20;
const STALL_MS = 200;

/** One server answering in arrival order: 1 ms per request, STALL_MS for request STALL_INDEX. */
function fifoServer(): Issue {
  let freeAt = 0;
  return async ({ index }) => {
    const now = performance.now();
    const start = Math.max(now, freeAt);
    freeAt = start + (index === STALL_INDEX ? STALL_MS : 1);
    await sleep(freeAt - now);
  };
}

/** Requests scheduled after the stalled one and before it could have ended carry the rest of the stall. */
function expectStallCarried(records: RequestRecord[], gapMs: number): void {
  const stalled = records.find((r) => r.index === STALL_INDEX)!;
  const behind = records.filter((r) => r.index > STALL_INDEX && r.scheduledMs < stalled.scheduledMs + STALL_MS - gapMs);
  expect(behind.length).toBeGreaterThanOrEqual(STALL_MS / gapMs - 2);
  for (const r of behind) {
    expect(r.outcome).toBe('ok');
    expect(r.endMs - r.scheduledMs).toBeGreaterThanOrEqual(stalled.scheduledMs + STALL_MS - r.scheduledMs - TIMER_SLACK_MS);
  }
}

describe('open loop', () => {
  const rate = 100;
  const gapMs = 1000 / rate;

  it('counts latency from the scheduled send: a server stall shows in every request queued behind it (no coordinated omission)', async () => {
    const window = await runOpenLoop({
      ratePerSec: rate, distribution: 'constant', random: seededRandom(1), warmupMs: 0, durationMs: 1_000, timeoutMs: 5_000, issue: fifoServer(),
    });
    expect(window.records).toHaveLength(100);
    expectStallCarried(window.records, gapMs);
    const slow = window.records.filter((r) => latencyUsOf(r) > 95_000).length;
    expect(slow).toBeGreaterThanOrEqual(10);
    expect(summarize(window).latencyUs!.p90Us).toBeGreaterThan(95_000);
  });

  it('a closed loop on the same server sees the stall once: what the open loop exists to avoid', async () => {
    const window = await runClosedLoop({ concurrency: 1, warmupMs: 0, durationMs: 600, timeoutMs: 5_000, issue: fifoServer() });
    const slow = window.records.filter((r) => latencyUsOf(r) > 95_000).length;
    expect(slow).toBeGreaterThanOrEqual(1);
    expect(slow).toBeLessThanOrEqual(3);
  });

  it('sends what fell due while the sender itself was stalled, late, and charges the wait to those requests', async () => {
    const issue: Issue = async ({ index }) => {
      if (index !== STALL_INDEX) return;
      const until = performance.now() + STALL_MS;
      while (performance.now() < until) { /* the event loop, and so the sender, is blocked */ }
    };
    const window = await runOpenLoop({ ratePerSec: rate, distribution: 'constant', random: seededRandom(1), warmupMs: 0, durationMs: 1_000, timeoutMs: 5_000, issue });
    expect(window.records).toHaveLength(100);
    expect(window.records.every((r) => r.outcome === 'ok')).toBe(true);
    expectStallCarried(window.records, gapMs);
    const late = window.records.filter((r) => r.index > STALL_INDEX && r.index < STALL_INDEX + 10);
    for (const r of late) expect(r.sentMs - r.scheduledMs).toBeGreaterThan(0);
  });

  it('counts throughput as what an overloaded server served in the window, not what was offered', async () => {
    // One server, 20 ms per request: at most 50 answers a second, offered 100.
    let freeAt = 0;
    const issue: Issue = async () => {
      const now = performance.now();
      freeAt = Math.max(now, freeAt) + 20;
      await sleep(freeAt - now);
    };
    const window = await runOpenLoop({ ratePerSec: 100, distribution: 'constant', random: seededRandom(1), warmupMs: 0, durationMs: 1_000, timeoutMs: 10_000, issue });
    const s = summarize(window);
    expect(s.counts.ok).toBe(100); // every request sent in the window was answered, late
    expect(s.inferencesPerSec).toBeGreaterThan(0);
    expect(s.inferencesPerSec).toBeLessThanOrEqual(1000 / (20 - TIMER_SLACK_MS));
    expect(s.latencyUs!.maxUs).toBeGreaterThan(500_000); // the backlog: ~50 requests × 20 ms
  });

  it('never has more than --max-outstanding requests in flight and counts the rest as dropped by the client', async () => {
    let inFlight = 0;
    let most = 0;
    const issue: Issue = ({ signal }) => {
      inFlight++;
      most = Math.max(most, inFlight);
      return new Promise((_, reject) => signal.addEventListener('abort', () => {
        inFlight--;
        reject(signal.reason);
      }));
    };
    const window = await runOpenLoop({ ratePerSec: 100, distribution: 'constant', random: seededRandom(1), warmupMs: 0, durationMs: 200, timeoutMs: 1_000, maxOutstanding: 5, issue });
    const s = summarize(window);
    expect(most).toBe(5);
    expect(s.requests).toBe(20);
    expect(s.counts).toEqual({ ok: 0, failed: 0, timedOut: 5, refused: 0, dropped: 15 });
    expect(window.records.filter((r) => r.outcome === 'dropped').every((r) => Number.isNaN(r.sentMs))).toBe(true);
  });

  it('keeps warm-up requests out of the window and Poisson arrivals near the rate', async () => {
    let measureStartedAt = Number.NaN;
    const window = await runOpenLoop({
      ratePerSec: 400, distribution: 'poisson', random: seededRandom(3), warmupMs: 200, durationMs: 500, timeoutMs: 1_000,
      issue: async () => {}, onMeasureStart: () => { measureStartedAt = performance.now(); },
    });
    expect(window.records.every((r) => r.scheduledMs >= window.startMs && r.scheduledMs < window.endMs)).toBe(true);
    expect(measureStartedAt).toBeGreaterThanOrEqual(window.startMs);
    // 200 expected (σ ≈ 14) from a seeded schedule: the count is the schedule's, not the machine's.
    expect(window.records.length).toBeGreaterThan(150);
    expect(window.records.length).toBeLessThan(250);
  });
});

describe('closed loop', () => {
  it('keeps exactly N requests outstanding and sends each as the previous one ends', async () => {
    let inFlight = 0;
    let most = 0;
    const issue: Issue = async () => {
      inFlight++;
      most = Math.max(most, inFlight);
      await sleep(5);
      inFlight--;
    };
    const window = await runClosedLoop({ concurrency: 3, warmupMs: 50, durationMs: 300, timeoutMs: 1_000, issue });
    expect(most).toBe(3);
    expect(window.records.length).toBeGreaterThan(3);
    expect(window.records.every((r) => r.scheduledMs === r.sentMs && r.sentMs >= window.startMs && r.outcome === 'ok')).toBe(true);
  });

  it('classifies what the issue function throws', async () => {
    const errors = [Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }), new Error('bad')];
    let i = 0;
    const window = await runClosedLoop({ concurrency: 1, warmupMs: 0, durationMs: 50, timeoutMs: 1_000, issue: async () => { throw errors[i++ % 2]; } });
    const s = summarize(window);
    expect(s.counts.refused).toBeGreaterThan(0);
    expect(s.counts.failed).toBeGreaterThan(0);
    expect(s.counts.ok).toBe(0);
  });
});

describe('one request', () => {
  it('times out at the request timeout, aborts the issue function and ignores its late answer', async () => {
    let aborted = false;
    const record = await issueOne(({ signal }) => {
      signal.addEventListener('abort', () => { aborted = true; });
      return sleep(300);
    }, 0, performance.now(), 50);
    expect(record.outcome).toBe('timed_out');
    expect(record.endMs - record.sentMs).toBeGreaterThanOrEqual(50 - TIMER_SLACK_MS);
    expect(aborted).toBe(true);
  });

  it('takes an outcome the issue function reports itself, and its tag', async () => {
    const record = await issueOne(async () => ({ outcome: 'refused', error: '503', tag: 'node-a' }), 7, performance.now(), 1_000);
    expect(record).toMatchObject({ index: 7, outcome: 'refused', error: '503', tag: 'node-a' });
  });
});
