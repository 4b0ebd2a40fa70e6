import { describe, expect, it } from 'vitest';
import { classifierInput, cropTextLines, recognizerInput, type RgbImage } from '../../processing/text-crops.js';

/** A 40 × 10 image whose red channel is the column index and green the row. */
function gradient(): RgbImage {
  const width = 40, height = 10;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set([x, y, 7], (y * width + x) * 3);
  return { width, height, data };
}

describe('text crops', () => {
  const boxes = [{ x0: 0, y0: 0, x1: 40, y1: 10, score: 1 }, { x0: 0, y0: 0, x1: 10, y1: 10, score: 1 }];

  it('resizes each box to the height, keeping its aspect ratio; the widest sets the stride', () => {
    const crops = cropTextLines(gradient(), boxes, 5, 100);
    expect(crops).toMatchObject({ count: 2, height: 5, stride: 20 });
    expect(Array.from(crops.widths)).toEqual([20, 5]);
    // Column x of the 20-wide crop samples source column 2x + 0.5: red ≈ 2x + 0.5 (rounded).
    expect(crops.pixels[(0 * 20 + 3) * 3]).toBe(7);
    // Right of the narrow crop's width: zeros.
    expect(crops.pixels[(5 * 20 + 10) * 3 + 2]).toBe(0);
  });

  it('caps a long line at max_width (squeezed into it)', () => {
    expect(Array.from(cropTextLines(gradient(), boxes, 5, 12).widths)).toEqual([12, 5]);
  });

  it('recognizer input: NCHW, (v/255 − 0.5)/0.5, zero-padded to a multiple of the width step; a flagged crop turned 180°', () => {
    const crops = cropTextLines(gradient(), boxes, 5, 100);
    const upright = recognizerInput(crops, [false, false], 8);
    expect(upright.width).toBe(24);
    const turned = recognizerInput(crops, [true, false], 8);
    const at = (d: Float32Array, row: number, c: number, y: number, x: number) => d[((row * 3 + c) * 5 + y) * 24 + x];
    expect(at(upright.data, 0, 2, 0, 0)).toBeCloseTo(7 / 127.5 - 1, 6);
    // Turned: the crop's top-left pixel is its original bottom-right one.
    expect(at(turned.data, 0, 0, 0, 0)).toBeCloseTo(at(upright.data, 0, 0, 4, 19), 6);
    expect(at(turned.data, 0, 1, 0, 0)).toBeCloseTo(at(upright.data, 0, 1, 4, 19), 6);
    // Padding stays zero (mid grey after normalization).
    expect(at(turned.data, 0, 0, 0, 22)).toBe(0);
    expect(at(turned.data, 1, 0, 0, 7)).toBe(0);
  });

  it('classifier input: [N, 3, height, width], narrower crops zero-padded', () => {
    const crops = cropTextLines(gradient(), boxes, 5, 100);
    const cls = classifierInput(crops, 16);
    expect(cls).toHaveLength(2 * 3 * 5 * 16);
    expect(cls[((1 * 3 + 2) * 5 + 0) * 16 + 4]).toBeCloseTo(7 / 127.5 - 1, 6);
    expect(cls[((1 * 3 + 2) * 5 + 0) * 16 + 5]).toBe(0);
  });
});
