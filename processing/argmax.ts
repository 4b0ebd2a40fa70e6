/**
 * Index of the largest value in each row of the last dim (pure).
 *
 *   argmax(values: ArrayLike<number>, rowLength: number): BigInt64Array     // INT64, one per row
 *
 * Ties go to the lowest index (as numpy's argmax); NaN is never the largest.
 */
import { checkRows } from './softmax.js';

export function argmax(values: ArrayLike<number>, rowLength: number): BigInt64Array {
  checkRows(values.length, rowLength);
  const out = new BigInt64Array(values.length / rowLength);
  for (let r = 0; r < out.length; r++) {
    const start = r * rowLength;
    let best = 0;
    for (let i = 1; i < rowLength; i++) {
      const v = values[start + i];
      const b = values[start + best];
      if (v > b || (Number.isNaN(b) && !Number.isNaN(v))) best = i;
    }
    out[r] = BigInt(best);
  }
  return out;
}
