/**
 * Fuzzing the declaration loader (core/model-repository.ts, core/model-declaration.ts,
 * core/pipeline-declaration.ts, core/processing-declaration.ts, core/declaration-yaml.ts): random
 * YAML documents, and mutated copies of the bundled models/*\/model.yaml written into a temp
 * repository beside the model's real files. Every case loads, or is refused with a
 * DeclarationInvalid listing at least one error with a message: never a TypeError from a field of
 * the wrong shape, never a hang.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { DeclarationInvalid, isPipelineDocument, loadDeclaredModel } from '../../core/model-repository.js';
import { bundledModelsDir } from '../../core/package-root.js';
import { parsePipelineDeclaration } from '../../core/pipeline-declaration.js';
import { parseDeclarationYaml } from '../../core/declaration-yaml.js';
import { checkProperty } from './fuzz-settings.js';

const KNOWN_ENGINES = ['onnx', 'sim', 'native', 'tfjs', 'human'];
let repository: string;
/** Each bundled model: its declaration as parsed, and its directory in the temp repository. */
const bundled: Array<{ name: string; doc: Record<string, unknown>; dir: string }> = [];

beforeAll(() => {
  repository = mkdtempSync(path.join(os.tmpdir(), 'infergate-fuzz-decl-'));
  for (const name of readdirSync(bundledModelsDir()).sort()) {
    const source = path.join(bundledModelsDir(), name, 'model.yaml');
    if (!existsSync(source)) continue;
    const dir = path.join(repository, name);
    cpSync(path.join(bundledModelsDir(), name), dir, { recursive: true });
    bundled.push({ name, doc: parseYaml(readFileSync(source, 'utf8')), dir });
  }
});
afterAll(() => rmSync(repository, { recursive: true, force: true }));

/** Loads the declaration text as the repository would; a refusal must be a DeclarationInvalid. */
function load(dir: string, text: string): boolean {
  const file = path.join(dir, 'model.yaml');
  writeFileSync(file, text);
  try {
    let raw: unknown;
    try {
      raw = parseDeclarationYaml(text);
    } catch {
      raw = undefined; // loadDeclaredModel reports it as not valid YAML, below
    }
    if (raw !== undefined && isPipelineDocument(raw)) parsePipelineDeclaration(raw, file, dir);
    else loadDeclaredModel(file, { knownEngines: KNOWN_ENGINES });
    return true;
  } catch (err) {
    if (!(err instanceof DeclarationInvalid)) throw new Error(`threw ${(err as Error).name}, not DeclarationInvalid: ${(err as Error).stack}`);
    expect(err.errors.length).toBeGreaterThan(0);
    for (const e of err.errors) expect(e.message.length).toBeGreaterThan(0);
    return false;
  }
}

/** Replaces the value at a random path of `doc` (or deletes it): keys and indices walked by `steps`. */
function mutate(doc: unknown, steps: number[], replacement: unknown, remove: boolean): unknown {
  const copy = structuredClone(doc);
  let node: any = copy;
  for (let depth = 0; depth < steps.length; depth++) {
    if (node === null || typeof node !== 'object') break;
    const keys = Object.keys(node);
    if (keys.length === 0) break;
    const key = keys[steps[depth] % keys.length];
    const last = depth === steps.length - 1 || node[key] === null || typeof node[key] !== 'object';
    if (last) {
      if (remove) {
        if (Array.isArray(node)) node.splice(Number(key), 1);
        else delete node[key];
      } else {
        node[key] = replacement;
      }
      break;
    }
    node = node[key];
  }
  return copy;
}

/** Values a field may be set to: the right kind sometimes, the wrong kind often. */
const fieldValue = fc.oneof(
  fc.integer({ min: -3, max: 70000 }),
  fc.constantFrom(0, -1, 1.5, 2 ** 53, 1e308, '', '..', '../x', '/etc/passwd', 'model.onnx', 'FP32', 'BYTES', 'cpu', 'latest', 'all', true, false, null),
  fc.string({ maxLength: 8 }),
  fc.array(fc.integer({ min: -2, max: 8 }), { maxLength: 4 }),
  fc.jsonValue({ maxDepth: 2 }),
);

describe('fuzz: model declarations', { timeout: 60_000 }, () => {
  it('the bundled declarations load or are refused cleanly as they are', () => {
    for (const m of bundled) load(m.dir, stringifyYaml(m.doc));
  });

  it('mutated copies of the bundled model.yaml files: a model or a DeclarationInvalid', async () => {
    const cases = fc.record({
      model: fc.nat(),
      edits: fc.array(fc.record({ steps: fc.array(fc.nat(), { minLength: 1, maxLength: 5 }), value: fieldValue, remove: fc.boolean() }), { minLength: 1, maxLength: 3 }),
    });
    await checkProperty('declarations: mutated bundled model.yaml', fc.property(cases, ({ model, edits }) => {
      const m = bundled[model % bundled.length];
      let doc: unknown = m.doc;
      for (const e of edits) doc = mutate(doc, e.steps, e.value, e.remove);
      load(m.dir, stringifyYaml(doc));
    }), 1000);
  });

  it('bundled model.yaml text with a span replaced: a model or a DeclarationInvalid', async () => {
    const cases = fc.record({
      model: fc.nat(),
      at: fc.nat(),
      cut: fc.nat({ max: 20 }),
      insert: fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom('&a ', '*a', '!!js/function ', '!x ', '<<: ', '\n  - ', ': ', '{', '[', '"', "'", '\t', '%YAML 1.1\n---\n', '---\n', '...\n')),
    });
    await checkProperty('declarations: text-mutated model.yaml', fc.property(cases, ({ model, at, cut, insert }) => {
      const m = bundled[model % bundled.length];
      const text = readFileSync(path.join(bundledModelsDir(), m.name, 'model.yaml'), 'utf8');
      const i = at % (text.length + 1);
      load(m.dir, text.slice(0, i) + insert + text.slice(i + cut));
    }), 700);
  });

  it('random YAML documents: a DeclarationInvalid (or, by chance, a model)', async () => {
    const documents = fc.oneof(
      fc.jsonValue({ maxDepth: 4 }).map((v) => stringifyYaml(v)),
      fc.dictionary(fc.constantFrom('name', 'engine', 'inputs', 'outputs', 'pipeline', 'model_file', 'sim', 'native', 'model_warmup', 'preprocessing', 'postprocessing', 'dynamic_batching', 'instances', 'version_policy'), fieldValue, { maxKeys: 8 })
        .map((d) => stringifyYaml(d)),
      fc.string({ unit: 'binary', maxLength: 120 }),
    );
    const dir = () => bundled[0].dir;
    await checkProperty('declarations: random YAML documents', fc.property(documents, (text) => {
      load(dir(), text);
    }), 1200);
  });
});
