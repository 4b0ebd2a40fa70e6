/**
 * Writes the weights of the bundled `dense_native` model (models/dense_native/1/model.dense) for
 * the reference native plugin: 64 inputs → 256 (ReLU) → 256 (ReLU) → 10, seeded, so no weights are
 * downloaded or checked in. Part of `npm run build:native`; rewrites the file only when its bytes
 * differ.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { bundledModelsDir } from '../core/package-root.js';
import { encodeDense, generateDense, type DenseNetwork } from './dense-weights.js';

export const DENSE_NATIVE_INPUT_WIDTH = 64;
export const DENSE_NATIVE_WIDTHS = [256, 256, 10] as const;
export const DENSE_NATIVE_SEED = 15;

export function denseNativeNetwork(): DenseNetwork {
  return generateDense(DENSE_NATIVE_INPUT_WIDTH, DENSE_NATIVE_WIDTHS, DENSE_NATIVE_SEED);
}

export function denseNativeWeightsPath(): string {
  return path.join(bundledModelsDir(), 'dense_native', '1', 'model.dense');
}

function main(): void {
  const file = denseNativeWeightsPath();
  const bytes = encodeDense(denseNativeNetwork());
  if (existsSync(file) && Buffer.compare(readFileSync(file), bytes) === 0) return;
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, bytes);
  console.log(`wrote ${path.relative(process.cwd(), file)} (${bytes.length} bytes)`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main();
}
