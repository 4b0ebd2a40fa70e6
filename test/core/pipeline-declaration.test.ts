/**
 * Pipeline declarations: the tensor flow is checked at load (every read has a writer before it,
 * nothing is written twice, every output is written), errors name the file and the field, and a
 * repository's pipelines load apart from its models (the bundled `ocr` included).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DeclarationInvalid, loadModelRepository } from '../../core/model-repository.js';
import { loadPipelineRepository, parsePipelineDeclaration, pipelineMetadata } from '../../core/pipeline-declaration.js';
import { bundledModelsDir } from '../../core/package-root.js';

const dir = '/repo/models/p';
const file = `${dir}/model.yaml`;

function declaration(steps: unknown[], outputs = [{ name: 'y', datatype: 'FP32', dims: [-1] }]) {
  return { name: 'p', inputs: [{ name: 'x', datatype: 'FP32', dims: [-1] }], outputs, pipeline: { steps } };
}

function problems(raw: unknown): string[] {
  try {
    parsePipelineDeclaration(raw, file, dir);
  } catch (err) {
    if (err instanceof DeclarationInvalid) return err.errors.map((e) => `${e.field}: ${e.message}`);
    throw err;
  }
  return [];
}

describe('parsePipelineDeclaration', () => {
  it('accepts model and processing steps and keeps their order and mappings', () => {
    const d = parsePipelineDeclaration(declaration([
      { model: 'a', version: '2', inputs: { IN: 'x' }, outputs: { OUT: 'h' } },
      { process: 'softmax', parameters: { axis: 1 }, inputs: { t: 'h' }, outputs: { t: 'y' } },
    ]), file, dir);
    expect(d.steps).toEqual([
      { kind: 'model', model: 'a', version: '2', inputs: { IN: 'x' }, outputs: { OUT: 'h' } },
      { kind: 'process', process: 'softmax', parameters: { axis: 1 }, inputs: { t: 'h' }, outputs: { t: 'y' } },
    ]);
    expect(pipelineMetadata(d)).toEqual({
      name: 'p', versions: ['1'], platform: 'ensemble', maxBatchSize: 0,
      inputs: [{ name: 'x', datatype: 'FP32', shape: [-1] }], outputs: [{ name: 'y', datatype: 'FP32', shape: [-1] }],
    });
  });

  it.each([
    ['a read with no writer before it', [{ model: 'a', inputs: { IN: 'h' }, outputs: { OUT: 'y' } }],
      ["pipeline.steps[0].inputs.IN: reads 'h', which no pipeline input or earlier step writes (known: x)"]],
    ['a tensor written twice', [{ model: 'a', inputs: { IN: 'x' }, outputs: { OUT: 'y' } }, { model: 'b', inputs: { IN: 'x' }, outputs: { OUT: 'y' } }],
      ["pipeline.steps[1].outputs.OUT: writes 'y', which step 0 already wrote; name each tensor once"]],
    ['a step overwriting a pipeline input', [{ model: 'a', inputs: { IN: 'x' }, outputs: { OUT: 'x', O2: 'y' } }],
      ["pipeline.steps[0].outputs.OUT: writes 'x', which pipeline input 'x' already wrote; name each tensor once"]],
    ['an output nobody writes', [{ model: 'a', inputs: { IN: 'x' }, outputs: { OUT: 'z' } }],
      ["outputs[0].name: expected a step to write 'y'; none does"]],
    ['a step that is both', [{ model: 'a', process: 'softmax', inputs: { IN: 'x' }, outputs: { OUT: 'y' } }],
      ["pipeline.steps[0]: expected exactly one of 'model' (a model to call) or 'process' (a processing step)"]],
    ['a step that is neither', [{ inputs: { IN: 'x' }, outputs: { OUT: 'y' } }],
      ["pipeline.steps[0]: expected exactly one of 'model' (a model to call) or 'process' (a processing step)"]],
    ['parameters on a model step', [{ model: 'a', parameters: { k: 1 }, inputs: { IN: 'x' }, outputs: { OUT: 'y' } }],
      ['pipeline.steps[0].parameters: only a processing step takes parameters; a model step maps tensors only']],
    ['a misspelt step field', [{ modle: 'a', inputs: { IN: 'x' }, outputs: { OUT: 'y' } }],
      ['pipeline.steps[0].modle: unknown field (check its spelling)']],
  ])('refuses %s', (_what, steps, expected) => {
    expect(problems(declaration(steps))).toEqual(expected);
  });

  it('refuses an empty pipeline and a name other than the directory', () => {
    expect(problems({ ...declaration([]), name: 'q' })).toEqual(['pipeline.steps: expected at least 1 item(s)']);
    expect(problems({ ...declaration([{ model: 'a', inputs: { IN: 'x' }, outputs: { OUT: 'y' } }]), name: 'q' }))
      .toEqual(["name: expected the model directory's name 'p', got 'q'"]);
  });
});

describe('repositories', () => {
  it('the bundled ocr pipeline loads as a pipeline, not as a model', () => {
    const { pipelines, errors } = loadPipelineRepository(bundledModelsDir());
    expect(errors).toEqual([]);
    expect(pipelines.map((p) => p.name)).toEqual(['ocr']);
    expect(pipelines[0].steps.map((s) => (s.kind === 'model' ? `model:${s.model}` : `process:${s.process}`))).toEqual([
      'process:detection_image', 'model:ocr_det', 'process:text_boxes', 'process:text_crops',
      'model:ocr_cls', 'process:orient_text_lines', 'model:ocr_rec', 'process:ctc_greedy_decode',
    ]);
    expect(loadModelRepository(bundledModelsDir()).models.map((m) => m.declaration.name)).not.toContain('ocr');
  });

  it('a bad pipeline is reported with its file and field; the model loader does not see it', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'infergate-pipelines-'));
    try {
      mkdirSync(path.join(root, 'bad'));
      writeFileSync(path.join(root, 'bad', 'model.yaml'), 'name: bad\ninputs: [{name: x, datatype: FP32, dims: [1]}]\noutputs: [{name: y, datatype: FP32, dims: [1]}]\npipeline:\n  steps: [{model: a, inputs: {IN: w}, outputs: {OUT: y}}]\n');
      expect(loadPipelineRepository(root)).toEqual({
        pipelines: [],
        errors: [{ file: path.join(root, 'bad', 'model.yaml'), field: 'pipeline.steps[0].inputs.IN', message: "reads 'w', which no pipeline input or earlier step writes (known: x)" }],
      });
      expect(loadModelRepository(root)).toEqual({ models: [], errors: [] });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
