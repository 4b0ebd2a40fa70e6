/**
 * Open-loop load, perf_analyzer's request-rate mode without its blind spot: requests leave on a
 * schedule (Poisson or constant arrivals) whether or not earlier ones were answered, and each
 * request's latency is counted from its SCHEDULED send time. A server (or a client) that stalls
 * cannot hide the queue it builds: every request that should have left during the stall carries
 * the wait in its latency (no coordinated omission).
 *
 * The sender never waits for answers. At most `maxOutstanding` requests are in flight; a request
 * due while the client is at that cap is not sent and is recorded as 'dropped' (by the client),
 * so an overloaded run shows its drops instead of silently lowering the offered rate.
 */
import { issueOne, performanceClock, type RequestRecord } from './issue.js';
import { endedOkIn, type LoadStepOptions, type LoadWindow } from './load-window.js';
import { arrivals, type Distribution, type Random } from './schedule.js';

export const DEFAULT_MAX_OUTSTANDING = 10_000;
/**
 * A timer wakes the sender this long before a request is due, then it yields to I/O with
 * setImmediate until the due time: setTimeout alone is late by about a millisecond, which would
 * be charged to every request's latency (a sub-millisecond model would look several times slower).
 */
export const SPIN_BEFORE_SEND_MS = 1;

export interface OpenLoopOptions extends LoadStepOptions {
  ratePerSec: number;
  distribution: Distribution;
  random: Random;
  maxOutstanding?: number;
}

export function runOpenLoop(options: OpenLoopOptions): Promise<LoadWindow> {
  const { warmupMs, durationMs, timeoutMs, issue } = options;
  const maxOutstanding = options.maxOutstanding ?? DEFAULT_MAX_OUTSTANDING;
  if (!Number.isInteger(maxOutstanding) || maxOutstanding < 1) throw new RangeError(`maxOutstanding must be an integer ≥ 1, got ${maxOutstanding}`);
  const clock = options.clock ?? performanceClock;
  const originMs = clock();
  const startMs = originMs + warmupMs;
  const endMs = startMs + durationMs;
  const schedule = arrivals({ ratePerSec: options.ratePerSec, distribution: options.distribution, random: options.random, startMs: originMs });
  const records: RequestRecord[] = [];
  const inFlight = new Set<Promise<void>>();
  let nextAt = schedule.next().value;
  let index = 0;
  let measuring = false;
  let okEndedInWindow = 0;

  const keep = (record: RequestRecord) => {
    const measured = record.scheduledMs >= startMs;
    if (measured) records.push(record);
    if (endedOkIn(record, startMs, endMs)) okEndedInWindow++;
    options.onRecord?.(record, measured);
  };

  const sendDue = (now: number) => {
    if (!measuring && now >= startMs) {
      measuring = true;
      options.onMeasureStart?.();
    }
    while (nextAt < endMs && nextAt <= now) {
      const scheduledMs = nextAt;
      nextAt = schedule.next().value;
      const i = index++;
      if (inFlight.size >= maxOutstanding) {
        keep({ index: i, scheduledMs, sentMs: Number.NaN, endMs: Number.NaN, outcome: 'dropped', error: `client at --max-outstanding ${maxOutstanding}` });
        continue;
      }
      const done: Promise<void> = issueOne(issue, i, scheduledMs, timeoutMs, clock).then((record) => {
        inFlight.delete(done);
        keep(record);
      });
      inFlight.add(done);
    }
  };

  return new Promise<LoadWindow>((resolve) => {
    const finish = async () => {
      if (!measuring) {
        measuring = true;
        options.onMeasureStart?.();
      }
      while (inFlight.size > 0) await Promise.all([...inFlight]);
      records.sort((a, b) => a.index - b.index);
      resolve({ startMs, endMs, records, okEndedInWindow });
    };
    const wake = () => {
      const now = clock();
      sendDue(now);
      if (nextAt >= endMs) {
        // Sending is over once the window closes, even if the last arrival is not due before it.
        const untilEnd = endMs - now;
        if (untilEnd > 0) setTimeout(() => void finish(), untilEnd);
        else void finish();
        return;
      }
      const wait = nextAt - now;
      if (wait > SPIN_BEFORE_SEND_MS) setTimeout(wake, wait - SPIN_BEFORE_SEND_MS);
      else setImmediate(wake);
    };
    wake();
  });
}
