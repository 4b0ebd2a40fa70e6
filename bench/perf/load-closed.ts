/**
 * Closed-loop load, perf_analyzer's concurrency mode: N callers, each sending its next request as
 * soon as its previous one ended, so that N requests are outstanding at all times and the offered
 * load follows the server. A request's latency is from its send to its end.
 */
import { issueOne, performanceClock, type RequestRecord } from './issue.js';
import { endedOkIn, type LoadStepOptions, type LoadWindow } from './load-window.js';

export interface ClosedLoopOptions extends LoadStepOptions {
  concurrency: number;
}

export async function runClosedLoop(options: ClosedLoopOptions): Promise<LoadWindow> {
  const { concurrency, warmupMs, durationMs, timeoutMs, issue } = options;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be an integer ≥ 1, got ${concurrency}`);
  const clock = options.clock ?? performanceClock;
  const startMs = clock() + warmupMs;
  const endMs = startMs + durationMs;
  const records: RequestRecord[] = [];
  let measuring = false;
  let index = 0;
  let okEndedInWindow = 0;
  // Checked before each send rather than by a timer: a caller whose issue answers at once would
  // otherwise never let the timer run.
  const openWindow = (now: number) => {
    if (measuring || now < startMs) return;
    measuring = true;
    options.onMeasureStart?.();
  };
  const caller = async () => {
    for (;;) {
      const now = clock();
      openWindow(now);
      if (now >= endMs) return;
      const record = await issueOne(issue, index++, undefined, timeoutMs, clock);
      const measured = record.sentMs >= startMs;
      if (measured) records.push(record);
      if (endedOkIn(record, startMs, endMs)) okEndedInWindow++;
      options.onRecord?.(record, measured);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, caller));
  openWindow(Math.max(clock(), startMs));
  records.sort((a, b) => a.index - b.index);
  return { startMs, endMs, records, okEndedInWindow };
}
