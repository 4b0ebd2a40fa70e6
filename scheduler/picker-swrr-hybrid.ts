/**
 * Smooth weighted round-robin that is never slower than nginx's plain scan: it runs the scan
 * (NaiveSwrrPicker) while the pool is small and the kinetic tournament tree (SwrrPicker) once it is
 * large, and hands every member's weight, `current` and eligibility across a switch, so the pick
 * sequence goes on exactly as one picker's would (both produce nginx's sequence; see picker-swrr.ts
 * for when that is exact).
 *
 * Why two: the scan is a tight loop over a few members, a few ns each, with nothing to maintain; the
 * tree pays a fixed toll per pick (path bookkeeping, certificate checks) that only pays off once the
 * scan has enough members to walk. bench/pick-cost.ts measures where the lines cross.
 */
import { SwrrPicker, type SwrrMemberState, type SwrrPickerOptions } from './picker-swrr.js';
import { NaiveSwrrPicker } from './picker-swrr-naive.js';
import { ConfigError } from '../core/errors.js';

/**
 * Members at which the tree takes over from the scan. Measured with bench/pick-cost.ts (weights
 * 1..100, 2-core EPYC, Node 20, `--sizes 128,136,144,152,160,176`): the scan costs about 3 ns per
 * member per pick, the tree about 0.4 µs at a hundred members and grows slowly; the lines cross
 * near 148 members (tree 414 vs scan 395 ns at 128, 442 vs 434 at 144, 440 vs 462 at 152, 472 vs
 * 533 at 176). Another machine moves the crossing; the hysteresis band absorbs some of that.
 */
export const SWRR_TREE_THRESHOLD = 192;

/**
 * Members at which the scan takes back over. A pool that hovers around one boundary must not
 * rebuild on every add or remove (a switch is O(n)), hence two boundaries. In the band between
 * them either picker may be running, so the lower boundary sits at the crossing, not below it:
 * there the tree costs no more than the scan, and the scan is the scan. So the hybrid is no slower
 * than the scan at any size, and no slower than the tree above the band.
 */
export const SWRR_SCAN_THRESHOLD = 152;

export interface HybridSwrrPickerOptions extends SwrrPickerOptions {
  /** Overrides SWRR_TREE_THRESHOLD (tests and bench). */
  treeThreshold?: number;
  /** Overrides SWRR_SCAN_THRESHOLD; must be below treeThreshold. */
  scanThreshold?: number;
}

export class HybridSwrrPicker {
  readonly #options: SwrrPickerOptions;
  readonly #treeAt: number;
  readonly #scanAt: number;
  #picker: SwrrPicker | NaiveSwrrPicker;

  constructor(options: HybridSwrrPickerOptions = {}) {
    const { treeThreshold = SWRR_TREE_THRESHOLD, scanThreshold = SWRR_SCAN_THRESHOLD, ...pickerOptions } = options;
    if (!(Number.isInteger(scanThreshold) && Number.isInteger(treeThreshold) && scanThreshold >= 0 && scanThreshold < treeThreshold)) {
      throw new ConfigError(`HybridSwrrPicker: want integers 0 ≤ scanThreshold < treeThreshold, got ${scanThreshold} and ${treeThreshold}`);
    }
    this.#options = pickerOptions;
    this.#treeAt = treeThreshold;
    this.#scanAt = scanThreshold;
    this.#picker = new NaiveSwrrPicker(pickerOptions);
  }

  /** Which picker runs now: what bench and tests look at. */
  get mode(): 'scan' | 'tree' {
    return this.#picker instanceof SwrrPicker ? 'tree' : 'scan';
  }

  get size(): number {
    return this.#picker.size;
  }

  has(id: string): boolean {
    return this.#picker.has(id);
  }

  add(id: string, weight: number): void {
    // Added to the current picker first, so its checks and its random phase are the only ones.
    this.#picker.add(id, weight);
    if (this.#picker.size >= this.#treeAt && !(this.#picker instanceof SwrrPicker)) {
      this.#picker = SwrrPicker.fromSnapshot(this.#picker.snapshot(), this.#options);
    }
  }

  remove(id: string): void {
    this.#picker.remove(id);
    if (this.#picker.size <= this.#scanAt && this.#picker instanceof SwrrPicker) {
      this.#picker = NaiveSwrrPicker.fromSnapshot(this.#picker.snapshot(), this.#options);
    }
  }

  setWeight(id: string, weight: number): void {
    this.#picker.setWeight(id, weight);
  }

  setEligible(id: string, eligible: boolean): void {
    this.#picker.setEligible(id, eligible);
  }

  pick(): string | undefined {
    return this.#picker.pick();
  }

  snapshot(): SwrrMemberState[] {
    return this.#picker.snapshot();
  }
}
