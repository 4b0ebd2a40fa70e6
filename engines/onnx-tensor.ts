/**
 * Tensors at the onnxruntime boundary. An instance and the thread that holds its session exchange
 * wire tensors: plain `{type, dims, data}` objects that survive postMessage (numeric data as a typed
 * array, BYTES as strings). Core tensors become wire tensors on the instance's side, where a
 * malformed request is refused with INVALID_ARG; wire tensors become ort.Tensors where the session
 * lives, inline or in a worker.
 */
import ort from 'onnxruntime-node';
import { arrayConstructorFor, type Datatype, type NumericArray, type TensorData } from '../core/datatypes.js';
import { invalidArg, unsupported } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';

/** KServe datatype → onnxruntime tensor type. BF16 is missing: onnxruntime-node has no JS type for it. */
export const ORT_TYPES: Partial<Record<Datatype, ort.Tensor.Type>> = {
  BOOL: 'bool',
  UINT8: 'uint8',
  UINT16: 'uint16',
  UINT32: 'uint32',
  UINT64: 'uint64',
  INT8: 'int8',
  INT16: 'int16',
  INT32: 'int32',
  INT64: 'int64',
  FP16: 'float16',
  FP32: 'float32',
  FP64: 'float64',
  BYTES: 'string',
};

export const KSERVE_TYPES = new Map<string, Datatype>(
  Object.entries(ORT_TYPES).map(([datatype, ortType]) => [ortType, datatype as Datatype]),
);

export interface WireTensor {
  type: ort.Tensor.Type;
  dims: number[];
  data: NumericArray | string[];
}

export type WireTensors = Record<string, WireTensor>;

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

function describeShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

/**
 * Core tensor → wire tensor. Numeric data is passed as is (no copy); BYTES becomes UTF-8 strings.
 * Throws INVALID_ARG / UNSUPPORTED for what onnxruntime would refuse.
 */
export function toWireTensor(t: Tensor): WireTensor {
  const type = ORT_TYPES[t.datatype];
  if (type === undefined) {
    throw unsupported(`input '${t.name}': ${t.datatype} tensors are not supported by onnxruntime-node`, 'unsupported_datatype');
  }
  if (type === 'string') {
    const strings = (t.data as Uint8Array[]).map((bytes, i) => {
      if (bytes.includes(0)) {
        throw invalidArg(`input '${t.name}' element ${i} contains a NUL byte, which onnxruntime string tensors cannot carry`);
      }
      try {
        return utf8Decoder.decode(bytes);
      } catch {
        throw invalidArg(`input '${t.name}' element ${i} is not valid UTF-8 (onnxruntime string tensors hold text)`);
      }
    });
    return { type, dims: [...t.shape], data: strings };
  }
  // Checked here rather than by ort.Tensor so that a worker never sees a malformed request.
  const ctor = arrayConstructorFor(t.datatype as Exclude<Datatype, 'BYTES'>);
  if (!(t.data instanceof ctor)) {
    throw invalidArg(`input '${t.name}' (${t.datatype} ${describeShape(t.shape)}): data must be a ${ctor.name}, got ${t.data.constructor.name}`);
  }
  return { type, dims: [...t.shape], data: t.data };
}

/** Wire tensor → core tensor; strings come back as their UTF-8 bytes. */
export function fromWireTensor(name: string, w: WireTensor): Tensor {
  const datatype = KSERVE_TYPES.get(w.type);
  if (!datatype) throw new Error(`output '${name}' has onnxruntime type ${w.type}, which has no KServe datatype here`);
  const data: TensorData = datatype === 'BYTES'
    ? (w.data as string[]).map((s) => utf8Encoder.encode(s))
    : w.data as NumericArray;
  return { name, datatype, shape: [...w.dims], data };
}

export function wireToOrt(w: WireTensor): ort.Tensor {
  return new ort.Tensor(w.type, w.data as ort.Tensor.DataType, w.dims);
}

export function ortToWire(name: string, value: ort.Tensor | undefined): WireTensor {
  if (!value) throw new Error(`output '${name}' was not produced`);
  if (!KSERVE_TYPES.has(value.type)) throw new Error(`output '${name}' has onnxruntime type ${value.type}, which has no KServe datatype here`);
  return { type: value.type, dims: value.dims.map(Number), data: value.data as NumericArray | string[] };
}

/** Whether moving this array's buffer to another thread takes exactly this array's bytes and nothing else. */
export function ownsWholeBuffer(a: NumericArray): boolean {
  return a.byteOffset === 0 && a.byteLength === a.buffer.byteLength && a.buffer instanceof ArrayBuffer;
}

/** A fresh array of the same kind holding a copy of `a` (never a view: Buffer.slice would share memory). */
export function compactCopy(a: NumericArray): NumericArray {
  // A Buffer is a Uint8Array: plain bytes are enough, and Buffer's own constructor is deprecated.
  const ctor = a instanceof Uint8Array ? Uint8Array : a.constructor as { new (length: number): NumericArray };
  const copy = new ctor(a.length);
  (copy as { set(src: ArrayLike<number | bigint>): void }).set(a);
  return copy;
}

/**
 * Prepares wire tensors for postMessage: the list of buffers to transfer, and the tensors to send.
 * An array is moved only when `movable` says its owner will not read it again and it owns its whole
 * buffer; any other array is copied into a compact one, which is moved. Never is the caller's
 * buffer detached, and never does a view drag the rest of its (pooled, shared) buffer along.
 */
export function forTransfer(tensors: WireTensors, movable: boolean): { tensors: WireTensors; transfer: ArrayBuffer[] } {
  const transfer = new Set<ArrayBuffer>();
  const out: WireTensors = {};
  for (const [name, w] of Object.entries(tensors)) {
    if (Array.isArray(w.data)) {
      out[name] = w;
      continue;
    }
    const data = movable && ownsWholeBuffer(w.data) ? w.data : compactCopy(w.data);
    transfer.add(data.buffer as ArrayBuffer);
    out[name] = { type: w.type, dims: w.dims, data };
  }
  return { tensors: out, transfer: [...transfer] };
}
