import { describe, expect, it } from 'vitest';
import { InferError } from '../../core/errors.js';
import type { LoadReport } from '../../core/load-report.js';
import { slowStartFactor } from '../../scheduler/slow-start.js';
import { ConfigError } from '../../core/errors.js';
import { type WeightInput, type WeightPolicy } from '../../scheduler/weight-policy.js';
import {
  AdjustedWeightPolicy,
  DEFAULT_STALE_AFTER_MS,
  withoutStaleReport,
  type WeightAdjustmentOptions,
} from '../../scheduler/weight-policy-adjusted.js';

const DIGITS = 12;
const T0 = 100_000;
/** Far enough in the past that slow start is over. */
const LONG_AGO_MS = -1_000_000;
/** A power of two, so the wrapper's product is exact in binary. */
const INNER_WEIGHT = 8;

const REPORT = { nodeId: 'n', utilization: 0.5 } as LoadReport;

function member(id: string, extra: Partial<WeightInput> = {}): WeightInput {
  return { id, capacity: 1, reportAgeMs: Infinity, joinedAtMs: LONG_AGO_MS, ...extra };
}

/** A plugged-in policy that records what it was given; `weightOf` undefined leaves the id out. */
class RecordingPolicy implements WeightPolicy {
  readonly name = 'recording';
  readonly updates: { inputs: readonly WeightInput[]; nowMs: number }[] = [];
  readonly forgotten: string[] = [];
  /** The map it hands back, kept: the wrapper must not write into it. */
  lastWeights = new Map<string, number>();

  constructor(readonly weightOf: (input: WeightInput) => number | undefined = () => INNER_WEIGHT) {}

  update(inputs: readonly WeightInput[], nowMs: number): Map<string, number> {
    this.updates.push({ inputs, nowMs });
    this.lastWeights = new Map();
    for (const input of inputs) {
      const weight = this.weightOf(input);
      if (weight !== undefined) this.lastWeights.set(input.id, weight);
    }
    return this.lastWeights;
  }

  forget(id: string): void {
    this.forgotten.push(id);
  }
}

function adjusted(options: WeightAdjustmentOptions = {}, inner = new RecordingPolicy()) {
  return { policy: new AdjustedWeightPolicy(inner, options), inner };
}

describe('AdjustedWeightPolicy: staleness', () => {
  it.each<[string, WeightAdjustmentOptions, number, boolean]>([
    ['fresh report', {}, 0, true],
    ['exactly the default staleAfterMs old still counts', {}, DEFAULT_STALE_AFTER_MS, true],
    ['1 ms past the default is hidden', {}, DEFAULT_STALE_AFTER_MS + 1, false],
    ['long stale is hidden', {}, 60_000, false],
    ['custom staleAfterMs: at the limit', { staleAfterMs: 1_000 }, 1_000, true],
    ['custom staleAfterMs: past it', { staleAfterMs: 1_000 }, 1_001, false],
    ['staleAfterMs 0: this instant only', { staleAfterMs: 0 }, 0, true],
    ['staleAfterMs 0: 1 ms old is hidden', { staleAfterMs: 0 }, 1, false],
    ['unknown age (NaN) is hidden', {}, NaN, false],
  ])('%s (age %d ms)', (_label, options, reportAgeMs, seen) => {
    const { policy, inner } = adjusted(options);
    const input = member('a', { report: REPORT, reportAgeMs });
    policy.update([input], T0);

    const received = inner.updates[0].inputs[0];
    if (seen) {
      expect(received).toBe(input);
    } else {
      // Only the report goes: the age is passed on as it is.
      expect(received).toEqual({ ...input, report: undefined });
      expect(input.report).toBe(REPORT); // the caller's input is untouched
    }
  });

  it('passes a member without a report as it is', () => {
    const { policy, inner } = adjusted();
    const input = member('a');
    policy.update([input], T0);
    expect(inner.updates[0].inputs[0]).toBe(input);
  });

  it('hides per member, in order, and forwards nowMs', () => {
    const { policy, inner } = adjusted();
    const inputs = [
      member('a', { report: REPORT, reportAgeMs: 100 }),
      member('b', { report: REPORT, reportAgeMs: 60_000 }),
      member('c'),
    ];
    policy.update(inputs, T0);
    expect(inner.updates).toHaveLength(1);
    expect(inner.updates[0].nowMs).toBe(T0);
    expect(inner.updates[0].inputs.map((i) => [i.id, i.report])).toEqual([
      ['a', REPORT],
      ['b', undefined],
      ['c', undefined],
    ]);
  });

  it('withoutStaleReport is the same rule, as a pure function', () => {
    const fresh = member('a', { report: REPORT, reportAgeMs: 5_000 });
    const stale = member('a', { report: REPORT, reportAgeMs: 5_001 });
    expect(withoutStaleReport(fresh, 5_000)).toBe(fresh);
    expect(withoutStaleReport(stale, 5_000)).toEqual({ ...stale, report: undefined });
  });
});

