/**
 * The TensorFlow.js engine: graph models (converted SavedModels) and layers models (Keras), read
 * from disk as model.json + weight shards (tfjs-io.ts). The backend is chosen once per process by
 * what is installed and initialises (tfjs-backend.ts) and each instance reports it.
 *
 * tfjs itself is imported on the first load, not with this module, so that a node serving only
 * ONNX models does not pay for it at start (importing @tensorflow/tfjs costs ~0.4 s).
 *
 * Runs are synchronous on the caller's thread (wasm is single-threaded in Node; tfjs has one global
 * backend per process), like onnx's `execution: inline`. Every run is inside tf.tidy and outputs
 * are copied out, so no tensor outlives an execute; a model's weights are freed at unload.
 *
 * execute() batches as onnx does (row-batching.ts): requests agreeing on all dims but the first run
 * once, concatenated on dim 0 up to max_batch_size rows; a failed batched run is retried request by
 * request so that one bad request fails alone.
 */
import type * as Tf from '@tensorflow/tfjs';
import type { Card } from '../adapters/card.js';
import { InferError } from '../core/errors.js';
import type { ModelDeclaration, TensorDeclaration } from '../core/model-declaration.js';
import type { ModelMetadata } from '../core/model-metadata.js';
import type { InferRequest, Tensor } from '../core/tensor.js';
import type { Engine, ExecuteResult, RunObserver, LoadedModel, ModelInstance, ModelLoadSpec } from './engine.js';
import { DeclaredRequests } from './declared-requests.js';
import { concatInputs, executeByRows, runRows, splitRows } from './row-batching.js';
import {
  activateTfjsBackend, backendOrder, initTfjsBackend, nativeAddonProblem, TFJS_BACKEND_PACKAGE, type BackendDecision, type TfjsBackend,
} from './tfjs-backend.js';
import { artifactsHandler, readTfjsModel, type TfjsModelFormat } from './tfjs-io.js';
import { checkTfjsSignature, fromGraphSignature, TFJS_DTYPES, type TfjsSignature } from './tfjs-signature.js';

export interface TfjsEngineOptions {
  /** Backends to try, best first (default TFJS_BACKEND_ORDER: tfjs-node-gpu, tfjs-node, wasm, cpu). */
  backends?: readonly string[];
  /** Where the backend choice is reported once, with the reason (default console.warn when not the first choice). */
  log?: (message: string) => void;
}

export class TfjsEngine implements Engine {
  readonly name = 'tfjs';
  readonly #order: TfjsBackend[];
  readonly #log: ((message: string) => void) | undefined;
  #decision: BackendDecision | undefined;

  constructor(options: TfjsEngineOptions = {}) {
    this.#order = backendOrder(options.backends);
    this.#log = options.log;
  }

  /** The backend in use and why; undefined before the first load (the choice needs the imports). */
  get backend(): BackendDecision | undefined {
    return this.#decision;
  }

  /**
   * CPU cards always (the cpu backend cannot fail); a GPU card only with tfjs-node-gpu: after the
   * first load, when the process really got it; before, when it is in the order and its native
   * addon is built (a file check, no import).
   */
  supports(card: Card): boolean {
    if (card.kind === 'cpu') return true;
    if (card.kind !== 'gpu' || !this.#order.includes('tfjs-node-gpu')) return false;
    if (this.#decision) return this.#decision.backend === 'tfjs-node-gpu';
    return nativeAddonProblem(TFJS_BACKEND_PACKAGE['tfjs-node-gpu']) === undefined;
  }

  /** Imports tfjs and settles the backend (once per process per order). */
  async ready(): Promise<{ tf: typeof Tf; decision: BackendDecision }> {
    const tf = await import('@tensorflow/tfjs');
    const first = this.#decision === undefined;
    this.#decision = await initTfjsBackend(tf, this.#order);
    await activateTfjsBackend(tf, this.#decision.backend);
    if (first && this.#decision.skipped.length > 0) {
      (this.#log ?? ((m: string) => console.warn(m)))(`tfjs engine: backend ${this.#decision.why}`);
    } else if (first) {
      this.#log?.(`tfjs engine: backend ${this.#decision.why}`);
    }
    return { tf, decision: this.#decision };
  }

  async loadModel(spec: ModelLoadSpec): Promise<LoadedModel> {
    const name = spec.declaration.name;
    if (!spec.modelPath) throw new Error(`model '${name}': the tfjs engine needs a model file (model_file: its model.json)`);
    let file: ReturnType<typeof readTfjsModel>;
    try {
      file = readTfjsModel(spec.modelPath);
    } catch (err) {
      throw new Error(`model '${name}': cannot read tfjs model: ${(err as Error).message}`);
    }
    const { tf, decision } = await this.ready();
    let model: Tf.GraphModel | Tf.LayersModel;
    try {
      model = file.format === 'graph-model'
        ? await tf.loadGraphModel(artifactsHandler(file.artifacts))
        : await tf.loadLayersModel(artifactsHandler(file.artifacts));
    } catch (err) {
      throw new Error(`model '${name}': tfjs cannot load ${spec.modelPath} (${file.format}): ${(err as Error).message}`);
    }
    const signature = file.format === 'graph-model'
      ? fromGraphSignature(file.artifacts.signature) ?? graphInfos(model as Tf.GraphModel)
      : layersInfos(model as Tf.LayersModel);
    const problems = checkTfjsSignature(spec.declaration, signature);
    if (problems.length > 0) {
      model.dispose();
      throw new Error(`model '${name}': declaration disagrees with ${spec.modelPath}: ${problems.join('; ')}`);
    }
    return new TfjsLoadedModel(spec, tf, model, file.format, signature, decision);
  }
}

function graphInfos(model: Tf.GraphModel): TfjsSignature {
  return {
    inputs: model.inputs.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape })),
    outputs: model.outputs.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape })),
  };
}

