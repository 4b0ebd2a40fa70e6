/**
 * A numeric tensor's elements read as JavaScript numbers, whatever their storage, for the
 * post-processing functions (softmax, argmax, top-k). Pure.
 *
 *   readAsNumbers(datatype: Datatype, data: TensorData): Float64Array
 *
 * FP16 and BF16 are decoded from their bit patterns; INT64/UINT64 become the nearest double
 * (exact up to 2^53, plenty for comparing scores). BOOL and BYTES hold no scores: an error.
 */
import type { Datatype, TensorData } from '../core/datatypes.js';
import { bf16ToNumber, fp16ToNumber } from '../core/half-float.js';

export function readAsNumbers(datatype: Datatype, data: TensorData): Float64Array {
  if (datatype === 'BYTES' || datatype === 'BOOL') throw new Error(`a ${datatype} tensor holds no scores`);
  const out = new Float64Array(data.length);
  const src = data as ArrayLike<number | bigint>;
  if (datatype === 'FP16' || datatype === 'BF16') {
    const decode = datatype === 'FP16' ? fp16ToNumber : bf16ToNumber;
    for (let i = 0; i < out.length; i++) out[i] = decode(src[i] as number);
  } else {
    for (let i = 0; i < out.length; i++) out[i] = Number(src[i]);
  }
  return out;
}
