/**
 * The k largest values of each row of the last dim, largest first (pure).
 *
 *   topK(values: ArrayLike<number>, rowLength: number, k: number): TopEntry[][]   // one list per row
 *
 * A row shorter than k gives all its entries. Equal values keep their index order (lowest index
 * first), so the answer is the same on every run; NaN sorts last.
 */
import { checkRows } from './softmax.js';

export interface TopEntry {
  index: number;
  value: number;
}

export function topK(values: ArrayLike<number>, rowLength: number, k: number): TopEntry[][] {
  checkRows(values.length, rowLength);
  if (!Number.isInteger(k) || k < 1) throw new Error(`k must be a positive integer, got ${k}`);
  const rows: TopEntry[][] = [];
  for (let start = 0; start < values.length; start += rowLength) {
    const entries: TopEntry[] = [];
    for (let i = 0; i < rowLength; i++) entries.push({ index: i, value: values[start + i] });
    entries.sort(byValueDescending);
    rows.push(entries.slice(0, Math.min(k, rowLength)));
  }
  return rows;
}

function byValueDescending(a: TopEntry, b: TopEntry): number {
  const an = Number.isNaN(a.value);
  const bn = Number.isNaN(b.value);
  if (an || bn) return an === bn ? a.index - b.index : an ? 1 : -1;
  return b.value - a.value || a.index - b.index;
}
