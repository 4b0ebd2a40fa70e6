/**
 * Reads a model repository: one directory per model holding `model.yaml` and numeric version
 * directories. A bad declaration is reported (file, field, expected value) and skipped; the other
 * models still load.
 */
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import path from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { parseDeclarationYaml as parseYaml } from './declaration-yaml.js';
import { symlinkEscape } from './declared-path.js';
import { DECLARATION_SCHEMA } from './declaration-schema.js';
import { checkWarmupSamples } from './model-warmup.js';
import { checkProcessingDeclaration, normalizePreprocessing } from './processing-declaration.js';
import { packageRoot } from './package-root.js';
import type { ModelDeclaration, TensorDeclaration, VersionPolicy } from './model-declaration.js';
import type { ModelMetadata, TensorMetadata } from './model-metadata.js';

export const DECLARATION_FILE_NAMES = ['model.yaml', 'model.yml'];
export const DEFAULT_MAX_QUEUE_SIZE = 1024;
const PACKAGE_PREFIX = 'package:';

export interface DeclarationError {
  file: string;
  /** Field path as written in the file (`inputs[0].datatype`), or '' for the file as a whole. */
  field: string;
  message: string;
}

/** One model version ready to hand to an engine. */
export interface ModelVersionSource {
  version: string;
  /** Absolute path of the weights; undefined for engines that need none. */
  modelPath?: string;
}

export interface DeclaredModel {
  declaration: ModelDeclaration;
  file: string;
  versions: ModelVersionSource[];
  metadata: ModelMetadata;
}

export interface RepositoryLoadResult {
  models: DeclaredModel[];
  errors: DeclarationError[];
}

export interface RepositoryOptions {
  /** Engine names this process can load; a declaration naming only others is an error. */
  knownEngines?: readonly string[];
}

// verbose: errors carry the offending value (`data`), which every message quotes as "got …".
const ajv = new Ajv({ allErrors: true, strict: true, verbose: true });
const validateSchema = ajv.compile(DECLARATION_SCHEMA);

export class DeclarationInvalid extends Error {
  constructor(readonly errors: DeclarationError[]) {
    super(errors.map(formatDeclarationError).join('\n'));
    this.name = 'DeclarationInvalid';
  }
}

export function formatDeclarationError(e: DeclarationError): string {
  return e.field ? `${e.file}: field '${e.field}': ${e.message}` : `${e.file}: ${e.message}`;
}

export function loadModelRepository(dir: string, options: RepositoryOptions = {}): RepositoryLoadResult {
  const root = path.resolve(dir);
  const result: RepositoryLoadResult = { models: [], errors: [] };
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    result.errors.push({ file: root, field: '', message: 'model repository directory does not exist' });
    return result;
  }
  for (const entry of readdirSync(root, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (!entry.isDirectory()) continue;
    const modelDir = path.join(root, entry.name);
    const fileName = DECLARATION_FILE_NAMES.find((f) => existsSync(path.join(modelDir, f)));
    if (!fileName) continue;
    // A pipeline is no engine's to load: core/pipeline-declaration.ts reads it, the service runs it.
    if (isPipelineFile(path.join(modelDir, fileName))) continue;
    try {
      result.models.push(loadDeclaredModel(path.join(modelDir, fileName), options));
    } catch (err) {
      if (err instanceof DeclarationInvalid) result.errors.push(...err.errors);
      else result.errors.push({ file: path.join(modelDir, fileName), field: '', message: (err as Error).message });
    }
  }
  return result;
}

/** Whether a parsed declaration declares a pipeline (a `pipeline:` field) rather than a model. */
export function isPipelineDocument(raw: unknown): boolean {
  return typeof raw === 'object' && raw !== null && 'pipeline' in raw;
}

/** Whether a declaration file declares a pipeline; false for a file that is not YAML (loading reports it). */
export function isPipelineFile(file: string): boolean {
  try {
    return isPipelineDocument(parseYaml(readFileSync(file, 'utf8')));
  } catch {
    return false; // loadDeclaredModel reports a file that is not YAML
  }
}

/** Loads and validates one declaration file; throws DeclarationInvalid listing every problem. */
export function loadDeclaredModel(file: string, options: RepositoryOptions = {}): DeclaredModel {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new DeclarationInvalid([{ file, field: '', message: `not valid YAML: ${(err as Error).message}` }]);
  }
  const declaration = parseDeclaration(raw, file, path.dirname(file), options);
  const versions = resolveVersions(declaration, file);
  return { declaration, file, versions, metadata: toModelMetadata(declaration, versions.map((v) => v.version)) };
}

