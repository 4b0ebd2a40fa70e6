import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../core/errors.js';
import {
  chooseShortestExpectedDelay,
  DEFAULT_QUEUE_BUDGET,
  expectedDelay,
  MAX_QUEUE_CAP,
  MIN_QUEUE_CAP,
  queueBudget,
  queueCap,
  type DelayCandidate,
} from '../../scheduler/in-flight-guard.js';

describe('queueBudget', () => {
  const m = (weight: number, slots?: number) => ({ weight, slots });

  it('defaults to 2 × the median service time of one slot', () => {
    expect(DEFAULT_QUEUE_BUDGET).toBe(2);
    // The routing bench's fleet: speeds 1,1,2,4,1,1,2,4 with 2 slots: slot services 2,2,1,0.5,… → median 1.5.
    const fleet = [1, 1, 2, 4, 1, 1, 2, 4].map((w) => m(w, 2));
    expect(queueBudget(fleet)).toBe(3);
  });

  it.each<[string, { weight: number; slots?: number }[], number, number | undefined]>([
    ['odd count', [m(1, 1), m(2, 1), m(4, 1)], 1, 0.5],
    ['unknown slots count as one', [m(2), m(2)], 1, 0.5],
    ['members without a positive weight are left out', [m(0, 1), m(NaN, 1), m(2, 2)], 3, 3],
    ['no member with a weight', [m(0, 2)], 2, undefined],
    ['empty pool', [], 2, undefined],
  ])('%s', (_label, members, factor, expected) => {
    expect(queueBudget(members, factor)).toBe(expected);
  });

  it.each([0, -1, NaN, Infinity])('rejects factor %d', (factor) => {
    expect(() => queueBudget([m(1, 1)], factor)).toThrow(ConfigError);
  });
});

describe('queueCap', () => {
  it.each<[string, number | undefined, number, number | undefined, number]>([
    ['unknown slots: no cap', undefined, 1, 3, Infinity],
    ['0 slots (models loading): the minimum', 0, 1, 3, MIN_QUEUE_CAP],
    ['no budget yet: the slots', 4, 1, undefined, 4],
    ['no budget yet, 1 slot: the minimum', 1, 1, undefined, MIN_QUEUE_CAP],
    ['weight 0: the slots', 3, 0, 3, 3],
    // The bench fleet with budget 3: a speed-1 card (service 2) takes one queued request (2.67),
    // a speed-2 card four (delay 3.17 at the fifth), a speed-4 card ten.
    ['speed 1, 2 slots', 2, 1, 3, 3],
    ['speed 2, 2 slots', 2, 2, 3, 6],
    ['speed 4, 2 slots', 2, 4, 3, 12],
    ['a budget below one service: the slots', 2, 1, 1, 2],
    ['equal cards at the default budget (2 × their service): 2 per slot', 2, 1, 4, 4],
    ['a huge budget is bounded', 2, 1, 1e12, MAX_QUEUE_CAP],
  ])('%s', (_label, slots, weight, budget, expected) => {
    expect(queueCap(slots, weight, budget)).toBe(expected);
  });

  it('each card holds about the same time of work: the cap is where one more would exceed the budget', () => {
    for (const weight of [0.5, 1, 3, 8]) {
      for (const slots of [1, 2, 4]) {
        const budget = 3;
        const cap = queueCap(slots, weight, budget);
        if (cap > slots && cap > MIN_QUEUE_CAP) expect(expectedDelay({ id: 'x', inFlight: cap - 1, slots, weight })).toBeLessThanOrEqual(budget);
        if (cap < MAX_QUEUE_CAP && cap >= slots && cap > MIN_QUEUE_CAP) expect(expectedDelay({ id: 'x', inFlight: cap, slots, weight })).toBeGreaterThan(budget);
      }
    }
  });
});

