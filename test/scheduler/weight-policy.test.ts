import { describe, expect, it } from 'vitest';
import { InferError } from '../../core/errors.js';
import type { LoadReport } from '../../core/load-report.js';
import {
  DEFAULT_SLOW_START,
  DEFAULT_SLOW_START_FLOOR,
  DEFAULT_SLOW_START_WINDOW_MS,
  resolveSlowStart,
  slowStartFactor,
} from '../../scheduler/slow-start.js';
import { ConfigError } from '../../core/errors.js';
import { type WeightInput, type WeightPolicy } from '../../scheduler/weight-policy.js';
import { AdjustedWeightPolicy, DEFAULT_STALE_AFTER_MS } from '../../scheduler/weight-policy-adjusted.js';
import {
  createWeightPolicy,
  DEFAULT_WEIGHT_POLICY_NAME,
  isWeightPolicyName,
  WEIGHT_POLICY_NAMES,
} from '../../scheduler/weight-policy-factory.js';
import { StaticWeightPolicy } from '../../scheduler/weight-policy-static.js';
import {
  ASTRA_IDLE_LOAD_TERM,
  AstraWeightPolicy,
  astraWeight,
  DEFAULT_ASTRA_MIN_WEIGHT_FRACTION,
} from '../../scheduler/weight-policy-astra.js';
import {
  thinWindowCapacity,
  CapacityWeightPolicy,
  DEFAULT_CAPACITY_CLAMP_RATIO,
  DEFAULT_ERROR_PENALTY,
  DEFAULT_MEASUREMENT_EXPIRY_MS,
  DEFAULT_MIN_COMPLETIONS_PER_WINDOW,
  DEFAULT_RISE_HALF_LIFE_MS,
  measuredCapacity,
} from '../../scheduler/weight-policy-capacity.js';

const DIGITS = 12;
/** Far enough in the past that slow start is over. */
const LONG_AGO_MS = -1_000_000;
const T0 = 100_000;

function loadReport(load: Partial<LoadReport> = {}): LoadReport {
  return {
    nodeId: 'n',
    url: 'http://127.0.0.1:9001',
    state: 'ready',
    cards: [],
    inFlight: 0,
    queueDepth: 0,
    slots: 4,
    utilization: 0,
    completedPerSec: 0,
    errorsPerSec: 0,
    serviceTimeMs: 0,
    latencyMs: 0,
    windowMs: 1_000,
    models: [],
    sentAtMs: 0,
    ...load,
  };
}

function member(id: string, capacity: number, extra: Partial<WeightInput> = {}): WeightInput {
  return { id, capacity, reportAgeMs: Infinity, joinedAtMs: LONG_AGO_MS, ...extra };
}

/** A member with a report received `ageMs` ago. */
function reporting(id: string, capacity: number, load: Partial<LoadReport>, ageMs = 0): WeightInput {
  return member(id, capacity, { report: loadReport(load), reportAgeMs: ageMs });
}

/** A member whose report measures `ratePerUnit × capacity` requests/s at full utilization. */
function measuring(id: string, capacity: number, ratePerUnit: number, utilization = 0.5): WeightInput {
  return reporting(id, capacity, { utilization, completedPerSec: ratePerUnit * capacity * utilization });
}

function weightsOf(policy: WeightPolicy, inputs: WeightInput[], nowMs: number): number[] {
  const weights = policy.update(inputs, nowMs);
  expect([...weights.keys()]).toEqual(inputs.map((i) => i.id));
  return [...weights.values()];
}

function expectWeights(actual: number[], expected: number[]): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((w, i) => expect(w, `weight ${i}`).toBeCloseTo(expected[i], DIGITS));
}

