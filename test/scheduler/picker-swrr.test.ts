import { describe, it, expect } from 'vitest';
import { SwrrPicker, type SwrrMemberState } from '../../scheduler/picker-swrr.js';
import { NaiveSwrrPicker } from '../../scheduler/picker-swrr-naive.js';
import { seededRandom } from '../../bench/support/seeded-random.js';

type Picker = SwrrPicker | NaiveSwrrPicker;
type Make = (random?: () => number) => Picker;

const PICKERS: [string, Make][] = [
  ['SwrrPicker', (random) => new SwrrPicker({ random })],
  ['NaiveSwrrPicker', (random) => new NaiveSwrrPicker({ random })],
];


function randomInt(random: () => number, lo: number, hi: number): number {
  return lo + Math.floor(random() * (hi - lo + 1));
}

function build(make: Make, weights: Record<string, number>, random?: () => number): Picker {
  const picker = make(random);
  for (const [id, w] of Object.entries(weights)) picker.add(id, w);
  return picker;
}

function picks(picker: Picker, count: number): (string | undefined)[] {
  const out: (string | undefined)[] = [];
  for (let i = 0; i < count; i++) out.push(picker.pick());
  return out;
}

function counts(seq: (string | undefined)[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const id of seq) if (id !== undefined) out[id] = (out[id] ?? 0) + 1;
  return out;
}

const SEQUENCES: { name: string; weights: Record<string, number>; expected: string }[] = [
  { name: '{a:5, b:1, c:1} (nginx docs)', weights: { a: 5, b: 1, c: 1 }, expected: 'aabacaa aabacaa' },
  { name: '{a:1, b:1, c:1}', weights: { a: 1, b: 1, c: 1 }, expected: 'abc abc abc' },
  { name: '{a:3, b:2}', weights: { a: 3, b: 2 }, expected: 'ababa ababa' },
  { name: 'weight-0 member never picked', weights: { a: 2, z: 0, b: 1 }, expected: 'aba aba aba' },
  { name: '{a:1, b:2}', weights: { a: 1, b: 2 }, expected: 'bab bab' },
  { name: 'equal currents: the member added first wins, not the first by name', weights: { b: 1, a: 1 }, expected: 'ba ba ba' },
  { name: 'single member', weights: { solo: 4 }, expected: 'solo solo' },
];

