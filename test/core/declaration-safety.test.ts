/**
 * Safe declarations: a model.yaml is read as plain data (no custom tags, no merge keys, a bound on
 * alias expansion), model names are one repository directory, and every file a declaration names
 * (model_file, labels, warmup data, a pipeline step's dictionary) stays inside the model's
 * directory: no absolute path, no `..`, no symlink that resolves out of it. Each refusal says which
 * field and why.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InferError } from '../../core/errors.js';
import { MAX_DECLARATION_ALIASES, parseDeclarationYaml } from '../../core/declaration-yaml.js';
import { declarationFileOf } from '../../core/model-control.js';
import { DeclarationInvalid, loadDeclaredModel, loadModelRepository } from '../../core/model-repository.js';
import { loadPipelineRepository } from '../../core/pipeline-declaration.js';
import { buildPipelines } from '../../service/pipeline-target.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A repository with model `m` (version 1), a file `secret.bin` outside it, and `files` inside m/. */
function repository(yaml: string, files: Record<string, string | Buffer> = {}): { root: string; file: string; outside: string } {
  const root = mkdtempSync(path.join(os.tmpdir(), 'infergate-decl-safety-'));
  dirs.push(root);
  mkdirSync(path.join(root, 'm', '1'), { recursive: true });
  const outside = path.join(os.tmpdir(), `infergate-outside-${path.basename(root)}.bin`);
  writeFileSync(outside, Buffer.alloc(16));
  dirs.push(outside);
  for (const [name, content] of Object.entries(files)) writeFileSync(path.join(root, 'm', name), content);
  const file = path.join(root, 'm', 'model.yaml');
  writeFileSync(file, yaml);
  return { root, file, outside };
}

function refusal(file: string): { field: string; message: string } {
  try {
    loadDeclaredModel(file, { knownEngines: ['onnx', 'sim'] });
  } catch (err) {
    expect(err).toBeInstanceOf(DeclarationInvalid);
    return (err as DeclarationInvalid).errors[0];
  }
  throw new Error('the declaration was accepted');
}

const SIM_MODEL = `name: m
engine: sim
sim: {service_ms: 1}
inputs: [{name: IN, datatype: FP32, dims: [4]}]
outputs: [{name: OUT, datatype: FP32, dims: [4]}]
`;

