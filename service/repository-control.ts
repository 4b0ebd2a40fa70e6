/**
 * The model repository extension's load and unload (Triton's explicit model control) on a node.
 * A load reads the model's declaration fresh from the repository directory and (re)loads it on the
 * host; an unload stops the model taking requests at once and lets those in flight finish. With
 * `--model-control-mode none` both are refused, as Triton refuses them in NONE mode.
 */
import { InferError, invalidArg, unavailable, unsupported } from '../core/errors.js';
import { declarationFileOf, declaredModelNames, modelControlDisabledMessage, modelFingerprint, type ModelControlMode } from '../core/model-control.js';
import { DeclarationInvalid, formatDeclarationError, isPipelineFile, loadDeclaredModel, type DeclaredModel } from '../core/model-repository.js';
import { ModelLoadFailed, type ModelHost } from '../node/model-host.js';

/** Triton's request parameters (`config`, `file:…`, `unload_dependents`) are accepted and ignored. */
export type RepositoryParameters = Record<string, unknown>;

export interface RepositoryControl {
  /** Loads or reloads the model; INVALID_ARG with the reason when it does not load. */
  load(model: string, parameters?: RepositoryParameters): Promise<void>;
  /** Stops serving the model; its requests in flight finish. */
  unload(model: string, parameters?: RepositoryParameters): Promise<void>;
}

/** Where no repository control was given: load and unload are refused, saying so. */
export const NO_REPOSITORY_CONTROL: RepositoryControl = {
  load: () => Promise.reject(unsupported('model load is not available on this server', 'no_repository_control')),
  unload: () => Promise.reject(unsupported('model unload is not available on this server', 'no_repository_control')),
};

/** A node as a gateway's repository control reaches it. */
export interface ControlledNode {
  readonly nodeId: string;
  readonly backend: { postJson(path: string, body: unknown): Promise<void> };
  /** The models it serves now (its last load report). */
  readonly models: readonly string[];
}

/**
 * A gateway's load and unload: the models live on the nodes, so the request goes to them. A load
 * goes to every node (each one that has the declaration loads it; the pools follow with the next
 * heartbeats) and succeeds when one node loaded the model; an unload goes to the nodes serving the
 * model and succeeds when all of them unloaded it. The nodes' own messages make the error.
 */
export class GatewayRepositoryControl implements RepositoryControl {
  constructor(private readonly nodes: () => readonly ControlledNode[]) {}

  async load(model: string, parameters?: RepositoryParameters): Promise<void> {
    const nodes = this.nodes();
    if (nodes.length === 0) throw unavailable(`no node has joined this gateway to load '${model}' on`, 'no_backend');
    const results = await this.#send(nodes, model, 'load', parameters);
    if (results.some((r) => r.ok)) return;
    throw invalidArg(`failed to load '${model}' on any node: ${describe(results)}`, 'load_failed');
  }

  async unload(model: string, parameters?: RepositoryParameters): Promise<void> {
    const nodes = this.nodes().filter((n) => n.models.includes(model));
    if (nodes.length === 0) throw invalidArg(`failed to unload '${model}': no node of this gateway serves it`, 'unknown_model');
    const results = await this.#send(nodes, model, 'unload', parameters);
    if (results.every((r) => r.ok)) return;
    throw invalidArg(`failed to unload '${model}' on every node: ${describe(results)}`, 'unload_failed');
  }

  #send(nodes: readonly ControlledNode[], model: string, action: 'load' | 'unload', parameters?: RepositoryParameters) {
    const path = `/v2/repository/models/${encodeURIComponent(model)}/${action}`;
    return Promise.all(nodes.map((n) => n.backend.postJson(path, parameters ? { parameters } : {}).then(
      () => ({ nodeId: n.nodeId, ok: true as const }),
      (err: unknown) => ({ nodeId: n.nodeId, ok: false as const, message: (err as Error).message }),
    )));
  }
}

function describe(results: ReadonlyArray<{ nodeId: string; ok: boolean; message?: string }>): string {
  return results.filter((r) => !r.ok).map((r) => `node ${r.nodeId}: ${r.message}`).join('; ');
}

