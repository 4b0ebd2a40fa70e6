/**
 * How calibrated throughput becomes a pool member's capacity prior: a table over the pure mapping,
 * then a real BackendPool fed load reports with and without calibration.
 */
import { describe, expect, it } from 'vitest';
import type { LoadReport } from '../../core/load-report.js';
import type { ModelMetadata } from '../../core/model-metadata.js';
import type { Backend } from '../../scheduler/backend.js';
import { calibratedCapacities, calibratedThroughput, type CapacityEvidence } from '../../scheduler/calibrated-capacity.js';
import { BackendPool, DEFAULT_POOL_OPTIONS } from '../../scheduler/pool.js';
import { createRoutingPolicy } from '../../scheduler/routing-policy.js';

describe('calibratedCapacities', () => {
  const table: Array<[string, CapacityEvidence[], number[]]> = [
    ['no figures: the priors', [{ prior: 1 }, { prior: 4 }], [1, 4]],
    ['one figure: it defines the scale, so that node keeps its prior', [{ prior: 2, measured: 500 }, { prior: 4 }], [2, 4]],
    ['same cards, one 3× faster: ratios as measured, around the median rate', [{ prior: 1, measured: 100 }, { prior: 1, measured: 300 }], [0.5, 1.5]],
    ['measured as the cards promise: the priors', [{ prior: 1, measured: 100 }, { prior: 4, measured: 400 }, { prior: 2, measured: 200 }], [1, 4, 2]],
    // The card table says 4× but this model runs only 2× faster there (memory-bound, say).
    ['the table overstates a card for this model', [{ prior: 1, measured: 100 }, { prior: 4, measured: 200 }, { prior: 1, measured: 100 }], [1, 2, 1]],
    ['unmeasured members stay on their prior beside measured ones', [{ prior: 1, measured: 100 }, { prior: 1, measured: 300 }, { prior: 3 }], [0.5, 1.5, 3]],
    ['a zero or absurd figure is no figure', [{ prior: 1, measured: 0 }, { prior: 2, measured: Number.NaN }], [1, 2]],
    ['clamped to the band around the prior', [{ prior: 1, measured: 1 }, { prior: 1, measured: 1 }, { prior: 1, measured: 1e6 }], [1, 1, 100]],
  ];
  it.each(table)('%s', (_what, members, expected) => {
    const got = calibratedCapacities(members);
    expect(got.map((v) => Number(v.toFixed(6)))).toEqual(expected);
  });
});

const META: ModelMetadata = { name: 'm', versions: ['1'], platform: 'test', inputs: [], outputs: [], maxBatchSize: 0 };
const backend: Backend = { id: 'unused', infer: async () => { throw new Error('not called'); }, close: async () => {} };

function report(nodeId: string, cards: LoadReport['cards'], calibration?: LoadReport['calibration']): LoadReport {
  return {
    nodeId, url: `http://${nodeId}`, state: 'ready', cards, inFlight: 0, queueDepth: 0, slots: 1, utilization: 0,
    completedPerSec: 0, errorsPerSec: 0, serviceTimeMs: 0, latencyMs: 0, windowMs: 1000, models: [{ name: 'm', versions: ['1'] }],
    ...(calibration ? { calibration } : {}), sentAtMs: 0,
  };
}
const entry = (model: string, version: string, card: string, inferencesPerSec: number) =>
  ({ model, version, card, cardType: 'cpu-core', engine: 'onnx', batch: 1, inferencesPerSec, p50Ms: 1, p99Ms: 2 });

describe('calibratedThroughput', () => {
  it("sums the node's cards for the pool's model and version only", () => {
    const r = report('a', [], [entry('m', '1', 'gpu0', 300), entry('m', '1', 'gpu1', 200), entry('m', '2', 'gpu0', 999), entry('other', '1', 'gpu0', 999)]);
    expect(calibratedThroughput(r, 'm', '1')).toBe(500);
    expect(calibratedThroughput(r, 'm', '3')).toBeUndefined();
    expect(calibratedThroughput(report('b', []), 'm', '1')).toBeUndefined();
  });
});

describe('BackendPool with calibrated reports', () => {
  it('weights members by measured throughput, the card table as the prior of those without a figure', () => {
    // The static policy weights by capacity, so the weights show the capacities the pool computed.
    const pool = new BackendPool('m', '1', META, createRoutingPolicy('static', { slowStartWindowMs: 0 }), DEFAULT_POOL_OPTIONS, () => 0);
    const cpu4 = [{ type: 'cpu-core', count: 1, coefficient: 0.4 }];
    for (const id of ['a', 'b', 'old']) pool.upsert({ id, nodeId: id, url: `http://${id}`, backend, capacity: 0.4 }, 0);
    pool.report('a', report('a', cpu4, [entry('m', '1', 'cpu', 100)]), 0);
    pool.report('b', report('b', cpu4, [entry('m', '1', 'cpu', 300)]), 0);
    pool.report('old', report('old', cpu4), 0);
    pool.recomputeWeights(0);
    const weights = Object.fromEntries(pool.members().map((m) => [m.id, Number(m.weight.toFixed(6))]));
    expect(weights).toEqual({ a: 0.2, b: 0.6, old: 0.4 });
  });
});