describe('defaults', () => {
  it('are named and have the documented values', () => {
    expect(DEFAULT_SLOW_START_WINDOW_MS).toBe(10_000);
    expect(DEFAULT_SLOW_START_FLOOR).toBe(0.1);
    expect(DEFAULT_STALE_AFTER_MS).toBe(5_000);
    expect(DEFAULT_ASTRA_MIN_WEIGHT_FRACTION).toBe(0.001);
    expect(DEFAULT_ERROR_PENALTY).toBe(1);
    expect(DEFAULT_MIN_COMPLETIONS_PER_WINDOW).toBe(10);
    expect(DEFAULT_RISE_HALF_LIFE_MS).toBe(3_000);
    expect(DEFAULT_CAPACITY_CLAMP_RATIO).toBe(100);
    expect(DEFAULT_MEASUREMENT_EXPIRY_MS).toBe(30_000);
    expect(DEFAULT_WEIGHT_POLICY_NAME).toBe('capacity');
  });
});

describe('slowStartFactor', () => {
  it.each([
    ['joined in the future (clock step)', -1_000, DEFAULT_SLOW_START, 0.1],
    ['just joined', 0, DEFAULT_SLOW_START, 0.1],
    ['a quarter in', 2_500, DEFAULT_SLOW_START, 0.325],
    ['half way', 5_000, DEFAULT_SLOW_START, 0.55],
    ['1 ms before the end', 9_999, DEFAULT_SLOW_START, 0.99991],
    ['at the end', 10_000, DEFAULT_SLOW_START, 1],
    ['long after', 1e9, DEFAULT_SLOW_START, 1],
    ['turned off', 0, { windowMs: 0, floor: 0.1 }, 1],
    ['custom floor and window', 1_000, { windowMs: 4_000, floor: 0.5 }, 0.625],
  ])('%s: elapsed %d ms → %d', (_label, elapsedMs, ramp, expected) => {
    expect(slowStartFactor(T0, T0 + elapsedMs, ramp)).toBeCloseTo(expected, DIGITS);
  });

  it.each([
    [-1, 0.1],
    [Infinity, 0.1],
    [NaN, 0.1],
    [10_000, 0],
    [10_000, 1.5],
    [10_000, NaN],
  ])('rejects window %d, floor %d', (windowMs, floor) => {
    expect(() => resolveSlowStart(windowMs, floor)).toThrow(ConfigError);
    expect(() => resolveSlowStart(windowMs, floor)).not.toThrow(InferError);
  });

  it('fills in defaults', () => {
    expect(resolveSlowStart()).toEqual({ windowMs: 10_000, floor: 0.1 });
  });
});

