/**
 * Pixels → the numbers a model takes (pure, no sharp).
 *
 *   imageToTensor(image: RawImage, spec: TensorLayoutSpec): NumericArray      // one image, no batch dim
 *   imageTensorShape(image: {width, height}, spec): number[]                 // [C,H,W] or [H,W,C]
 *   stackImageTensors(rows: NumericArray[]): NumericArray                     // a batch, row after row
 *
 * Per pixel and channel c: value = (pixel × scale − mean[c]) / std[c], with the channels in
 * `colorOrder` (BGR swaps R and B; a grey image has one channel), laid out NCHW (planes) or NHWC
 * (interleaved) in the element type asked for. UINT8 rounds and clamps to 0..255; FP16 stores the
 * IEEE half bit patterns, as the rest of infergate does.
 */
import { arrayConstructorFor, type NumericArray } from '../core/datatypes.js';
import { numberToFp16 } from '../core/half-float.js';
import type { RawImage } from './image-decode.js';

export type ColorOrder = 'RGB' | 'BGR' | 'GRAY';
export type ImageLayout = 'NCHW' | 'NHWC';
export type ImageTensorDatatype = 'FP32' | 'FP16' | 'FP64' | 'UINT8';
export const IMAGE_TENSOR_DATATYPES: readonly ImageTensorDatatype[] = ['FP32', 'FP16', 'FP64', 'UINT8'];

export interface TensorLayoutSpec {
  colorOrder: ColorOrder;
  layout: ImageLayout;
  datatype: ImageTensorDatatype;
  /** Multiplies each pixel (0..255) first; default 1. */
  scale?: number;
  /** One value for every channel, or one per channel in `colorOrder`; default 0. */
  mean?: readonly number[];
  /** Same; default 1. */
  std?: readonly number[];
}

export function imageTensorShape(image: { width: number; height: number }, spec: Pick<TensorLayoutSpec, 'colorOrder' | 'layout'>): number[] {
  const c = spec.colorOrder === 'GRAY' ? 1 : 3;
  return spec.layout === 'NCHW' ? [c, image.height, image.width] : [image.height, image.width, c];
}

export function imageToTensor(image: RawImage, spec: TensorLayoutSpec): NumericArray {
  const channels = spec.colorOrder === 'GRAY' ? 1 : 3;
  if (image.channels !== channels) {
    throw new Error(`a ${spec.colorOrder} tensor needs a ${channels}-channel image, got ${image.channels} channels`);
  }
  const { width, height, data } = image;
  const plane = width * height;
  const scale = spec.scale ?? 1;
  // Source channel for each output channel: BGR reads B (2) first.
  const source = spec.colorOrder === 'BGR' ? [2, 1, 0] : spec.colorOrder === 'RGB' ? [0, 1, 2] : [0];
  const values = new Float64Array(plane * channels);
  for (let c = 0; c < channels; c++) {
    const s = source[c];
    const mean = pick(spec.mean, c, 0);
    const std = pick(spec.std, c, 1);
    // Written as the formula reads, so a reference computed by hand agrees to the last bit.
    if (spec.layout === 'NCHW') {
      const base = c * plane;
      for (let i = 0; i < plane; i++) values[base + i] = (data[i * channels + s] * scale - mean) / std;
    } else {
      for (let i = 0; i < plane; i++) values[i * channels + c] = (data[i * channels + s] * scale - mean) / std;
    }
  }
  return convert(values, spec.datatype);
}

/** The rows of one batch, one after the other in a single array (they must share a datatype). */
export function stackImageTensors(rows: readonly NumericArray[]): NumericArray {
  if (rows.length === 1) return rows[0];
  const Ctor = rows[0].constructor as { new (length: number): NumericArray };
  const total = rows.reduce((n, r) => n + r.length, 0);
  const out = new Ctor(total) as Float32Array;
  let at = 0;
  for (const r of rows) {
    out.set(r as Float32Array, at);
    at += r.length;
  }
  return out;
}

function convert(values: Float64Array, datatype: ImageTensorDatatype): NumericArray {
  switch (datatype) {
    case 'FP64':
      return values;
    case 'FP32':
      return Float32Array.from(values);
    case 'FP16': {
      const out = new Uint16Array(values.length);
      for (let i = 0; i < values.length; i++) out[i] = numberToFp16(values[i]);
      return out;
    }
    case 'UINT8': {
      const out = new (arrayConstructorFor('UINT8'))(values.length);
      for (let i = 0; i < values.length; i++) out[i] = Math.min(255, Math.max(0, Math.round(values[i])));
      return out;
    }
  }
}

function pick(values: readonly number[] | undefined, c: number, fallback: number): number {
  if (values === undefined || values.length === 0) return fallback;
  return values.length === 1 ? values[0] : values[c];
}