/** Validates a parsed declaration object and fills in defaults. */
export function parseDeclaration(
  raw: unknown,
  file: string,
  directory: string,
  options: RepositoryOptions = {},
): ModelDeclaration {
  if (!validateSchema(raw)) {
    throw new DeclarationInvalid(schemaErrors(validateSchema.errors ?? [], file));
  }
  const doc = raw as Record<string, any>;
  const errors: DeclarationError[] = [];
  const dirName = path.basename(directory);
  if (doc.name !== dirName) {
    errors.push({ file, field: 'name', message: `expected the model directory's name '${dirName}', got '${doc.name}'` });
  }
  const engine: string[] = Array.isArray(doc.engine) ? doc.engine : [doc.engine];
  if (options.knownEngines && !engine.some((e) => options.knownEngines!.includes(e))) {
    errors.push({ file, field: 'engine', message: `expected one of ${options.knownEngines.join(', ')}, got ${engine.join(', ')}` });
  }
  if (engine.includes('sim') && !doc.sim) {
    errors.push({ file, field: 'sim', message: 'expected sim.service_ms for a model on the simulated engine' });
  }
  if (engine.includes('native') && !doc.native) {
    errors.push({ file, field: 'native', message: "expected native.plugin (the plugin's .so, relative to the model directory) for a model on the native engine" });
  }
  if (!engine.every((e) => e === 'sim') && !doc.model_file) {
    errors.push({ file, field: 'model_file', message: `expected the model file's name for engine ${engine.join(', ')}` });
  }
  checkUniqueNames(doc.inputs, 'inputs', file, errors);
  checkUniqueNames(doc.outputs, 'outputs', file, errors);
  for (const p of checkProcessingDeclaration(doc as Parameters<typeof checkProcessingDeclaration>[0], directory)) {
    errors.push({ file, ...p });
  }
  checkDynamicBatching(doc, file, errors);
  for (const p of checkWarmupSamples(doc.model_warmup, { inputs: doc.inputs, max_batch_size: doc.max_batch_size ?? 0 }, directory)) {
    errors.push({ file, ...p });
  }
  if (errors.length) throw new DeclarationInvalid(errors);

  return {
    name: doc.name,
    engine,
    platform: doc.platform,
    model_file: doc.model_file,
    versions: doc.versions,
    version_policy: normalizeVersionPolicy(doc.version_policy),
    max_batch_size: doc.max_batch_size ?? 0,
    max_queue_size: doc.max_queue_size ?? DEFAULT_MAX_QUEUE_SIZE,
    inputs: doc.inputs as TensorDeclaration[],
    outputs: doc.outputs as TensorDeclaration[],
    instances: (doc.instances ?? [{ kind: 'auto' }]).map((g: any) => ({ kind: g.kind, count: g.count ?? 1 })),
    dynamic_batching: doc.dynamic_batching && { max_queue_delay_us: 0, ...doc.dynamic_batching },
    sim: doc.sim,
    native: doc.native,
    execution: doc.execution,
    preprocessing: normalizePreprocessing(doc.preprocessing),
    postprocessing: doc.postprocessing,
    model_warmup: doc.model_warmup?.map((w: any) => ({ name: w.name, batch_size: w.batch_size ?? 1, inputs: w.inputs, count: w.count ?? 1 })),
    directory,
  };
}

/** dynamic_batching's rules that span fields: sizes within max_batch_size, the default level among the levels. */
function checkDynamicBatching(doc: Record<string, any>, file: string, errors: DeclarationError[]): void {
  const db = doc.dynamic_batching;
  if (db === undefined) return;
  const maxBatchSize = doc.max_batch_size ?? 0;
  const tooBig = (db.preferred_batch_sizes ?? []).filter((n: number) => n > Math.max(maxBatchSize, 1));
  if (tooBig.length > 0) {
    errors.push({ file, field: 'dynamic_batching.preferred_batch_sizes', message: `expected sizes ≤ max_batch_size (${maxBatchSize}), got ${tooBig.join(', ')}` });
  }
  if (db.max_queue_size !== undefined && doc.max_queue_size !== undefined) {
    errors.push({ file, field: 'dynamic_batching.max_queue_size', message: 'expected max_queue_size in one place: set it here or at the top level, not both' });
  }
  if (db.default_priority_level !== undefined && db.default_priority_level > (db.priority_levels ?? 0)) {
    errors.push({ file, field: 'dynamic_batching.default_priority_level', message: `expected a level from 1 to priority_levels (${db.priority_levels ?? 0}), got ${db.default_priority_level}` });
  }
}

function checkUniqueNames(tensors: { name: string }[], field: string, file: string, errors: DeclarationError[]): void {
  const seen = new Set<string>();
  tensors.forEach((t, i) => {
    if (seen.has(t.name)) errors.push({ file, field: `${field}[${i}].name`, message: `expected a unique name, '${t.name}' appears twice` });
    seen.add(t.name);
  });
}

