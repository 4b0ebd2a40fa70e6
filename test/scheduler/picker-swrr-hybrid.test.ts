import { describe, it, expect } from 'vitest';
import { SwrrPicker } from '../../scheduler/picker-swrr.js';
import { NaiveSwrrPicker } from '../../scheduler/picker-swrr-naive.js';
import { HybridSwrrPicker, SWRR_SCAN_THRESHOLD, SWRR_TREE_THRESHOLD } from '../../scheduler/picker-swrr-hybrid.js';
import { seededRandom } from '../../bench/support/seeded-random.js';


function randomInt(random: () => number, lo: number, hi: number): number {
  return lo + Math.floor(random() * (hi - lo + 1));
}

type Picker = SwrrPicker | NaiveSwrrPicker | HybridSwrrPicker;

function picks(picker: Picker, count: number): (string | undefined)[] {
  const out: (string | undefined)[] = [];
  for (let i = 0; i < count; i++) out.push(picker.pick());
  return out;
}

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (err) {
    return (err as { code?: string }).code ?? (err as Error).name;
  }
  return undefined;
}

describe('fromSnapshot', () => {
  it.each([
    ['SwrrPicker → NaiveSwrrPicker', (r?: () => number) => new SwrrPicker({ random: r }), NaiveSwrrPicker.fromSnapshot],
    ['NaiveSwrrPicker → SwrrPicker', (r?: () => number) => new NaiveSwrrPicker({ random: r }), SwrrPicker.fromSnapshot],
    ['SwrrPicker → SwrrPicker', (r?: () => number) => new SwrrPicker({ random: r }), SwrrPicker.fromSnapshot],
  ] as const)('%s goes on with the same picks', (_name, make, restore) => {
    const random = seededRandom(5);
    const from = make(random);
    const weights = [5, 1, 3, 0, 2, 7, 1];
    weights.forEach((w, i) => from.add(`m${i}`, w));
    from.setEligible('m2', false);
    picks(from, 11);
    from.remove('m1');
    from.add('m1', 4); // re-added: ranks last in the tie-break
    picks(from, 3);
    const copy = restore(from.snapshot(), {});
    expect(copy.snapshot()).toEqual(from.snapshot());
    expect(picks(copy, 200)).toEqual(picks(from, 200));
    copy.setEligible('m2', true);
    from.setEligible('m2', true);
    expect(picks(copy, 50)).toEqual(picks(from, 50));
  });

  it('draws no random numbers for the restored members, and phases the ones added after', () => {
    let draws = 0;
    const counting = (): number => {
      draws++;
      return 0.5;
    };
    const restored = SwrrPicker.fromSnapshot([{ id: 'a', weight: 4, current: -1.5, eligible: true }], { random: counting });
    expect(draws).toBe(0);
    restored.add('b', 4);
    expect(draws).toBe(1);
    expect(restored.snapshot()).toEqual([
      { id: 'a', weight: 4, current: -1.5, eligible: true },
      { id: 'b', weight: 4, current: -2, eligible: true },
    ]);
  });

  it.each([
    ['SwrrPicker', SwrrPicker.fromSnapshot],
    ['NaiveSwrrPicker', NaiveSwrrPicker.fromSnapshot],
  ] as const)('%s rejects a bad snapshot with stable codes', (_name, restore) => {
    expect(codeOf(() => restore([{ id: 'a', weight: 1, current: Number.NaN, eligible: true }]))).toBe('PICKER_BAD_SNAPSHOT');
    expect(codeOf(() => restore([{ id: 'a', weight: -1, current: 0, eligible: true }]))).toBe('PICKER_BAD_WEIGHT');
    const twice = { id: 'a', weight: 1, current: 0, eligible: true };
    expect(codeOf(() => restore([twice, twice]))).toBe('PICKER_DUPLICATE_MEMBER');
  });
});

