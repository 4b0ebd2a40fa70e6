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
import { generatedRequest, warmupRequest } from '../core/model-warmup.js';
import { buildModelProcessing, type ModelProcessing } from '../processing/model-processing.js';
import { calibrateCard, type CardCalibration } from './calibration.js';
import { LoadMeter } from './load-meter.js';
import { warmUpInstance, type WarmupRecord } from './model-warmup.js';
import { ModelExecutor, executorOptions, type OutcomeObserver } from './model-executor.js';


export interface HostedModel {
  declared: DeclaredModel;
  metadata: ModelMetadata;
  /** By version, lowest first. */
  executors: Map<string, ModelExecutor>;
  /** Where a request without a version goes: the highest version. */
  latest: ModelExecutor;
  /** The engines' loaded models behind the executors' instances, unloaded after them. */
  loaded: LoadedModel[];
  /** Warmup executions each instance ran before the model was listed READY, by version. */
  warmup: Array<WarmupRecord & { version: string }>;
  /** Measured throughput per (version, card); empty when calibration is off or failed. */
  calibration: Array<CardCalibration & { version: string }>;
  /** Declared pre/post-processing and the classification extension, applied where requests enter the model. */
  processing: ModelProcessing;
}

export interface ModelHostOptions {
  cards: Card[];
  engines: EngineRegistry;
  observe?: OutcomeObserver;
  log?: (message: string) => void;
  /** Time to measure each (model, card) pair at load (node/calibration.ts); 0 or undefined = off. */
  calibrateMs?: number;
  /** Rows per calibration execution on generated inputs (capped at max_batch_size); default 1. */
  calibrateBatch?: number;
  /** Queue depth of a model declared with max_queue_size 0 (--max-queue-depth); default DEFAULT_MAX_QUEUE_DEPTH. */
  maxQueueDepth?: number;
}

/** Why a load did not take: the model keeps what it served before (or stays unavailable). */
export class ModelLoadFailed extends Error {}

export const UNLOADED_REASON = 'unloaded';

