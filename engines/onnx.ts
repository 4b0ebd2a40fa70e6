/**
 * The ONNX engine on onnxruntime-node. One InferenceSession per instance; the execution providers
 * come from the card's engine options, so CUDA, TensorRT or an NPU provider are a card-table
 * change, not a code change.
 *
 * onnxruntime-node runs a session on the calling JavaScript thread: `session.run` blocks that
 * thread for the whole inference. So, as Triton gives each model instance a thread of its own,
 * each instance here gets its own worker thread by default (`execution: 'worker'`, see
 * onnx-worker.ts): the server's event loop stays free and the instances of a process run at once.
 * `execution: 'inline'` keeps the session on the caller's thread (no message round trip; the
 * instances of a process take turns).
 *
 * execute() batches on its own: requests whose inputs agree on every dim but the first are
 * concatenated along dim 0 (up to max_batch_size rows), run once and split back. A request the
 * engine refuses, or whose run fails, gets an InferError in its slot; the others still answer.
 * A worker that dies fails the execute in flight and every later one with INTERNAL.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import type { Card } from '../adapters/card.js';
import { arrayConstructorFor, elementCount } from '../core/datatypes.js';
import { asInferError, InferError, invalidArg, unsupported } from '../core/errors.js';
import type { ModelDeclaration, TensorDeclaration } from '../core/model-declaration.js';
import type { ModelMetadata } from '../core/model-metadata.js';
import { packageRoot } from '../core/package-root.js';
import type { InferRequest, InferResponse, Tensor } from '../core/tensor.js';
import type { Engine, ExecuteResult, LoadedModel, ModelInstance, ModelLoadSpec } from './engine.js';
import { fromWireTensor, KSERVE_TYPES, ORT_TYPES, toWireTensor, type WireTensors } from './onnx-tensor.js';
import {
  ONNX_WORKER_DATA, runSession, startSession, type FromWorker, type SessionStart, type ToWorker,
} from './onnx-worker.js';

export const DEFAULT_EXECUTION_PROVIDERS: readonly string[] = ['cpu'];

/** An execution provider as onnxruntime takes it: a name, or a name with provider options. */
export type ExecutionProvider = string | { name: string; [option: string]: unknown };

/** Where an instance's session runs: on a worker thread of its own, or on the caller's thread. */
export type OnnxExecution = 'worker' | 'inline';

/** How long unload() waits for a worker to release its session before terminating it anyway. */
export const WORKER_RELEASE_TIMEOUT_MS = 5_000;

export interface OnnxEngineOptions {
  /**
   * Execution providers this onnxruntime build can use. Default: `availableExecutionProviders()`.
   * Tests and operators can narrow or widen it.
   */
  availableProviders?: readonly string[];
  /** CPUs to share among instances when a card sets no intraOpNumThreads (default os.availableParallelism()). */
  cpuCount?: number;
  /** Default 'worker': each instance runs its session on its own worker thread. */
  execution?: OnnxExecution;
}

/**
 * Providers listed by `ort.listSupportedBackends()` that can actually load: bundled ones, and the
 * unbundled ones (CUDA, TensorRT on Linux x64) only when their provider library was installed
 * beside the binding (onnxruntime-node's install script downloads it; `onnxruntime-node-install=skip`
 * leaves it out).
 */
export function availableExecutionProviders(): string[] {
  const bindingDir = onnxruntimeBindingDir();
  return ort.listSupportedBackends()
    .filter((b) => b.bundled || (bindingDir !== undefined && providerLibraryPresent(bindingDir, b.name)))
    .map((b) => b.name);
}

function onnxruntimeBindingDir(): string | undefined {
  try {
    const entry = createRequire(import.meta.url).resolve('onnxruntime-node');
    return join(dirname(entry), '..', 'bin', 'napi-v6', process.platform, process.arch);
  } catch {
    return undefined;
  }
}

function providerLibraryPresent(dir: string, provider: string): boolean {
  const file = process.platform === 'win32'
    ? `onnxruntime_providers_${provider}.dll`
    : process.platform === 'darwin' ? `libonnxruntime_providers_${provider}.dylib` : `libonnxruntime_providers_${provider}.so`;
  return existsSync(join(dir, file));
}

