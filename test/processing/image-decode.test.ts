/**
 * decodeImage on images made here with sharp (exact pixels where the format is lossless), the
 * forms a BYTES element may take, and every refusal: each an INVALID_ARG whose message says what
 * was wrong and names the limit it hit.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { InferError } from '../../core/errors.js';
import {
  DEFAULT_MAX_IMAGE_PIXELS, decodeImage, imageBytesOf, sniffImageFormat,
} from '../../processing/image-decode.js';
import { blackPng1Bit, bombPng, pngWith } from '../support/png-bytes.js';
import zlib from 'node:zlib';

/** 3×2 RGB: red green blue / white black grey(128). */
const PIXELS = Buffer.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 128, 128, 128]);
const raw = { raw: { width: 3, height: 2, channels: 3 as const } };

async function refusal(promise: Promise<unknown>): Promise<InferError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(InferError);
  expect((err as InferError).code).toBe('INVALID_ARG');
  return err as InferError;
}

describe('decodeImage: lossless formats give back the exact pixels', () => {
  it.each([
    ['png', () => sharp(PIXELS, raw).png().toBuffer()],
    ['webp (lossless)', () => sharp(PIXELS, raw).webp({ lossless: true }).toBuffer()],
  ])('%s → RGB', async (_name, make) => {
    const image = await decodeImage(await make());
    expect(image).toMatchObject({ width: 3, height: 2, channels: 3 });
    expect(Array.from(image.data)).toEqual(Array.from(PIXELS));
  });

  it('an RGBA PNG loses its alpha channel; a grey PNG becomes RGB', async () => {
    const rgba = Buffer.from([10, 20, 30, 0, 40, 50, 60, 255]);
    const image = await decodeImage(await sharp(rgba, { raw: { width: 2, height: 1, channels: 4 } }).png().toBuffer());
    expect(Array.from(image.data)).toEqual([10, 20, 30, 40, 50, 60]);
    const grey = await sharp(Buffer.from([7, 200]), { raw: { width: 2, height: 1, channels: 1 } }).png().toBuffer();
    expect(Array.from((await decodeImage(grey)).data)).toEqual([7, 7, 7, 200, 200, 200]);
  });

  it('channels: 1 gives one grey value per pixel (a grey PNG: exactly its values)', async () => {
    const grey = await sharp(Buffer.from([0, 7, 200, 255]), { raw: { width: 2, height: 2, channels: 1 } }).png().toBuffer();
    const image = await decodeImage(grey, { channels: 1 });
    expect(image).toMatchObject({ width: 2, height: 2, channels: 1 });
    expect(Array.from(image.data)).toEqual([0, 7, 200, 255]);
  });

  it('a JPEG decodes to its size, close to its colours (lossy)', async () => {
    const flat = await sharp({ create: { width: 16, height: 8, channels: 3, background: { r: 200, g: 100, b: 50 } } }).jpeg({ quality: 95 }).toBuffer();
    const image = await decodeImage(flat);
    expect(image).toMatchObject({ width: 16, height: 8, channels: 3 });
    for (let i = 0; i < image.data.length; i += 3) {
      expect(Math.abs(image.data[i] - 200)).toBeLessThanOrEqual(3);
      expect(Math.abs(image.data[i + 1] - 100)).toBeLessThanOrEqual(3);
      expect(Math.abs(image.data[i + 2] - 50)).toBeLessThanOrEqual(3);
    }
  });
});