describe('createWeightPolicy', () => {
  it.each(WEIGHT_POLICY_NAMES.map((name) => [name]))('builds %s', (name) => {
    expect(createWeightPolicy(name).name).toBe(name);
    expect(isWeightPolicyName(name)).toBe(true);
  });

  // The wrapper hides the class, so each policy is told apart by its formula on one input:
  // static reads staticWeight, astra scales the prior by ln 101, capacity seeds with the prior.
  it.each<[string, number]>([
    ['static', 5],
    ['astra', 2 * Math.log(101)],
    ['capacity', 2],
  ])('builds %s wrapped in AdjustedWeightPolicy', (name, expected) => {
    const policy = createWeightPolicy(name);
    expect(policy).toBeInstanceOf(AdjustedWeightPolicy);
    expectWeights(weightsOf(policy, [member('a', 2, { staticWeight: 5 })], T0), [expected]);
  });

  it('rejects an unknown name with a ConfigError, not a client-facing InferError', () => {
    expect(isWeightPolicyName('least-conn')).toBe(false);
    expect(() => createWeightPolicy('least-conn')).toThrow(/unknown weight policy 'least-conn'.*static, astra, capacity/);
    let thrown: unknown;
    try {
      createWeightPolicy('least-conn');
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect(thrown).not.toBeInstanceOf(InferError);
  });

  it.each([
    ['static', { slowStartFloor: 0 }],
    ['astra', { staleAfterMs: -1 }],
    ['astra', { minWeightFraction: 0 }],
    ['capacity', { clampRatio: 0.5 }],
    ['capacity', { riseHalfLifeMs: -1 }],
    ['capacity', { errorPenalty: NaN }],
    ['capacity', { minCompletions: -1 }],
    ['capacity', { measurementExpiryMs: Infinity }],
  ])('%s rejects bad options %j at construction', (name, options) => {
    expect(() => createWeightPolicy(name, options)).toThrow(ConfigError);
    expect(() => createWeightPolicy(name, options)).not.toThrow(InferError);
  });

  it('passes options through', () => {
    const policy = createWeightPolicy('static', { slowStartWindowMs: 0 });
    expectWeights(weightsOf(policy, [member('a', 2, { joinedAtMs: T0 })], T0), [2]);
  });
});

// Policies as createWeightPolicy builds them (slow start and staleness applied by the wrapper)
// wherever a case depends on either; the bare classes elsewhere.
describe('StaticWeightPolicy', () => {
  const policy = createWeightPolicy('static');
  const busy = { utilization: 0.95, inFlight: 40, completedPerSec: 100, serviceTimeMs: 10, latencyMs: 400 };

  it.each<[string, WeightInput, number]>([
    ['prior when no weight is given', member('a', 2), 2],
    ['operator weight over the prior', member('a', 2, { staticWeight: 5 }), 5],
    ['operator weight 0 sits out', member('a', 2, { staticWeight: 0 }), 0],
    ['does not move with load', reporting('a', 2, busy), 2],
    ['does not move with errors', reporting('a', 2, { ...busy, errorsPerSec: 90 }), 2],
    ['ignores a stale report', reporting('a', 2, busy, 60_000), 2],
    ['capacity 0 sits out', member('a', 0), 0],
    ['negative capacity sits out', member('a', -3), 0],
    ['NaN capacity sits out', member('a', NaN), 0],
    ['slow start: just joined', member('a', 2, { joinedAtMs: T0 }), 0.2],
    ['slow start: mid-ramp', member('a', 2, { joinedAtMs: T0 - 2_500 }), 0.65],
    ['slow start: done', member('a', 2, { joinedAtMs: T0 - 10_000 }), 2],
  ])('%s', (_label, input, expected) => {
    expectWeights(weightsOf(policy, [input], T0), [expected]);
  });

  it('bare: no slow start of its own', () => {
    expectWeights(weightsOf(new StaticWeightPolicy(), [member('a', 2, { joinedAtMs: T0 })], T0), [2]);
  });
});

describe('AstraWeightPolicy', () => {
  // capacity 2 throughout: weight = 2 × ln(1 + 100·(1 − u)) × busyShare.
  const idle = 2 * Math.log(101); // 9.23024103368252
  const contended = { inFlight: 8, completedPerSec: 100, serviceTimeMs: 20, latencyMs: 40 }; // busyShare 0.5

  it('idle load term is ln 101', () => {
    expect(ASTRA_IDLE_LOAD_TERM).toBeCloseTo(4.61512051684126, DIGITS);
  });

  it.each<[string, WeightInput, number]>([
    ['no report: idle prior', member('a', 2), 9.23024103368252],
    ['idle report', reporting('a', 2, { utilization: 0 }), 9.23024103368252],
    ['loaded, u = 0.5, no queueing', reporting('a', 2, { utilization: 0.5, inFlight: 2, completedPerSec: 100, serviceTimeMs: 20, latencyMs: 20 }), 2 * Math.log(51)],
    ['loaded, u = 0.5, queueing (service/latency 0.5)', reporting('a', 2, { utilization: 0.5, ...contended }), 3.9318256327243257],
    ['loaded, u = 0.9, queueing', reporting('a', 2, { utilization: 0.9, ...contended }), 2.3978952727983707],
    ['u = 0.8, service/latency 0.25', reporting('a', 2, { utilization: 0.8, inFlight: 8, completedPerSec: 100, serviceTimeMs: 10, latencyMs: 40 }), 1.5222612188617115],
    ['saturated: floor = idle × 0.001', reporting('a', 2, { utilization: 1, ...contended }), 0.009230241033682519],
    ['utilization over 1 counts as 1', reporting('a', 2, { utilization: 1.2, ...contended }), 0.009230241033682519],
    ['nothing in flight: busy share 1', reporting('a', 2, { utilization: 0.5, ...contended, inFlight: 0 }), 2 * Math.log(51)],
    ['nothing completed: busy share 1', reporting('a', 2, { utilization: 0.5, ...contended, completedPerSec: 0 }), 2 * Math.log(51)],
    ['service over latency (jitter): busy share 1', reporting('a', 2, { utilization: 0.5, ...contended, serviceTimeMs: 50 }), 2 * Math.log(51)],
    ['errors do not enter the formula', reporting('a', 2, { utilization: 0.5, ...contended, errorsPerSec: 90 }), 3.9318256327243257],
    ['report exactly staleAfterMs old still counts', reporting('a', 2, { utilization: 0.5, ...contended }, 5_000), 3.9318256327243257],
    ['stale report: idle prior', reporting('a', 2, { utilization: 0.5, ...contended }, 5_001), 9.23024103368252],
    ['capacity 0 sits out, floor included', reporting('a', 0, { utilization: 1 }), 0],
  ])('%s', (_label, input, expected) => {
    expectWeights(weightsOf(createWeightPolicy('astra'), [input], T0), [expected]);
  });

  it('slow start multiplies the formula: mid-ramp', () => {
    const input = reporting('a', 2, { utilization: 0.5, ...contended });
    const joined = { ...input, joinedAtMs: T0 - 2_500 };
    expectWeights(weightsOf(createWeightPolicy('astra'), [joined], T0), [1.277843330635406]);
  });

  it('bare: reads the report it is given, however old, and applies no slow start', () => {
    const input = { ...reporting('a', 2, { utilization: 0.5, ...contended }, 60_000), joinedAtMs: T0 };
    expectWeights(weightsOf(new AstraWeightPolicy(), [input], T0), [3.9318256327243257]);
  });

  it('minWeightFraction sets the floor', () => {
    const policy = new AstraWeightPolicy({ minWeightFraction: 0.01 });
    expectWeights(weightsOf(policy, [reporting('a', 2, { utilization: 1 })], T0), [0.0923024103368252]);
  });

  it('staleAfterMs is an option', () => {
    const policy = createWeightPolicy('astra', { staleAfterMs: 1_000 });
    const input = reporting('a', 2, { utilization: 0.5, ...contended }, 1_001);
    expectWeights(weightsOf(policy, [input], T0), [idle]);
  });

  it('weight falls as the load it sends rises (the oscillation driver)', () => {
    const weights = [0, 0.2, 0.4, 0.6, 0.8, 0.95, 1].map((u) =>
      astraWeight(2, loadReport({ utilization: u, ...contended })),
    );
    for (let i = 1; i < weights.length; i++) expect(weights[i]).toBeLessThan(weights[i - 1]);
  });

  it('is stateless: the same snapshot gives the same weights', () => {
    const policy = new AstraWeightPolicy();
    const inputs = [reporting('a', 2, { utilization: 0.5, ...contended }), member('b', 1)];
    const first = weightsOf(policy, inputs, T0);
    expectWeights(weightsOf(policy, inputs, T0 + 60_000), first);
    expectWeights(first, [3.9318256327243257, Math.log(101)]);
  });
});

describe('measuredCapacity', () => {
  it.each<[string, Partial<LoadReport>, number | undefined]>([
    ['qps / utilization', { completedPerSec: 100, utilization: 0.5 }, 200],
    ['same ratio at another load', { completedPerSec: 25, utilization: 0.125 }, 200],
    ['errors add penalty × eps/qps to utilization', { completedPerSec: 100, utilization: 0.5, errorsPerSec: 50 }, 100],
    ['utilization 0 but errors', { completedPerSec: 100, utilization: 0, errorsPerSec: 25 }, 400],
    ['utilization over 1 counts as 1', { completedPerSec: 100, utilization: 1.5 }, 100],
    ['exactly the minimum completions', { completedPerSec: 10, utilization: 0.5 }, 20],
    ['minimum completions over a longer window', { completedPerSec: 5, utilization: 0.5, windowMs: 2_000 }, 10],
    ['too few completions', { completedPerSec: 9.9, utilization: 0.5 }, undefined],
    ['nothing completed', { completedPerSec: 0, utilization: 0.5 }, undefined],
    // Busy (≥ SATURATED_UTILIZATION) yet too few completions: a slow node, bounded from above by
    // minCompletions per window over its utilization.
    ['too few completions while busy: upper bound', { completedPerSec: 2, utilization: 0.9 }, 10 / 0.9],
    ['nothing completed while fully busy: upper bound', { completedPerSec: 0, utilization: 1 }, 10],
    ['no utilization, no errors: no information', { completedPerSec: 100, utilization: 0 }, undefined],
    ['empty window', { completedPerSec: 100, utilization: 0.5, windowMs: 0 }, undefined],
  ])('%s', (_label, load, expected) => {
    const m = measuredCapacity(loadReport(load));
    if (expected === undefined) expect(m).toBeUndefined();
    else expect(m).toBeCloseTo(expected, DIGITS);
  });

  it('errorPenalty scales the error term', () => {
    expect(measuredCapacity(loadReport({ completedPerSec: 100, utilization: 0.5, errorsPerSec: 50 }), 0)).toBe(200);
    expect(measuredCapacity(loadReport({ completedPerSec: 100, utilization: 0.5, errorsPerSec: 50 }), 3)).toBe(50);
  });
});

describe('CapacityWeightPolicy', () => {
  // Pool: a (prior 1), b (prior 2), c (prior 4). "As declared" = 200 requests/s per coefficient unit.
  const RATE = 200;
  const asDeclared = (u = 0.5): WeightInput[] => [measuring('a', 1, RATE, u), measuring('b', 2, RATE, u), measuring('c', 4, RATE, u)];

  it('seeds with the prior before reports arrive', () => {
    const policy = new CapacityWeightPolicy();
    expectWeights(weightsOf(policy, [member('a', 1), member('b', 2), member('c', 4)], T0), [1, 2, 4]);
  });

  it('nodes that perform as their cards promise stay on their prior', () => {
    expectWeights(weightsOf(new CapacityWeightPolicy(), asDeclared(), T0), [1, 2, 4]);
  });

  it('does not move with load at constant capacity (same qps/utilization, same weight)', () => {
    const policy = new CapacityWeightPolicy();
    let now = T0;
    for (const u of [0.1, 0.5, 0.9, 1, 0.3]) {
      // Each node at a different utilization, all at their declared rate.
      const inputs = [measuring('a', 1, RATE, u), measuring('b', 2, RATE, 1 - u / 2), measuring('c', 4, RATE, 0.75)];
      expectWeights(weightsOf(policy, inputs, now), [1, 2, 4]);
      now += 3_000;
    }
  });

  it('normalises by the median rate per unit: measured ratios are kept exactly', () => {
    // a: 300/unit, b: 200/unit, c: 100/unit → median 200; weights = prior × rate/200.
    const inputs = [measuring('a', 1, 300), measuring('b', 2, 200), measuring('c', 4, 100)];
    const policy = new CapacityWeightPolicy({ riseHalfLifeMs: 0 });
    expectWeights(weightsOf(policy, inputs, T0), [1.5, 2, 2]);
  });

  it('median of an even count is the mean of the middle two', () => {
    // a: 300/unit, b: 100/unit → k = 200.
    const policy = new CapacityWeightPolicy({ riseHalfLifeMs: 0 });
    expectWeights(weightsOf(policy, [measuring('a', 1, 300), measuring('b', 2, 100)], T0), [1.5, 1]);
  });

  it('a drop applies at once, a rise ramps with the half-life', () => {
    const policy = new CapacityWeightPolicy();
    const throttled = [measuring('a', 1, RATE), measuring('b', 2, RATE), measuring('c', 4, RATE / 2)];
    const table: [number, WeightInput[], number[]][] = [
      [T0, asDeclared(), [1, 2, 4]],
      [T0 + 1_000, throttled, [1, 2, 2]], // c halves: at once
      [T0 + 4_000, asDeclared(), [1, 2, 3]], // 3 s later: half the gap (2 → 4)
      [T0 + 7_000, asDeclared(), [1, 2, 3.5]],
      [T0 + 8_500, asDeclared(), [1, 2, 3.646446609406726]], // 3.5 + 0.5 × (1 − 2^−0.5)
      [T0 + 8_500, asDeclared(), [1, 2, 3.646446609406726]], // no time passed: no rise
      [T0 + 9_000, throttled, [1, 2, 2]], // drops again at once from mid-ramp
    ];
    for (const [now, inputs, expected] of table) expectWeights(weightsOf(policy, inputs, now), expected);
  });

  it('the first measurement above the prior ramps up from the prior', () => {
    const policy = new CapacityWeightPolicy();
    // c measures 400/unit, twice a and b: target 8.
    const inputs = [measuring('a', 1, RATE), measuring('b', 2, RATE), measuring('c', 4, 2 * RATE)];
    expectWeights(weightsOf(policy, inputs, T0), [1, 2, 4]);
    expectWeights(weightsOf(policy, inputs, T0 + 3_000), [1, 2, 6]);
    expectWeights(weightsOf(policy, inputs, T0 + 6_000), [1, 2, 7]);
  });

  it('riseHalfLifeMs 0 applies rises at once', () => {
    const policy = new CapacityWeightPolicy({ riseHalfLifeMs: 0 });
    const inputs = [measuring('a', 1, RATE), measuring('b', 2, RATE), measuring('c', 4, 2 * RATE)];
    expectWeights(weightsOf(policy, inputs, T0), [1, 2, 8]);
  });

  it('errors cut the weight (penalty × eps/qps added to utilization)', () => {
    // a: qps 100, u 0.5, 50 errors/s → 100 req/s → 100/unit vs the pool's 200.
    const erring = reporting('a', 1, { completedPerSec: 100, utilization: 0.5, errorsPerSec: 50 });
    const rest = [measuring('b', 2, RATE), measuring('c', 4, RATE)];
    expectWeights(weightsOf(new CapacityWeightPolicy(), [erring, ...rest], T0), [0.5, 2, 4]);
    expectWeights(weightsOf(new CapacityWeightPolicy({ errorPenalty: 0 }), [erring, ...rest], T0), [1, 2, 4]);
  });

  it('a thin window keeps the previous weight, until the measurement expires', () => {
    const policy = new CapacityWeightPolicy();
    const rest = [measuring('b', 2, RATE), measuring('c', 4, RATE)];
    const slow = reporting('a', 1, { completedPerSec: 50, utilization: 0.5 }); // 100/unit → 0.5
    const thin = reporting('a', 1, { completedPerSec: 5, utilization: 0.5 }); // 5 completions < 10
    const table: [number, WeightInput, number][] = [
      [T0, slow, 0.5],
      [T0 + 3_000, thin, 0.5],
      [T0 + 30_000, thin, 0.5], // exactly the expiry: still kept
      [T0 + 33_000, thin, 0.75], // expired: target = prior 1, half the gap in 3 s
      [T0 + 36_000, thin, 0.875],
      [T0 + 39_000, slow, 0.5], // measured again: drop at once
    ];
    for (const [now, a, expected] of table) expectWeights(weightsOf(policy, [a, ...rest], now), [expected, 2, 4]);
  });

  it('a thin window may lift a cut weight by the execution time it shows (recovery), and cut one only far below it', () => {
    const policy = new CapacityWeightPolicy();
    const rest = [measuring('b', 2, RATE), measuring('c', 4, RATE)];
    const slow = reporting('a', 1, { completedPerSec: 50, utilization: 0.5 }); // 100/unit → 0.5
    // 2 completions, 4 slots at 20 ms each: 200 requests/s = 200/unit, the pool's rate → target 1.
    const recovered = reporting('a', 1, { completedPerSec: 2, utilization: 0.01, serviceTimeMs: 20 });
    // 2 completions at 80 ms: 50/unit → 0.25, below the weight: ignored.
    const slower = reporting('a', 1, { completedPerSec: 2, utilization: 0.02, serviceTimeMs: 80 });
    // 2 completions at 300 ms: 13.3/unit → 0.067, under a third of the weight: cut at once.
    const crawling = reporting('a', 1, { completedPerSec: 2, utilization: 0.03, serviceTimeMs: 300 });
    const table: [number, WeightInput, number][] = [
      [T0, slow, 0.5],
      [T0 + 3_000, slower, 0.5],
      [T0 + 6_000, recovered, 0.75], // half the gap to 1 in 3 s
      [T0 + 9_000, recovered, 0.875],
      [T0 + 12_000, crawling, 4 * 1000 / 300 / 200],
    ];
    for (const [now, a, expected] of table) expectWeights(weightsOf(policy, [a, ...rest], now), [expected, 2, 4]);
  });

  it.each<[string, Partial<LoadReport>, number | undefined]>([
    ['one completion, 2 slots at 25 ms', { completedPerSec: 1, serviceTimeMs: 25, slots: 2 }, 80],
    ['no completion', { completedPerSec: 0, serviceTimeMs: 25, slots: 2 }, undefined],
    ['no execution time', { completedPerSec: 3, serviceTimeMs: 0, slots: 2 }, undefined],
    ['no slots', { completedPerSec: 3, serviceTimeMs: 25, slots: 0 }, undefined],
  ])('thinWindowCapacity: %s', (_name, load, expected) => {
    expect(thinWindowCapacity(loadReport(load))).toBe(expected);
  });

  it('never measured, thin windows: the prior', () => {
    const policy = new CapacityWeightPolicy();
    const thin = reporting('a', 1, { completedPerSec: 5, utilization: 0.5 });
    expectWeights(weightsOf(policy, [thin, ...asDeclared().slice(1)], T0), [1, 2, 4]);
  });

  it('a stale report falls back to the prior: at once from above, ramped from below', () => {
    const policy = createWeightPolicy('capacity');
    // a measures 400/unit (target 2, above its prior), c 100/unit (target 2, below); b is the median.
    const a = measuring('a', 1, 2 * RATE);
    const b = measuring('b', 2, RATE);
    const c = measuring('c', 4, RATE / 2);
    const stale = (input: WeightInput): WeightInput => ({ ...input, reportAgeMs: 5_001 });
    const table: [number, WeightInput[], number[]][] = [
      [T0, [a, b, c], [1, 2, 2]], // a starts its rise from the prior, c drops at once
      [T0 + 3_000, [a, b, c], [1.5, 2, 2]],
      [T0 + 6_000, [stale(a), b, stale(c)], [1, 2, 3]], // a drops to its prior at once, c ramps towards it
      [T0 + 9_000, [stale(a), b, stale(c)], [1, 2, 3.5]],
    ];
    for (const [now, inputs, expected] of table) expectWeights(weightsOf(policy, inputs, now), expected);
  });

  it('staleAfterMs is an option', () => {
    const policy = createWeightPolicy('capacity', { staleAfterMs: 1_000, riseHalfLifeMs: 0 });
    const inputs = [{ ...measuring('a', 1, 2 * RATE), reportAgeMs: 1_001 }, measuring('b', 2, RATE), measuring('c', 4, RATE)];
    expectWeights(weightsOf(policy, inputs, T0), [1, 2, 4]);
  });

  it('a report exactly staleAfterMs old still counts', () => {
    const policy = createWeightPolicy('capacity', { riseHalfLifeMs: 0 });
    const inputs = [{ ...measuring('a', 1, 2 * RATE), reportAgeMs: 5_000 }, measuring('b', 2, RATE), measuring('c', 4, RATE)];
    expectWeights(weightsOf(policy, inputs, T0), [2, 2, 4]);
  });

  it('clamps to [prior / 100, prior × 100]', () => {
    const policy = new CapacityWeightPolicy({ riseHalfLifeMs: 0 });
    const huge = [measuring('a', 1, RATE), measuring('b', 2, RATE), measuring('c', 4, RATE * 1_000)];
    expectWeights(weightsOf(policy, huge, T0), [1, 2, 400]);
    // c: 0.4 req/s at u 0.5 over a 100 s window (40 completions) → 0.2/unit.
    const tiny = [measuring('a', 1, RATE), measuring('b', 2, RATE), reporting('c', 4, { completedPerSec: 0.4, utilization: 0.5, windowMs: 100_000 })];
    expectWeights(weightsOf(policy, tiny, T0 + 1), [1, 2, 0.04]);
    const narrow = new CapacityWeightPolicy({ riseHalfLifeMs: 0, clampRatio: 2 });
    expectWeights(weightsOf(narrow, huge, T0), [1, 2, 8]);
  });

  it('slow start scales the output, not the estimate', () => {
    const policy = createWeightPolicy('capacity');
    const joinedAtMs = T0;
    const fresh = (id: string, capacity: number): WeightInput => ({ ...measuring(id, capacity, RATE), joinedAtMs });
    const table: [number, number[]][] = [
      [T0, [0.1, 0.2, 0.4]],
      [T0 + 2_500, [0.325, 0.65, 1.3]],
      [T0 + 5_000, [0.55, 1.1, 2.2]],
      [T0 + 10_000, [1, 2, 4]],
    ];
    for (const [now, expected] of table) {
      expectWeights(weightsOf(policy, [fresh('a', 1), fresh('b', 2), fresh('c', 4)], now), expected);
    }
  });

  it('a rejoin (new joinedAtMs) starts over from the prior', () => {
    const policy = createWeightPolicy('capacity', { slowStartWindowMs: 0 });
    const slowC = measuring('c', 4, RATE / 2);
    const rest = [measuring('a', 1, RATE), measuring('b', 2, RATE)];
    expectWeights(weightsOf(policy, [...rest, slowC], T0), [1, 2, 2]);
    expectWeights(weightsOf(policy, [...rest, { ...member('c', 4), joinedAtMs: T0 + 1_000 }], T0 + 1_000), [1, 2, 4]);
  });

  it('forget drops the state (through the wrapper too)', () => {
    const policy = createWeightPolicy('capacity');
    const rest = [measuring('a', 1, RATE), measuring('b', 2, RATE)];
    expectWeights(weightsOf(policy, [...rest, measuring('c', 4, RATE / 2)], T0), [1, 2, 2]);
    expectWeights(weightsOf(policy, [...rest, member('c', 4)], T0 + 3_000), [1, 2, 3]); // ramping back
    policy.forget('c');
    expectWeights(weightsOf(policy, [...rest, member('c', 4)], T0 + 3_000), [1, 2, 4]);
  });

  it('bare: reads the report it is given, however old, and applies no slow start', () => {
    const policy = new CapacityWeightPolicy({ riseHalfLifeMs: 0 });
    const old = (input: WeightInput): WeightInput => ({ ...input, reportAgeMs: 60_000, joinedAtMs: T0 });
    const inputs = [old(measuring('a', 1, 2 * RATE)), old(measuring('b', 2, RATE)), old(measuring('c', 4, RATE))];
    expectWeights(weightsOf(policy, inputs, T0), [2, 2, 4]);
  });

  it('a member without a usable prior gets 0 and does not skew the median', () => {
    const policy = new CapacityWeightPolicy({ riseHalfLifeMs: 0 });
    const zero = reporting('z', 0, { completedPerSec: 1_000, utilization: 0.1 });
    expectWeights(weightsOf(policy, [zero, ...asDeclared()], T0), [0, 1, 2, 4]);
  });
});