function providerName(p: ExecutionProvider): string {
  return typeof p === 'string' ? p : p.name;
}

/** The card's `engineOptions.executionProviders`, checked; the default when the card names none. */
export function executionProvidersOf(card: Card): ExecutionProvider[] {
  const raw = card.engineOptions?.executionProviders;
  if (raw === undefined) return [...DEFAULT_EXECUTION_PROVIDERS];
  const valid = Array.isArray(raw) && raw.length > 0 && raw.every((p) =>
    (typeof p === 'string' && p.length > 0) ||
    (typeof p === 'object' && p !== null && typeof (p as { name?: unknown }).name === 'string'));
  if (!valid) {
    throw new Error(`card ${card.id}: engineOptions.executionProviders must be a non-empty list of provider names or {name, ...options}`);
  }
  const deviceId = card.engineOptions?.deviceId;
  // The adapter's device index reaches every accelerator provider named without options.
  return (raw as ExecutionProvider[]).map((p) =>
    typeof p === 'string' && p !== 'cpu' && typeof deviceId === 'number' ? { name: p, deviceId } : p);
}

/**
 * The provider lists to try on a card, best first. The card's list is a preference order (TensorRT,
 * then CUDA, then CPU): unavailable providers are left out, and when a session cannot start with
 * the first accelerator provider the next list drops it. An accelerator card never ends on the CPU
 * provider alone, which would make its coefficient a lie; a CPU card may.
 */
export function providerFallbacks(card: Card, available: ReadonlySet<string>): ExecutionProvider[][] {
  const usable = executionProvidersOf(card).filter((p) => available.has(providerName(p)));
  const lists: ExecutionProvider[][] = [];
  for (let rest = usable; rest.length > 0; rest = rest.slice(1)) {
    const onlyCpu = rest.every((p) => providerName(p) === 'cpu');
    if (onlyCpu && card.kind !== 'cpu') break;
    lists.push(rest);
    if (onlyCpu) break;
  }
  return lists;
}

/**
 * Intra-op threads for one instance when the card sets none: the CPUs divided among the CPU
 * instances the model declares, at least 1, so that instances running at once (several processes,
 * or worker threads later) do not oversubscribe the cores.
 */
export function defaultIntraOpThreads(cpuCount: number, declaration: ModelDeclaration): number {
  let cpuInstances = 0;
  for (const g of declaration.instances) if (g.kind === 'cpu' || g.kind === 'auto') cpuInstances += g.count;
  return Math.max(1, Math.floor(cpuCount / Math.max(1, cpuInstances)));
}

export class OnnxEngine implements Engine {
  readonly name = 'onnx';
  readonly #available: ReadonlySet<string>;
  readonly #cpuCount: number;

  constructor(options: OnnxEngineOptions = {}) {
    this.#available = new Set(options.availableProviders ?? availableExecutionProviders());
    this.#cpuCount = options.cpuCount ?? os.availableParallelism();
  }

  /** CPU cards always; an accelerator card when one of the accelerator providers it names is in this build. */
  supports(card: Card): boolean {
    if (card.kind === 'cpu') return true;
    if (card.kind !== 'gpu' && card.kind !== 'npu') return false;
    let providers: ExecutionProvider[];
    try {
      providers = executionProvidersOf(card);
    } catch {
      return false;
    }
    return providers.some((p) => providerName(p) !== 'cpu' && this.#available.has(providerName(p)));
  }

  async loadModel(spec: ModelLoadSpec): Promise<LoadedModel> {
    if (!spec.modelPath) throw new Error(`model '${spec.declaration.name}': the onnx engine needs a model file`);
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(spec.modelPath);
    } catch (err) {
      throw new Error(`model '${spec.declaration.name}': cannot read ${spec.modelPath}: ${(err as Error).message}`);
    }
    // A throwaway CPU session reads the graph's signature; instances build their own sessions.
    let probe: ort.InferenceSession;
    try {
      probe = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'disabled', intraOpNumThreads: 1 });
    } catch (err) {
      throw new Error(`model '${spec.declaration.name}': onnxruntime cannot load ${spec.modelPath}: ${(err as Error).message}`);
    }
    try {
      const problems = checkSignature(spec.declaration, probe);
      if (problems.length > 0) {
        throw new Error(`model '${spec.declaration.name}': declaration disagrees with ${spec.modelPath}: ${problems.join('; ')}`);
      }
    } finally {
      await probe.release();
    }
    return new OnnxLoadedModel(spec, bytes, this.#cpuCount, this.#available);
  }
}

