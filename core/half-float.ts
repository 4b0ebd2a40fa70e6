/**
 * FP16 (IEEE 754 binary16) and BF16 (bfloat16) ⇄ number. Node 20 has no Float16Array, so tensors of
 * these types are stored as their raw 16-bit patterns (see datatypes.ts) and converted here.
 *
 * Encoding rounds the double directly to the 16-bit format, to nearest, ties to even. Going through
 * Float32 first (Math.fround) would round twice and can land one ulp off on halfway cases.
 */

interface HalfFormat {
  mantissaBits: number;
  bias: number;
  /** Smallest normal exponent (unbiased). */
  minExponent: number;
  /** Magnitudes at or above this round to infinity: max finite + half an ulp (ties go to the even Inf). */
  overflowAt: number;
  infinityBits: number;
  nanBits: number;
  /** 1 / ulp for each normal exponent, indexed by exponent - minExponent; then the subnormal one. */
  inverseQuanta: Float64Array;
}

function halfFormat(exponentBits: number, mantissaBits: number, nanBits: number): HalfFormat {
  const bias = (1 << (exponentBits - 1)) - 1;
  const maxExponent = bias;
  return {
    mantissaBits,
    bias,
    minExponent: 1 - bias,
    overflowAt: 2 ** maxExponent * (2 - 2 ** -(mantissaBits + 1)),
    infinityBits: ((1 << exponentBits) - 1) << mantissaBits,
    nanBits,
    inverseQuanta: Float64Array.from({ length: 2 * bias + 1 }, (_, i) =>
      i < 2 * bias ? 2 ** (mantissaBits - (1 - bias + i)) : 2 ** (mantissaBits - (1 - bias)),
    ),
  };
}

const f64 = new Float64Array(1);
const u32x2 = new Uint32Array(f64.buffer);
const HIGH_WORD = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;

const FP16 = halfFormat(5, 10, 0x7e00);
const BF16 = halfFormat(8, 7, 0x7fc0);

/** Largest finite FP16 value. */
export const FP16_MAX = 65504;
/** Largest finite BF16 value. */
export const BF16_MAX = 3.3895313892515355e38;

function encode(value: number, f: HalfFormat): number {
  if (Number.isNaN(value)) return f.nanBits;
  const signBit = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const a = Math.abs(value);
  if (a >= f.overflowAt) return signBit | f.infinityBits;
  if (a === 0) return signBit;

  // The double's own exponent field (a double subnormal reads as -1023: subnormal here too).
  f64[0] = a;
  const e = ((u32x2[HIGH_WORD] >>> 20) & 0x7ff) - 1023;

  const subnormal = e < f.minExponent;
  const q = f.inverseQuanta;
  const m = a * q[subnormal ? q.length - 1 : e - f.minExponent]; // exact: scaling by a power of two
  let r = Math.floor(m);
  const rest = m - r;
  if (rest > 0.5 || (rest === 0.5 && (r & 1) === 1)) r += 1;

  // Subnormal: the bits are the rounded mantissa; rounding up to 1 << mantissaBits lands exactly on
  // the smallest normal. Normal: r includes the implicit leading 1, and a carry out of the mantissa
  // bumps the exponent field by itself.
  if (subnormal) return signBit | r;
  return signBit | (((e + f.bias - 1) << f.mantissaBits) + r);
}

export function numberToFp16(value: number): number {
  return encode(value, FP16);
}

export function fp16ToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1024 + fraction) * 2 ** (exponent - 25);
}

export function numberToBf16(value: number): number {
  return encode(value, BF16);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function bf16ToNumber(bits: number): number {
  u32[0] = (bits & 0xffff) << 16;
  return f32[0];
}

export function halfToNumber(datatype: 'FP16' | 'BF16', bits: number): number {
  return datatype === 'FP16' ? fp16ToNumber(bits) : bf16ToNumber(bits);
}

export function numberToHalf(datatype: 'FP16' | 'BF16', value: number): number {
  return encode(value, datatype === 'FP16' ? FP16 : BF16);
}
