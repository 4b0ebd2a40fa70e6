/**
 * An encoded image laid out for a text detector: decoded to RGB (processing/image-decode.ts: JPEG,
 * PNG, WebP; size limits; off the event loop), resized so its longer side is at most maxSide and
 * both sides are multiples of `multipleOf` (DB detectors downsample by 32), normalized per channel,
 * NCHW float. The decoded image is kept at its own size: boxes are given in its coordinates and
 * the text lines are cut from it, not from the smaller detector input.
 */
import { decodeImage, imageBytesOf, DEFAULT_MAX_IMAGE_PIXELS } from './image-decode.js';
import { resizeImage } from './image-resize.js';
import type { RgbImage } from './text-crops.js';

export interface DetectionImageOptions {
  maxSide: number;
  multipleOf: number;
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
  /** Largest decoded image, width × height: a decompression bomb is refused before decoding. */
  maxPixels: number;
}

export const DEFAULT_DETECTION_IMAGE_OPTIONS: DetectionImageOptions = {
  maxSide: 960,
  multipleOf: 32,
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
  maxPixels: DEFAULT_MAX_IMAGE_PIXELS,
};

export interface DetectionImage {
  image: RgbImage;
  /** [1, 3, height, width]. */
  input: Float32Array;
  width: number;
  height: number;
}

/** A bad image (not an image, truncated, 0×0, over maxPixels) is INVALID_ARG (400) naming `where`. */
export async function detectionImage(element: Uint8Array, where: string, options: DetectionImageOptions = DEFAULT_DETECTION_IMAGE_OPTIONS): Promise<DetectionImage> {
  const image = await decodeImage(imageBytesOf(element), { channels: 3, maxPixels: options.maxPixels, where });
  const resized = (await resizeImage(image, { mode: 'multiple_of', multiple: options.multipleOf, maxSide: options.maxSide })).image;
  const { width, height, data } = resized;
  const plane = width * height;
  const input = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    const scale = 1 / (255 * options.std[c]);
    const shift = options.mean[c] / options.std[c];
    for (let p = 0; p < plane; p++) input[c * plane + p] = data[p * 3 + c] * scale - shift;
  }
  return { image: { width: image.width, height: image.height, data: image.data }, input, width, height };
}
