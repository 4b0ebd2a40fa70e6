/**
 * Which queued requests an idle instance runs next, counted in batch rows (Triton's dynamic batcher
 * is the anchor). Pure: it reads a queue snapshot and a clock value and says run, wait or idle; the
 * executor owns the queue, the timers and the instances.
 *
 * The rules, in order:
 * - Entries are read in the queue's order (the executor keeps it by priority, then arrival). Those
 *   past their expiry (queue timeout, deadline) are reported as expired, never run.
 * - The first live entry heads the batch. Later entries join when their batch key equals the head's
 *   (same inputs, datatypes and non-batch dims: no padding) and their rows still fit in
 *   max_batch_size; an entry of another key is passed over and keeps its place. The first entry of
 *   the head's key that does not fit ends the batch, so requests of one shape keep their order.
 * - A batch runs at once when it is full (max_batch_size rows, or the next one does not fit), when
 *   its head cannot batch (no key, or a model without a batch dim), or when the queue delay is 0.
 * - Otherwise, with preferred batch sizes: the longest prefix whose rows are a preferred size runs
 *   at once. With none reachable, or no preferred sizes: the batch waits until its oldest entry has
 *   waited max_queue_delay, then runs as it is.
 */

/** How the planner batches; built from the declaration by batchPolicyOf. */
export interface BatchPolicy {
  /** Rows per batch; 0: the model has no batch dim, each request runs alone. */
  maxBatchSize: number;
  /** Rows the planner runs at once when a prefix of the batch adds up to one; ascending. */
  preferredBatchSizes: readonly number[];
  /** How long the oldest request of a batch may wait for a fuller one; 0: run what is queued. */
  maxQueueDelayMs: number;
}

/** One queued request as the planner sees it. */
export interface PlanEntry {
  /** False once taken or cancelled: skipped. */
  readonly queued: boolean;
  /** Batch rows it brings (1 for a model without a batch dim). */
  readonly rows: number;
  /** Entries batch together only when their keys are equal; undefined: it runs alone. */
  readonly key: string | undefined;
  /** When it entered the queue (the caller's clock, milliseconds). */
  readonly enqueuedMs: number;
  /** When it must leave the queue unrun (queue timeout or deadline), same clock; undefined: never. */
  readonly expiresMs: number | undefined;
}

export type BatchPlan =
  /** Run the entries at `take` (queue indices, in order) as one batch of `rows` rows. */
  | { action: 'run'; take: number[]; rows: number; expired: number[] }
  /** Nothing should run before `untilMs` unless more arrives. */
  | { action: 'wait'; untilMs: number; expired: number[] }
  /** Nothing live is queued. */
  | { action: 'idle'; expired: number[] };

/**
 * Live entries one plan reads at most: a batch whose head's shape is rare among thousands queued
 * must not cost a scan of them all per plan. Entries past it are batched by later plans.
 */
export const MAX_PLAN_SCAN = 512;

/** The next batch from `queue[start..]` at time `nowMs`. */
export function planBatch(queue: readonly PlanEntry[], start: number, policy: BatchPolicy, nowMs: number): BatchPlan {
  const expired: number[] = [];
  const take: number[] = [];
  let rows = 0;
  let oldestMs = Infinity;
  let headKey: string | undefined;
  let full = false;
  let scanned = 0;
  for (let i = start; i < queue.length && scanned < MAX_PLAN_SCAN; i++) {
    const e = queue[i];
    if (!e.queued) continue;
    scanned++;
    if (e.expiresMs !== undefined && e.expiresMs <= nowMs) {
      expired.push(i);
      continue;
    }
    if (take.length === 0) {
      take.push(i);
      rows = e.rows;
      oldestMs = e.enqueuedMs;
      headKey = e.key;
      if (policy.maxBatchSize <= 0 || e.key === undefined || rows >= policy.maxBatchSize) {
        full = true;
        break;
      }
      continue;
    }
    if (e.key !== headKey) continue;
    if (rows + e.rows > policy.maxBatchSize) {
      full = true;
      break;
    }
    take.push(i);
    rows += e.rows;
    if (e.enqueuedMs < oldestMs) oldestMs = e.enqueuedMs;
    if (rows === policy.maxBatchSize) {
      full = true;
      break;
    }
  }
  if (take.length === 0) return { action: 'idle', expired };
  if (full || policy.maxQueueDelayMs <= 0) return { action: 'run', take, rows, expired };
  const preferred = longestPreferredPrefix(queue, take, policy.preferredBatchSizes);
  if (preferred > 0) {
    const prefix = take.slice(0, preferred);
    return { action: 'run', take: prefix, rows: prefix.reduce((n, i) => n + queue[i].rows, 0), expired };
  }
  const untilMs = oldestMs + policy.maxQueueDelayMs;
  if (nowMs >= untilMs) return { action: 'run', take, rows, expired };
  return { action: 'wait', untilMs, expired };
}

/** How many entries of `take`, from the first, add up to the largest preferred size reachable; 0: none. */
function longestPreferredPrefix(queue: readonly PlanEntry[], take: readonly number[], preferred: readonly number[]): number {
  if (preferred.length === 0) return 0;
  let best = 0;
  let rows = 0;
  for (let k = 0; k < take.length; k++) {
    rows += queue[take[k]].rows;
    if (preferred.includes(rows)) best = k + 1;
  }
  return best;
}
