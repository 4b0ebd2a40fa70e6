/**
 * The native engine: models run by a vendor plugin, a shared library that implements infergate's
 * C ABI (native/include/infergate_plugin.h), through the N-API addon (native/addon). The
 * declaration names the plugin (`native.plugin`, relative to the model directory and confined to
 * the model repository) and an options string for it; `model_file` is the weights file the plugin
 * reads.
 *
 * Loading opens the plugin (the addon refuses one built for another ABI version, naming both),
 * loads a probe handle to check the declaration against the plugin's own description, and frees
 * it; each instance then loads its own handle for its card. Loads and executes run on libuv's
 * thread pool (napi_async_work), never on the event loop.
 *
 * execute() batches as the onnx engine does (row-batching.ts): requests that agree on all dims but
 * the first run as one call of up to max_batch_size rows and are split back; a batched call that
 * fails is retried request by request so that one bad request fails alone.
 */
import type { Card } from '../adapters/card.js';
import { elementCount, type Datatype, type NumericArray, arrayConstructorFor } from '../core/datatypes.js';
import { InferError, unsupported } from '../core/errors.js';
import type { ModelDeclaration } from '../core/model-declaration.js';
import type { ModelMetadata } from '../core/model-metadata.js';
import { formatShape } from '../core/request-validation.js';
import type { InferRequest, Tensor } from '../core/tensor.js';
import type { Engine, ExecuteResult, RunObserver, InstanceRuntime, LoadedModel, ModelInstance, ModelLoadSpec } from './engine.js';
import {
  fromNativeDatatype, loadNativeAddon, toNativeDatatype,
  type NativeAddon, type NativeInput, type NativeModelHandle, type NativeOutput, type NativePluginHandle,
} from './native-addon.js';
import { resolvePluginPath } from './native-plugin-path.js';
import { checkNativeSignature } from './native-signature.js';
import { DeclaredRequests } from './declared-requests.js';
import { concatInputs, executeByRows, runRows, splitRows } from './row-batching.js';

export interface NativeEngineOptions {
  /** The addon to use; default: the one `npm run build:native` built, loaded on first use. */
  addon?: () => NativeAddon;
}

export class NativeEngine implements Engine {
  readonly name = 'native';
  readonly #addon: () => NativeAddon;

  constructor(options: NativeEngineOptions = {}) {
    this.#addon = options.addon ?? (() => loadNativeAddon());
  }

  /** Any real card: whether the plugin can use it is the plugin's answer at load (IG_UNSUPPORTED). */
  supports(card: Card): boolean {
    return card.kind === 'cpu' || card.kind === 'gpu' || card.kind === 'npu';
  }

  async loadModel(spec: ModelLoadSpec): Promise<LoadedModel> {
    const { declaration } = spec;
    const who = `model '${declaration.name}'`;
    if (!declaration.native) throw new Error(`${who}: the native engine needs native.plugin in the declaration`);
    if (!spec.modelPath) throw new Error(`${who}: the native engine needs a model_file (the weights the plugin reads)`);
    const pluginPath = resolvePluginPath(declaration.native.plugin, declaration.directory, declaration.name);
    const addon = this.#addon();
    let opened: ReturnType<NativeAddon['openPlugin']>;
    try {
      opened = addon.openPlugin(pluginPath);
    } catch (err) {
      throw new Error(`${who}: ${(err as Error).message}`);
    }
    const options = declaration.native.options ?? '';
    const probe = await loadHandle(addon, opened.plugin, spec.modelPath, options, 'cpu', `${who} (plugin ${opened.name})`);
    try {
      const problems = checkNativeSignature(declaration, addon.describe(probe));
      if (problems.length > 0) {
        throw new Error(`${who}: declaration disagrees with plugin ${opened.name} on ${spec.modelPath}: ${problems.join('; ')}`);
      }
    } finally {
      addon.freeModel(probe);
    }
    return new NativeLoadedModel(spec, addon, { plugin: opened.plugin, pluginName: opened.name, options });
  }
}

