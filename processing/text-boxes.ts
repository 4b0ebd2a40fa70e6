/**
 * Text boxes from a detector's probability map (DB-style detectors such as PP-OCR's): threshold the
 * map, find its connected regions, keep those confident enough, and grow each box, because the
 * detector marks a shrunk core of every text line. Boxes are axis-aligned, in the coordinates of
 * the original image, and sorted in reading order.
 */

export interface TextBoxOptions {
  /** A map pixel belongs to text above this probability. */
  threshold: number;
  /** A region is kept when its mean probability is at least this. */
  boxThreshold: number;
  /** Each side of a box grows by this fraction of the box's height (undoes the detector's shrink). */
  padRatio: number;
  /** Regions smaller than this many map pixels on either side are noise. */
  minSize: number;
  /** Most boxes per image: a bound on the work (crops, recognizer rows) one request can cause. */
  maxBoxes: number;
}

export const DEFAULT_TEXT_BOX_OPTIONS: TextBoxOptions = { threshold: 0.3, boxThreshold: 0.5, padRatio: 0.9, minSize: 3, maxBoxes: 256 };

/** x0,y0 (top-left) to x1,y1 (bottom-right), exclusive right/bottom, in image pixels. */
export interface TextBox {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  /** Mean map probability inside the region. */
  score: number;
}

/**
 * `map` is [mapHeight, mapWidth]; the image it was computed from is imageWidth × imageHeight (the
 * detector's input may have been resized from it).
 */
export function findTextBoxes(
  map: Float32Array, mapWidth: number, mapHeight: number,
  imageWidth: number, imageHeight: number,
  options: TextBoxOptions = DEFAULT_TEXT_BOX_OPTIONS,
): TextBox[] {
  const labels = new Int32Array(mapWidth * mapHeight);
  const stack: number[] = [];
  const sx = imageWidth / mapWidth;
  const sy = imageHeight / mapHeight;
  const boxes: TextBox[] = [];
  let next = 0;
  for (let start = 0; start < labels.length; start++) {
    if (labels[start] !== 0 || map[start] <= options.threshold) continue;
    // 4-connected flood fill with an explicit stack: a large region must not overflow the call stack.
    next++;
    labels[start] = next;
    stack.push(start);
    let minX = mapWidth, minY = mapHeight, maxX = -1, maxY = -1, sum = 0, count = 0;
    while (stack.length) {
      const i = stack.pop()!;
      const x = i % mapWidth;
      const y = (i - x) / mapWidth;
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
      if (y < minY) minY = y;
      if (y > maxY) maxY = y;
      sum += map[i];
      count++;
      if (x > 0) visit(i - 1);
      if (x < mapWidth - 1) visit(i + 1);
      if (y > 0) visit(i - mapWidth);
      if (y < mapHeight - 1) visit(i + mapWidth);
    }
    const w = maxX - minX + 1;
    const h = maxY - minY + 1;
    if (w < options.minSize || h < options.minSize) continue;
    const score = sum / count;
    if (score < options.boxThreshold) continue;
    const pad = h * options.padRatio;
    boxes.push({
      x0: Math.max(0, Math.floor((minX - pad) * sx)),
      y0: Math.max(0, Math.floor((minY - pad) * sy)),
      x1: Math.min(imageWidth, Math.ceil((maxX + 1 + pad) * sx)),
      y1: Math.min(imageHeight, Math.ceil((maxY + 1 + pad) * sy)),
      score,
    });
  }
  return readingOrder(boxes).slice(0, options.maxBoxes);

  function visit(j: number): void {
    if (labels[j] !== 0 || map[j] <= options.threshold) return;
    labels[j] = next;
    stack.push(j);
  }
}

/** Top to bottom; boxes whose vertical centres lie within half a height of each other read left to right. */
export function readingOrder(boxes: TextBox[]): TextBox[] {
  const sorted = [...boxes].sort((a, b) => a.y0 - b.y0 || a.x0 - b.x0);
  const centre = (b: TextBox) => (b.y0 + b.y1) / 2;
  // One insertion pass, as PaddleOCR's: swap neighbours on the same line that are out of x order.
  for (let i = 1; i < sorted.length; i++) {
    for (let j = i; j > 0; j--) {
      const a = sorted[j - 1];
      const b = sorted[j];
      const sameLine = Math.abs(centre(a) - centre(b)) < Math.min(a.y1 - a.y0, b.y1 - b.y0) / 2;
      if (sameLine && b.x0 < a.x0) [sorted[j - 1], sorted[j]] = [b, a];
      else break;
    }
  }
  return sorted;
}

/** A box as its four corners (top-left, top-right, bottom-right, bottom-left), x then y: [4, 2]. */
export function boxCorners(box: TextBox): number[] {
  return [box.x0, box.y0, box.x1, box.y0, box.x1, box.y1, box.x0, box.y1];
}
