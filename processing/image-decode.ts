/**
 * Encoded image → raw pixels, for a model input declared as an image.
 *
 *   decodeImage(encoded: Uint8Array, options?: DecodeOptions): Promise<RawImage>
 *   imageBytesOf(element: Uint8Array): Uint8Array      // a BYTES element: the file, or its base64 text
 *   sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined
 *
 * Only JPEG, PNG and WebP are decoded, recognised by their magic bytes before libvips sees
 * anything (no SVG, TIFF, GIF… reaches a decoder). The header is read first and its size checked
 * against the limits, so a decompression bomb (a small file declaring 100000×100000) is refused
 * before a byte of pixels is allocated. Decoding runs in sharp (libvips) on libuv's thread pool,
 * off the event loop. Every refusal is an InferError INVALID_ARG (HTTP 400) saying what was wrong.
 */
import sharp from 'sharp';
import { invalidArg } from '../core/errors.js';

/** Largest encoded image accepted: 16 MiB (the request body limit bounds it too). */
export const DEFAULT_MAX_IMAGE_BYTES = 16 * 1024 * 1024;
/**
 * Largest decoded image, width × height: 40 Mpx (≈ 7700 × 5200; 120 MB as RGB). A 20000 × 20000
 * image (400 Mpx, 1.2 GB as RGB) is refused. sharp's own limitInputPixels is set to the same value.
 */
export const DEFAULT_MAX_IMAGE_PIXELS = 40_000_000;

export type ImageFormat = 'jpeg' | 'png' | 'webp';

/** 8-bit pixels, rows top to bottom, channels interleaved (HWC): RGB when channels is 3, grey when 1. */
export interface RawImage {
  width: number;
  height: number;
  channels: 1 | 3;
  data: Uint8Array;
}

export interface DecodeOptions {
  /** 3: RGB (alpha dropped, composited on nothing), 1: greyscale. Default 3. */
  channels?: 1 | 3;
  maxBytes?: number;
  maxPixels?: number;
  /** Names the input in messages, e.g. "input 'image' element 0". */
  where?: string;
}

/** Recognises JPEG, PNG and WebP by their first bytes. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47
    && bytes[4] === 0x0d && bytes[5] === 0x0a && bytes[6] === 0x1a && bytes[7] === 0x0a) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes.length >= 12 && ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 12) === 'WEBP') return 'webp';
  return undefined;
}

const BASE64_TEXT = /^[A-Za-z0-9+/_-]+={0,2}$/;
const DATA_URL = /^data:image\/[a-z]+;base64,/;

/**
 * The image file a BYTES element carries: the element itself when it starts like an image
 * (binary tensor data, raw binary requests), else its text read as base64 (a JSON request can only
 * carry text), with an optional `data:image/...;base64,` prefix. Anything else is returned as is and
 * refused by decodeImage as not an image.
 */
export function imageBytesOf(element: Uint8Array): Uint8Array {
  if (sniffImageFormat(element) !== undefined) return element;
  let text = Buffer.from(element.buffer, element.byteOffset, element.byteLength).toString('latin1').trim();
  text = text.replace(DATA_URL, '').replace(/\s+/g, '');
  if (text.length < 4 || !BASE64_TEXT.test(text)) return element;
  const decoded = Buffer.from(text, text.includes('-') || text.includes('_') ? 'base64url' : 'base64');
  return sniffImageFormat(decoded) !== undefined ? decoded : element;
}

/** Decodes a JPEG, PNG or WebP file to 8-bit RGB (or grey) pixels; INVALID_ARG when it cannot or may not. */
export async function decodeImage(encoded: Uint8Array, options: DecodeOptions = {}): Promise<RawImage> {
  const where = options.where ?? 'image';
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_IMAGE_BYTES;
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_IMAGE_PIXELS;
  const channels = options.channels ?? 3;
  if (encoded.length === 0) throw invalidArg(`${where}: the image is empty (0 bytes)`, 'bad_image');
  if (encoded.length > maxBytes) {
    throw invalidArg(`${where}: the image is ${encoded.length} bytes, over the limit max_image_bytes = ${maxBytes}`, 'image_too_large');
  }
  const format = sniffImageFormat(encoded);
  if (format === undefined) {
    throw invalidArg(`${where}: not a JPEG, PNG or WebP image (it starts with bytes ${hexPrefix(encoded)}); send the file's bytes, or their base64 text in JSON`, 'not_an_image');
  }
  const input = Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength);
  checkPngSize(input, where);
  // Header only: with no pixel limit here, a bomb's declared size can be named in the refusal.
  let width: number | undefined;
  let height: number | undefined;
  try {
    ({ width, height } = await sharp(input, { limitInputPixels: false }).metadata());
  } catch (err) {
    throw undecodable(where, format, err);
  }
  if (!width || !height) throw invalidArg(`${where}: the ${format.toUpperCase()} image is ${width ?? 0}×${height ?? 0}: it has no pixels`, 'empty_image');
  if (width * height > maxPixels) {
    throw invalidArg(`${where}: the ${format.toUpperCase()} image is ${width}×${height} = ${width * height} pixels, over the limit max_image_pixels = ${maxPixels}`, 'image_too_large');
  }
  try {
    let pipeline = sharp(input, { limitInputPixels: maxPixels, failOn: 'warning' }).rotate();
    pipeline = channels === 1 ? pipeline.removeAlpha().greyscale().toColourspace('b-w') : pipeline.removeAlpha().toColourspace('srgb');
    const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== channels) throw new Error(`decoded to ${info.channels} channels, expected ${channels}`);
    return { width: info.width, height: info.height, channels, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  } catch (err) {
    throw undecodable(where, format, err);
  }
}

/**
 * libpng refuses a 0-width or 0-height PNG as a "corrupt header"; read IHDR here so that the
 * answer says what is wrong with it.
 */
function checkPngSize(bytes: Buffer, where: string): void {
  if (bytes.length < 24 || ascii(bytes, 12, 16) !== 'IHDR') return;
  const width = bytes.readUInt32BE(16);
  const height = bytes.readUInt32BE(20);
  if (width === 0 || height === 0) throw invalidArg(`${where}: the PNG image is ${width}×${height}: it has no pixels`, 'empty_image');
}

function undecodable(where: string, format: ImageFormat, err: unknown) {
  const detail = (err as Error).message.replace(/\s+$/, '').replace(/:$/, '');
  return invalidArg(`${where}: the ${format.toUpperCase()} image could not be decoded: it is truncated or corrupt (${detail})`, 'bad_image');
}

function ascii(bytes: Uint8Array, from: number, to: number): string {
  return String.fromCharCode(...bytes.subarray(from, to));
}

function hexPrefix(bytes: Uint8Array): string {
  return Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
}
