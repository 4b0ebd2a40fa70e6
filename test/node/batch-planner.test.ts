/**
 * The batch planner's decisions as tables: a queue snapshot and a clock value in, run / wait /
 * idle out, counted in rows. Entries are written `rows[key]@enqueuedMs`, with `!expiresMs` for a
 * queue timeout and `-` for an entry that already left the queue.
 */
import { describe, expect, it } from 'vitest';
import { MAX_PLAN_SCAN, planBatch, type BatchPolicy, type PlanEntry } from '../../node/batch-planner.js';

function entry(spec: string): PlanEntry {
  const m = /^(-)?(\d+)(?:\[(\w*)\])?@(\d+)(?:!(\d+))?$/.exec(spec);
  if (!m) throw new Error(`bad entry ${spec}`);
  return {
    queued: m[1] === undefined,
    rows: Number(m[2]),
    key: m[3] === undefined ? 'a' : m[3] === '' ? undefined : m[3],
    enqueuedMs: Number(m[4]),
    expiresMs: m[5] === undefined ? undefined : Number(m[5]),
  };
}

const policy = (maxBatchSize: number, maxQueueDelayMs = 0, preferredBatchSizes: number[] = []): BatchPolicy =>
  ({ maxBatchSize, maxQueueDelayMs, preferredBatchSizes });

type Expect = { run: number[]; rows: number } | { wait: number } | 'idle';

const cases: Array<[string, BatchPolicy, string[], number, Expect, number[]?]> = [
  // Rows, not requests, are bounded by max_batch_size.
  ['two 8-row requests at max 8 run one by one', policy(8), ['8@0', '8@0'], 0, { run: [0], rows: 8 }],
  ['1+2+3 rows fit in 8 and run together', policy(8), ['1@0', '2@0', '3@0'], 0, { run: [0, 1, 2], rows: 6 }],
  ['the first that does not fit ends the batch (order kept)', policy(8), ['5@0', '4@0', '3@0'], 0, { run: [0], rows: 5 }],
  ['a model without a batch dim runs one request', policy(0), ['1@0', '1@0'], 0, { run: [0], rows: 1 }],
  // Shapes: other keys are passed over, not mixed; a request without a key runs alone.
  ['another shape is passed over and keeps its place', policy(8), ['2[a]@0', '2[b]@0', '2[a]@0'], 0, { run: [0, 2], rows: 4 }],
  ['a head without a batch key runs alone', policy(8), ['2[]@0', '2@0'], 0, { run: [0], rows: 2 }],
  ['a keyless entry behind is not batched in', policy(8), ['2@0', '2[]@0', '2@0'], 0, { run: [0, 2], rows: 4 }],
  ['entries that left the queue are skipped', policy(8), ['-2@0', '3@0', '-1@0', '4@0'], 0, { run: [1, 3], rows: 7 }],
  ['nothing live: idle', policy(8), ['-2@0'], 0, 'idle'],
  // Delay: hold a partial batch until its oldest entry has waited max_queue_delay.
  ['partial batch waits out the delay', policy(8, 5), ['2@10', '2@12'], 12, { wait: 15 }],
  ['delay measured from the oldest in the batch', policy(8, 5), ['2@12', '2@10'], 14, { wait: 15 }],
  ['delay passed: runs as it is', policy(8, 5), ['2@10', '2@12'], 15, { run: [0, 1], rows: 4 }],
  ['a full batch does not wait', policy(8, 5), ['4@10', '4@12'], 12, { run: [0, 1], rows: 8 }],
  ['a batch that cannot grow (next does not fit) does not wait', policy(8, 5), ['6@10', '4@12'], 12, { run: [0], rows: 6 }],
  ['delay 0 runs what is there', policy(8, 0), ['1@10'], 10, { run: [0], rows: 1 }],
  // Preferred sizes: the longest prefix that is a preferred size runs at once.
  ['a preferred size runs at once', policy(16, 100, [4, 8]), ['2@0', '2@0'], 1, { run: [0, 1], rows: 4 }],
  ['the largest preferred prefix runs, the rest waits', policy(16, 100, [4, 8]), ['4@0', '4@0', '2@0'], 1, { run: [0, 1], rows: 8 }],
  ['no preferred size reachable: wait', policy(16, 100, [4, 8]), ['3@0', '3@0'], 1, { wait: 100 }],
  ['no preferred size by the delay: run all', policy(16, 100, [4, 8]), ['3@0', '3@0'], 100, { run: [0, 1], rows: 6 }],
  ['preferred sizes count rows, not requests', policy(16, 100, [2]), ['1@0', '1@0', '1@0'], 1, { run: [0, 1], rows: 2 }],
  // Queue timeout / deadline: expired entries are reported, never run.
  ['expired entries are reported and skipped', policy(8), ['1@0!5', '2@1', '1@2!20'], 6, { run: [1, 2], rows: 3 }, [0]],
  ['only expired entries: idle', policy(8), ['1@0!5'], 5, 'idle', [0]],
  ['not yet expired runs', policy(8), ['1@0!5'], 4, { run: [0], rows: 1 }],
];

describe('planBatch', () => {
  it.each(cases)('%s', (_name, p, specs, now, want, expired = []) => {
    const plan = planBatch(specs.map(entry), 0, p, now);
    expect(plan.expired).toEqual(expired);
    if (want === 'idle') expect(plan).toMatchObject({ action: 'idle' });
    else if ('wait' in want) expect(plan).toMatchObject({ action: 'wait', untilMs: want.wait });
    else expect(plan).toMatchObject({ action: 'run', take: want.run, rows: want.rows });
  });

  it('starts at the queue head it is given', () => {
    const plan = planBatch(['1@0', '2@0', '3@0'].map(entry), 1, policy(8), 0);
    expect(plan).toMatchObject({ action: 'run', take: [1, 2], rows: 5 });
  });

  it(`reads at most MAX_PLAN_SCAN (${MAX_PLAN_SCAN}) live entries for one plan`, () => {
    const queue = [entry('1[a]@0'), ...Array.from({ length: MAX_PLAN_SCAN + 10 }, () => entry('1[b]@0')), entry('1[a]@0')];
    const plan = planBatch(queue, 0, policy(8), 0);
    expect(plan).toMatchObject({ action: 'run', take: [0], rows: 1 });
  });
});