describe('imageBytesOf: a BYTES element holds the file or its base64 text', () => {
  it.each([
    ['the file itself', (png: Buffer) => png],
    ['base64', (png: Buffer) => Buffer.from(png.toString('base64'))],
    ['base64url', (png: Buffer) => Buffer.from(png.toString('base64url'))],
    ['a data URL', (png: Buffer) => Buffer.from(`data:image/png;base64,${png.toString('base64')}`)],
    ['base64 with line breaks', (png: Buffer) => Buffer.from(png.toString('base64').replace(/(.{16})/g, '$1\n'))],
  ])('%s', async (_name, wrap) => {
    const png = await sharp(PIXELS, raw).png().toBuffer();
    expect(Buffer.from(imageBytesOf(wrap(png))).equals(png)).toBe(true);
  });

  it('text that is not base64 of an image is handed on unchanged (and refused by decodeImage)', () => {
    const text = Buffer.from('aGVsbG8gd29ybGQ=');
    expect(imageBytesOf(text)).toBe(text);
  });

  it('sniffs the three formats by magic bytes only', async () => {
    expect(sniffImageFormat(await sharp(PIXELS, raw).png().toBuffer())).toBe('png');
    expect(sniffImageFormat(await sharp(PIXELS, raw).jpeg().toBuffer())).toBe('jpeg');
    expect(sniffImageFormat(await sharp(PIXELS, raw).webp().toBuffer())).toBe('webp');
    expect(sniffImageFormat(await sharp(PIXELS, raw).gif().toBuffer())).toBeUndefined();
    expect(sniffImageFormat(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'))).toBeUndefined();
  });
});

describe('decodeImage refuses, with a clear 400', () => {
  const cases: [string, () => Promise<Buffer>, Parameters<typeof decodeImage>[1], string[]][] = [
    ['empty', async () => Buffer.alloc(0), {}, ['the image is empty (0 bytes)']],
    ['not an image', async () => Buffer.from('hello, world'), {}, ['not a JPEG, PNG or WebP image', 'starts with bytes 68 65 6c 6c']],
    ['a GIF (not a served format)', () => sharp(PIXELS, raw).gif().toBuffer(), {}, ['not a JPEG, PNG or WebP image']],
    ['a truncated PNG', async () => { const png = await sharp(PIXELS, raw).png().toBuffer(); return png.subarray(0, png.length - 20); }, {}, ['PNG image could not be decoded', 'truncated or corrupt']],
    ['a PNG cut inside its header', async () => (await sharp(PIXELS, raw).png().toBuffer()).subarray(0, 30), {}, ['PNG image could not be decoded', 'truncated or corrupt']],
    ['a truncated JPEG', async () => { const jpg = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#808080' } }).jpeg().toBuffer(); return jpg.subarray(0, jpg.length / 2); }, {}, ['JPEG image could not be decoded', 'truncated or corrupt']],
    ['0×0', async () => pngWith(0, 0, zlib.deflateSync(Buffer.alloc(0))), {}, ['PNG image is 0×0: it has no pixels']],
    ['20000×20000', async () => blackPng1Bit(20000, 20000), {}, ['20000×20000 = 400000000 pixels', `over the limit max_image_pixels = ${DEFAULT_MAX_IMAGE_PIXELS}`]],
    ['a decompression bomb (tiny PNG declaring 100000×100000)', async () => bombPng(100000, 100000), {}, ['100000×100000 = 10000000000 pixels', 'max_image_pixels']],
    ['over max_image_bytes', () => sharp(PIXELS, raw).png().toBuffer(), { maxBytes: 10 }, ['bytes, over the limit max_image_bytes = 10']],
    ['over a lowered max_image_pixels', () => sharp(PIXELS, raw).png().toBuffer(), { maxPixels: 5 }, ['3×2 = 6 pixels, over the limit max_image_pixels = 5']],
  ];

  it.each(cases)('%s', async (_name, make, options, substrings) => {
    const bytes = await make();
    const err = await refusal(decodeImage(bytes, { ...options, where: "input 'IMAGE'" }));
    expect(err.message.startsWith("input 'IMAGE': ")).toBe(true);
    for (const s of substrings) expect(err.message).toContain(s);
  });

  it('the bomb is refused from its header, before any pixel is decoded (fast, small)', async () => {
    const bomb = bombPng(100000, 100000);
    expect(bomb.length).toBeLessThan(200);
    const started = performance.now();
    await refusal(decodeImage(bomb));
    expect(performance.now() - started).toBeLessThan(500);
  });
});
