/**
 * Greedy CTC decoding of a recognizer's per-step class probabilities: take the best class of each
 * step, merge repeats, drop blanks. Classes follow the PP-OCR convention: 0 = blank, 1..D = the
 * dictionary's lines, D + 1 = space (when the model has that extra class).
 */
import { readFileSync } from 'node:fs';

export interface CtcDictionary {
  /** Characters by class: index 0 is the blank (''). */
  readonly symbols: readonly string[];
}

/** Longest dictionary accepted: a guard against naming the wrong file (PP-OCR's has 6,623 lines). */
export const MAX_DICTIONARY_LINES = 100_000;

/** Reads a dictionary file, one symbol per line; `withSpace` appends the space class after the last line. */
export function loadCtcDictionary(file: string, withSpace: boolean): CtcDictionary {
  const lines = readFileSync(file, 'utf8').split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  if (lines.length === 0) throw new Error(`dictionary ${file} is empty`);
  if (lines.length > MAX_DICTIONARY_LINES) throw new Error(`dictionary ${file} has ${lines.length} lines, more than ${MAX_DICTIONARY_LINES}`);
  return { symbols: ['', ...lines, ...(withSpace ? [' '] : [])] };
}

export interface DecodedLine {
  text: string;
  /** Mean probability of the kept characters (0 for an empty line). */
  confidence: number;
}

/**
 * Decodes each row of `probs` ([rows, steps, classes], row-major). Throws when the class count
 * does not match the dictionary: a wrong dictionary would otherwise give plausible garbage.
 */
export function ctcGreedyDecode(probs: Float32Array, rows: number, steps: number, classes: number, dictionary: CtcDictionary): DecodedLine[] {
  if (classes !== dictionary.symbols.length) {
    throw new Error(`the recognizer gives ${classes} classes, the dictionary has ${dictionary.symbols.length} (blank and space included)`);
  }
  const lines: DecodedLine[] = [];
  for (let r = 0; r < rows; r++) {
    let text = '';
    let sum = 0;
    let kept = 0;
    let previous = -1;
    for (let t = 0; t < steps; t++) {
      const base = (r * steps + t) * classes;
      let best = 0;
      let bestP = probs[base];
      for (let c = 1; c < classes; c++) {
        const p = probs[base + c];
        if (p > bestP) { bestP = p; best = c; }
      }
      if (best !== 0 && best !== previous) {
        text += dictionary.symbols[best];
        sum += bestP;
        kept++;
      }
      previous = best;
    }
    lines.push({ text: text.trim(), confidence: kept ? sum / kept : 0 });
  }
  return lines;
}
