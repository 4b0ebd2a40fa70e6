/**
 * Warmup declarations: the checks a declaration gets at load (one line per mistake, naming the
 * field), and the requests a sample stands for. Runs the real declaration loader on files in a
 * temp directory.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DeclarationInvalid, loadDeclaredModel } from '../../core/model-repository.js';
import { CALIBRATION_VARIABLE_DIM, generatedRequest, warmupRequest } from '../../core/model-warmup.js';

const root = mkdtempSync(path.join(tmpdir(), 'infergate-warmup-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
/** Writes models/<name>/model.yaml (a batching sim model, inputs A [4] FP32 and B [-1] INT32) with this warmup. */
function declare(warmupYaml: string, files: Record<string, Buffer> = {}, maxBatch = 4): string {
  const name = `m${n++}`;
  const dir = path.join(root, name);
  mkdirSync(dir);
  for (const [file, bytes] of Object.entries(files)) writeFileSync(path.join(dir, file), bytes);
  writeFileSync(path.join(dir, 'model.yaml'), [
    `name: ${name}`, 'engine: sim', 'versions: [1]', `max_batch_size: ${maxBatch}`, 'sim: {service_ms: 1}',
    'inputs:', '  - {name: A, datatype: FP32, dims: [4]}', '  - {name: B, datatype: INT32, dims: [-1]}',
    'outputs:', '  - {name: A_OUT, datatype: FP32, dims: [4]}',
    'model_warmup:', warmupYaml,
  ].join('\n'));
  return path.join(dir, 'model.yaml');
}

function problems(file: string): string[] {
  try {
    loadDeclaredModel(file);
    return [];
  } catch (err) {
    if (!(err instanceof DeclarationInvalid)) throw err;
    return err.errors.map((e) => `${e.field}: ${e.message}`);
  }
}

describe('model_warmup declaration', () => {
  it('accepts zero, random and file data, and fills batch_size 1 and count 1 in', () => {
    const row = Buffer.from(new Float32Array([1, 2, 3, 4]).buffer);
    const file = declare([
      '  - name: zeros',
      '    inputs: {A: {zero_data: true}, B: {random_data: true, dims: [3]}}',
      '  - name: from_file',
      '    batch_size: 2',
      '    count: 5',
      '    inputs: {A: {input_data_file: a.bin}, B: {zero_data: true, dims: [2]}}',
    ].join('\n'), { 'a.bin': row });
    const model = loadDeclaredModel(file);
    expect(model.declaration.model_warmup!.map((w) => [w.name, w.batch_size, w.count])).toEqual([['zeros', 1, 1], ['from_file', 2, 5]]);

    const zeros = warmupRequest(model.declaration, model.declaration.model_warmup![0]);
    expect(zeros.inputs.map((t) => t.shape)).toEqual([[1, 4], [1, 3]]);
    expect([...(zeros.inputs[0].data as Float32Array)]).toEqual([0, 0, 0, 0]);
    expect([...(zeros.inputs[1].data as Int32Array)].every((v) => v >= 0 && v <= 9)).toBe(true);

    const fromFile = warmupRequest(model.declaration, model.declaration.model_warmup![1]);
    expect(fromFile.inputs[0].shape).toEqual([2, 4]);
    // One row from the file, repeated for each row of the batch.
    expect([...(fromFile.inputs[0].data as Float32Array)]).toEqual([1, 2, 3, 4, 1, 2, 3, 4]);
  });

  it.each([
    ['no data for a declared input', '  - {name: w, inputs: {A: {zero_data: true}}}',
      'model_warmup[0].inputs.B: expected data for every declared input, this one is missing'],
    ['an input the model does not declare', '  - {name: w, inputs: {A: {zero_data: true}, B: {zero_data: true, dims: [1]}, C: {zero_data: true}}}',
      'model_warmup[0].inputs.C: is not a declared input; expected one of A, B'],
    ['two data sources', '  - {name: w, inputs: {A: {zero_data: true, random_data: true}, B: {zero_data: true, dims: [1]}}}',
      'model_warmup[0].inputs.A: expected exactly one of zero_data: true, random_data: true, input_data_file, got zero_data and random_data'],
    ['no dims where the declared ones are variable', '  - {name: w, inputs: {A: {zero_data: true}, B: {zero_data: true}}}',
      'model_warmup[0].inputs.B.dims: expected dims: the declared dims [-1] are variable'],
    ['dims that do not fit', '  - {name: w, inputs: {A: {zero_data: true, dims: [5]}, B: {zero_data: true, dims: [1]}}}',
      'model_warmup[0].inputs.A.dims: expected dims that fit the declared [4], got [5]'],
    ['a batch above max_batch_size', '  - {name: w, batch_size: 5, inputs: {A: {zero_data: true}, B: {zero_data: true, dims: [1]}}}',
      'model_warmup[0].batch_size: expected at most max_batch_size 4, got 5'],
    ['a missing file', '  - {name: w, inputs: {A: {input_data_file: nope.bin}, B: {zero_data: true, dims: [1]}}}',
      "model_warmup[0].inputs.A.input_data_file: file 'nope.bin' does not exist in the model directory"],
    ['a file outside the model directory', '  - {name: w, inputs: {A: {input_data_file: ../x.bin}, B: {zero_data: true, dims: [1]}}}',
      "model_warmup[0].inputs.A.input_data_file: expected a path inside the model directory, got '../x.bin'"],
    ['two samples of one name', '  - {name: w, inputs: {A: {zero_data: true}, B: {zero_data: true, dims: [1]}}}\n  - {name: w, inputs: {A: {zero_data: true}, B: {zero_data: true, dims: [1]}}}',
      "model_warmup[1].name: expected a unique name, 'w' appears twice"],
  ])('refuses %s', (_what, yaml, expected) => {
    expect(problems(declare(yaml))).toEqual([expected]);
  });

  it('refuses a file of the wrong size, naming the size it expected', () => {
    const file = declare('  - {name: w, inputs: {A: {input_data_file: a.bin}, B: {zero_data: true, dims: [1]}}}', { 'a.bin': Buffer.alloc(12) });
    expect(problems(file)).toEqual(["model_warmup[0].inputs.A.input_data_file: expected 16 bytes (one row of FP32 [4]), 'a.bin' has 12"]);
  });

  it('refuses a batch above 1 for a model that does not batch, and a count above the bound', () => {
    expect(problems(declare('  - {name: w, batch_size: 2, inputs: {A: {zero_data: true}, B: {zero_data: true, dims: [1]}}}', {}, 0)))
      .toEqual(['model_warmup[0].batch_size: expected 1 (the model does not batch: max_batch_size 0), got 2']);
    expect(problems(declare('  - {name: w, count: 1001, inputs: {A: {zero_data: true}, B: {zero_data: true, dims: [1]}}}'))[0])
      .toMatch(/^model_warmup\[0\]\.count: /);
  });
});

describe('generatedRequest (calibration inputs)', () => {
  it('shapes a batch of random rows from the metadata, variable dims set to the calibration dim', () => {
    const request = generatedRequest({
      name: 'm', versions: ['1'], platform: 'p', maxBatchSize: 8,
      inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3, -1, -1] }, { name: 's', datatype: 'BYTES', shape: [-1, 2] }],
      outputs: [],
    }, 2);
    const d = CALIBRATION_VARIABLE_DIM;
    expect(request.inputs.map((t) => t.shape)).toEqual([[2, 3, d, d], [2, 2]]);
    expect((request.inputs[0].data as Float32Array).length).toBe(2 * 3 * d * d);
    expect((request.inputs[1].data as Uint8Array[]).length).toBe(4);
  });
});