describe('AdjustedWeightPolicy: slow start', () => {
  it.each<[string, WeightAdjustmentOptions, number, number]>([
    ['floor at join', {}, 0, 0.1],
    ['join in the future (clock step) counts as just joined', {}, -1_000, 0.1],
    ['linear: a quarter in', {}, 2_500, 0.325],
    ['linear: half way', {}, 5_000, 0.55],
    ['1 ms before the end', {}, 9_999, 0.99991],
    ['1 at the end of the window', {}, 10_000, 1],
    ['1 long after', {}, 1e9, 1],
    ['custom window and floor', { slowStartWindowMs: 4_000, slowStartFloor: 0.5 }, 1_000, 0.625],
    ['custom floor at join', { slowStartFloor: 0.25 }, 0, 0.25],
    ['off with window 0: at join', { slowStartWindowMs: 0 }, 0, 1],
    ['off with window 0: joined in the future', { slowStartWindowMs: 0 }, -1_000, 1],
  ])('%s: elapsed %d ms → × %d', (_label, options, elapsedMs, factor) => {
    const { policy, inner } = adjusted(options);
    const joinedAtMs = T0;
    const nowMs = T0 + elapsedMs;
    const weights = policy.update([member('a', { joinedAtMs })], nowMs);

    expect(weights.get('a')).toBeCloseTo(INNER_WEIGHT * factor, DIGITS);
    const ramp = { windowMs: options.slowStartWindowMs ?? 10_000, floor: options.slowStartFloor ?? 0.1 };
    expect(weights.get('a')).toBe(INNER_WEIGHT * slowStartFactor(joinedAtMs, nowMs, ramp));
    // The inner policy sees the join time and answers its full weight; only the output is scaled.
    expect(inner.updates[0].inputs[0].joinedAtMs).toBe(joinedAtMs);
    expect(inner.lastWeights.get('a')).toBe(INNER_WEIGHT);
  });

  it('scales each member by its own join time, keeps the inner order, and leaves 0 at 0', () => {
    const weightOf = (input: WeightInput) => (input.id === 'z' ? 0 : INNER_WEIGHT);
    const { policy } = adjusted({}, new RecordingPolicy(weightOf));
    const inputs = [member('c', { joinedAtMs: T0 }), member('a', { joinedAtMs: T0 - 5_000 }), member('b'), member('z', { joinedAtMs: T0 })];
    const weights = policy.update(inputs, T0);
    expect([...weights.keys()]).toEqual(['c', 'a', 'b', 'z']);
    [0.8, 4.4, 8, 0].forEach((expected, i) => expect([...weights.values()][i]).toBeCloseTo(expected, DIGITS));
  });

  it('returns a map of its own and leaves out ids the inner policy left out', () => {
    const inner = new RecordingPolicy((input) => (input.id === 'a' ? INNER_WEIGHT : undefined));
    const { policy } = adjusted({}, inner);
    const weights = policy.update([member('a', { joinedAtMs: T0 }), member('b')], T0);
    expect(weights).not.toBe(inner.lastWeights);
    expect([...weights.keys()]).toEqual(['a']);
    expect(weights.get('a')).toBeCloseTo(0.8, DIGITS);
    expect([...inner.lastWeights]).toEqual([['a', INNER_WEIGHT]]);
  });
});

describe('AdjustedWeightPolicy: identity and options', () => {
  it('keeps the inner name', () => {
    expect(adjusted().policy.name).toBe('recording');
  });

  it('forwards forget', () => {
    const { policy, inner } = adjusted();
    policy.forget('a');
    policy.forget('b');
    expect(inner.forgotten).toEqual(['a', 'b']);
  });

  it.each<[WeightAdjustmentOptions]>([
    [{ staleAfterMs: -1 }],
    [{ staleAfterMs: NaN }],
    [{ slowStartWindowMs: -1 }],
    [{ slowStartWindowMs: Infinity }],
    [{ slowStartFloor: 0 }],
    [{ slowStartFloor: 1.5 }],
  ])('rejects %j with a ConfigError at construction', (options) => {
    expect(() => adjusted(options)).toThrow(ConfigError);
    expect(() => adjusted(options)).not.toThrow(InferError);
  });

  it('the ConfigError carries the message and its own name', () => {
    expect(() => adjusted({ staleAfterMs: -1 })).toThrow('staleAfterMs must be >= 0, got -1');
    expect(() => adjusted({ staleAfterMs: -1 })).toThrow(expect.objectContaining({ name: 'ConfigError' }));
  });
});