describe.each(PICKERS)('%s', (_name, make) => {
  describe('exact sequences', () => {
    it.each(SEQUENCES)('$name', ({ weights, expected }) => {
      const picker = build(make, weights);
      const ids = Object.keys(weights);
      const tokens = expected.replace(/ /g, '');
      // Split the expectation into ids: single letters, or whole ids for the one-member case.
      const want = ids.every((id) => id.length === 1) ? [...tokens] : expected.split(' ');
      expect(picks(picker, want.length)).toEqual(want);
    });

    it('returns undefined when empty, all ineligible, or all weight 0', () => {
      const picker = make();
      expect(picker.pick()).toBeUndefined();
      picker.add('a', 2);
      picker.add('b', 3);
      picker.setEligible('a', false);
      picker.setEligible('b', false);
      expect(picker.pick()).toBeUndefined();
      picker.setEligible('a', true);
      expect(picker.pick()).toBe('a');
      picker.setWeight('a', 0);
      expect(picker.pick()).toBeUndefined();
      const zero = build(make, { x: 0, y: 0 });
      expect(picks(zero, 3)).toEqual([undefined, undefined, undefined]);
    });
  });

  describe('membership and validation', () => {
    it('rejects duplicates, bad weights and unknown ids with stable codes', () => {
      const codeOf = (f: () => void): string | undefined => {
        try {
          f();
        } catch (err) {
          return (err as { code?: string }).code;
        }
        return undefined;
      };
      const picker = build(make, { a: 1 });
      expect(codeOf(() => picker.add('a', 1))).toBe('PICKER_DUPLICATE_MEMBER');
      for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
        expect(codeOf(() => picker.add('b', bad))).toBe('PICKER_BAD_WEIGHT');
        expect(codeOf(() => picker.setWeight('a', bad))).toBe('PICKER_BAD_WEIGHT');
      }
      expect(picker.has('b')).toBe(false);
      expect(picker.snapshot()).toEqual([{ id: 'a', weight: 1, current: 0, eligible: true }]);
      expect(codeOf(() => picker.remove('nope'))).toBe('PICKER_UNKNOWN_MEMBER');
      expect(codeOf(() => picker.setWeight('nope', 1))).toBe('PICKER_UNKNOWN_MEMBER');
      expect(codeOf(() => picker.setEligible('nope', true))).toBe('PICKER_UNKNOWN_MEMBER');
      expect(codeOf(() => make(() => 1).add('x', 1))).toBe('PICKER_BAD_RANDOM');
    });

    it('reports size, has, and snapshots in insertion order (a re-added id goes last)', () => {
      const picker = build(make, { a: 1, b: 2, c: 3 });
      picker.remove('a');
      picker.add('a', 4);
      expect(picker.size).toBe(3);
      expect(picker.has('a')).toBe(true);
      expect(picker.snapshot().map((m) => m.id)).toEqual(['b', 'c', 'a']);
      picker.remove('b');
      expect(picker.size).toBe(2);
      expect(picker.has('b')).toBe(false);
    });
  });

  describe('sitting out and weight changes', () => {
    it('freezes current while ineligible and resumes from it', () => {
      const picker = build(make, { a: 1, b: 1, c: 2 });
      picks(picker, 3);
      const before = picker.snapshot().find((m) => m.id === 'b')!;
      picker.setEligible('b', false);
      const seq = picks(picker, 9);
      expect(seq).not.toContain('b');
      expect(counts(seq)).toEqual({ a: 3, c: 6 });
      const frozen = picker.snapshot().find((m) => m.id === 'b')!;
      expect(frozen).toEqual({ ...before, eligible: false });
      picker.setEligible('b', true);
      expect(picker.snapshot().find((m) => m.id === 'b')!.current).toBe(before.current);
      // From here the pool behaves as a fresh {1,1,2} would from the same currents: exact shares.
      expect(counts(picks(picker, 40))).toEqual({ a: 10, b: 10, c: 20 });
    });

    it('keeps current continuous across a weight change', () => {
      const picker = build(make, { a: 5, b: 1, c: 1 });
      picks(picker, 4);
      const before = picker.snapshot();
      picker.setWeight('a', 2);
      picker.setWeight('b', 0);
      const after = picker.snapshot();
      expect(after.map((m) => m.current)).toEqual(before.map((m) => m.current));
      expect(after.map((m) => m.weight)).toEqual([2, 0, 1]);
      // b at weight 0 keeps its current frozen and is never picked.
      expect(picks(picker, 30)).not.toContain('b');
      expect(picker.snapshot()[1].current).toBe(before[1].current);
    });
  });

  describe('long-run shares', () => {
    it.each([1, 2, 3, 4, 5])('are exact over every window of Σw picks (seed %i)', (seed) => {
      const random = seededRandom(seed);
      const weights: Record<string, number> = {};
      const n = randomInt(random, 1, 12);
      for (let i = 0; i < n; i++) weights[`m${i}`] = randomInt(random, 0, 30);
      weights.last = 7;
      const total = Object.values(weights).reduce((s, w) => s + w, 0);
      const picker = build(make, weights);
      for (let window = 0; window < 5; window++) {
        const got = counts(picks(picker, total));
        for (const [id, w] of Object.entries(weights)) expect(got[id] ?? 0).toBe(w);
      }
    });

    it('keeps shares proportional with non-integer weights', () => {
      const weights = { a: 41.7, b: 3.14159, c: 0.001, d: 12 };
      const total = 41.7 + 3.14159 + 0.001 + 12;
      const picker = build(make, weights);
      const n = 100_000;
      const got = counts(picks(picker, n));
      for (const [id, w] of Object.entries(weights)) {
        expect(Math.abs((got[id] ?? 0) - (n * w) / total)).toBeLessThanOrEqual(4);
      }
    });
  });

  describe('random start phase', () => {
    it('de-synchronises pickers but keeps shares exact per Σw window', () => {
      const weights = { a: 5, b: 1, c: 1, d: 3, e: 1, f: 1, g: 1, h: 1 };
      const total = 14;
      const seqs = [11, 22, 33].map((seed) => {
        const picker = build(make, weights, seededRandom(seed));
        const seq = picks(picker, total * 6);
        for (let window = 0; window < 6; window++) {
          expect(counts(seq.slice(window * total, (window + 1) * total))).toEqual(weights);
        }
        return seq.join(',');
      });
      expect(new Set(seqs).size).toBe(3);
    });

    it('gives equal-weight pools different starting members', () => {
      const firsts = new Set<string | undefined>();
      for (let seed = 1; seed <= 20; seed++) {
        const picker = build(make, { a: 1, b: 1, c: 1, d: 1 }, seededRandom(seed));
        const seq = picks(picker, 8);
        expect(counts(seq)).toEqual({ a: 2, b: 2, c: 2, d: 2 });
        firsts.add(seq[0]);
      }
      expect(firsts.size).toBeGreaterThan(1);
    });

    it('starts each member in (-weight, 0], with 0 without random', () => {
      const plain = build(make, { a: 3, b: 1 });
      expect(plain.snapshot().map((m) => m.current)).toEqual([0, 0]);
      const phased = make(seededRandom(9));
      for (let i = 0; i < 50; i++) phased.add(`m${i}`, 1 + (i % 7));
      for (const m of phased.snapshot()) {
        expect(m.current).toBeLessThanOrEqual(0);
        expect(m.current).toBeGreaterThan(-m.weight);
      }
    });
  });
});

