/**
 * Resizing decoded pixels to what a model takes.
 *
 *   resizeImage(image: RawImage, spec: ResizeSpec, interpolation?: Interpolation): Promise<ResizedImage>
 *   resizedSize(width: number, height: number, spec: ResizeSpec): ResizePlan      // pure: the sizes only
 *
 * Modes:
 * - `fixed`: stretched to width × height, whatever the aspect ratio;
 * - `keep_aspect`: scaled to fit inside width × height with its aspect ratio kept, then padded to
 *   exactly width × height with `padColor` (at the right and bottom, or centred);
 * - `multiple_of`: scaled down so the longer side is at most `maxSide` (never up), then each side
 *   rounded to the nearest multiple of `multiple` (at least one multiple), as detectors that
 *   downsample by 32 want.
 * The ResizedImage says how to map a point back: source = (resized − offset) / scale, per axis.
 * sharp (libvips) scales on libuv's thread pool; padding is a row copy; an image already at its
 * target size is returned as is.
 *
 *   padImage(image: RawImage, plan: ResizePlan, padColor: readonly number[]): RawImage   // pure
 */
import sharp from 'sharp';
import type { RawImage } from './image-decode.js';

export type Interpolation = 'nearest' | 'linear' | 'cubic' | 'lanczos3';

export type PadPosition = 'end' | 'center';

export type ResizeSpec =
  | { mode: 'fixed'; width: number; height: number }
  | { mode: 'keep_aspect'; width: number; height: number; padColor?: readonly number[]; padPosition?: PadPosition }
  | { mode: 'multiple_of'; multiple: number; maxSide?: number };

/** Where the source image lands in the output, and the output's size. */
export interface ResizePlan {
  /** Output size. */
  width: number;
  height: number;
  /** Size the source is scaled to before any padding. */
  scaledWidth: number;
  scaledHeight: number;
  /** Padding on the left and top (keep_aspect, centred); 0 otherwise. */
  offsetX: number;
  offsetY: number;
}

export interface ResizedImage {
  image: RawImage;
  /** scaled / source, per axis. */
  scaleX: number;
  scaleY: number;
  offsetX: number;
  offsetY: number;
}

/** The sizes a spec gives an image of width × height (pure: what resizeImage will do). */
export function resizedSize(width: number, height: number, spec: ResizeSpec): ResizePlan {
  switch (spec.mode) {
    case 'fixed':
      return { width: spec.width, height: spec.height, scaledWidth: spec.width, scaledHeight: spec.height, offsetX: 0, offsetY: 0 };
    case 'keep_aspect': {
      const scale = Math.min(spec.width / width, spec.height / height);
      const scaledWidth = clamp(Math.round(width * scale), 1, spec.width);
      const scaledHeight = clamp(Math.round(height * scale), 1, spec.height);
      const centred = spec.padPosition === 'center';
      return {
        width: spec.width,
        height: spec.height,
        scaledWidth,
        scaledHeight,
        offsetX: centred ? Math.floor((spec.width - scaledWidth) / 2) : 0,
        offsetY: centred ? Math.floor((spec.height - scaledHeight) / 2) : 0,
      };
    }
    case 'multiple_of': {
      const longer = Math.max(width, height);
      const scale = spec.maxSide !== undefined && longer > spec.maxSide ? spec.maxSide / longer : 1;
      const round = (side: number) => Math.max(spec.multiple, Math.round((side * scale) / spec.multiple) * spec.multiple);
      const w = round(width);
      const h = round(height);
      return { width: w, height: h, scaledWidth: w, scaledHeight: h, offsetX: 0, offsetY: 0 };
    }
  }
}

export async function resizeImage(image: RawImage, spec: ResizeSpec, interpolation: Interpolation = 'linear'): Promise<ResizedImage> {
  const plan = resizedSize(image.width, image.height, spec);
  const scaleX = plan.scaledWidth / image.width;
  const scaleY = plan.scaledHeight / image.height;
  const { width, height } = image;
  const scaled = plan.scaledWidth === width && plan.scaledHeight === height
    ? image
    : await scaleImage(image, plan.scaledWidth, plan.scaledHeight, interpolation);
  const padded = plan.scaledWidth === plan.width && plan.scaledHeight === plan.height
    ? scaled
    : padImage(scaled, plan, spec.mode === 'keep_aspect' ? spec.padColor ?? [0] : [0]);
  return { image: padded, scaleX, scaleY, offsetX: plan.offsetX, offsetY: plan.offsetY };
}

async function scaleImage(image: RawImage, width: number, height: number, interpolation: Interpolation): Promise<RawImage> {
  const { channels } = image;
  let pipeline = sharp(image.data, { raw: { width: image.width, height: image.height, channels } })
    .resize(width, height, { fit: 'fill', kernel: interpolation });
  // libvips writes sRGB unless told: a grey image stays one channel.
  if (channels === 1) pipeline = pipeline.toColourspace('b-w');
  const { data, info } = await pipeline
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== channels || info.width !== width || info.height !== height) {
    throw new Error(`resize produced ${info.width}×${info.height}×${info.channels}, expected ${width}×${height}×${channels}`);
  }
  return { width, height, channels, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/**
 * Places the scaled image at (offsetX, offsetY) on a canvas of the plan's size filled with the pad
 * colour (one value per channel, or one for all). A row copy in JS: cheaper than another sharp call.
 */
export function padImage(image: RawImage, plan: ResizePlan, padColor: readonly number[]): RawImage {
  const { channels } = image;
  const data = new Uint8Array(plan.width * plan.height * channels);
  for (let c = 0; c < channels; c++) {
    const v = padColor.length === 1 ? padColor[0] : padColor[c];
    if (v !== 0) for (let i = c; i < data.length; i += channels) data[i] = v;
  }
  const rowBytes = image.width * channels;
  for (let y = 0; y < image.height; y++) {
    const from = y * rowBytes;
    data.set(image.data.subarray(from, from + rowBytes), ((y + plan.offsetY) * plan.width + plan.offsetX) * channels);
  }
  return { width: plan.width, height: plan.height, channels, data };
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}
