import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../core/errors.js';
import {
  chooseShortestExpectedDelay,
  DEFAULT_IN_FLIGHT_CAP_FACTOR,
  DEFAULT_MIN_IN_FLIGHT_CAP,
  expectedDelay,
  inFlightCap,
  isAtInFlightCap,
  type DelayCandidate,
  type InFlightCapOptions,
} from '../../scheduler/in-flight-guard.js';

describe('inFlightCap', () => {
  it('defaults', () => {
    expect(DEFAULT_IN_FLIGHT_CAP_FACTOR).toBe(2);
    expect(DEFAULT_MIN_IN_FLIGHT_CAP).toBe(2);
  });

  it.each<[string, number | undefined, InFlightCapOptions, number]>([
    ['4 slots × 2', 4, {}, 8],
    ['1 slot × 2', 1, {}, 2],
    ['0 slots (models loading): the minimum', 0, {}, 2],
    ['negative slots: the minimum', -2, {}, 2],
    ['unknown slots: no cap', undefined, {}, Infinity],
    ['fractional product rounds up', 3, { factor: 2.5 }, 8],
    ['factor 1, min 1', 1, { factor: 1, min: 1 }, 1],
    ['min above slots × factor', 2, { factor: 1, min: 5 }, 5],
    ['many slots', 64, { factor: 2 }, 128],
  ])('%s', (_label, slots, options, expected) => {
    expect(inFlightCap(slots, options)).toBe(expected);
  });

  it.each<[InFlightCapOptions]>([[{ factor: 0 }], [{ factor: -1 }], [{ factor: NaN }], [{ factor: Infinity }], [{ min: 0 }], [{ min: NaN }]])(
    'rejects %j',
    (options) => {
      expect(() => inFlightCap(4, options)).toThrow(ConfigError);
    },
  );
});

describe('isAtInFlightCap', () => {
  it.each([
    [15, 16, false],
    [16, 16, true],
    [17, 16, true],
    [0, 4, false],
    [1e9, Infinity, false],
  ])('%d in flight, cap %d → sits out: %s', (inFlight, cap, expected) => {
    expect(isAtInFlightCap(inFlight, cap)).toBe(expected);
  });
});

describe('expectedDelay', () => {
  it.each<[DelayCandidate, number]>([
    [{ id: 'a', inFlight: 0, weight: 1 }, 1],
    [{ id: 'a', inFlight: 3, weight: 4 }, 1],
    [{ id: 'a', inFlight: 4, weight: 4 }, 1.25],
    [{ id: 'a', inFlight: 2, weight: 0.5 }, 6],
    [{ id: 'a', inFlight: -3, weight: 2 }, 0.5],
    [{ id: 'a', inFlight: 0, weight: 0 }, Infinity],
    [{ id: 'a', inFlight: 0, weight: -1 }, Infinity],
    [{ id: 'a', inFlight: 0, weight: NaN }, Infinity],
    [{ id: 'a', inFlight: 0, weight: Infinity }, Infinity],
    // With slots: a free slot costs one slot's service time (slots / weight), whatever is in flight.
    [{ id: 'a', inFlight: 0, weight: 4, slots: 2 }, 0.5],
    [{ id: 'a', inFlight: 1, weight: 4, slots: 2 }, 0.5],
    [{ id: 'a', inFlight: 2, weight: 4, slots: 2 }, 0.75],
    [{ id: 'a', inFlight: 7, weight: 4, slots: 2 }, 2],
    [{ id: 'a', inFlight: 0, weight: 1, slots: 2 }, 2],
    [{ id: 'a', inFlight: 0, weight: 1, slots: 0 }, 1],
  ])('%j → %d', (candidate, expected) => {
    expect(expectedDelay(candidate)).toBe(expected);
  });
});

describe('chooseShortestExpectedDelay', () => {
  const c = (id: string, inFlight: number, weight: number): DelayCandidate => ({ id, inFlight, weight });

  it.each<[string, DelayCandidate[], string | undefined]>([
    ['empty', [], undefined],
    ['one', [c('a', 100, 1)], 'a'],
    ['tie goes to the first (SWRR order)', [c('a', 0, 1), c('b', 0, 1)], 'a'],
    ['fewer in flight wins at equal weight', [c('a', 3, 1), c('b', 1, 1)], 'b'],
    ['weight scales the delay: 4/4 = 1/1 is a tie', [c('a', 3, 4), c('b', 0, 1)], 'a'],
    ['weight scales the delay: 5/4 > 1/1', [c('a', 4, 4), c('b', 0, 1)], 'b'],
    ['heavier node absorbs more in flight', [c('a', 2, 1), c('b', 10, 4)], 'b'], // 3 vs 2.75
    ['slowed node loses after its queue grew', [c('fast', 6, 4), c('slow', 0, 4)], 'slow'],
    ['weight 0 never beats a positive weight', [c('z', 0, 0), c('b', 100, 1)], 'b'],
    ['no usable weight: the first', [c('a', 0, 0), c('b', 0, NaN)], 'a'],
    ['three candidates', [c('a', 5, 2), c('b', 2, 1), c('c', 8, 4)], 'c'], // 3, 3, 2.25
  ])('%s', (_label, candidates, expected) => {
    expect(chooseShortestExpectedDelay(candidates)?.id).toBe(expected);
  });

  it('returns the caller’s own object, extra fields included', () => {
    const candidates = [
      { id: 'a', inFlight: 9, weight: 1, url: 'http://a' },
      { id: 'b', inFlight: 0, weight: 1, url: 'http://b' },
    ];
    const chosen = chooseShortestExpectedDelay(candidates);
    expect(chosen).toBe(candidates[1]);
    expect(chosen?.url).toBe('http://b');
  });
});
