/**
 * Softmax over the last dim, row by row (pure).
 *
 *   softmax(values: ArrayLike<number>, rowLength: number): Float32Array
 *
 * Each row's maximum is subtracted before exponentiating, so large logits do not overflow to
 * Infinity (softmax is unchanged by a shift). A row of length 0 yields nothing.
 */
export function softmax(values: ArrayLike<number>, rowLength: number): Float32Array {
  checkRows(values.length, rowLength);
  const out = new Float32Array(values.length);
  for (let start = 0; start < values.length; start += rowLength) {
    let max = -Infinity;
    for (let i = start; i < start + rowLength; i++) if (values[i] > max) max = values[i];
    let sum = 0;
    const exps = new Float64Array(rowLength);
    for (let i = 0; i < rowLength; i++) {
      exps[i] = Math.exp(values[start + i] - max);
      sum += exps[i];
    }
    for (let i = 0; i < rowLength; i++) out[start + i] = exps[i] / sum;
  }
  return out;
}

/** Rows must tile the values exactly. */
export function checkRows(length: number, rowLength: number): void {
  if (!Number.isInteger(rowLength) || rowLength < 1 || length % rowLength !== 0) {
    throw new Error(`${length} values do not split into rows of ${rowLength}`);
  }
}