export class ModelHost {
  readonly meter = new LoadMeter();
  readonly #models = new Map<string, HostedModel>();
  /** Index entries of the models not served now (rejected, failed, unloaded), by model name. */
  readonly #unavailable = new Map<string, ModelIndexEntry[]>();
  /** Loads and unloads of one model run one after the other. */
  readonly #changing = new Map<string, Promise<unknown>>();
  /** Executors of unloaded or replaced versions still finishing their requests. */
  readonly #draining = new Set<Promise<void>>();
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
      const name = modelNameFromFile(file);
      this.#unavailable.set(name, [{ name, version: '', state: 'UNAVAILABLE', reason: reasons.join('; ') }]);
    }
  }

  /** Lists declared models left for a load request (explicit model control) as unloaded in the index. */
  addUnloaded(models: DeclaredModel[]): void {
    for (const model of models) this.#markUnavailable(model.declaration.name, model.versions.map((v) => v.version), UNLOADED_REASON);
  }

  /** Loads each model; one that fails is reported as unavailable while the others serve. */
  async loadAll(models: DeclaredModel[]): Promise<void> {
    for (const model of models) {
      try {
        await this.load(model);
      } catch (err) {
        if (!(err instanceof ModelLoadFailed)) throw err;
      }
    }
  }

  /**
   * Loads the model, or reloads it: the new versions are built first and swapped in, and only then
   * are the old executors closed (their queued and running requests finish). A failure throws
   * ModelLoadFailed and leaves what was served before serving.
   */
  load(model: DeclaredModel): Promise<void> {
    const name = model.declaration.name;
    return this.#oneAtATime(name, async () => {
      let hosted: HostedModel;
      try {
        hosted = await this.#build(model);
      } catch (err) {
        throw this.#loadFailed(name, model.versions.map((v) => v.version), err as Error);
      }
      const previous = this.#models.get(name);
      this.#models.set(name, hosted);
      this.#unavailable.delete(name);
      if (previous) this.#drainInBackground(previous);
    });
  }

  /** A load that failed before reaching the host (its declaration was rejected): recorded like one that did. */
  recordLoadFailure(name: string, reason: string): ModelLoadFailed {
    return this.#loadFailed(name, [''], new Error(reason));
  }

  /**
   * Stops routing to the model at once (new requests: NOT_FOUND) and lets its queued and running
   * requests finish in the background, then unloads its instances. False when it was not loaded.
   */
  unload(name: string): Promise<boolean> {
    return this.#oneAtATime(name, async () => {
      const hosted = this.#models.get(name);
      if (!hosted) return false;
      this.#models.delete(name);
      this.#markUnavailable(name, [...hosted.executors.keys()], UNLOADED_REASON);
      const inFlight = [...hosted.executors.values()].reduce((n, e) => n + e.inFlight, 0);
      this.#log(`model '${name}' unloaded; ${inFlight} request(s) in flight finish first`);
      this.#drainInBackground(hosted);
      return true;
    });
  }

  /**
   * Why the model is declared here but not served (rejected declaration, failed load, no card fits),
   * or undefined. A model unloaded on request is not unservable: undefined for it too.
   */
  unavailableReason(name: string): string | undefined {
    if (this.#models.has(name)) return undefined;
    const reason = this.#unavailable.get(name)?.[0]?.reason;
    return reason === UNLOADED_REASON ? undefined : reason;
  }

  /** Whether the model is served now. */
  isLoaded(name: string): boolean {
    return this.#models.has(name);
  }

  async #build(model: DeclaredModel): Promise<HostedModel> {
    const { declaration } = model;
    const executors = new Map<string, ModelExecutor>();
    const loaded: LoadedModel[] = [];
    const warmup: HostedModel['warmup'] = [];
    const calibration: HostedModel['calibration'] = [];
    // First: a missing labels file fails the load before any instance is made.
    const processing = buildModelProcessing(declaration, model.metadata);
    try {
      for (const source of model.versions) {
        const placed: PlacedInstance[] = [];
        const instances = await this.#createInstances(model, source.version, source.modelPath, loaded, placed);
        for (const p of placed) warmup.push(...p.warmup.map((w) => ({ ...w, version: source.version })));
        for (const c of await this.#calibrate(model, placed)) calibration.push({ ...c, version: source.version });
        executors.set(source.version, new ModelExecutor(
          model.metadata, source.version, instances,
          executorOptions(declaration, this.options.maxQueueDepth),
          this.meter, this.options.observe,
        ));
      }
    } catch (err) {
      // Half-built: release what was created before the failure.
      await closeQuietly([...executors.values()], loaded);
      throw err;
    }
    const versions = [...executors.keys()].sort((a, b) => Number(a) - Number(b) || a.localeCompare(b));
    const sorted = new Map(versions.map((v) => [v, executors.get(v)!]));
    return { declared: model, metadata: model.metadata, executors: sorted, latest: sorted.get(versions[versions.length - 1])!, loaded, warmup, calibration, processing };
  }

  /**
   * Measures each card's instances (calibrateMs each) on the first warmup sample, or on generated
   * inputs. Simulated engines are skipped: their speed is their declared coefficient by
   * construction. A failure only costs the figure (the card table's prior stays), not the load.
   */
  async #calibrate(model: DeclaredModel, placed: PlacedInstance[]): Promise<CardCalibration[]> {
    const budgetMs = this.options.calibrateMs ?? 0;
    if (!(budgetMs > 0)) return [];
    const { declaration } = model;
    const sample = declaration.model_warmup?.[0];
    // The author's warmup sample stands for real inputs better than generated ones (variable dims).
    const rows = Math.max(1, Math.min(this.options.calibrateBatch ?? 1, model.metadata.maxBatchSize));
    const request = sample ? warmupRequest(declaration, sample) : generatedRequest(model.metadata, rows);
    const batch = model.metadata.maxBatchSize > 0 ? (sample?.batch_size ?? rows) : 1;
    const byCard = new Map<Card, PlacedInstance[]>();
    for (const p of placed) if (p.engine !== 'sim') byCard.set(p.card, [...(byCard.get(p.card) ?? []), p]);
    const results: CardCalibration[] = [];
    for (const [card, group] of byCard) {
      try {
        results.push(await calibrateCard(card, group[0].engine, group.map((p) => p.instance), request, batch, budgetMs));
      } catch (err) {
        this.#log(`model '${declaration.name}': calibration on card ${card.id} failed, its card-table prior stays: ${(err as Error).message}`);
      }
    }
    return results;
  }

  #loadFailed(name: string, versions: string[], err: Error): ModelLoadFailed {
    if (err instanceof NoFittingCard) {
      // Normal in a mixed fleet (a GPU model is not for a CPU node), but listed with the reason, so
      // that nobody has to read the log to learn why the model is missing here.
      this.#log(`model '${name}' not served on this node: ${err.message}`);
      if (!this.#models.has(name)) this.#markUnavailable(name, versions, `not served on this node: ${err.message}`);
      return new ModelLoadFailed(`model '${name}' is not served on this node: ${err.message}`);
    }
    const reason = `failed to load: ${err.message}`;
    const kept = this.#models.has(name);
    this.#log(`model '${name}' ${reason}${kept ? ' (the loaded version keeps serving)' : ''}`);
    if (!kept) this.#markUnavailable(name, versions, reason);
    return new ModelLoadFailed(`model '${name}' ${reason}${kept ? '; the version loaded before keeps serving' : ''}`);
  }

  #markUnavailable(name: string, versions: string[], reason: string): void {
    this.#unavailable.set(name, versions.map((version) => ({ name, version, state: 'UNAVAILABLE', reason })));
  }

  #drainInBackground(hosted: HostedModel): void {
    const drained = closeHosted(hosted).catch((err: Error) => this.#log(`model '${hosted.metadata.name}' failed to unload: ${err.message}`));
    this.#draining.add(drained);
    void drained.finally(() => this.#draining.delete(drained));
  }

  /** Runs the change after the model's previous one has settled, whatever its outcome. */
  #oneAtATime<T>(name: string, change: () => Promise<T>): Promise<T> {
    const previous = this.#changing.get(name) ?? Promise.resolve();
    const next = previous.then(change, change);
    const settled = next.catch(() => {});
    this.#changing.set(name, settled);
    void settled.then(() => {
      if (this.#changing.get(name) === settled) this.#changing.delete(name);
    });
    return next;
  }

  async #createInstances(model: DeclaredModel, version: string, modelPath: string | undefined, loadedModels: LoadedModel[], placed: PlacedInstance[] = []): Promise<ModelInstance[]> {
    const { declaration } = model;
    const loadedByEngine = new Map<string, LoadedModel>();
    const instances: ModelInstance[] = [];
    const skipped: string[] = [];
    const available = this.options.engines.names().map((name) => this.options.engines.get(name)!);
    try {
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
            loadedModels.push(loaded);
          }
          for (let i = 0; i < group.count; i++) {
            const instance = await loaded.createInstance(card, i);
            instances.push(instance);
            // Before the executor exists, so nothing routes to the model until every instance is warm.
            placed.push({ card, engine: choice.engine, instance, warmup: await warmUpInstance(declaration, instance) });
          }
        }
      }
    } catch (err) {
      // The instances made so far belong to no executor yet: release them here.
      await Promise.allSettled(instances.map((i) => i.unload()));
      throw err;
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

  /** Every served version READY, and the models not served now with the reason. */
  index(): ModelIndexEntry[] {
    const served = [...this.#models.values()].flatMap((m) => [...m.executors.keys()].map(
      (version): ModelIndexEntry => ({ name: m.metadata.name, version, state: 'READY', reason: '' })));
    return [...served, ...[...this.#unavailable.values()].flat()];
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

  /** Finishes queued work (of unloaded versions still draining too), then unloads every instance and model. */
  async close(): Promise<void> {
    const hosted = [...this.#models.values()];
    this.#models.clear();
    await Promise.all([...hosted.map(closeHosted), ...this.#draining]);
  }
}

/** Drains the model's executors, then unloads its instances and engine models. */
async function closeHosted(hosted: HostedModel): Promise<void> {
  await Promise.all([...hosted.executors.values()].map((e) => e.close()));
  await Promise.all(hosted.loaded.map((m) => m.unload()));
}

async function closeQuietly(executors: ModelExecutor[], loaded: LoadedModel[]): Promise<void> {
  await Promise.allSettled(executors.map((e) => e.close()));
  await Promise.allSettled(loaded.map((m) => m.unload()));
}

class NoFittingCard extends Error {}

/** One instance as created: its card, the engine chosen there, its warmup. */
interface PlacedInstance {
  card: Card;
  engine: string;
  instance: ModelInstance;
  warmup: WarmupRecord[];
}

function modelNameFromFile(file: string): string {
  const parts = file.split(/[\\/]/);
  return parts[parts.length - 2] ?? file;
}
