/**
 * The generated tiny_cnn declared to take a grey image (resize 8×8, nearest, v/255) with labels,
 * for tests that send images over sockets, and the 8×8 test pattern with its preprocessed tensor.
 */
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { bundledModelsDir } from '../../core/package-root.js';

export const IMAGE_MODEL_NAME = 'tiny_cnn_image';
export const IMAGE_MODEL_LABELS = ['circle', 'stripes', 'noise'];
export const IMAGE_SCALE = 0.00392156862745098;

export const IMAGE_MODEL_YAML = `name: ${IMAGE_MODEL_NAME}
engine: onnx
model_file: model.onnx
max_batch_size: 4
inputs:
  - name: INPUT
    datatype: FP32
    dims: [1, 8, 8]
outputs:
  - name: PROBS
    datatype: FP32
    dims: [3]
    labels: labels.txt
preprocessing:
  INPUT:
    format: image
    color: GRAY
    resize: {mode: fixed, width: 8, height: 8}
    interpolation: nearest
    scale: ${IMAGE_SCALE}
execution: inline
instances:
  - kind: cpu
    count: 1
`;

/** Writes the image model (tiny_cnn's weights, the declaration above, labels.txt) into a repository. */
export function writeImageModel(repository: string): void {
  const dir = path.join(repository, IMAGE_MODEL_NAME);
  mkdirSync(path.join(dir, '1'), { recursive: true });
  cpSync(path.join(bundledModelsDir(), 'tiny_cnn', '1', 'model.onnx'), path.join(dir, '1', 'model.onnx'));
  writeFileSync(path.join(dir, 'model.yaml'), IMAGE_MODEL_YAML);
  writeFileSync(path.join(dir, 'labels.txt'), `${IMAGE_MODEL_LABELS.join('\n')}\n`);
}

/** 8×8 grey pixels: a pattern with values spread enough to move the model's output. */
export const PATTERN = Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + (i >> 3) * 11) % 256);

/** The same pixels as 16×16, each one a 2×2 block (nearest 2× down gives them back exactly). */
export const PATTERN_BLOCKS = Uint8Array.from({ length: 256 }, (_, i) => PATTERN[((i >> 5) << 3) + ((i & 15) >> 1)]);

/** The tensor the image model's pre-processing makes of the pattern: [1,8,8] of pixel / 255. */
export const PATTERN_TENSOR = Array.from(PATTERN, (p) => p * IMAGE_SCALE);

export function patternPng(blocks = false): Promise<Buffer> {
  const size = blocks ? 16 : 8;
  return sharp(Buffer.from(blocks ? PATTERN_BLOCKS : PATTERN), { raw: { width: size, height: size, channels: 1 } }).png().toBuffer();
}