/** What one poll of the repository directory did. */
export interface RepositoryPollOutcome {
  loaded: string[];
  reloaded: string[];
  unloaded: string[];
  /** `name: reason` of each model that did not (re)load. */
  failed: string[];
}

export interface NodeRepositoryControlOptions {
  mode: ModelControlMode;
  modelsDir: string;
  /** Engine names this process can load (as at start). */
  knownEngines: readonly string[];
}

export class NodeRepositoryControl implements RepositoryControl {
  constructor(private readonly host: ModelHost, private readonly options: NodeRepositoryControlOptions) {}

  /** Fingerprints of the model directories as the last poll saw them (poll mode). */
  readonly #seen = new Map<string, string>();
  #polledOnce = false;

  async load(model: string): Promise<void> {
    this.#checkEnabled();
    await this.#load(model);
  }

  /**
   * Poll mode: compares the repository directory with what the last poll saw (the first call only
   * takes note) and loads new models, reloads changed ones and unloads removed ones. A model that
   * fails to (re)load keeps what it served and is tried again when its files change again.
   */
  async poll(): Promise<RepositoryPollOutcome> {
    const outcome: RepositoryPollOutcome = { loaded: [], reloaded: [], unloaded: [], failed: [] };
    const first = !this.#polledOnce;
    this.#polledOnce = true;
    const now = new Map(declaredModelNames(this.options.modelsDir).map((name) => [name, modelFingerprint(this.options.modelsDir, name) ?? '']));
    for (const [name, fingerprint] of now) {
      if (this.#isPipeline(name)) continue; // served from its steps' models, never loaded itself
      const before = this.#seen.get(name);
      this.#seen.set(name, fingerprint);
      if (first || before === fingerprint) continue;
      try {
        await this.#load(name);
        (before === undefined ? outcome.loaded : outcome.reloaded).push(name);
      } catch (err) {
        outcome.failed.push(`${name}: ${(err as Error).message}`);
      }
    }
    for (const name of [...this.#seen.keys()]) {
      if (now.has(name)) continue;
      this.#seen.delete(name);
      if (await this.host.unload(name)) outcome.unloaded.push(name);
    }
    return outcome;
  }

  async #load(model: string): Promise<void> {
    const declared = this.#readDeclaration(model);
    try {
      await this.host.load(declared);
    } catch (err) {
      if (err instanceof ModelLoadFailed) throw invalidArg(err.message, 'load_failed');
      throw err;
    }
  }

  async unload(model: string): Promise<void> {
    this.#checkEnabled();
    const wasLoaded = await this.host.unload(model);
    // As Triton: unloading a declared model that is not loaded succeeds; a name the repository
    // does not know is a mistake worth saying.
    if (!wasLoaded && !declarationFileOf(this.options.modelsDir, model)) throw unknownModel('unload', model, this.options.modelsDir);
  }

  #isPipeline(model: string): boolean {
    const file = declarationFileOf(this.options.modelsDir, model);
    return file !== undefined && isPipelineFile(file);
  }

  #checkEnabled(): void {
    if (this.options.mode !== 'explicit') throw invalidArg(modelControlDisabledMessage(this.options.mode), 'model_control_disabled');
  }

  /** The declaration as the file says now; a rejected one is recorded (when nothing serves the model) and refused. */
  #readDeclaration(model: string): DeclaredModel {
    const file = declarationFileOf(this.options.modelsDir, model);
    if (!file) throw unknownModel('load', model, this.options.modelsDir);
    if (isPipelineFile(file)) {
      throw invalidArg(`'${model}' is a pipeline: it is served whenever the models its steps name are; load or unload those models instead`, 'pipeline');
    }
    try {
      return loadDeclaredModel(file, { knownEngines: this.options.knownEngines });
    } catch (err) {
      const reason = err instanceof DeclarationInvalid ? err.errors.map(formatDeclarationError).join('; ') : (err as Error).message;
      throw invalidArg(this.host.recordLoadFailure(model, reason).message, 'load_failed');
    }
  }
}

function unknownModel(action: 'load' | 'unload', model: string, modelsDir: string): InferError {
  return invalidArg(`failed to ${action} '${model}': not found in the model repository (no ${model}/model.yaml in ${modelsDir})`, 'unknown_model');
}