describe('HybridSwrrPicker', () => {
  it('starts as the scan, takes the tree at the threshold and gives it back at the lower one', () => {
    expect(SWRR_SCAN_THRESHOLD).toBeLessThan(SWRR_TREE_THRESHOLD);
    const picker = new HybridSwrrPicker();
    for (let i = 0; i < SWRR_TREE_THRESHOLD - 1; i++) picker.add(`m${i}`, 1 + (i % 5));
    expect(picker.mode).toBe('scan');
    picker.add('last', 3);
    expect(picker.mode).toBe('tree');
    // Hysteresis: one member either side of the threshold does not flap.
    picker.remove('last');
    expect(picker.mode).toBe('tree');
    picker.add('last', 3);
    picker.remove('last');
    for (let i = SWRR_TREE_THRESHOLD - 2; i > SWRR_SCAN_THRESHOLD; i--) {
      picker.remove(`m${i}`);
      expect(picker.mode).toBe('tree');
    }
    picker.remove(`m${SWRR_SCAN_THRESHOLD}`);
    expect(picker.size).toBe(SWRR_SCAN_THRESHOLD);
    expect(picker.mode).toBe('scan');
  });

  it('rejects thresholds that leave no hysteresis', () => {
    expect(codeOf(() => new HybridSwrrPicker({ treeThreshold: 8, scanThreshold: 8 }))).toBe('ConfigError');
    expect(codeOf(() => new HybridSwrrPicker({ treeThreshold: 8, scanThreshold: -1 }))).toBe('ConfigError');
    expect(codeOf(() => new HybridSwrrPicker({ treeThreshold: 8.5, scanThreshold: 4 }))).toBe('ConfigError');
  });

  it('gives the errors of the picker it runs, in either mode', () => {
    for (const treeThreshold of [2, 100]) {
      const picker = new HybridSwrrPicker({ treeThreshold, scanThreshold: 1 });
      picker.add('a', 1);
      picker.add('b', 1);
      expect(picker.mode).toBe(treeThreshold === 2 ? 'tree' : 'scan');
      expect(codeOf(() => picker.add('a', 1))).toBe('PICKER_DUPLICATE_MEMBER');
      expect(codeOf(() => picker.add('c', -1))).toBe('PICKER_BAD_WEIGHT');
      expect(codeOf(() => picker.setWeight('nope', 1))).toBe('PICKER_UNKNOWN_MEMBER');
      expect(codeOf(() => picker.remove('nope'))).toBe('PICKER_UNKNOWN_MEMBER');
      expect(picker.size).toBe(2);
    }
  });

  /**
   * The same random operations on the hybrid and on the plain scan, with the same phase source:
   * every pick and every snapshot must match, through every switch either way.
   */
  function driveAgainstScan(
    seed: number,
    steps: number,
    opts: { treeThreshold?: number; scanThreshold?: number; low: number; high: number; maxWeight: number },
  ): { switches: number; picked: number } {
    const random = seededRandom(seed);
    const hybrid = new HybridSwrrPicker({ random: seededRandom(seed * 13 + 7), treeThreshold: opts.treeThreshold, scanThreshold: opts.scanThreshold });
    const scan = new NaiveSwrrPicker({ random: seededRandom(seed * 13 + 7) });
    const both = (f: (p: HybridSwrrPicker | NaiveSwrrPicker) => void): void => {
      f(hybrid);
      f(scan);
    };
    const ids: string[] = [];
    const removed: string[] = [];
    let nextId = 0;
    let switches = 0;
    let picked = 0;
    let mode = hybrid.mode;
    // Grow towards `high`, then shrink towards `low`, then grow again: the size sweeps across
    // both thresholds several times.
    let growing = true;
    const weight = (): number => (random() < 0.1 ? 0 : randomInt(random, 1, opts.maxWeight));
    for (let step = 0; step < steps; step++) {
      if (growing && ids.length >= opts.high) growing = false;
      if (!growing && ids.length <= opts.low) growing = true;
      const r = random();
      if (r < 0.55) {
        const got = hybrid.pick();
        expect(got).toBe(scan.pick());
        if (got !== undefined) picked++;
      } else if (r < 0.62 && ids.length > 0) {
        const id = ids[randomInt(random, 0, ids.length - 1)];
        const w = weight();
        both((p) => p.setWeight(id, w));
      } else if (r < 0.7 && ids.length > 0) {
        const id = ids[randomInt(random, 0, ids.length - 1)];
        const eligible = random() < 0.7;
        both((p) => p.setEligible(id, eligible));
      } else if (growing ? r < 0.95 : r < 0.75) {
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
      if (hybrid.mode !== mode) {
        switches++;
        mode = hybrid.mode;
        // Right after a switch: the state crossed over whole.
        expect(hybrid.snapshot()).toEqual(scan.snapshot());
      }
      if (step % 101 === 0) expect(hybrid.snapshot()).toEqual(scan.snapshot());
    }
    expect(hybrid.snapshot()).toEqual(scan.snapshot());
    expect(hybrid.size).toBe(scan.size);
    return { switches, picked };
  }

  it.each([1, 2, 3, 4, 5, 6])('matches the scan pick for pick across many switches, small thresholds (seed %i)', (seed) => {
    const { switches, picked } = driveAgainstScan(seed, 6_000, { treeThreshold: 8, scanThreshold: 4, low: 1, high: 14, maxWeight: 20 });
    expect(switches).toBeGreaterThanOrEqual(6);
    expect(picked).toBeGreaterThan(2_000);
  });

  it.each([11, 12])('matches the scan pick for pick across the default thresholds (seed %i)', (seed) => {
    const { switches, picked } = driveAgainstScan(seed, 5_000, {
      low: SWRR_SCAN_THRESHOLD - 20,
      high: SWRR_TREE_THRESHOLD + 20,
      maxWeight: 100,
    });
    expect(switches).toBeGreaterThanOrEqual(2);
    expect(picked).toBeGreaterThan(1_000);
  });

  it('keeps exact shares per Σw window through a switch', () => {
    const hybrid = new HybridSwrrPicker({ treeThreshold: 6, scanThreshold: 3, random: seededRandom(42) });
    const weights: Record<string, number> = { a: 5, b: 1, c: 1, d: 3, e: 2 };
    for (const [id, w] of Object.entries(weights)) hybrid.add(id, w);
    expect(hybrid.mode).toBe('scan');
    const window = 12;
    const count = (seq: (string | undefined)[]): Record<string, number> => {
      const out: Record<string, number> = {};
      for (const id of seq) out[id!] = (out[id!] ?? 0) + 1;
      return out;
    };
    expect(count(picks(hybrid, window))).toEqual(weights);
    // Switch in the middle of a window: the window still comes out exact.
    const first = picks(hybrid, 5);
    hybrid.add('z', 0);
    expect(hybrid.mode).toBe('tree');
    expect(count([...first, ...picks(hybrid, window - 5)])).toEqual(weights);
    hybrid.remove('z');
    hybrid.remove('e');
    hybrid.remove('d');
    expect(hybrid.mode).toBe('scan');
    // Removals leave the currents wherever they were, so windows need not be exact any more;
    // the long-run shares still are, within one window.
    const got = count(picks(hybrid, 700));
    expect(Math.abs(got.a - 500)).toBeLessThanOrEqual(7);
    expect(Math.abs(got.b - 100)).toBeLessThanOrEqual(7);
    expect(Math.abs(got.c - 100)).toBeLessThanOrEqual(7);
  });
});
