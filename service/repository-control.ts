/**
 * The model repository extension's load and unload (Triton's explicit model control) on a node.
 * A load reads the model's declaration fresh from the repository directory and (re)loads it on the
 * host; an unload stops the model taking requests at once and lets those in flight finish. With
 * `--model-control-mode none` both are refused, as Triton refuses them in NONE mode.
 */
import { InferError, invalidArg } from '../core/errors.js';
import { MODEL_CONTROL_DISABLED_MESSAGE, declarationFileOf, type ModelControlMode } from '../core/model-control.js';
import { DeclarationInvalid, formatDeclarationError, loadDeclaredModel, type DeclaredModel } from '../core/model-repository.js';
import { ModelLoadFailed, type ModelHost } from '../node/model-host.js';

/** Triton's request parameters (`config`, `file:…`, `unload_dependents`) are accepted and ignored. */
export type RepositoryParameters = Record<string, unknown>;

export interface RepositoryControl {
  /** Loads or reloads the model; INVALID_ARG with the reason when it does not load. */
  load(model: string, parameters?: RepositoryParameters): Promise<void>;
  /** Stops serving the model; its requests in flight finish. */
  unload(model: string, parameters?: RepositoryParameters): Promise<void>;
}

/** A gateway's answer: the models live on the nodes, which load and unload them. */
export const GATEWAY_REPOSITORY_CONTROL: RepositoryControl = {
  load: () => Promise.reject(notOnGateway('load')),
  unload: () => Promise.reject(notOnGateway('unload')),
};

function notOnGateway(action: 'load' | 'unload'): InferError {
  return invalidArg(`model ${action} is not served by a gateway: load and unload on the nodes (POST /v2/repository/models/<m>/${action} on each backend); the gateway's pools follow their next heartbeats`, 'repository_control_on_gateway');
}

export interface NodeRepositoryControlOptions {
  mode: ModelControlMode;
  modelsDir: string;
  /** Engine names this process can load (as at start). */
  knownEngines: readonly string[];
}

export class NodeRepositoryControl implements RepositoryControl {
  constructor(private readonly host: ModelHost, private readonly options: NodeRepositoryControlOptions) {}

  async load(model: string): Promise<void> {
    this.#checkEnabled();
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

  #checkEnabled(): void {
    if (this.options.mode !== 'explicit') throw invalidArg(MODEL_CONTROL_DISABLED_MESSAGE, 'model_control_disabled');
  }

  /** The declaration as the file says now; a rejected one is recorded (when nothing serves the model) and refused. */
  #readDeclaration(model: string): DeclaredModel {
    const file = declarationFileOf(this.options.modelsDir, model);
    if (!file) throw unknownModel('load', model, this.options.modelsDir);
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