function normalizeVersionPolicy(policy: unknown): VersionPolicy {
  if (policy === undefined || policy === 'latest') return { latest: { num_versions: 1 } };
  if (policy === 'all') return { all: {} };
  const p = policy as { latest?: number; specific?: number[] };
  if (p.latest !== undefined) return { latest: { num_versions: p.latest } };
  return { specific: { versions: p.specific! } };
}

/** Picks the served versions by the policy and finds each one's weights. */
function resolveVersions(decl: ModelDeclaration, file: string): ModelVersionSource[] {
  const fromDirs = readdirSync(decl.directory, { withFileTypes: true })
    .filter((e) => e.isDirectory() && /^[1-9][0-9]*$/.test(e.name))
    .map((e) => Number(e.name));
  const available = (fromDirs.length ? fromDirs : decl.versions ?? []).sort((a, b) => a - b);
  if (available.length === 0) {
    throw new DeclarationInvalid([{ file, field: 'versions', message: 'expected numeric version directories beside the declaration, or a versions list' }]);
  }
  const selected = selectVersions(available, decl.version_policy, file);
  const isPackage = decl.model_file?.startsWith(PACKAGE_PREFIX) ?? false;
  if (decl.model_file && !isPackage) checkModelFilePath(decl.model_file, file);
  return selected.map((v) => {
    const version = String(v);
    if (!decl.model_file) return { version };
    const modelPath = isPackage
      ? resolvePackageFile(decl.model_file.slice(PACKAGE_PREFIX.length), file)
      : path.join(decl.directory, version, decl.model_file);
    if (!existsSync(modelPath)) {
      throw new DeclarationInvalid([{ file, field: 'model_file', message: `expected a file at ${modelPath} (version ${version})` }]);
    }
    const escape = isPackage ? undefined : symlinkEscape(modelPath, decl.directory);
    if (escape !== undefined) {
      throw new DeclarationInvalid([{ file, field: 'model_file', message: `'${decl.model_file}' of version ${version} resolves to ${escape}, outside the model directory (a symlink out of it)` }]);
    }
    return { version, modelPath };
  });
}

/**
 * `model_file` names a file inside each version folder. An absolute path, or one that climbs out
 * with `..`, would be joined under the folder and reported as a path the user never wrote: refused,
 * pointing at the `package:` form for files that live elsewhere.
 */
function checkModelFilePath(modelFile: string, file: string): void {
  const hint = "name a file inside each version folder (e.g. 'model.onnx'), or a file of an installed npm package as 'package:<name>/<path>'";
  if (path.isAbsolute(modelFile) || path.win32.isAbsolute(modelFile)) {
    throw new DeclarationInvalid([{ file, field: 'model_file', message: `expected a path relative to the version folder, got the absolute path '${modelFile}': ${hint}` }]);
  }
  if (modelFile.split(/[\\/]/).includes('..')) {
    throw new DeclarationInvalid([{ file, field: 'model_file', message: `expected a path inside the version folder, got '${modelFile}', which leaves it with '..': ${hint}` }]);
  }
}

function selectVersions(available: number[], policy: VersionPolicy, file: string): number[] {
  if ('all' in policy) return available;
  if ('latest' in policy) return available.slice(-policy.latest.num_versions);
  const missing = policy.specific.versions.filter((v) => !available.includes(v));
  if (missing.length) {
    throw new DeclarationInvalid([{ file, field: 'version_policy.specific', message: `expected versions among ${available.join(', ')}, got ${missing.join(', ')}` }]);
  }
  return [...policy.specific.versions].sort((a, b) => a - b);
}

/** `@scope/pkg/some/file` → absolute path inside the installed package. */
function resolvePackageFile(spec: string, file: string): string {
  const parts = spec.split('/');
  const nameLength = spec.startsWith('@') ? 2 : 1;
  const packageName = parts.slice(0, nameLength).join('/');
  const rest = parts.slice(nameLength).join('/');
  if (rest === '' || parts.includes('..') || path.isAbsolute(spec)) {
    throw new DeclarationInvalid([{ file, field: 'model_file', message: `expected 'package:<name>/<path inside the package>' (no '..'), got 'package:${spec}'` }]);
  }
  // Node's own lookup: node_modules/<name> in the declaration's directory or any parent. (Going
  // through require.resolve would fail on packages whose `exports` hide package.json.)
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', packageName);
    if (existsSync(path.join(candidate, 'package.json'))) return path.join(candidate, rest);
    if (path.dirname(dir) === dir) break;
  }
  const fromPackage = path.join(packageRoot(), 'node_modules', packageName);
  if (existsSync(path.join(fromPackage, 'package.json'))) return path.join(fromPackage, rest);
  throw new DeclarationInvalid([{ file, field: 'model_file', message: `expected npm package '${packageName}' to be installed` }]);
}

