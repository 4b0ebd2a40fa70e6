/**
 * Loads the declared models of this node onto its cards and owns their executors. The engine for
 * each card comes from the adapters' pure choice; a card no engine fits is skipped with a log line,
 * and a model that fails to load is reported as unavailable while the others serve.
 */
import { chooseEngine } from '../adapters/engine-choice.js';
import type { Card } from '../adapters/card.js';
import { notFound } from '../core/errors.js';
import type { ModelIndexEntry, ModelMetadata } from '../core/model-metadata.js';
import { formatDeclarationError, type DeclaredModel, type DeclarationError } from '../core/model-repository.js';
import type { EngineRegistry } from '../engines/engine-registry.js';
import type { LoadedModel, ModelInstance } from '../engines/engine.js';
import { LoadMeter } from './load-meter.js';
import { ModelExecutor, type OutcomeObserver } from './model-executor.js';


export interface HostedModel {
  declared: DeclaredModel;
  metadata: ModelMetadata;
  /** By version, lowest first. */
  executors: Map<string, ModelExecutor>;
  /** Where a request without a version goes: the highest version. */
  latest: ModelExecutor;
}

export interface ModelHostOptions {
  cards: Card[];
  engines: EngineRegistry;
  observe?: OutcomeObserver;
  log?: (message: string) => void;
}

export class ModelHost {
  readonly meter = new LoadMeter();
  readonly #models = new Map<string, HostedModel>();
  readonly #index: ModelIndexEntry[] = [];
  readonly #loaded: LoadedModel[] = [];
  readonly #log: (message: string) => void;

  constructor(private readonly options: ModelHostOptions) {
    this.#log = options.log ?? (() => {});
  }

  /** Records declaration errors so the repository index shows why a model is missing. */
  addDeclarationErrors(errors: DeclarationError[]): void {
    const byFile = new Map<string, string[]>();
    for (const e of errors) {
      this.#log(`model declaration rejected: ${formatDeclarationError(e)}`);
      byFile.set(e.file, [...(byFile.get(e.file) ?? []), formatDeclarationError(e)]);
    }
    // One index entry per rejected model, however many problems its file has.
    for (const [file, reasons] of byFile) {
      this.#index.push({ name: modelNameFromFile(file), version: '', state: 'UNAVAILABLE', reason: reasons.join('; ') });
    }
  }

  async loadAll(models: DeclaredModel[]): Promise<void> {
    for (const model of models) {
      try {
        await this.load(model);
      } catch (err) {
        if (err instanceof NoFittingCard) {
          // Normal in a mixed fleet: a CPU-only model is simply not for a node of NPUs.
          this.#log(`model '${model.declaration.name}' not served on this node: ${err.message}`);
          continue;
        }
        const reason = `failed to load: ${(err as Error).message}`;
        this.#log(`model '${model.declaration.name}' ${reason}`);
        for (const v of model.versions) this.#index.push({ name: model.declaration.name, version: v.version, state: 'UNAVAILABLE', reason });
      }
    }
  }

  async load(model: DeclaredModel): Promise<void> {
    const { declaration } = model;
    const executors = new Map<string, ModelExecutor>();
    for (const source of model.versions) {
      const instances = await this.#createInstances(model, source.version, source.modelPath);
      executors.set(source.version, new ModelExecutor(
        model.metadata, source.version, instances,
        { maxQueueSize: declaration.max_queue_size, maxBatchSize: declaration.max_batch_size },
        this.meter, this.options.observe,
      ));
      this.#index.push({ name: declaration.name, version: source.version, state: 'READY', reason: '' });
    }
    const versions = [...executors.keys()].sort((a, b) => Number(a) - Number(b) || a.localeCompare(b));
    const sorted = new Map(versions.map((v) => [v, executors.get(v)!]));
    this.#models.set(declaration.name, { declared: model, metadata: model.metadata, executors: sorted, latest: sorted.get(versions[versions.length - 1])! });
  }

  async #createInstances(model: DeclaredModel, version: string, modelPath: string | undefined): Promise<ModelInstance[]> {
    const { declaration } = model;
    const loadedByEngine = new Map<string, LoadedModel>();
    const instances: ModelInstance[] = [];
    const skipped: string[] = [];
    const available = this.options.engines.names().map((name) => this.options.engines.get(name)!);
    for (const group of declaration.instances) {
      for (const card of this.options.cards.filter((c) => group.kind === 'auto' || c.kind === group.kind)) {
        const choice = chooseEngine(card, declaration.engine, available);
        if ('skip' in choice) {
          skipped.push(choice.skip);
          continue;
        }
        let loaded = loadedByEngine.get(choice.engine);
        if (!loaded) {
          loaded = await this.options.engines.get(choice.engine)!.loadModel({ declaration, version, modelPath, metadata: model.metadata });
          loadedByEngine.set(choice.engine, loaded);
          this.#loaded.push(loaded);
        }
        for (let i = 0; i < group.count; i++) instances.push(await loaded.createInstance(card, i));
      }
    }
    if (instances.length === 0) {
      const cards = this.options.cards.map((c) => `${c.id} (${c.kind})`).join(', ') || 'none';
      throw new NoFittingCard(`no card fits (instances want ${declaration.instances.map((g) => g.kind).join(', ')}, engines ${declaration.engine.join(', ')}; cards: ${cards})${skipped.length ? `: ${skipped[0]}` : ''}`);
    }
    return instances;
  }

  models(): HostedModel[] {
    return [...this.#models.values()];
  }

  index(): ModelIndexEntry[] {
    return [...this.#index];
  }

  executor(name: string, version: string): ModelExecutor {
    const executor = this.#models.get(name)?.executors.get(version);
    if (!executor) throw notFound(`model '${name}' version ${version} is not served by this node`);
    return executor;
  }

  /**
   * The executor a request for (model, version) goes to; without a version, the highest one this
   * node serves. NOT_FOUND names what is missing.
   */
  resolve(name: string, version?: string): ModelExecutor {
    const hosted = this.#models.get(name);
    if (!hosted || hosted.executors.size === 0) throw notFound(`unknown model: '${name}'`, 'unknown_model');
    if (version) {
      const executor = hosted.executors.get(version);
      if (!executor) throw notFound(`unknown version '${version}' of model '${name}'`, 'unknown_version');
      return executor;
    }
    return hosted.latest;
  }

  /** The model as hosted, or undefined. */
  model(name: string): HostedModel | undefined {
    return this.#models.get(name);
  }

  get slots(): number {
    let total = 0;
    for (const m of this.#models.values()) for (const e of m.executors.values()) total += e.slots;
    return total;
  }

  /** Finishes queued work, then unloads every instance and model. */
  async close(): Promise<void> {
    const executors = [...this.#models.values()].flatMap((m) => [...m.executors.values()]);
    await Promise.all(executors.map((e) => e.close()));
    await Promise.all(this.#loaded.map((m) => m.unload()));
  }
}

class NoFittingCard extends Error {}

function modelNameFromFile(file: string): string {
  const parts = file.split(/[\\/]/);
  return parts[parts.length - 2] ?? file;
}