/** Applies the same random operations to both pickers and requires identical results throughout. */
function driveBoth(seed: number, steps: number, opts: { maxWeight: number; maxMembers: number; phase: boolean }): number {
  const random = seededRandom(seed);
  const fast = new SwrrPicker(opts.phase ? { random: seededRandom(seed * 7 + 1) } : {});
  const naive = new NaiveSwrrPicker(opts.phase ? { random: seededRandom(seed * 7 + 1) } : {});
  const ids: string[] = [];
  const removed: string[] = [];
  let nextId = 0;
  let picked = 0;
  const both = (f: (p: Picker) => void): void => {
    f(fast);
    f(naive);
  };
  const weight = (): number => (random() < 0.1 ? 0 : randomInt(random, 1, opts.maxWeight));
  for (let i = 0; i < 8; i++) {
    const id = `n${nextId++}`;
    const w = weight();
    both((p) => p.add(id, w));
    ids.push(id);
  }
  for (let step = 0; step < steps; step++) {
    const r = random();
    if (r < 0.75) {
      const got = fast.pick();
      expect(got).toBe(naive.pick());
      if (got !== undefined) picked++;
    } else if (r < 0.83 && ids.length > 0) {
      const id = ids[randomInt(random, 0, ids.length - 1)];
      const w = weight();
      both((p) => p.setWeight(id, w));
    } else if (r < 0.9 && ids.length > 0) {
      const id = ids[randomInt(random, 0, ids.length - 1)];
      const eligible = random() < 0.6;
      both((p) => p.setEligible(id, eligible));
    } else if (r < 0.95 && ids.length < opts.maxMembers) {
      // Now and then an id comes back: it must rank as the newest member, not at its old place.
      const reuse = removed.length > 0 && random() < 0.3;
      const id = reuse ? removed.splice(randomInt(random, 0, removed.length - 1), 1)[0] : `n${nextId++}`;
      const w = weight();
      both((p) => p.add(id, w));
      ids.push(id);
    } else if (ids.length > 0) {
      const at = randomInt(random, 0, ids.length - 1);
      const id = ids[at];
      both((p) => p.remove(id));
      ids.splice(at, 1);
      removed.push(id);
    }
    if (step % 97 === 0) expect(fast.snapshot()).toEqual(naive.snapshot());
  }
  expect(fast.snapshot()).toEqual(naive.snapshot());
  expect(fast.size).toBe(naive.size);
  return picked;
}

describe('SwrrPicker matches the naive scan pick for pick', () => {
  it.each([1, 2, 3, 4, 5, 6, 7, 8])('random operations, small pool (seed %i)', (seed) => {
    expect(driveBoth(seed, 5_000, { maxWeight: 10, maxMembers: 20, phase: false })).toBeGreaterThan(1_000);
  });

  it.each([11, 12, 13, 14])('random operations, pool growing to 300, weights 1..100 (seed %i)', (seed) => {
    expect(driveBoth(seed, 6_000, { maxWeight: 100, maxMembers: 300, phase: false })).toBeGreaterThan(1_000);
  });

  it.each([21, 22, 23])('random operations with random start phase (seed %i)', (seed) => {
    expect(driveBoth(seed, 5_000, { maxWeight: 50, maxMembers: 60, phase: true })).toBeGreaterThan(1_000);
  });

  it.each([31, 32])('huge weights, forcing many re-bases of the pick counter (seed %i)', (seed) => {
    expect(driveBoth(seed, 5_000, { maxWeight: 2 ** 36, maxMembers: 12, phase: true })).toBeGreaterThan(1_000);
  });

  it('dyadic fractional weights are exact too', () => {
    const weights = { a: 0.5, b: 1.25, c: 2.75, d: 0.125 };
    const fast = new SwrrPicker();
    const naive = new NaiveSwrrPicker();
    for (const [id, w] of Object.entries(weights)) {
      fast.add(id, w);
      naive.add(id, w);
    }
    expect(picks(fast, 4_000)).toEqual(picks(naive, 4_000));
    expect(fast.snapshot()).toEqual(naive.snapshot());
  });

  it('a larger pool: 2000 members, weights 1..100, weight churn between picks', () => {
    const random = seededRandom(99);
    const fast = new SwrrPicker();
    const naive = new NaiveSwrrPicker();
    const n = 2_000;
    for (let i = 0; i < n; i++) {
      const w = randomInt(random, 1, 100);
      fast.add(`m${i}`, w);
      naive.add(`m${i}`, w);
    }
    for (let i = 0; i < 20_000; i++) {
      if (i % 50 === 0) {
        const id = `m${randomInt(random, 0, n - 1)}`;
        const w = randomInt(random, 0, 100);
        fast.setWeight(id, w);
        naive.setWeight(id, w);
      }
      expect(fast.pick()).toBe(naive.pick());
    }
    const a: SwrrMemberState[] = fast.snapshot();
    expect(a).toEqual(naive.snapshot());
  });

  it('recycles removed slots without growing', () => {
    const fast = new SwrrPicker();
    const naive = new NaiveSwrrPicker();
    for (let round = 0; round < 200; round++) {
      for (const p of [fast, naive]) {
        p.add(`r${round}`, 1 + (round % 5));
        if (round >= 6) p.remove(`r${round - 6}`);
      }
      expect(picks(fast, 7)).toEqual(picks(naive, 7));
    }
    expect(fast.size).toBe(6);
    expect(fast.snapshot()).toEqual(naive.snapshot());
  });
});
