/**
 * Class labels for an output (`labels: labels.txt` beside the model declaration): one label per
 * line, line i naming class index i, as Triton's label files do.
 *
 *   parseLabels(text: string): string[]
 *   readLabelsFile(file: string): string[]
 *
 * Windows line ends are accepted; a final newline does not add an empty label.
 */
import { readFileSync } from 'node:fs';

/** Largest labels file read: 16 MiB (ImageNet-21k's labels take under 1 MiB). */
export const MAX_LABELS_FILE_BYTES = 16 * 1024 * 1024;

export function parseLabels(text: string): string[] {
  const lines = text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

export function readLabelsFile(file: string): string[] {
  const bytes = readFileSync(file);
  if (bytes.length > MAX_LABELS_FILE_BYTES) {
    throw new Error(`labels file ${file} is ${bytes.length} bytes, over the limit of ${MAX_LABELS_FILE_BYTES}`);
  }
  return parseLabels(bytes.toString('utf8'));
}
