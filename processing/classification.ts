/**
 * Triton's classification extension: a requested output with `parameters: {classification: k}`
 * comes back as a BYTES tensor of the k highest-valued classes instead of its values, each element
 * `"<value>:<index>"`, followed by `":<label>"` when the output declares labels. Pure.
 *
 *   classify(tensor: Tensor, k: number, options: ClassifyOptions): Tensor
 *   formatClassValue(value: number | bigint, datatype: Datatype): string
 *
 * As Triton does (server src/classification.cc): classes are ranked per batch row by value,
 * highest first; the tensor is [batch, min(k, classes)] for a batching model and [min(k, classes)]
 * otherwise; values are written as C's std::to_string writes them (six decimals for floating
 * types, `0.853000`; digits for integers). Where Triton leaves ties to std::sort, infergate puts the
 * lower index first. BOOL and BYTES outputs have no values to rank: INVALID_ARG.
 */
import type { Datatype } from '../core/datatypes.js';
import { invalidArg } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';
import { readAsNumbers } from './tensor-values.js';
import { topK } from './top-k.js';

export const CLASSIFICATION_PARAMETER = 'classification';

export interface ClassifyOptions {
  /** The model batches: the first dim is the batch, and each row is ranked on its own. */
  batching: boolean;
  /** Label of class i at i; a class beyond the list gets none. */
  labels?: readonly string[];
}

export function classify(tensor: Tensor, k: number, options: ClassifyOptions): Tensor {
  const { datatype, shape, data } = tensor;
  if (datatype === 'BYTES' || datatype === 'BOOL') {
    throw invalidArg(`output '${tensor.name}': class result not available for output due to unsupported type '${datatype}'`, 'bad_classification');
  }
  const rows = options.batching && shape.length > 0 ? shape[0] : 1;
  const rowLength = rows === 0 ? 0 : data.length / rows;
  if (rowLength === 0) {
    return { name: tensor.name, datatype: 'BYTES', shape: options.batching ? [rows, 0] : [0], data: [] };
  }
  const top = topK(readAsNumbers(datatype, data), rowLength, k);
  const raw = data as ArrayLike<number | bigint>;
  const encoder = new TextEncoder();
  const out: Uint8Array[] = [];
  top.forEach((entries, r) => {
    for (const { index } of entries) {
      const label = options.labels?.[index];
      const value = formatClassValue(valueAt(datatype, raw, r * rowLength + index), datatype);
      out.push(encoder.encode(label === undefined ? `${value}:${index}` : `${value}:${index}:${label}`));
    }
  });
  const count = top[0]?.length ?? 0;
  return { name: tensor.name, datatype: 'BYTES', shape: options.batching ? [rows, count] : [count], data: out };
}

/** The request's `classification` count for an output: undefined when absent; INVALID_ARG unless a positive integer. */
export function classificationCount(outputName: string, parameters: Record<string, unknown> | undefined): number | undefined {
  const value = parameters?.[CLASSIFICATION_PARAMETER];
  if (value === undefined) return undefined;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1) return value;
  throw invalidArg(`output '${outputName}': parameter '${CLASSIFICATION_PARAMETER}' must be a positive integer (the number of classes to return), got ${JSON.stringify(value)}`, 'bad_classification');
}

/** As C++'s std::to_string: `%f` (six decimals, round half to even) for floating types, digits for integers. */
export function formatClassValue(value: number | bigint, datatype: Datatype): string {
  if (typeof value === 'bigint') return value.toString();
  if (datatype !== 'FP32' && datatype !== 'FP64' && datatype !== 'FP16' && datatype !== 'BF16') return String(value);
  return formatFixed6(value);
}

function formatFixed6(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  const negative = x < 0 || Object.is(x, -0);
  const magnitude = Math.abs(x);
  const sign = negative ? '-' : '';
  if (magnitude >= 1e21) return `${sign}${BigInt(magnitude).toString()}.000000`;
  // toFixed rounds an exact half away from zero, printf to even: only an exact tie differs, and a
  // tie makes magnitude × 2e6 an odd integer (computed exactly, as it is representable).
  const twice = magnitude * 2e6;
  if (Number.isInteger(twice) && twice <= Number.MAX_SAFE_INTEGER && twice % 2 === 1) {
    const lower = (twice - 1) / 2;
    const n = lower % 2 === 0 ? lower : lower + 1;
    const digits = n.toString().padStart(7, '0');
    return `${sign}${digits.slice(0, -6)}.${digits.slice(-6)}`;
  }
  return `${sign}${magnitude.toFixed(6)}`;
}

function valueAt(datatype: Datatype, data: ArrayLike<number | bigint>, i: number): number | bigint {
  const v = data[i];
  if (datatype === 'FP16' || datatype === 'BF16') return readAsNumbers(datatype, new Uint16Array([v as number]))[0];
  return v;
}
