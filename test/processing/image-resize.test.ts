/**
 * Resize plans (pure tables: sizes, scales, offsets) and resizeImage's pixels on small images,
 * exact where the kernel makes them exact (nearest neighbour, whole-number factors, padding).
 */
import { describe, expect, it } from 'vitest';
import type { RawImage } from '../../processing/image-decode.js';
import { padImage, resizeImage, resizedSize, type ResizeSpec } from '../../processing/image-resize.js';

describe('resizedSize', () => {
  const cases: [string, number, number, ResizeSpec, ReturnType<typeof resizedSize>][] = [
    ['fixed stretches', 100, 50, { mode: 'fixed', width: 32, height: 32 }, { width: 32, height: 32, scaledWidth: 32, scaledHeight: 32, offsetX: 0, offsetY: 0 }],
    ['keep_aspect, wide: pads the bottom', 100, 50, { mode: 'keep_aspect', width: 64, height: 64 }, { width: 64, height: 64, scaledWidth: 64, scaledHeight: 32, offsetX: 0, offsetY: 0 }],
    ['keep_aspect, tall, centred', 50, 100, { mode: 'keep_aspect', width: 64, height: 64, padPosition: 'center' }, { width: 64, height: 64, scaledWidth: 32, scaledHeight: 64, offsetX: 16, offsetY: 0 }],
    ['keep_aspect upscales', 10, 5, { mode: 'keep_aspect', width: 40, height: 40 }, { width: 40, height: 40, scaledWidth: 40, scaledHeight: 20, offsetX: 0, offsetY: 0 }],
    ['keep_aspect never scales a side to 0', 1000, 1, { mode: 'keep_aspect', width: 10, height: 10 }, { width: 10, height: 10, scaledWidth: 10, scaledHeight: 1, offsetX: 0, offsetY: 0 }],
    ['multiple_of rounds to the nearest multiple', 100, 50, { mode: 'multiple_of', multiple: 32 }, { width: 96, height: 64, scaledWidth: 96, scaledHeight: 64, offsetX: 0, offsetY: 0 }],
    ['multiple_of: at least one multiple', 10, 5, { mode: 'multiple_of', multiple: 32 }, { width: 32, height: 32, scaledWidth: 32, scaledHeight: 32, offsetX: 0, offsetY: 0 }],
    ['multiple_of with max_side scales the longer side down first', 1920, 1080, { mode: 'multiple_of', multiple: 32, maxSide: 960 }, { width: 960, height: 544, scaledWidth: 960, scaledHeight: 544, offsetX: 0, offsetY: 0 }],
    ['multiple_of: max_side never scales up', 200, 100, { mode: 'multiple_of', multiple: 32, maxSide: 960 }, { width: 192, height: 96, scaledWidth: 192, scaledHeight: 96, offsetX: 0, offsetY: 0 }],
  ];
  it.each(cases)('%s', (_name, w, h, spec, expected) => {
    expect(resizedSize(w, h, spec)).toEqual(expected);
  });
});

/** A width × height grey image whose pixel (x, y) is 10·y + x. */
function ramp(width: number, height: number): RawImage {
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data[y * width + x] = 10 * y + x;
  return { width, height, channels: 1, data };
}

describe('resizeImage', () => {
  it('an image already at its target size comes back as is', async () => {
    const image = ramp(4, 4);
    const out = await resizeImage(image, { mode: 'fixed', width: 4, height: 4 });
    expect(out.image).toBe(image);
    expect(out).toMatchObject({ scaleX: 1, scaleY: 1, offsetX: 0, offsetY: 0 });
  });

  it('nearest, 2× up: each pixel becomes a 2×2 block', async () => {
    const out = await resizeImage(ramp(2, 2), { mode: 'fixed', width: 4, height: 4 }, 'nearest');
    expect(Array.from(out.image.data)).toEqual([0, 0, 1, 1, 0, 0, 1, 1, 10, 10, 11, 11, 10, 10, 11, 11]);
    expect(out).toMatchObject({ scaleX: 2, scaleY: 2 });
  });

  it('linear (the default) keeps a flat colour flat at any factor', async () => {
    const flat: RawImage = { width: 9, height: 7, channels: 3, data: new Uint8Array(9 * 7 * 3).fill(77) };
    for (const [w, h] of [[3, 5], [20, 11], [1, 1]]) {
      const out = await resizeImage(flat, { mode: 'fixed', width: w, height: h });
      expect(out.image).toMatchObject({ width: w, height: h, channels: 3 });
      expect(out.image.data.every((v) => v === 77)).toBe(true);
    }
  });

  it('keep_aspect pads with the pad colour, at the end or centred (RGB)', async () => {
    const red: RawImage = { width: 2, height: 1, channels: 3, data: new Uint8Array([255, 0, 0, 255, 0, 0]) };
    const end = await resizeImage(red, { mode: 'keep_aspect', width: 2, height: 3, padColor: [1, 2, 3] }, 'nearest');
    expect(Array.from(end.image.data)).toEqual([255, 0, 0, 255, 0, 0, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3]);
    const centred = await resizeImage(red, { mode: 'keep_aspect', width: 2, height: 3, padColor: [9], padPosition: 'center' }, 'nearest');
    expect(Array.from(centred.image.data)).toEqual([9, 9, 9, 9, 9, 9, 255, 0, 0, 255, 0, 0, 9, 9, 9, 9, 9, 9]);
    expect(centred).toMatchObject({ scaleX: 1, scaleY: 1, offsetX: 0, offsetY: 1 });
  });

  it('keep_aspect scales then pads: 4×2 into 2×2 (nearest)', async () => {
    const out = await resizeImage(ramp(4, 2), { mode: 'keep_aspect', width: 2, height: 2, padColor: [255] }, 'nearest');
    expect(out.image).toMatchObject({ width: 2, height: 2, channels: 1 });
    expect(out).toMatchObject({ scaleX: 0.5, scaleY: 0.5, offsetX: 0, offsetY: 0 });
    expect(Array.from(out.image.data.subarray(2))).toEqual([255, 255]);
  });

  it('multiple_of gives sides that are multiples (and says the scale per axis)', async () => {
    const out = await resizeImage(ramp(50, 20), { mode: 'multiple_of', multiple: 16 });
    expect(out.image).toMatchObject({ width: 48, height: 16 });
    expect(out.scaleX).toBeCloseTo(48 / 50, 12);
    expect(out.scaleY).toBeCloseTo(16 / 20, 12);
  });

  it('padImage places rows at the offset', () => {
    const out = padImage(ramp(2, 1), { width: 3, height: 2, scaledWidth: 2, scaledHeight: 1, offsetX: 1, offsetY: 1 }, [7]);
    expect(Array.from(out.data)).toEqual([7, 7, 7, 7, 0, 1]);
  });
});