function describeShape(shape: readonly (number | string)[]): string {
  return `[${shape.join(',')}]`;
}

/** Declared tensors against the session's metadata: names, datatypes, ranks and fixed dims. */
function checkSignature(declaration: ModelDeclaration, session: ort.InferenceSession): string[] {
  const problems: string[] = [];
  const batched = declaration.max_batch_size > 0;
  const compare = (kind: 'input' | 'output', declared: TensorDeclaration, meta: ort.InferenceSession.ValueMetadata | undefined) => {
    if (!meta) {
      const names = (kind === 'input' ? session.inputNames : session.outputNames).join(', ');
      problems.push(`${kind} '${declared.name}' is not in the model (its ${kind}s: ${names})`);
      return;
    }
    if (!meta.isTensor) {
      problems.push(`${kind} '${declared.name}' is not a tensor in the model`);
      return;
    }
    const modelType = KSERVE_TYPES.get(meta.type);
    if (modelType !== declared.datatype) {
      problems.push(`${kind} '${declared.name}' is declared ${declared.datatype} but the model has ${modelType ?? meta.type}`);
    }
    const shape = meta.shape;
    if (shape.length === 0) return; // onnxruntime reports unknown ranks as []: nothing to compare
    const dims = batched ? [-1, ...declared.dims] : declared.dims;
    if (shape.length !== dims.length) {
      problems.push(`${kind} '${declared.name}' has rank ${shape.length} ${describeShape(shape)} in the model but the declaration gives rank ${dims.length}${batched ? ' (batch dim + dims)' : ''}`);
      return;
    }
    if (batched && typeof shape[0] === 'number' && !(shape[0] === 1 && declaration.max_batch_size === 1)) {
      problems.push(`${kind} '${declared.name}' has a fixed first dim ${shape[0]} in the model, so it cannot batch (max_batch_size ${declaration.max_batch_size})`);
    }
    for (let i = batched ? 1 : 0; i < dims.length; i++) {
      const m = shape[i];
      if (typeof m === 'number' && dims[i] !== -1 && dims[i] !== m) {
        problems.push(`${kind} '${declared.name}' dim ${i} is ${m} in the model ${describeShape(shape)} but ${dims[i]} in the declaration`);
      }
    }
  };
  const inputs = new Map(session.inputMetadata.map((m) => [m.name, m]));
  const outputs = new Map(session.outputMetadata.map((m) => [m.name, m]));
  for (const d of declaration.inputs) compare('input', d, inputs.get(d.name));
  for (const d of declaration.outputs) compare('output', d, outputs.get(d.name));
  const declaredInputs = new Set(declaration.inputs.map((d) => d.name));
  for (const name of session.inputNames) {
    if (!declaredInputs.has(name)) problems.push(`model input '${name}' is not declared (every input must be fed)`);
  }
  return problems;
}

class OnnxLoadedModel implements LoadedModel {
  readonly metadata: ModelMetadata;
  readonly #spec: ModelLoadSpec;
  #bytes: Uint8Array | undefined;
  readonly #cpuCount: number;
  readonly #available: ReadonlySet<string>;
  readonly #instances = new Set<OnnxModelInstance>();

  constructor(spec: ModelLoadSpec, bytes: Uint8Array, cpuCount: number, available: ReadonlySet<string>) {
    this.metadata = spec.metadata;
    this.#spec = spec;
    this.#bytes = bytes;
    this.#cpuCount = cpuCount;
    this.#available = available;
  }