function layersInfos(model: Tf.LayersModel): TfjsSignature {
  return {
    inputs: model.inputs.map((t, i) => ({ name: model.inputNames[i], dtype: t.dtype, shape: t.shape })),
    outputs: model.outputs.map((t, i) => ({ name: model.outputNames[i], dtype: t.dtype, shape: t.shape })),
  };
}

class TfjsLoadedModel implements LoadedModel {
  readonly metadata: ModelMetadata;
  readonly #instances = new Set<TfjsModelInstance>();
  #model: Tf.GraphModel | Tf.LayersModel | undefined;

  constructor(
    readonly spec: ModelLoadSpec,
    readonly tf: typeof Tf,
    model: Tf.GraphModel | Tf.LayersModel,
    readonly format: TfjsModelFormat,
    readonly signature: TfjsSignature,
    readonly decision: BackendDecision,
  ) {
    this.metadata = spec.metadata;
    this.#model = model;
  }

  get model(): Tf.GraphModel | Tf.LayersModel | undefined {
    return this.#model;
  }

  async createInstance(card: Card, index: number): Promise<ModelInstance> {
    if (!this.#model) throw new Error(`model '${this.spec.declaration.name}' version ${this.spec.version} was unloaded`);
    if (card.kind !== 'cpu' && !(card.kind === 'gpu' && this.decision.backend === 'tfjs-node-gpu')) {
      throw new Error(`model '${this.spec.declaration.name}' instance ${index} on card ${card.id}: the tfjs backend in use is ${this.decision.backend}, which cannot run on a ${card.kind} card (${this.decision.why})`);
    }
    const instance: TfjsModelInstance = new TfjsModelInstance(card, index, this, () => this.#instances.delete(instance));
    this.#instances.add(instance);
    return instance;
  }

  /** Instances share the one model (tfjs runs are stateless); its weights go when the last user does. */
  async unload(): Promise<void> {
    await Promise.all([...this.#instances].map((i) => i.unload()));
    this.#model?.dispose();
    this.#model = undefined;
  }
}

export class TfjsModelInstance implements ModelInstance {
  readonly card: Card;
  readonly index: number;
  /** The tfjs backend this instance runs on, and why it is that one. */
  readonly backend: TfjsBackend;
  readonly backendReason: string;
  /** For the instance report: the backend is its provider; no tfjs backend is a fallback of a card's. */
  readonly runtime: { providers: string[]; degraded: boolean };
  /** Model runs so far; a batch of compatible requests costs one. */
  runs = 0;
  readonly #owner: TfjsLoadedModel;
  readonly #declaration: ModelDeclaration;
  readonly #outputs: Map<string, TensorDeclaration>;
  readonly #requests: DeclaredRequests;
  readonly #onUnload: () => void;
  #released = false;

  constructor(card: Card, index: number, owner: TfjsLoadedModel, onUnload: () => void) {
    this.card = card;
    this.index = index;
    this.backend = owner.decision.backend;
    this.backendReason = owner.decision.why;
    this.runtime = { providers: [this.backend], degraded: false };
    this.#owner = owner;
    this.#declaration = owner.spec.declaration;
    this.#outputs = new Map(this.#declaration.outputs.map((t) => [t.name, t]));
    this.#requests = new DeclaredRequests(this.#declaration, owner.spec.version, `tfjs (${Object.keys(TFJS_DTYPES).join(', ')})`, (d) => TFJS_DTYPES[d] !== undefined);
    this.#onUnload = onUnload;
  }

  async execute(batch: InferRequest[], onRun?: RunObserver): Promise<ExecuteResult[]> {
    const model = this.#owner.model;
    if (this.#released || !model) throw new Error(`instance ${this.index} of model '${this.#declaration.name}' on card ${this.card.id} was unloaded`);
    await activateTfjsBackend(this.#owner.tf, this.backend);
    return executeByRows(
      batch,
      this.#declaration.max_batch_size,
      (req) => this.#requests.check(req),
      (requests) => this.#runBatched(model, requests, onRun),
      (req) => this.#runOne(model, req, onRun),
    );
  }

  async unload(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    this.#onUnload();
  }

  /**
   * One model run, all tensors inside tf.tidy; outputs come back as plain arrays (copies), so the
   * process holds no tensor of this run afterwards.
   */
  #run(model: Tf.GraphModel | Tf.LayersModel, inputs: Tensor[], fetches: string[]): Tensor[] {
    const tf = this.#owner.tf;
    this.runs++;
    return tf.tidy(() => {
      const feeds = new Map(inputs.map((t) => [t.name, tf.tensor(t.data as Float32Array | Int32Array | Uint8Array, t.shape, TFJS_DTYPES[t.datatype])]));
      let outs: Tf.Tensor[];
      if (this.#owner.format === 'graph-model') {
        const r = (model as Tf.GraphModel).execute(Object.fromEntries(feeds), fetches);
        outs = Array.isArray(r) ? r : [r];
      } else {
        const layers = model as Tf.LayersModel;
        const r = layers.predict(layers.inputNames.map((n) => feeds.get(n)!));
        const all = Array.isArray(r) ? r : [r];
        outs = fetches.map((n) => all[layers.outputNames.indexOf(n)]);
      }
      return outs.map((o, k) => {
        const declared = this.#outputs.get(fetches[k])!;
        const values = o.dataSync();
        const data = declared.datatype === 'BOOL' ? Uint8Array.from(values as Uint8Array) : (values as Float32Array | Int32Array).slice();
        return { name: fetches[k], datatype: declared.datatype, shape: [...o.shape], data };
      });
    });
  }

  #runOne(model: Tf.GraphModel | Tf.LayersModel, req: InferRequest, onRun: RunObserver | undefined): ExecuteResult {
    let outputs: Tensor[];
    const startedAt = performance.now();
    try {
      outputs = this.#run(model, req.inputs, this.#requests.wanted(req));
    } catch (err) {
      return runtimeError(err);
    }
    onRun?.(runRows(this.#declaration, [req]), performance.now() - startedAt);
    return this.#requests.response(req, outputs);
  }

  #runBatched(model: Tf.GraphModel | Tf.LayersModel, requests: InferRequest[], onRun: RunObserver | undefined): ExecuteResult[] | undefined {
    const fetches = this.#requests.wantedByAny(requests);
    let tensors: Tensor[];
    const startedAt = performance.now();
    try {
      tensors = this.#run(model, concatInputs(requests), fetches);
    } catch {
      return undefined;
    }
    const parts = splitRows(requests, new Map(tensors.map((t) => [t.name, t])), (req) => this.#requests.wanted(req));
    // A run whose outputs cannot be split is retried request by request: it does not count.
    if (parts) onRun?.(runRows(this.#declaration, requests), performance.now() - startedAt);
    return parts?.map((mine, k) => this.#requests.response(requests[k], mine));
  }

}

/** tfjs's own checks of the feeds (shape, dtype; layers' "Error when checking") are the client's error; the rest INTERNAL. */
const FEED_CHECK = /^(?:The (?:shape|dtype) of dict\[|Error when checking|Input tensor count mismatch)/;

function runtimeError(err: unknown): InferError {
  if (err instanceof InferError) return err;
  const message = (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').trim();
  if (FEED_CHECK.test(message)) return new InferError('INVALID_ARG', `tfjs refused the input: ${message}`, 'engine_rejected_input');
  return new InferError('INTERNAL', `tfjs: ${message}`, 'engine_error');
}
