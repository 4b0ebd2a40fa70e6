/**
 * Tensors as a caller writes them: a typed array of the datatype's storage, or plain values
 * (numbers, bigints, booleans, strings) that are converted here. FP16 and BF16 go in as numbers or
 * as their raw 16-bit patterns (a Uint16Array); out, `tensorValues` turns any output into numbers,
 * bigints, booleans or strings.
 */
import { arrayConstructorFor, elementCount, type Datatype, type NumericArray, type TensorData } from '../core/datatypes.js';
import { halfToNumber, numberToHalf } from '../core/half-float.js';
import type { Tensor } from '../core/tensor.js';

export type TensorValues = TensorData | readonly number[] | readonly bigint[] | readonly boolean[] | readonly string[];

export interface TensorInput {
  name: string;
  datatype: Datatype;
  shape: number[];
  data: TensorValues;
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

/** The tensor in the core's storage form; throws a TypeError naming the tensor when values do not fit. */
export function toTensor(input: TensorInput): Tensor {
  const { name, datatype, shape } = input;
  const count = elementCount(shape);
  const data = toStorage(name, datatype, input.data);
  if (data.length !== count) throw new TypeError(`input '${name}': shape [${shape.join(',')}] needs ${count} elements, got ${data.length}`);
  return { name, datatype, shape: [...shape], data };
}

function toStorage(name: string, datatype: Datatype, values: TensorValues): TensorData {
  if (datatype === 'BYTES') {
    return Array.from(values as ArrayLike<unknown>, (v, i) => {
      if (v instanceof Uint8Array) return v;
      if (typeof v === 'string') return utf8.encode(v);
      throw new TypeError(`input '${name}' element ${i}: BYTES elements are strings or Uint8Arrays`);
    });
  }
  const ctor = arrayConstructorFor(datatype);
  if (values instanceof ctor) return values as NumericArray;
  const list = Array.from(values as ArrayLike<unknown>);
  const out = new ctor(list.length);
  for (let i = 0; i < list.length; i++) {
    const v = list[i];
    if (datatype === 'INT64' || datatype === 'UINT64') (out as BigInt64Array)[i] = typeof v === 'bigint' ? v : BigInt(v as number);
    else if (datatype === 'BOOL') (out as Uint8Array)[i] = v ? 1 : 0;
    else if (datatype === 'FP16' || datatype === 'BF16') (out as Uint16Array)[i] = numberToHalf(datatype, Number(v));
    else (out as Float64Array)[i] = Number(v);
  }
  return out;
}

/** An output's elements as plain values: numbers (FP16/BF16 decoded), bigints, booleans, strings. */
export function tensorValues(tensor: Tensor): number[] | bigint[] | boolean[] | string[] {
  const { datatype, data } = tensor;
  if (datatype === 'BYTES') return (data as Uint8Array[]).map((b) => utf8Decoder.decode(b));
  if (datatype === 'BOOL') return Array.from(data as Uint8Array, (v) => v !== 0);
  if (datatype === 'FP16' || datatype === 'BF16') return Array.from(data as Uint16Array, (bits) => halfToNumber(datatype, bits));
  if (datatype === 'INT64' || datatype === 'UINT64') return Array.from(data as BigInt64Array);
  return Array.from(data as Float64Array);
}
