/**
 * One request of a load generator, whatever sends it: the caller's `issue` function does the
 * request (an infer call, a routed HTTP request, a fake in a test) and the generator times it,
 * bounds it by the request timeout and records what became of it. Both generators
 * (load-closed.ts, load-open.ts) share this, so their records mean the same thing.
 */
import { classifyError, type Outcome } from './outcome.js';

export interface IssueContext {
  /** 0, 1, 2, … in the order the generator sent its requests. */
  index: number;
  /** Aborted when the request timeout passes: a well-behaved issue function stops its request then. */
  signal: AbortSignal;
  timeoutMs: number;
}

/** What an issue function may say about a request it finished without throwing. */
export interface IssueAnswer {
  /** Default 'ok'. An issue function that sees an error answer may classify it itself instead of throwing. */
  outcome?: Exclude<Outcome, 'dropped'>;
  error?: string;
  /** Free text kept on the record (a routing bench: which node answered). */
  tag?: string;
}

/** Does one request; throws (or answers a non-ok outcome) when it failed. */
export type Issue = (context: IssueContext) => Promise<IssueAnswer | void>;

/** One request as the generator saw it; times are performance.now() milliseconds of this process. */
export interface RequestRecord {
  index: number;
  /** When it should have been sent: the open loop's schedule; the send time in a closed loop. */
  scheduledMs: number;
  /** When the issue function was called; NaN for a request the client dropped. */
  sentMs: number;
  /** When the answer (or the error, or the timeout) came; NaN for a dropped request. */
  endMs: number;
  outcome: Outcome;
  error?: string;
  tag?: string;
}

export type Clock = () => number;
export const performanceClock: Clock = () => performance.now();

/**
 * Calls `issue` now and resolves with its record once it settles or `timeoutMs` passes, whichever
 * is first (then the signal is aborted and the late answer ignored). Never rejects. Without a
 * scheduled time (a closed loop), the request is scheduled when it is sent.
 */
export function issueOne(issue: Issue, index: number, scheduledMs: number | undefined, timeoutMs: number, clock: Clock = performanceClock): Promise<RequestRecord> {
  const controller = new AbortController();
  const sentMs = clock();
  const scheduled = scheduledMs ?? sentMs;
  return new Promise<RequestRecord>((resolve) => {
    let settled = false;
    const finish = (outcome: Outcome, error?: string, tag?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const record: RequestRecord = { index, scheduledMs: scheduled, sentMs, endMs: clock(), outcome };
      if (error !== undefined) record.error = error;
      if (tag !== undefined) record.tag = tag;
      resolve(record);
    };
    const timer = setTimeout(() => {
      finish('timed_out', `no answer within ${timeoutMs} ms`);
      controller.abort(new DOMException(`request timeout of ${timeoutMs} ms`, 'TimeoutError'));
    }, timeoutMs);
    let pending: Promise<IssueAnswer | void>;
    try {
      pending = issue({ index, signal: controller.signal, timeoutMs });
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending.then(
      (answer) => finish(answer?.outcome ?? 'ok', answer?.error, answer?.tag),
      (err) => {
        const { outcome, message } = classifyError(err);
        finish(outcome, message);
      },
    );
  });
}
