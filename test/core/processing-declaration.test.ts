/**
 * The `preprocessing:` / `postprocessing:` sections and output labels, read from real files: the
 * typed form with its defaults, and one error per mistake naming the file, the field and what was
 * expected.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DeclarationInvalid, loadDeclaredModel } from '../../core/model-repository.js';

const MODEL = `name: m
engine: onnx
model_file: model.onnx
max_batch_size: 4
inputs:
  - name: IMAGE
    datatype: FP32
    dims: [3, 32, 48]
outputs:
  - name: PROBS
    datatype: FP32
    dims: [5]
`;

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function write(yaml: string, files: Record<string, string> = {}): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'infergate-processing-decl-'));
  dirs.push(root);
  const dir = path.join(root, 'm');
  mkdirSync(path.join(dir, '1'), { recursive: true });
  writeFileSync(path.join(dir, '1', 'model.onnx'), '');
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  writeFileSync(path.join(dir, 'model.yaml'), yaml);
  return path.join(dir, 'model.yaml');
}

describe('processing sections: accepted forms', () => {
  it('fills the defaults of an image input and keeps the output steps and labels', () => {
    const yaml = MODEL.replace('dims: [5]', 'dims: [5]\n    labels: labels.txt')
      + 'preprocessing:\n  IMAGE: {format: image, resize: {mode: fixed, width: 48, height: 32}}\n'
      + 'postprocessing:\n  PROBS: {softmax: true, top_k: 2}\n';
    const { declaration } = loadDeclaredModel(write(yaml, { 'labels.txt': 'a\nb\n' }));
    expect(declaration.preprocessing).toEqual({
      IMAGE: { format: 'image', color: 'RGB', resize: { mode: 'fixed', width: 48, height: 32 }, interpolation: 'linear', scale: 1, mean: undefined, std: undefined, layout: 'NCHW', max_image_bytes: undefined, max_image_pixels: undefined },
    });
    expect(declaration.postprocessing).toEqual({ PROBS: { softmax: true, top_k: 2 } });
    expect(declaration.outputs[0].labels).toBe('labels.txt');
  });

  it('multiple_of wants variable H and W; NHWC grey reads C last', () => {
    const yaml = MODEL.replace('dims: [3, 32, 48]', 'dims: [-1, -1, 1]')
      + 'preprocessing:\n  IMAGE: {format: image, color: GRAY, layout: NHWC, resize: {mode: multiple_of, multiple: 32, max_side: 960}}\n';
    expect(loadDeclaredModel(write(yaml)).declaration.preprocessing?.IMAGE.resize).toEqual({ mode: 'multiple_of', multiple: 32, max_side: 960 });
  });
});

describe('processing sections: each mistake is named', () => {
  const cases: [string, string, Record<string, string>, string, string[]][] = [
    ['preprocessing of an unknown input', 'preprocessing:\n  PIXELS: {format: image}\n', {}, 'preprocessing.PIXELS', ['is not a declared input', 'IMAGE']],
    ['an unknown format', 'preprocessing:\n  IMAGE: {format: audio}\n', {}, 'preprocessing.IMAGE.format', ['expected one of image']],
    ['a typo in a step', 'preprocessing:\n  IMAGE: {format: image, mena: [0.5]}\n', {}, 'preprocessing.IMAGE.mena', ["did you mean 'mean'?"]],
    ['an unknown resize mode', 'preprocessing:\n  IMAGE: {format: image, resize: {mode: crop}}\n', {}, 'preprocessing.IMAGE.resize.mode', ['expected one of fixed, keep_aspect, multiple_of']],
    ['GRAY for a 3-channel input', 'preprocessing:\n  IMAGE: {format: image, color: GRAY}\n', {}, 'preprocessing.IMAGE.color', ['GRAY has 1 channel(s)', 'declares 3']],
    ['fixed resize without height', 'preprocessing:\n  IMAGE: {format: image, resize: {mode: fixed, width: 48}}\n', {}, 'preprocessing.IMAGE.resize.height', ['expected this field for mode fixed']],
    ['resize width against the declared dims', 'preprocessing:\n  IMAGE: {format: image, resize: {mode: keep_aspect, width: 64, height: 32}}\n', {}, 'preprocessing.IMAGE.resize.width', ['expected 48, the width input']],
    ['multiple_of with fixed dims', 'preprocessing:\n  IMAGE: {format: image, resize: {mode: multiple_of, multiple: 32}}\n', {}, 'preprocessing.IMAGE.resize', ['declare H and W as -1', '32×48']],
    ['mean of two values for RGB', 'preprocessing:\n  IMAGE: {format: image, mean: [0.5, 0.5]}\n', {}, 'preprocessing.IMAGE.mean', ['expected 1 or 3 value(s) for RGB, got 2']],
    ['a zero std', 'preprocessing:\n  IMAGE: {format: image, std: [0]}\n', {}, 'preprocessing.IMAGE.std', ['expected non-zero values']],
    ['pad colour out of range', 'preprocessing:\n  IMAGE: {format: image, resize: {mode: keep_aspect, width: 48, height: 32, pad_color: [300]}}\n', {}, 'preprocessing.IMAGE.resize.pad_color[0]', ['must be <= 255']],
    ['pad colour with mode fixed', 'preprocessing:\n  IMAGE: {format: image, resize: {mode: fixed, width: 48, height: 32, pad_color: [0]}}\n', {}, 'preprocessing.IMAGE.resize.pad_color', ['not used by mode fixed']],
    ['an image input of INT32', 'preprocessing:\n  IMAGE: {format: image}\n', {}, 'preprocessing.IMAGE', ['expected input \'IMAGE\' to be one of FP32, FP16, FP64, UINT8']],
    ['postprocessing of an unknown output', 'postprocessing:\n  LOGITS: {softmax: true}\n', {}, 'postprocessing.LOGITS', ['is not a declared output', 'PROBS']],
    ['argmax and top_k together', 'postprocessing:\n  PROBS: {argmax: true, top_k: 3}\n', {}, 'postprocessing.PROBS', ['expected argmax or top_k, not both']],
    ['top_k of 0', 'postprocessing:\n  PROBS: {top_k: 0}\n', {}, 'postprocessing.PROBS.top_k', ['expected a value ≥ 1, got 0']],
    ['a labels file that is not there', '', {}, 'outputs[0].labels', ['expected a labels file at', path.join('m', 'labels.txt')]],
  ];

  it.each(cases)('%s', (name, extra, files, field, substrings) => {
    let yaml = MODEL + extra;
    if (name.includes('INT32')) yaml = yaml.replace('datatype: FP32', 'datatype: INT32');
    if (name.includes('labels file')) yaml = yaml.replace('dims: [5]', 'dims: [5]\n    labels: labels.txt');
    const file = write(yaml, files);
    let err: unknown;
    try { loadDeclaredModel(file); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(DeclarationInvalid);
    const errors = (err as DeclarationInvalid).errors;
    expect(errors.map((e) => e.field)).toEqual([field]);
    expect(errors[0].file).toBe(file);
    for (const s of substrings) expect(errors[0].message).toContain(s);
  });
});
