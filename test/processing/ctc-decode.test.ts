import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ctcGreedyDecode, loadCtcDictionary, type CtcDictionary } from '../../processing/ctc-decode.js';

// Classes: 0 blank, 1 'a', 2 'b', 3 'c', 4 space.
const DICT: CtcDictionary = { symbols: ['', 'a', 'b', 'c', ' '] };

/** One row of one-hot-ish steps: each step's best class with probability p, the rest share 1 − p. */
function steps(best: number[], p = 0.9): Float32Array {
  const out = new Float32Array(best.length * 5).fill((1 - p) / 4);
  best.forEach((c, t) => { out[t * 5 + c] = p; });
  return out;
}

describe('ctcGreedyDecode', () => {
  it.each([
    [[1, 1, 0, 1, 2, 2, 3], 'aabc'],
    [[0, 0, 0], ''],
    [[1, 4, 2], 'a b'],
    [[4, 1, 4], 'a'], // spaces at either end are trimmed
    [[3, 0, 3, 3, 0], 'cc'],
  ])('%j → %j', (best, text) => {
    const [line] = ctcGreedyDecode(steps(best), 1, best.length, 5, DICT);
    expect(line.text).toBe(text);
  });

  it('confidence is the mean probability of the kept steps; an empty line has 0', () => {
    const probs = new Float32Array([...steps([1, 1], 0.6), ...steps([0, 0], 0.9)]);
    probs[1 * 5 + 1] = 0.8; // the repeat is merged: only the first step of a run counts
    const lines = ctcGreedyDecode(probs, 2, 2, 5, DICT);
    expect(lines[0].text).toBe('a');
    expect(lines[0].confidence).toBeCloseTo(0.6, 6);
    expect(lines[1]).toEqual({ text: '', confidence: 0 });
  });

  it('refuses a dictionary that does not match the class count', () => {
    expect(() => ctcGreedyDecode(new Float32Array(6), 1, 1, 6, DICT)).toThrow('the recognizer gives 6 classes, the dictionary has 5 (blank and space included)');
  });

  it('loads a dictionary file: blank first, the lines, then the space class', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'infergate-ctc-'));
    try {
      writeFileSync(path.join(dir, 'keys.txt'), 'a\nb\r\nc\n');
      expect(loadCtcDictionary(path.join(dir, 'keys.txt'), true).symbols).toEqual(['', 'a', 'b', 'c', ' ']);
      expect(loadCtcDictionary(path.join(dir, 'keys.txt'), false).symbols).toEqual(['', 'a', 'b', 'c']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
