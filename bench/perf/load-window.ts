/**
 * What a load generator hands back for one step: the requests sent in the measurement window and
 * the window's bounds. Requests sent during the warm-up are not in it; requests sent in the window
 * are, however late they ended (the generators wait for them, up to the request timeout).
 * Throughput is counted apart, perf_analyzer's way: successes that ENDED in the window, whenever
 * sent, so that an overloaded server's backlog, answered after the window, does not inflate it.
 */
import type { Clock, Issue, RequestRecord } from './issue.js';

/** Counts a record toward throughput when it succeeded inside the window. */
export function endedOkIn(record: RequestRecord, startMs: number, endMs: number): boolean {
  return record.outcome === 'ok' && record.endMs >= startMs && record.endMs < endMs;
}

export interface LoadWindow {
  /** performance.now() when measuring began (after the warm-up) and when sending stopped. */
  startMs: number;
  endMs: number;
  records: RequestRecord[];
  /** Successful requests that ended inside [startMs, endMs), warm-up ones included. */
  okEndedInWindow: number;
}

/** What both generators take besides their own load setting. */
export interface LoadStepOptions {
  /** Sent and answered but not measured, so that connections, JIT and server queues settle first. */
  warmupMs: number;
  durationMs: number;
  /** A request not answered this long after it was sent is recorded as timed out. */
  timeoutMs: number;
  issue: Issue;
  /** Called once, when the measurement window opens (e.g. to read the server's statistics). */
  onMeasureStart?: () => void;
  /** Called for every request as it ends; `measured` says whether it belongs to the window. */
  onRecord?: (record: RequestRecord, measured: boolean) => void;
  clock?: Clock;
}
