/**
 * A declared model's processing, built from a real declaration file: the metadata clients see,
 * images in (JSON base64 or file bytes, batched) → the exact tensor the model declares, and
 * outputs post-processed and classified. No engine: the steps on each side of it.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { InferError } from '../../core/errors.js';
import { loadDeclaredModel } from '../../core/model-repository.js';
import type { InferRequest, InferResponse } from '../../core/tensor.js';
import { buildModelProcessing } from '../../processing/model-processing.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function load(yaml: string, files: Record<string, string> = {}) {
  const root = mkdtempSync(path.join(os.tmpdir(), 'infergate-model-processing-'));
  dirs.push(root);
  const dir = path.join(root, 'm');
  mkdirSync(path.join(dir, '1'), { recursive: true });
  writeFileSync(path.join(dir, '1', 'model.onnx'), '');
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  writeFileSync(path.join(dir, 'model.yaml'), yaml);
  return loadDeclaredModel(path.join(dir, 'model.yaml'));
}

function build(yaml: string, files: Record<string, string> = {}) {
  const model = load(yaml, files);
  return buildModelProcessing(model.declaration, model.metadata);
}

const YAML = `name: m
engine: onnx
model_file: model.onnx
max_batch_size: 4
inputs:
  - name: IMAGE
    datatype: FP32
    dims: [3, 2, 2]
  - name: SCALE
    datatype: FP32
    dims: [1]
outputs:
  - name: LOGITS
    datatype: FP32
    dims: [3]
    labels: labels.txt
  - name: CLASS
    datatype: FP32
    dims: [3]
preprocessing:
  IMAGE:
    format: image
    color: BGR
    resize: {mode: fixed, width: 2, height: 2}
    interpolation: nearest
    scale: 0.00392156862745098
    mean: [0.5]
    std: [0.5]
postprocessing:
  LOGITS: {softmax: true}
  CLASS: {argmax: true}
`;

/** 1×1 RGB (255, 0, 51) PNG: nearest-resized to 2×2, BGR, (v/255 − 0.5)/0.5 → B 0.6·… */
async function pixelPng(r: number, g: number, b: number): Promise<Buffer> {
  return sharp(Buffer.from([r, g, b]), { raw: { width: 1, height: 1, channels: 3 } }).png().toBuffer();
}

describe('buildModelProcessing', () => {
  const processing = build(YAML, { 'labels.txt': 'cat\ndog\nbird\n' });

  it('metadata: the image input is BYTES [-1,1]; outputs in their post-processed form', () => {
    expect(processing.metadata.inputs).toEqual([
      { name: 'IMAGE', datatype: 'BYTES', shape: [-1, 1] },
      { name: 'SCALE', datatype: 'FP32', shape: [-1, 1] },
    ]);
    expect(processing.metadata.outputs).toEqual([
      { name: 'LOGITS', datatype: 'FP32', shape: [-1, 3] },
      { name: 'CLASS', datatype: 'INT64', shape: [-1, 1] },
    ]);
  });

  it('prepare: two images (file bytes and base64) → one [2,3,2,2] FP32 tensor, exact values; other inputs untouched', async () => {
    const scale = { name: 'SCALE', datatype: 'FP32' as const, shape: [2, 1], data: new Float32Array([1, 2]) };
    const request: InferRequest = {
      modelName: 'm',
      inputs: [
        { name: 'IMAGE', datatype: 'BYTES', shape: [2, 1], data: [await pixelPng(255, 0, 51), Buffer.from((await pixelPng(0, 255, 102)).toString('base64'))] },
        scale,
      ],
    };
    const prepared = await processing.prepare(request);
    const [image, untouched] = prepared.inputs;
    expect(untouched).toBe(scale);
    expect(image).toMatchObject({ name: 'IMAGE', datatype: 'FP32', shape: [2, 3, 2, 2] });
    const v = (p: number) => Math.fround((p * 0.00392156862745098 - 0.5) / 0.5);
    // BGR planes, each 2×2 of the one pixel.
    const row = (r: number, g: number, b: number) => [b, b, b, b, g, g, g, g, r, r, r, r].map(v);
    expect(Array.from(image.data as Float32Array)).toEqual([...row(255, 0, 51), ...row(0, 255, 102)]);
  });

  it('prepare: a bad image is a 400 naming the input and the element', async () => {
    const request: InferRequest = { modelName: 'm', inputs: [{ name: 'IMAGE', datatype: 'BYTES', shape: [2, 1], data: [await pixelPng(1, 2, 3), Buffer.from('nope')] }] };
    const err = await Promise.resolve(processing.prepare(request)).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(InferError);
    expect((err as InferError).message).toMatch(/^input 'IMAGE' element 1: not a JPEG, PNG or WebP image/);
  });

  it('finish: softmax, argmax, then classification with labels where asked', () => {
    const response: InferResponse = {
      modelName: 'm', modelVersion: '1',
      outputs: [
        { name: 'LOGITS', datatype: 'FP32', shape: [1, 3], data: new Float32Array([0, Math.log(3), 0]) },
        { name: 'CLASS', datatype: 'FP32', shape: [1, 3], data: new Float32Array([0.1, 0.2, 0.9]) },
      ],
    };
    const plain = processing.finish(response, { modelName: 'm', inputs: [] });
    expect(Array.from(plain.outputs[0].data as Float32Array)).toEqual([0.2, 0.6, 0.2].map(Math.fround));
    expect(plain.outputs[1]).toMatchObject({ datatype: 'INT64', shape: [1, 1] });
    expect(Array.from(plain.outputs[1].data as BigInt64Array)).toEqual([2n]);
    const classified = processing.finish(response, { modelName: 'm', inputs: [], outputs: [{ name: 'LOGITS', parameters: { classification: 2 } }] });
    expect(classified.outputs[0]).toMatchObject({ datatype: 'BYTES', shape: [1, 2] });
    expect((classified.outputs[0].data as Uint8Array[]).map((b) => Buffer.from(b).toString())).toEqual(['0.600000:1:dog', '0.200000:0:cat']);
  });

  it('a model with no processing passes requests and responses through unchanged', () => {
    const plain = build(YAML.replace(/preprocessing:[\s\S]*$/, ''), { 'labels.txt': 'cat\n' });
    const request: InferRequest = { modelName: 'm', inputs: [] };
    expect(plain.prepare(request)).toBe(request);
    const response: InferResponse = { modelName: 'm', modelVersion: '1', outputs: [] };
    expect(plain.finish(response, request)).toBe(response);
  });

  it('a labels file that vanished after the declaration was read fails the build (the load)', () => {
    const model = load(YAML, { 'labels.txt': 'cat\n' });
    rmSync(path.join(model.declaration.directory, 'labels.txt'));
    expect(() => buildModelProcessing(model.declaration, model.metadata)).toThrow(/labels\.txt/);
  });
});