/** The protocol's view: the batch dim shows as -1 in front when the model batches. */
export function toModelMetadata(decl: ModelDeclaration, versions: string[]): ModelMetadata {
  const withBatch = (t: TensorDeclaration): TensorMetadata => ({
    name: t.name,
    datatype: t.datatype,
    shape: decl.max_batch_size > 0 ? [-1, ...t.dims] : [...t.dims],
  });
  return {
    name: decl.name,
    versions,
    platform: decl.platform ?? platformFor(decl.engine[0]),
    inputs: decl.inputs.map(withBatch),
    outputs: decl.outputs.map(withBatch),
    maxBatchSize: decl.max_batch_size,
  };
}

function platformFor(engine: string): string {
  switch (engine) {
    case 'onnx': return 'onnxruntime_onnx';
    case 'tfjs': return 'tensorflow_js';
    case 'sim': return 'infergate_simulated';
    default: return engine;
  }
}

function schemaErrors(errors: ErrorObject[], file: string): DeclarationError[] {
  // A failed oneOf also reports why each of its branches failed, often on fields the user never
  // wrote (`version_policy.specific` missing when they wrote `{newest: 2}`). The oneOf's own line
  // names every allowed form, so the branch errors beneath it are dropped.
  const oneOfs = errors.filter((e) => e.keyword === 'oneOf');
  const insideOneOf = (e: ErrorObject) =>
    e.keyword !== 'oneOf' && oneOfs.some((o) => e.schemaPath.startsWith(`${o.schemaPath}/`) && isWithin(e.instancePath, o.instancePath));
  // Errors on one field repeat (several keywords fail at once); keep one line per field, the most specific.
  const byField = new Map<string, DeclarationError>();
  for (const e of errors) {
    if (insideOneOf(e)) continue;
    const field = fieldPath(e);
    const message = describeSchemaError(e);
    const existing = byField.get(field);
    if (!existing || e.keyword === 'oneOf' || e.keyword === 'enum') byField.set(field, { file, field, message });
  }
  return [...byField.values()];
}

function isWithin(instancePath: string, parent: string): boolean {
  return instancePath === parent || instancePath.startsWith(`${parent}/`);
}

function fieldPath(e: ErrorObject): string {
  const parts = e.instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (e.keyword === 'required') parts.push(String(e.params.missingProperty));
  if (e.keyword === 'additionalProperties') parts.push(String(e.params.additionalProperty));
  let out = '';
  for (const p of parts) out += /^[0-9]+$/.test(p) ? `[${p}]` : out ? `.${p}` : p;
  return out;
}

function describeSchemaError(e: ErrorObject): string {
  switch (e.keyword) {
    case 'required': return 'expected this field, it is missing';
    case 'additionalProperties': return unknownFieldMessage(String(e.params.additionalProperty), e.parentSchema);
    case 'enum': return `expected one of ${(e.params.allowedValues as unknown[]).join(', ')}, got ${JSON.stringify(e.data)}`;
    case 'type': return `expected ${e.params.type}, got ${JSON.stringify(e.data)}`;
    case 'oneOf': return `expected ${ONE_OF_HINTS[e.schemaPath] ?? 'one of the allowed forms'}, got ${JSON.stringify(e.data)}`;
    case 'minimum': case 'exclusiveMinimum': return `expected a value ${e.keyword === 'minimum' ? '≥' : '>'} ${e.params.limit}, got ${JSON.stringify(e.data)}`;
    case 'minItems': return `expected at least ${e.params.limit} item(s)`;
    case 'pattern': return `expected a name of letters, digits, _ . -, got ${JSON.stringify(e.data)}`;
    default: return `expected ${e.message ?? 'a valid value'}, got ${JSON.stringify(e.data)}`;
  }
}

/** Names the fields allowed where the unknown one was written, the closest spelling first. */
function unknownFieldMessage(field: string, parentSchema: unknown): string {
  const known = Object.keys((parentSchema as { properties?: object } | undefined)?.properties ?? {});
  if (known.length === 0) return 'unknown field (check its spelling)';
  const closest = known
    .map((name) => ({ name, distance: editDistance(field, name) }))
    .sort((a, b) => a.distance - b.distance)[0];
  const hint = closest.distance <= Math.max(2, Math.floor(field.length / 3)) ? ` (did you mean '${closest.name}'?)` : '';
  return `unknown field${hint}; expected one of ${known.join(', ')}`;
}

/** Levenshtein distance, for spelling hints on a handful of short field names. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

const ONE_OF_HINTS: Record<string, string> = {
  '#/properties/engine/oneOf': 'an engine name or a list of names',
  '#/properties/version_policy/oneOf': "'latest', 'all', {latest: N} or {specific: [versions]}",
};
