/** KServe v2 tensor datatypes and how each one is stored in memory. */
export const DATATYPES = [
  'BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64',
  'FP16', 'FP32', 'FP64', 'BF16', 'BYTES',
] as const;

export type Datatype = (typeof DATATYPES)[number];

export function isDatatype(value: unknown): value is Datatype {
  return typeof value === 'string' && (DATATYPES as readonly string[]).includes(value);
}

/**
 * In-memory element storage. BOOL is one byte per element (0/1), FP16 and BF16 are their raw
 * 16-bit patterns, BYTES is one Uint8Array per element.
 */
export type NumericArray =
  | Uint8Array | Uint16Array | Uint32Array | BigUint64Array
  | Int8Array | Int16Array | Int32Array | BigInt64Array
  | Float32Array | Float64Array;

export type TensorData = NumericArray | Uint8Array[];

type ArrayCtor = { new (length: number): NumericArray; new (buffer: ArrayBufferLike, byteOffset: number, length: number): NumericArray; BYTES_PER_ELEMENT: number };

const ARRAY_CTORS: Record<Exclude<Datatype, 'BYTES'>, ArrayCtor> = {
  BOOL: Uint8Array,
  UINT8: Uint8Array,
  UINT16: Uint16Array,
  UINT32: Uint32Array,
  UINT64: BigUint64Array,
  INT8: Int8Array,
  INT16: Int16Array,
  INT32: Int32Array,
  INT64: BigInt64Array,
  FP16: Uint16Array,
  FP32: Float32Array,
  FP64: Float64Array,
  BF16: Uint16Array,
};

/** Bytes per element; 0 for BYTES, whose elements vary in size. */
export function elementByteSize(datatype: Datatype): number {
  return datatype === 'BYTES' ? 0 : ARRAY_CTORS[datatype].BYTES_PER_ELEMENT;
}

export function arrayConstructorFor(datatype: Exclude<Datatype, 'BYTES'>): ArrayCtor {
  return ARRAY_CTORS[datatype];
}

export function allocate(datatype: Datatype, length: number): TensorData {
  if (datatype === 'BYTES') return new Array<Uint8Array>(length).fill(new Uint8Array(0));
  return new ARRAY_CTORS[datatype](length);
}

export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
