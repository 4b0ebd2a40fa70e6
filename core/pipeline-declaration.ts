/**
 * A pipeline model: a declared graph of model calls and processing steps (Triton's ensembles are
 * the anchor), in a `model.yaml` that has a `pipeline:` field instead of an engine. Steps run in
 * the order written; each reads tensors by name (the pipeline's inputs or an earlier step's
 * outputs) and names what it writes, so the tensor flow is checked here, at load, and a request
 * never meets a missing tensor. Which processing steps exist is the processing layer's business:
 * it checks their names and parameters when the pipeline is built (service/pipeline-target.ts).
 */
import { readdirSync, readFileSync, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { parseDeclarationYaml as parseYaml } from './declaration-yaml.js';
import { DATATYPES } from './datatypes.js';
import type { TensorDeclaration } from './model-declaration.js';
import type { ModelMetadata } from './model-metadata.js';
import { DECLARATION_FILE_NAMES, DeclarationInvalid, isPipelineDocument, type DeclarationError } from './model-repository.js';

/** Most steps in one pipeline: a bound on the work one request may fan into. */
export const MAX_PIPELINE_STEPS = 64;

export type StepParameters = Record<string, unknown>;

interface StepBase {
  /** Step input name → pipeline tensor name it reads. */
  inputs: Record<string, string>;
  /** Step output name → pipeline tensor name it writes. */
  outputs: Record<string, string>;
}

/** Calls a model through the same path as any infer call (so it goes to that model's pool). */
export interface ModelStep extends StepBase {
  kind: 'model';
  model: string;
  /** Undefined: the version the model serves by default. */
  version?: string;
}

/** Runs a processing step of the processing layer (processing/pipeline-steps.ts) in this process. */
export interface ProcessStep extends StepBase {
  kind: 'process';
  process: string;
  parameters: StepParameters;
}

export type PipelineStep = ModelStep | ProcessStep;

export interface PipelineDeclaration {
  name: string;
  inputs: TensorDeclaration[];
  outputs: TensorDeclaration[];
  steps: PipelineStep[];
  /** Directory the declaration lives in: processing parameters name files relative to it. */
  directory: string;
  file: string;
}

const tensorSchema = {
  type: 'object', additionalProperties: false, required: ['name', 'datatype', 'dims'],
  properties: {
    name: { type: 'string', minLength: 1 },
    datatype: { enum: [...DATATYPES] },
    dims: { type: 'array', items: { type: 'integer', minimum: -1 } },
  },
} as const;

const mappingSchema = { type: 'object', additionalProperties: { type: 'string', minLength: 1 } } as const;

export const PIPELINE_SCHEMA = {
  type: 'object', additionalProperties: false, required: ['name', 'inputs', 'outputs', 'pipeline'],
  properties: {
    name: { type: 'string', pattern: '^[A-Za-z0-9_.-]+$' },
    platform: { type: 'string' },
    inputs: { type: 'array', minItems: 1, items: tensorSchema },
    outputs: { type: 'array', minItems: 1, items: tensorSchema },
    pipeline: {
      type: 'object', additionalProperties: false, required: ['steps'],
      properties: {
        steps: {
          type: 'array', minItems: 1, maxItems: MAX_PIPELINE_STEPS,
          items: {
            type: 'object', additionalProperties: false, required: ['inputs', 'outputs'],
            properties: {
              model: { type: 'string', minLength: 1 },
              version: { type: 'string', pattern: '^[1-9][0-9]*$' },
              process: { type: 'string', minLength: 1 },
              parameters: { type: 'object' },
              inputs: mappingSchema,
              outputs: mappingSchema,
            },
          },
        },
      },
    },
  },
} as const;

const ajv = new Ajv({ allErrors: true, strict: true, verbose: true });
const validateSchema = ajv.compile(PIPELINE_SCHEMA);

/** Validates a parsed pipeline declaration; throws DeclarationInvalid listing every problem. */
export function parsePipelineDeclaration(raw: unknown, file: string, directory: string): PipelineDeclaration {
  if (!validateSchema(raw)) throw new DeclarationInvalid((validateSchema.errors ?? []).map((e) => schemaError(e, file)));
  const doc = raw as Record<string, any>;
  const errors: DeclarationError[] = [];
  const dirName = path.basename(directory);
  if (doc.name !== dirName) errors.push({ file, field: 'name', message: `expected the model directory's name '${dirName}', got '${doc.name}'` });
  const steps: PipelineStep[] = (doc.pipeline.steps as any[]).map((s, i) => {
    const field = `pipeline.steps[${i}]`;
    if ((s.model === undefined) === (s.process === undefined)) {
      errors.push({ file, field, message: "expected exactly one of 'model' (a model to call) or 'process' (a processing step)" });
    }
    if (s.model !== undefined && s.parameters !== undefined) {
      errors.push({ file, field: `${field}.parameters`, message: 'only a processing step takes parameters; a model step maps tensors only' });
    }
    if (s.process === undefined && s.version !== undefined && s.model === undefined) {
      errors.push({ file, field: `${field}.version`, message: 'only a model step names a version' });
    }
    return s.model !== undefined
      ? { kind: 'model', model: s.model, version: s.version, inputs: s.inputs, outputs: s.outputs }
      : { kind: 'process', process: s.process ?? '', parameters: s.parameters ?? {}, inputs: s.inputs, outputs: s.outputs };
  });
  checkTensorFlow(doc.inputs, doc.outputs, steps, file, errors);
  if (errors.length) throw new DeclarationInvalid(errors);
  return { name: doc.name, inputs: doc.inputs, outputs: doc.outputs, steps, directory, file };
}

/**
 * Every step reads tensors that exist by then; no tensor is written twice (a pipeline input
 * included); every declared output is written by some step.
 */
function checkTensorFlow(inputs: TensorDeclaration[], outputs: TensorDeclaration[], steps: PipelineStep[], file: string, errors: DeclarationError[]): void {
  const written = new Map<string, string>();
  inputs.forEach((t, i) => {
    if (written.has(t.name)) errors.push({ file, field: `inputs[${i}].name`, message: `expected a unique name, '${t.name}' appears twice` });
    written.set(t.name, `pipeline input '${t.name}'`);
  });
  steps.forEach((step, i) => {
    for (const [name, tensor] of Object.entries(step.inputs)) {
      if (!written.has(tensor)) {
        errors.push({ file, field: `pipeline.steps[${i}].inputs.${name}`, message: `reads '${tensor}', which no pipeline input or earlier step writes (known: ${[...written.keys()].join(', ')})` });
      }
    }
    for (const [name, tensor] of Object.entries(step.outputs)) {
      const earlier = written.get(tensor);
      if (earlier) errors.push({ file, field: `pipeline.steps[${i}].outputs.${name}`, message: `writes '${tensor}', which ${earlier} already wrote; name each tensor once` });
      written.set(tensor, `step ${i}`);
    }
  });
  const outputNames = new Set<string>();
  outputs.forEach((t, i) => {
    if (outputNames.has(t.name)) errors.push({ file, field: `outputs[${i}].name`, message: `expected a unique name, '${t.name}' appears twice` });
    outputNames.add(t.name);
    if (!written.has(t.name)) errors.push({ file, field: `outputs[${i}].name`, message: `expected a step to write '${t.name}'; none does` });
  });
}

function schemaError(e: ErrorObject, file: string): DeclarationError {
  const parts = e.instancePath.split('/').slice(1);
  if (e.keyword === 'required') parts.push(String(e.params.missingProperty));
  if (e.keyword === 'additionalProperties') parts.push(String(e.params.additionalProperty));
  let field = '';
  for (const p of parts) field += /^[0-9]+$/.test(p) ? `[${p}]` : field ? `.${p}` : p;
  const message = e.keyword === 'required' ? 'expected this field, it is missing'
    : e.keyword === 'additionalProperties' ? 'unknown field (check its spelling)'
      : e.keyword === 'minItems' ? `expected at least ${e.params.limit} item(s)`
        : e.keyword === 'maxItems' ? `expected at most ${e.params.limit} item(s) (MAX_PIPELINE_STEPS for steps)`
          : `expected ${e.message ?? 'a valid value'}, got ${JSON.stringify(e.data)}`;
  return { file, field, message };
}

/** The protocol's view of a pipeline: it takes whole requests (no batch dim), like a model with max_batch_size 0. */
export function pipelineMetadata(decl: PipelineDeclaration): ModelMetadata {
  const view = (t: TensorDeclaration) => ({ name: t.name, datatype: t.datatype, shape: [...t.dims] });
  return { name: decl.name, versions: ['1'], platform: 'ensemble', inputs: decl.inputs.map(view), outputs: decl.outputs.map(view), maxBatchSize: 0 };
}

export interface PipelineLoadResult {
  pipelines: PipelineDeclaration[];
  errors: DeclarationError[];
}

/**
 * Reads every pipeline declaration of a repository directory; the plain models there are skipped.
 * A missing directory is no error here: the model loader reports it.
 */
export function loadPipelineRepository(dir: string): PipelineLoadResult {
  const root = path.resolve(dir);
  const result: PipelineLoadResult = { pipelines: [], errors: [] };
  if (!existsSync(root) || !statSync(root).isDirectory()) return result;
  for (const entry of readdirSync(root, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (!entry.isDirectory()) continue;
    const modelDir = path.join(root, entry.name);
    const fileName = DECLARATION_FILE_NAMES.find((f) => existsSync(path.join(modelDir, f)));
    if (!fileName) continue;
    const file = path.join(modelDir, fileName);
    let raw: unknown;
    try {
      raw = parseYaml(readFileSync(file, 'utf8'));
    } catch {
      continue; // the model loader reports files that are not YAML
    }
    if (!isPipelineDocument(raw)) continue;
    try {
      result.pipelines.push(parsePipelineDeclaration(raw, file, modelDir));
    } catch (err) {
      if (err instanceof DeclarationInvalid) result.errors.push(...err.errors);
      else result.errors.push({ file, field: '', message: (err as Error).message });
    }
  }
  return result;
}