describe('YAML is read as plain data', () => {
  it.each([
    ['a language tag', 'name: !!js/function "function () { return 1 }"', 'Unresolved tag: tag:yaml.org,2002:js/function'],
    ['a custom tag', 'name: !include /etc/passwd', 'Unresolved tag: !include'],
  ])('refuses %s, naming it', (_what, yaml, expected) => {
    expect(() => parseDeclarationYaml(yaml)).toThrow(expected);
    expect(() => parseDeclarationYaml(yaml)).toThrow('declarations are plain YAML, no custom tags');
    const { file } = repository(`${SIM_MODEL}x: ${yaml.slice('name: '.length)}\n`);
    const e = refusal(file);
    expect(e.field).toBe('');
    expect(e.message).toContain('not valid YAML');
  });

  it(`refuses a billion-laughs document past ${MAX_DECLARATION_ALIASES} alias expansions, quickly`, () => {
    const levels = ['a: &a [x,x,x,x,x,x,x,x,x]'];
    for (let i = 1; i < 9; i++) {
      const prev = String.fromCharCode(96 + i);
      levels.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    const started = performance.now();
    expect(() => parseDeclarationYaml(levels.join('\n'))).toThrow(`aliases expand beyond the limit of ${MAX_DECLARATION_ALIASES}`);
    expect(performance.now() - started).toBeLessThan(2_000);
    // A few aliases are fine.
    expect(parseDeclarationYaml('a: &a [1, 2]\nb: *a\n')).toEqual({ a: [1, 2], b: [1, 2] });
  });

  it('reads `<<` as a plain key, which the schema then refuses', () => {
    const { file } = repository(`base: &b {max_batch_size: 4}\n<<: *b\n${SIM_MODEL}`);
    const e = refusal(file);
    expect(['base', '<<']).toContain(e.field);
    expect(e.message).toContain('unknown field');
  });

  it('refuses duplicate keys', () => {
    const { file } = repository(`${SIM_MODEL}name: other\n`);
    expect(refusal(file).message).toContain('Map keys must be unique');
  });
});

describe('model names are one directory of the repository', () => {
  it.each(['..', '.', '../m', 'a/b', 'a\\b', '', 'm n'])('a repository call naming %j is refused with INVALID_ARG', (name) => {
    const { root } = repository(SIM_MODEL);
    let error: unknown;
    try {
      declarationFileOf(root, name);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(InferError);
    expect((error as InferError).code).toBe('INVALID_ARG');
    expect((error as InferError).message).toContain('expected a model name of letters, digits, _ . -');
  });

  it('a declared name that is not its directory\'s is refused', () => {
    const { file } = repository(SIM_MODEL.replace('name: m', 'name: ../m'));
    const e = refusal(file);
    expect(e.field).toBe('name');
    expect(e.message).toContain('expected a name of letters, digits, _ . -');
  });
});

describe('files a declaration names stay in the model directory, symlinks included', () => {
  it('model_file: a symlink in the version folder pointing out is refused', () => {
    const { root, file, outside } = repository(SIM_MODEL.replace('engine: sim', 'engine: onnx\nmodel_file: model.onnx'));
    symlinkSync(outside, path.join(root, 'm', '1', 'model.onnx'));
    const e = refusal(file);
    expect(e.field).toBe('model_file');
    expect(e.message).toBe(`'model.onnx' of version 1 resolves to ${outside}, outside the model directory (a symlink out of it)`);
  });

  it('model_file: a symlinked version folder pointing out is not taken as a version', () => {
    const { root, file } = repository(SIM_MODEL.replace('engine: sim', 'engine: onnx\nmodel_file: model.onnx'));
    const elsewhere = mkdtempSync(path.join(os.tmpdir(), 'infergate-elsewhere-'));
    dirs.push(elsewhere);
    writeFileSync(path.join(elsewhere, 'model.onnx'), 'x');
    symlinkSync(elsewhere, path.join(root, 'm', '2'));
    rmSync(path.join(root, 'm', '1'), { recursive: true });
    const e = refusal(file);
    expect(e.field).toBe('versions');
    expect(e.message).toBe('expected numeric version directories beside the declaration, or a versions list');
  });

  it('model_file: a symlink that stays inside the model directory loads', () => {
    const { root, file } = repository(SIM_MODEL.replace('engine: sim', 'engine: onnx\nmodel_file: model.onnx'), { 'shared.onnx': 'x' });
    symlinkSync(path.join(root, 'm', 'shared.onnx'), path.join(root, 'm', '1', 'model.onnx'));
    expect(loadDeclaredModel(file, { knownEngines: ['onnx'] }).versions[0].version).toBe('1');
  });

  it('labels: a symlink pointing out is refused; ../ and absolute paths too', () => {
    const declare = (labels: string) => SIM_MODEL.replace('outputs: [{name: OUT, datatype: FP32, dims: [4]}]', `outputs: [{name: OUT, datatype: FP32, dims: [4], labels: ${JSON.stringify(labels)}}]`);
    const linked = repository(declare('labels.txt'));
    symlinkSync(linked.outside, path.join(linked.root, 'm', 'labels.txt'));
    const e = refusal(linked.file);
    expect(e.field).toBe('outputs[0].labels');
    expect(e.message).toBe(`'labels.txt' resolves to ${linked.outside}, outside the model directory (a symlink out of it)`);
    for (const labels of ['../labels.txt', '/etc/hostname']) {
      const { file } = repository(declare(labels));
      expect(refusal(file).message).toBe(`expected a file beside the declaration (e.g. 'labels.txt'), got '${labels}'`);
    }
  });

  it('warmup input_data_file: a symlink pointing out is refused', () => {
    const { root, file, outside } = repository(`${SIM_MODEL}model_warmup:\n  - {name: w, inputs: {IN: {input_data_file: row.bin}}}\n`);
    symlinkSync(outside, path.join(root, 'm', 'row.bin'));
    const e = refusal(file);
    expect(e.field).toBe('model_warmup[0].inputs.IN.input_data_file');
    expect(e.message).toBe(`'row.bin' resolves to ${outside}, outside the model directory (a symlink out of it)`);
  });

  it('a pipeline step\'s dictionary: a symlink pointing out is refused when the pipeline is built', () => {
    const { root, outside } = repository(`name: m
inputs: [{name: probabilities, datatype: FP32, dims: [-1, -1, 3]}]
outputs: [{name: text, datatype: BYTES, dims: [-1]}, {name: confidence, datatype: FP32, dims: [-1]}]
pipeline:
  steps:
    - process: ctc_greedy_decode
      parameters: {dictionary: keys.txt}
      inputs: {probabilities: probabilities}
      outputs: {text: text, confidence: confidence}
`);
    symlinkSync(outside, path.join(root, 'm', 'keys.txt'));
    const declared = loadPipelineRepository(root);
    expect(declared.errors).toEqual([]);
    const built = buildPipelines(declared.pipelines);
    expect(built.errors.map((e) => e.message).join('\n')).toContain(`'keys.txt' resolves to ${outside}, outside the model directory (a symlink out of it)`);
  });

  it('the bundled repository still loads with every check on', () => {
    const result = loadModelRepository(path.join(import.meta.dirname, '..', '..', 'models'));
    expect(result.errors.filter((e) => /symlink|YAML/.test(e.message))).toEqual([]);
  });
});