describe('expectedDelay', () => {
  it.each<[DelayCandidate, number]>([
    [{ id: 'a', inFlight: 0, weight: 1 }, 1],
    // One slot: k in flight → the running call is half done on average, then k − 1 full services.
    [{ id: 'a', inFlight: 1, weight: 1 }, 1.5],
    [{ id: 'a', inFlight: 3, weight: 4 }, 0.875],
    [{ id: 'a', inFlight: 4, weight: 4 }, 1.125],
    [{ id: 'a', inFlight: 2, weight: 0.5 }, 5],
    [{ id: 'a', inFlight: -3, weight: 2 }, 0.5],
    [{ id: 'a', inFlight: 0, weight: 0 }, Infinity],
    [{ id: 'a', inFlight: 0, weight: -1 }, Infinity],
    [{ id: 'a', inFlight: 0, weight: NaN }, Infinity],
    [{ id: 'a', inFlight: 0, weight: Infinity }, Infinity],
    // With slots: a free slot costs one slot's service time (slots / weight), whatever is in flight.
    [{ id: 'a', inFlight: 0, weight: 4, slots: 2 }, 0.5],
    [{ id: 'a', inFlight: 1, weight: 4, slots: 2 }, 0.5],
    // Both slots busy: the first of two running calls ends after 1/3 of a service on average …
    [{ id: 'a', inFlight: 2, weight: 4, slots: 2 }, 0.5 + 0.5 / 3],
    // … the second after 2/3; then two finish per service time.
    [{ id: 'a', inFlight: 3, weight: 4, slots: 2 }, 0.5 + 1 / 3],
    [{ id: 'a', inFlight: 7, weight: 4, slots: 2 }, 0.5 + 1 / 3 + 1],
    [{ id: 'a', inFlight: 0, weight: 1, slots: 2 }, 2],
    [{ id: 'a', inFlight: 0, weight: 1, slots: 0 }, 1],
  ])('%j → %d', (candidate, expected) => {
    expect(expectedDelay(candidate)).toBeCloseTo(expected, 12);
  });

  it('a fast card with both slots and a queue of one busy still beats an idle card of a quarter its speed', () => {
    // The S1 fleet: speed-4 and speed-2 cards with 2 slots beside speed-1 cards.
    const idleSlow = expectedDelay({ id: 'slow', inFlight: 0, weight: 1, slots: 2 });
    expect(expectedDelay({ id: 'x2', inFlight: 3, weight: 2, slots: 2 })).toBeLessThan(idleSlow);
    expect(expectedDelay({ id: 'x4', inFlight: 5, weight: 4, slots: 2 })).toBeLessThan(idleSlow);
  });

  it('takes the weight to use from the caller', () => {
    const candidate: DelayCandidate = { id: 'a', inFlight: 0, weight: 4, slots: 2 };
    expect(expectedDelay(candidate, 0.4)).toBeCloseTo(5, 12);
    expect(expectedDelay(candidate, 0)).toBe(Infinity);
  });
});

describe('chooseShortestExpectedDelay', () => {
  const c = (id: string, inFlight: number, weight: number): DelayCandidate => ({ id, inFlight, weight });

  it.each<[string, DelayCandidate[], string | undefined]>([
    ['empty', [], undefined],
    ['one', [c('a', 100, 1)], 'a'],
    ['tie goes to the first (SWRR order)', [c('a', 0, 1), c('b', 0, 1)], 'a'],
    ['fewer in flight wins at equal weight', [c('a', 3, 1), c('b', 1, 1)], 'b'],
    ['weight scales the delay: 3.5/4 < 1/1', [c('a', 3, 4), c('b', 0, 1)], 'a'],
    ['weight scales the delay: 4.5/4 > 1/1', [c('a', 4, 4), c('b', 0, 1)], 'b'],
    ['heavier node absorbs more in flight', [c('a', 2, 1), c('b', 9, 4)], 'b'], // 2.5 vs 2.375
    ['slowed node loses after its queue grew', [c('fast', 6, 4), c('slow', 0, 4)], 'slow'],
    ['weight 0 never beats a positive weight', [c('z', 0, 0), c('b', 100, 1)], 'b'],
    ['no usable weight: the first', [c('a', 0, 0), c('b', 0, NaN)], 'a'],
    ['three candidates', [c('a', 5, 2), c('b', 2, 1), c('c', 8, 4)], 'c'], // 2.75, 2.5, 2.125
  ])('%s', (_label, candidates, expected) => {
    expect(chooseShortestExpectedDelay(candidates)?.id).toBe(expected);
  });

  it('uses the weights the caller gives', () => {
    const candidates = [c('a', 0, 4), c('b', 1, 1)];
    expect(chooseShortestExpectedDelay(candidates)?.id).toBe('a');
    expect(chooseShortestExpectedDelay(candidates, (x) => (x.id === 'a' ? 0.4 : x.weight))?.id).toBe('b');
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