  async createInstance(card: Card, index: number): Promise<ModelInstance> {
    if (!this.#bytes) throw new Error(`model '${this.#spec.declaration.name}' version ${this.#spec.version} was unloaded`);
    const threads = card.engineOptions?.intraOpNumThreads ?? defaultIntraOpThreads(this.#cpuCount, this.#spec.declaration);
    if (typeof threads !== 'number' || !Number.isInteger(threads) || threads < 1) {
      throw new Error(`card ${card.id}: engineOptions.intraOpNumThreads must be a positive integer, got ${String(threads)}`);
    }
    const attempts = providerFallbacks(card, this.#available);
    if (attempts.length === 0) {
      throw new Error(`model '${this.#spec.declaration.name}' instance ${index} on card ${card.id}: none of its execution providers [${executionProvidersOf(card).map(providerName).join(', ')}] is in this onnxruntime build (available: ${[...this.#available].join(', ')})`);
    }
    const failures: string[] = [];
    for (const providers of attempts) {
      const options: ort.InferenceSession.SessionOptions = {
        executionProviders: providers as ort.InferenceSession.ExecutionProviderConfig[],
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
      };
      try {
        const session = await ort.InferenceSession.create(this.#bytes, options);
        const instance: OnnxModelInstance = new OnnxModelInstance(card, index, session, this.#spec, {
          intraOpNumThreads: threads,
          executionProviders: providers.map(providerName),
          providerFailures: failures,
        }, () => this.#instances.delete(instance));
        this.#instances.add(instance);
        return instance;
      } catch (err) {
        failures.push(`[${providers.map(providerName).join(', ')}]: ${(err as Error).message}`);
      }
    }
    throw new Error(`model '${this.#spec.declaration.name}' instance ${index} on card ${card.id}: no session could start: ${failures.join('; ')}`);
  }

  async unload(): Promise<void> {
    await Promise.all([...this.#instances].map((i) => i.unload()));
    this.#bytes = undefined;
  }
}

interface InstanceSetup {
  intraOpNumThreads: number;
  executionProviders: string[];
  providerFailures: string[];
}

/** Requests whose inputs agree on everything but the batch dim, run as one. */
interface RunGroup {
  indices: number[];
}

export class OnnxModelInstance implements ModelInstance {
  readonly card: Card;
  readonly index: number;
  readonly intraOpNumThreads: number;
  /** The providers the session started with (after any fallback), best first. */
  readonly executionProviders: readonly string[];
  /** Provider lists tried before this one, with onnxruntime's reason: for the node's log. */
  readonly providerFailures: readonly string[];
  /** Calls of session.run so far; a batch of compatible requests costs one. */
  runs = 0;
  readonly #session: ort.InferenceSession;
  readonly #declaration: ModelDeclaration;
  readonly #version: string;
  readonly #inputs: Map<string, TensorDeclaration>;
  readonly #outputs: Map<string, TensorDeclaration>;
  readonly #onUnload: () => void;
  #released = false;

  constructor(card: Card, index: number, session: ort.InferenceSession, spec: ModelLoadSpec, setup: InstanceSetup, onUnload: () => void) {
    this.card = card;
    this.index = index;
    this.intraOpNumThreads = setup.intraOpNumThreads;
    this.executionProviders = setup.executionProviders;
    this.providerFailures = setup.providerFailures;
    this.#session = session;
    this.#declaration = spec.declaration;
    this.#version = spec.version;
    this.#inputs = new Map(spec.declaration.inputs.map((t) => [t.name, t]));
    this.#outputs = new Map(spec.declaration.outputs.map((t) => [t.name, t]));
    this.#onUnload = onUnload;
  }

  async execute(batch: InferRequest[]): Promise<ExecuteResult[]> {
    if (this.#released) throw new Error(`instance ${this.index} of model '${this.#declaration.name}' on card ${this.card.id} was unloaded`);
    const results: (ExecuteResult | undefined)[] = new Array(batch.length);
    const runnable: number[] = [];
    batch.forEach((req, i) => {
      const problem = this.#check(req);
      if (problem) results[i] = problem;
      else runnable.push(i);
    });
    for (const group of this.#group(batch, runnable)) {
      if (group.indices.length > 1) {
        const out = await this.#runBatched(group.indices.map((i) => batch[i]));
        if (out) {
          group.indices.forEach((i, k) => { results[i] = out[k]; });
          continue;
        }
        // The batched run failed: run each request alone so that one bad request fails alone.
      }
      for (const i of group.indices) results[i] = await this.#runOne(batch[i]);
    }
    return results as ExecuteResult[];
  }

  async unload(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    this.#onUnload();
    await this.#session.release();
  }

  /** What the engine itself must refuse; the front door has checked shapes already. */
  #check(req: InferRequest): InferError | undefined {
    for (const t of req.inputs) {
      const declared = this.#inputs.get(t.name);
      if (!declared) return invalidArg(`model '${this.#declaration.name}' has no input '${t.name}'`);
      if (ORT_TYPES[t.datatype] === undefined) {
        return unsupported(`input '${t.name}': ${t.datatype} tensors are not supported by onnxruntime-node`, 'unsupported_datatype');
      }
      if (t.datatype !== declared.datatype) {
        return invalidArg(`input '${t.name}' is ${t.datatype} but the model expects ${declared.datatype}`);
      }
      if (elementCount(t.shape) !== t.data.length) {
        return invalidArg(`input '${t.name}' has ${t.data.length} elements for shape ${describeShape(t.shape)}`);
      }
    }
    for (const name of this.#inputs.keys()) {
      if (!req.inputs.some((t) => t.name === name)) return invalidArg(`input '${name}' is missing`);
    }
    for (const o of req.outputs ?? []) {
      if (!this.#outputs.has(o.name)) return invalidArg(`model '${this.#declaration.name}' has no output '${o.name}'`);
    }
    return undefined;
  }

  #group(batch: InferRequest[], runnable: number[]): RunGroup[] {
    const maxBatch = this.#declaration.max_batch_size;
    if (maxBatch <= 0) return runnable.map((i) => ({ indices: [i] }));
    const open = new Map<string, { group: RunGroup; rows: number }>();
    const groups: RunGroup[] = [];
    for (const i of runnable) {
      const req = batch[i];
      const rows = req.inputs[0]?.shape[0] ?? 0;
      const key = batchKey(req);
      const current = key === undefined ? undefined : open.get(key);
      if (current && current.rows + rows <= maxBatch) {
        current.group.indices.push(i);
        current.rows += rows;
        continue;
      }
      const group = { indices: [i] };
      groups.push(group);
      if (key !== undefined) open.set(key, { group, rows });
    }
    return groups;
  }

  /** Output names one request gets, in its order: as requested, or as declared; each once. */
  #wanted(req: InferRequest): string[] {
    return [...new Set((req.outputs ?? this.#declaration.outputs).map((o) => o.name))];
  }

  #fetchNames(requests: InferRequest[]): string[] {
    return [...new Set(requests.flatMap((r) => this.#wanted(r)))];
  }

  async #run(feeds: Record<string, ort.Tensor>, fetches: string[]): Promise<ort.InferenceSession.ReturnType> {
    this.runs++;
    return this.#session.run(feeds, fetches);
  }

  async #runOne(req: InferRequest): Promise<ExecuteResult> {
    let feeds: Record<string, ort.Tensor>;
    try {
      feeds = Object.fromEntries(req.inputs.map((t) => [t.name, toOrtTensor(t)]));
    } catch (err) {
      return asInferError(err);
    }
    try {
      const fetches = this.#fetchNames([req]);
      const out = await this.#run(feeds, fetches);
      return this.#response(req, fetches.map((name) => fromOrtTensor(name, out[name])));
    } catch (err) {
      return runtimeError(err);
    }
  }

  /** Concatenates along dim 0, runs once and splits; undefined when the batched run failed. */
  async #runBatched(requests: InferRequest[]): Promise<ExecuteResult[] | undefined> {
    const rows = requests.map((r) => r.inputs[0].shape[0]);
    const total = rows.reduce((a, b) => a + b, 0);
    let feeds: Record<string, ort.Tensor>;
    try {
      feeds = Object.fromEntries(requests[0].inputs.map((first) => {
        const parts = requests.map((r) => r.inputs.find((t) => t.name === first.name)!);
        return [first.name, toOrtTensor(concatRows(parts, total))];
      }));
    } catch {
      return undefined;
    }
    const fetches = this.#fetchNames(requests);
    let tensors: Tensor[];
    try {
      const out = await this.#run(feeds, fetches);
      tensors = fetches.map((name) => fromOrtTensor(name, out[name]));
    } catch {
      return undefined;
    }
    if (tensors.some((t) => t.shape[0] !== total)) return undefined;
    let offset = 0;
    return requests.map((req, k) => {
      const mine = this.#wanted(req).map((name) => sliceRows(tensors.find((t) => t.name === name)!, offset, rows[k]));
      offset += rows[k];
      return this.#response(req, mine);
    });
  }

  #response(req: InferRequest, outputs: Tensor[]): InferResponse {
    const response: InferResponse = { modelName: this.#declaration.name, modelVersion: this.#version, outputs };
    if (req.id !== undefined) response.id = req.id;
    return response;
  }
}

/** Requests batch together when every input matches in name, datatype and all dims but the first. */
function batchKey(req: InferRequest): string | undefined {
  const rows = req.inputs[0]?.shape[0];
  if (rows === undefined || req.inputs.some((t) => t.shape.length === 0 || t.shape[0] !== rows)) return undefined;
  return [...req.inputs]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((t) => `${t.name}:${t.datatype}:${t.shape.slice(1).join('x')}`)
    .join('|');
}

function runtimeError(err: unknown): InferError {
  if (err instanceof InferError) return err;
  return new InferError('INTERNAL', `onnxruntime: ${err instanceof Error ? err.message : String(err)}`, 'engine_error');
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

/** Core tensor → onnxruntime tensor. Numeric data is passed as is (no copy); BYTES becomes UTF-8 strings. */
export function toOrtTensor(t: Tensor): ort.Tensor {
  const type = ORT_TYPES[t.datatype];
  if (type === undefined) {
    throw unsupported(`input '${t.name}': ${t.datatype} tensors are not supported by onnxruntime-node`, 'unsupported_datatype');
  }
  if (type === 'string') {
    const elements = t.data as Uint8Array[];
    const strings = elements.map((bytes, i) => {
      if (bytes.includes(0)) {
        throw invalidArg(`input '${t.name}' element ${i} contains a NUL byte, which onnxruntime string tensors cannot carry`);
      }
      try {
        return utf8Decoder.decode(bytes);
      } catch {
        throw invalidArg(`input '${t.name}' element ${i} is not valid UTF-8 (onnxruntime string tensors hold text)`);
      }
    });
    return newOrtTensor(t, 'string', strings);
  }
  return newOrtTensor(t, type, t.data as NumericArray);
}

function newOrtTensor(t: Tensor, type: ort.Tensor.Type, data: NumericArray | string[]): ort.Tensor {
  try {
    return new ort.Tensor(type, data as ort.Tensor.DataType, t.shape);
  } catch (err) {
    // Data of the wrong array type or length for the shape: the request is malformed.
    throw invalidArg(`input '${t.name}' (${t.datatype} ${describeShape(t.shape)}): ${(err as Error).message}`);
  }
}

/** onnxruntime tensor → core tensor; strings come back as their UTF-8 bytes. */
export function fromOrtTensor(name: string, value: ort.Tensor | undefined): Tensor {
  if (!value) throw new Error(`output '${name}' was not produced`);
  const datatype = KSERVE_TYPES.get(value.type);
  if (!datatype) throw new Error(`output '${name}' has onnxruntime type ${value.type}, which has no KServe datatype here`);
  const shape = value.dims.map(Number);
  const data: TensorData = datatype === 'BYTES'
    ? (value.data as string[]).map((s) => utf8Encoder.encode(s))
    : value.data as NumericArray;
  return { name, datatype, shape, data };
}

function concatRows(parts: Tensor[], totalRows: number): Tensor {
  const first = parts[0];
  const shape = [totalRows, ...first.shape.slice(1)];
  if (first.datatype === 'BYTES') {
    return { name: first.name, datatype: first.datatype, shape, data: parts.flatMap((p) => p.data as Uint8Array[]) };
  }
  const length = parts.reduce((n, p) => n + p.data.length, 0);
  const data = new (arrayConstructorFor(first.datatype))(length);
  let offset = 0;
  for (const p of parts) {
    (data as { set(a: ArrayLike<number | bigint>, o: number): void }).set(p.data as NumericArray, offset);
    offset += p.data.length;
  }
  return { name: first.name, datatype: first.datatype, shape, data };
}

function sliceRows(t: Tensor, startRow: number, rows: number): Tensor {
  const rowSize = t.shape.slice(1).reduce((a, b) => a * b, 1);
  const data = t.data.slice(startRow * rowSize, (startRow + rows) * rowSize) as TensorData;
  return { name: t.name, datatype: t.datatype, shape: [rows, ...t.shape.slice(1)], data };
}
