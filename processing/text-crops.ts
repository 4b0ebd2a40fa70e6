/**
 * Text-line crops for a recognizer: each box cut from the RGB image and resized to a fixed height
 * (bilinear, keeping the aspect ratio), then laid out as the recognizer and direction classifier
 * take them: NCHW float, (v/255 − 0.5)/0.5, all rows padded with zeros to the widest one, so the
 * crops of one image go to the recognizer as one batch. Plain loops: a crop is a few thousand
 * pixels, far less than a thread hop or a sharp call costs.
 */
import type { TextBox } from './text-boxes.js';

/** An RGB image, 8 bits per channel, rows top to bottom, channels interleaved (HWC). */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

export interface TextCrops {
  count: number;
  height: number;
  /** Width of the widest crop: every crop's row stride. */
  stride: number;
  /** Each crop's own width (≤ stride). */
  widths: Int32Array;
  /** [count, height, stride, 3] RGB; right of a crop's width: zeros. */
  pixels: Uint8Array;
}

/** Cuts each box and resizes it to `height` rows; widths are capped at maxWidth (a longer line is squeezed). */
export function cropTextLines(image: RgbImage, boxes: readonly TextBox[], height: number, maxWidth: number): TextCrops {
  const widths = new Int32Array(boxes.length);
  boxes.forEach((b, i) => {
    const ratio = (b.x1 - b.x0) / Math.max(1, b.y1 - b.y0);
    widths[i] = Math.max(1, Math.min(maxWidth, Math.round(height * ratio)));
  });
  const stride = boxes.length ? Math.max(...widths) : 0;
  const pixels = new Uint8Array(boxes.length * height * stride * 3);
  boxes.forEach((b, i) => {
    resizeRegion(image, b, widths[i], height, pixels, i * height * stride * 3, stride);
  });
  return { count: boxes.length, height, stride, widths, pixels };
}

/** Bilinear resize of the box region into out (stride pixels per row) from `offset`. */
function resizeRegion(image: RgbImage, box: TextBox, w: number, h: number, out: Uint8Array, offset: number, stride: number): void {
  const srcW = Math.max(1, box.x1 - box.x0);
  const srcH = Math.max(1, box.y1 - box.y0);
  const scaleX = srcW / w;
  const scaleY = srcH / h;
  const { data, width: iw, height: ih } = image;
  for (let y = 0; y < h; y++) {
    const fy = Math.min(ih - 1, Math.max(0, box.y0 + (y + 0.5) * scaleY - 0.5));
    const y0 = Math.floor(fy);
    const y1 = Math.min(ih - 1, y0 + 1);
    const wy = fy - y0;
    for (let x = 0; x < w; x++) {
      const fx = Math.min(iw - 1, Math.max(0, box.x0 + (x + 0.5) * scaleX - 0.5));
      const x0 = Math.floor(fx);
      const x1 = Math.min(iw - 1, x0 + 1);
      const wx = fx - x0;
      const o = offset + (y * stride + x) * 3;
      for (let c = 0; c < 3; c++) {
        const top = data[(y0 * iw + x0) * 3 + c] * (1 - wx) + data[(y0 * iw + x1) * 3 + c] * wx;
        const bottom = data[(y1 * iw + x0) * 3 + c] * (1 - wx) + data[(y1 * iw + x1) * 3 + c] * wx;
        out[o + c] = Math.round(top * (1 - wy) + bottom * wy);
      }
    }
  }
}

const normalize = (v: number) => v / 127.5 - 1;

/**
 * Direction-classifier input: each crop resized to at most `width` columns (a longer one squeezed
 * into it), left-aligned, zero-padded: [count, 3, height, width].
 */
export function classifierInput(crops: TextCrops, width: number): Float32Array {
  const { count, height, stride } = crops;
  const out = new Float32Array(count * 3 * height * width);
  for (let i = 0; i < count; i++) {
    const w = Math.min(width, crops.widths[i]);
    const scale = crops.widths[i] / w;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < w; x++) {
        const sx = Math.min(crops.widths[i] - 1, Math.floor((x + 0.5) * scale));
        const src = ((i * height + y) * stride + sx) * 3;
        for (let c = 0; c < 3; c++) out[((i * 3 + c) * height + y) * width + x] = normalize(crops.pixels[src + c]);
      }
    }
  }
  return out;
}

/**
 * Recognizer input: [count, 3, height, W] with W the widest crop rounded up to `widthMultiple`;
 * crops flagged in `rotate` are turned 180° within their own width first.
 */
export function recognizerInput(crops: TextCrops, rotate: readonly boolean[], widthMultiple: number): { data: Float32Array; width: number } {
  const { count, height, stride } = crops;
  const width = Math.max(widthMultiple, Math.ceil(stride / widthMultiple) * widthMultiple);
  const out = new Float32Array(count * 3 * height * width);
  for (let i = 0; i < count; i++) {
    const w = crops.widths[i];
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < w; x++) {
        const sy = rotate[i] ? height - 1 - y : y;
        const sx = rotate[i] ? w - 1 - x : x;
        const src = ((i * height + sy) * stride + sx) * 3;
        for (let c = 0; c < 3; c++) out[((i * 3 + c) * height + y) * width + x] = normalize(crops.pixels[src + c]);
      }
    }
  }
  return { data: out, width };
}
