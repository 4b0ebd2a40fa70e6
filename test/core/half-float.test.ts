import { describe, expect, it } from 'vitest';
import {
  BF16_MAX,
  FP16_MAX,
  bf16ToNumber,
  fp16ToNumber,
  halfToNumber,
  numberToBf16,
  numberToFp16,
  numberToHalf,
} from '../../core/half-float.js';

describe('FP16', () => {
  it.each([
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [0.5, 0x3800],
    [0.1, 0x2e66],
    [1 / 3, 0x3555],
    [FP16_MAX, 0x7bff],
    [65519, 0x7bff], // below the halfway point to 65536: rounds down
    [65520, 0x7c00], // halfway, ties to the even neighbour, which is infinity
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // halfway between 0 and the smallest subnormal: even is 0
    [3 * 2 ** -26, 0x0001],
    [2 ** -14 - 2 ** -25, 0x0400], // subnormal rounding up into the smallest normal
    [1 + 2 ** -11, 0x3c00], // tie: stays on the even mantissa
    [1 + 3 * 2 ** -11, 0x3c02], // tie: goes up to the even mantissa
    [1e-10, 0x0000],
  ])('encodes %d as %i', (value, bits) => {
    expect(numberToFp16(value)).toBe(bits);
  });

  it('encodes NaN as the canonical quiet NaN and decodes NaN patterns as NaN', () => {
    expect(numberToFp16(NaN)).toBe(0x7e00);
    expect(fp16ToNumber(0x7e00)).toBeNaN();
    expect(fp16ToNumber(0xfc01)).toBeNaN();
  });

  it('round-trips every non-NaN 16-bit pattern exactly', () => {
    const wrong: number[] = [];
    for (let bits = 0; bits < 0x10000; bits++) {
      const value = fp16ToNumber(bits);
      if (!Number.isNaN(value) && numberToFp16(value) !== bits) wrong.push(bits);
    }
    expect(wrong).toEqual([]);
  });

  it('picks the nearest representable value for arbitrary doubles', () => {
    let seed = 12345;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const farther: number[] = [];
    for (let n = 0; n < 20000; n++) {
      const x = (random() - 0.5) * 2 ** (random() * 40 - 24);
      const bits = numberToFp16(x);
      const got = fp16ToNumber(bits);
      for (const neighbour of [bits - 1, bits + 1]) {
        const other = fp16ToNumber(neighbour & 0xffff);
        const comparable = Number.isFinite(other) && Math.sign(other) === Math.sign(got);
        if (comparable && Math.abs(x - got) > Math.abs(x - other)) farther.push(x);
      }
    }
    expect(farther).toEqual([]);
  });
});

describe('BF16', () => {
  it.each([
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3f80],
    [-1.5, 0xbfc0],
    [BF16_MAX, 0x7f7f],
    [Infinity, 0x7f80],
    [3.4e38, 0x7f80], // past max + half an ulp
    [1 + 2 ** -8, 0x3f80], // tie to even
    [1 + 3 * 2 ** -8, 0x3f82],
    [2 ** -133, 0x0001], // smallest subnormal
  ])('encodes %d as %i', (value, bits) => {
    expect(numberToBf16(value)).toBe(bits);
  });

  it('rounds the double once: just above a tie goes up (Float32 first would round it to the tie, then down)', () => {
    const x = 1 + 2 ** -8 + 2 ** -30;
    expect(numberToBf16(x)).toBe(0x3f81);
    expect(numberToBf16(Math.fround(x))).toBe(0x3f80);
  });

  it('round-trips every non-NaN 16-bit pattern exactly', () => {
    const wrong: number[] = [];
    for (let bits = 0; bits < 0x10000; bits++) {
      const value = bf16ToNumber(bits);
      if (!Number.isNaN(value) && numberToBf16(value) !== bits) wrong.push(bits);
    }
    expect(wrong).toEqual([]);
  });

  it('NaN is canonical', () => {
    expect(numberToBf16(NaN)).toBe(0x7fc0);
    expect(bf16ToNumber(0x7fc0)).toBeNaN();
  });
});

describe('by datatype name', () => {
  it('dispatches on FP16 / BF16', () => {
    expect(numberToHalf('FP16', 1)).toBe(0x3c00);
    expect(numberToHalf('BF16', 1)).toBe(0x3f80);
    expect(halfToNumber('FP16', 0x3c00)).toBe(1);
    expect(halfToNumber('BF16', 0x3f80)).toBe(1);
  });
});
