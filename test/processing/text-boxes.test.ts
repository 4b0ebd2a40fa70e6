import { describe, expect, it } from 'vitest';
import { DEFAULT_TEXT_BOX_OPTIONS, boxCorners, findTextBoxes, readingOrder, type TextBox } from '../../processing/text-boxes.js';

/** A map of width × height with each rectangle [x0, y0, x1, y1) set to p. */
function map(width: number, height: number, rects: Array<[number, number, number, number, number?]>): Float32Array {
  const m = new Float32Array(width * height);
  for (const [x0, y0, x1, y1, p = 0.9] of rects) {
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) m[y * width + x] = p;
  }
  return m;
}

describe('findTextBoxes', () => {
  it('finds each region, grows it by pad_ratio × its height on every side, in reading order', () => {
    // Two lines, the lower one first in memory order of its right part: reading order must still be top first.
    const m = map(100, 50, [[10, 30, 60, 40], [20, 10, 90, 15]]);
    const boxes = findTextBoxes(m, 100, 50, 100, 50, { ...DEFAULT_TEXT_BOX_OPTIONS, padRatio: 0.2 });
    expect(boxes.map(({ x0, y0, x1, y1 }) => [x0, y0, x1, y1])).toEqual([
      [19, 9, 91, 16], // height 5 → pad 1
      [8, 28, 62, 42], // height 10 → pad 2
    ]);
    expect(boxes[0].score).toBeCloseTo(0.9, 6);
  });

  it('scales boxes from the map to the image and clamps them to it', () => {
    const m = map(32, 32, [[0, 0, 16, 4]]);
    const [box] = findTextBoxes(m, 32, 32, 64, 128, { ...DEFAULT_TEXT_BOX_OPTIONS, padRatio: 0.5 });
    expect([box.x0, box.y0, box.x1, box.y1]).toEqual([0, 0, 36, 24]); // x: (16 + 2) × 2, y: (4 + 2) × 4
  });

  it.each([
    ['below the pixel threshold', [[10, 10, 40, 20, 0.25]], 0],
    ['below the box threshold', [[10, 10, 40, 20, 0.45]], 0],
    ['thinner than min_size', [[10, 10, 40, 12]], 0],
    ['diagonal neighbours are separate regions', [[10, 10, 14, 14], [14, 14, 18, 18]], 2],
  ] as Array<[string, Array<[number, number, number, number, number?]>, number]>)('%s', (_what, rects, count) => {
    expect(findTextBoxes(map(64, 64, rects), 64, 64, 64, 64)).toHaveLength(count);
  });

  it('keeps at most max_boxes', () => {
    const rects: Array<[number, number, number, number]> = Array.from({ length: 10 }, (_, i) => [2, i * 6, 30, i * 6 + 4]);
    expect(findTextBoxes(map(32, 64, rects), 32, 64, 32, 64, { ...DEFAULT_TEXT_BOX_OPTIONS, maxBoxes: 3 })).toHaveLength(3);
  });
});

describe('readingOrder and corners', () => {
  const box = (x0: number, y0: number, x1: number, y1: number): TextBox => ({ x0, y0, x1, y1, score: 1 });

  it('boxes on one line read left to right even when the right one starts a little higher', () => {
    const right = box(200, 10, 300, 40);
    const left = box(0, 14, 100, 44);
    const below = box(0, 60, 100, 90);
    expect(readingOrder([below, right, left])).toEqual([left, right, below]);
  });

  it('corners go clockwise from the top-left', () => {
    expect(boxCorners(box(1, 2, 3, 4))).toEqual([1, 2, 3, 2, 3, 4, 1, 4]);
  });
});