async function loadHandle(addon: NativeAddon, plugin: NativePluginHandle, modelPath: string, options: string, device: string, who: string): Promise<NativeModelHandle> {
  try {
    return await addon.loadModel(plugin, modelPath, options, device);
  } catch (err) {
    throw new Error(`${who}: cannot load ${modelPath} for device ${device}: ${(err as Error).message}`);
  }
}

interface PluginSetup {
  plugin: NativePluginHandle;
  pluginName: string;
  options: string;
}

class NativeLoadedModel implements LoadedModel {
  readonly metadata: ModelMetadata;
  readonly #spec: ModelLoadSpec;
  readonly #addon: NativeAddon;
  readonly #setup: PluginSetup;
  readonly #instances = new Set<NativeModelInstance>();
  #unloaded = false;

  constructor(spec: ModelLoadSpec, addon: NativeAddon, setup: PluginSetup) {
    this.metadata = spec.metadata;
    this.#spec = spec;
    this.#addon = addon;
    this.#setup = setup;
  }

  async createInstance(card: Card, index: number): Promise<ModelInstance> {
    const who = `model '${this.#spec.declaration.name}' instance ${index} on card ${card.id}`;
    if (this.#unloaded) throw new Error(`${who}: version ${this.#spec.version} was unloaded`);
    const handle = await loadHandle(this.#addon, this.#setup.plugin, this.#spec.modelPath!, this.#setup.options, card.id, `${who} (plugin ${this.#setup.pluginName})`);
    const instance: NativeModelInstance = new NativeModelInstance(card, index, this.#spec, this.#addon, handle, this.#setup.pluginName, () => this.#instances.delete(instance));
    this.#instances.add(instance);
    return instance;
  }

  async unload(): Promise<void> {
    this.#unloaded = true;
    await Promise.all([...this.#instances].map((i) => i.unload()));
  }
}

export class NativeModelInstance implements ModelInstance {
  readonly card: Card;
  readonly index: number;
  readonly runtime: InstanceRuntime;
  /** Plugin calls so far; a batch of compatible requests costs one. */
  runs = 0;
  readonly #addon: NativeAddon;
  readonly #declaration: ModelDeclaration;
  readonly #version: string;
  readonly #requests: DeclaredRequests;
  /** Input names in the plugin's order: execute passes them so. */
  readonly #inputOrder: string[];
  /** Output names in the plugin's order: outputs come back so. */
  readonly #outputOrder: string[];
  readonly #onUnload: () => void;
  #handle: NativeModelHandle | undefined;
  #running: Promise<unknown> | undefined;

  constructor(card: Card, index: number, spec: ModelLoadSpec, addon: NativeAddon, handle: NativeModelHandle, pluginName: string, onUnload: () => void) {
    this.card = card;
    this.index = index;
    this.runtime = { providers: [`native:${pluginName}`], degraded: false };
    this.#addon = addon;
    this.#declaration = spec.declaration;
    this.#version = spec.version;
    this.#requests = new DeclaredRequests(spec.declaration, spec.version, 'the native plugin ABI', (d) => toNativeDatatype(d) !== undefined);
    const described = addon.describe(handle);
    this.#inputOrder = described.inputs.map((d) => d.name);
    this.#outputOrder = described.outputs.map((d) => d.name);
    this.#handle = handle;
    this.#onUnload = onUnload;
  }

  async execute(batch: InferRequest[], onRun?: RunObserver): Promise<ExecuteResult[]> {
    if (!this.#handle) throw new Error(`instance ${this.index} of model '${this.#declaration.name}' on card ${this.card.id} was unloaded`);
    const handle = this.#handle;
    const work = executeByRows(
      batch,
      this.#declaration.max_batch_size,
      (req) => this.#requests.check(req),
      (requests) => this.#runBatched(handle, requests, onRun),
      (req) => this.#runOne(handle, req, onRun),
    );
    this.#running = work.catch(() => undefined);
    return work;
  }

  /** Frees the plugin's handle once the execute in flight (if any) is done. */
  async unload(): Promise<void> {
    const handle = this.#handle;
    if (!handle) return;
    this.#handle = undefined;
    this.#onUnload();
    await this.#running;
    this.#addon.freeModel(handle);
  }

  /** One plugin call with the tensors in the plugin's input order. */
  async #call(handle: NativeModelHandle, tensors: Tensor[]): Promise<Map<string, Tensor>> {
    const inputs: NativeInput[] = this.#inputOrder.map((name) => {
      const t = tensors.find((x) => x.name === name)!;
      return { name, datatype: toNativeDatatype(t.datatype)!, shape: t.shape, data: t.data as NumericArray };
    });
    this.runs++;
    const outputs = await this.#addon.execute(handle, inputs);
    return new Map(outputs.map((o, k) => [this.#outputOrder[k] ?? o.name, toTensor(this.#outputOrder[k] ?? o.name, o)]));
  }

  async #runOne(handle: NativeModelHandle, req: InferRequest, onRun: RunObserver | undefined): Promise<ExecuteResult> {
    let out: Map<string, Tensor>;
    const startedAt = performance.now();
    try {
      out = await this.#call(handle, req.inputs);
    } catch (err) {
      return pluginError(err);
    }
    const tensors: Tensor[] = [];
    for (const name of this.#requests.wanted(req)) {
      const t = out.get(name);
      if (!t) return new InferError('INTERNAL', `the plugin returned no output '${name}'`, 'engine_error');
      tensors.push(t);
    }
    onRun?.(runRows(this.#declaration, [req]), performance.now() - startedAt);
    return this.#requests.response(req, tensors);
  }

  /** Concatenates along dim 0, runs once and splits; undefined when the batched call failed. */
  async #runBatched(handle: NativeModelHandle, requests: InferRequest[], onRun: RunObserver | undefined): Promise<ExecuteResult[] | undefined> {
    let out: Map<string, Tensor>;
    const startedAt = performance.now();
    try {
      out = await this.#call(handle, concatInputs(requests));
    } catch {
      return undefined;
    }
    // A missing output fails the split: each request then runs alone and gets the error itself.
    const parts = splitRows(requests, out, (req) => this.#requests.wanted(req));
    if (parts) onRun?.(runRows(this.#declaration, requests), performance.now() - startedAt);
    return parts?.map((mine, k) => this.#requests.response(requests[k], mine));
  }

}

/** A plugin output as a tensor, its bytes viewed as the declared element type. */
function toTensor(name: string, o: NativeOutput): Tensor {
  const datatype: Datatype | undefined = fromNativeDatatype(o.datatype);
  if (datatype === undefined || datatype === 'BYTES') throw new InferError('INTERNAL', `the plugin returned output '${name}' with unknown datatype ${o.datatype}`, 'engine_error');
  const Ctor = arrayConstructorFor(datatype);
  const count = elementCount(o.shape);
  if (count * Ctor.BYTES_PER_ELEMENT !== o.data.byteLength) {
    throw new InferError('INTERNAL', `the plugin returned ${o.data.byteLength} bytes for output '${name}' of shape ${formatShape(o.shape)} ${datatype}`, 'engine_error');
  }
  return { name, datatype, shape: o.shape, data: new Ctor(o.data, 0, count) };
}

/** The addon's error codes carry the plugin's ig_status: the client's fault, or the plugin's. */
function pluginError(err: unknown): InferError {
  if (err instanceof InferError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: string }).code;
  if (code === 'IG_INVALID_ARG') return new InferError('INVALID_ARG', `the plugin refused the input: ${message}`, 'engine_rejected_input');
  if (code === 'IG_UNSUPPORTED') return new InferError('UNSUPPORTED', `the plugin cannot run this: ${message}`, 'unsupported');
  return new InferError('INTERNAL', `native plugin: ${message}`, 'engine_error');
}
