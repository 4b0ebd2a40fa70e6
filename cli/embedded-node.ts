/**
 * A model-serving node in one process: declared models loaded on this node's cards, served by the
 * inference service straight from their queues (no pool, no picker: there is no other node to
 * choose). `infergate serve` is exactly this; `infergate backend` is this plus heartbeats.
 */
import type { Card } from '../adapters/card.js';
import { DEFAULT_MODEL_CONTROL_MODE, modelsToLoadAtStart, type ModelControlMode } from '../core/model-control.js';
import { loadModelRepository } from '../core/model-repository.js';
import type { EngineRegistry } from '../engines/engine-registry.js';
import { ModelHost } from '../node/model-host.js';
import type { PoolView } from '../scheduler/pool.js';
import { InferenceService } from '../service/inference-service.js';
import type { FrontDoorLimits } from '../service/limits.js';
import { Metrics } from '../service/metrics.js';
import { NodeTarget } from '../service/node-target.js';
import { NodeRepositoryControl } from '../service/repository-control.js';

export interface EmbeddedNodeOptions {
  nodeId: string;
  url: string;
  modelsDir: string;
  cards: Card[];
  engines: EngineRegistry;
  version: string;
  limits: FrontDoorLimits;
  /** Model load and declaration problems. */
  log?: (message: string) => void;
  logError?: (message: string) => void;
  metrics?: Metrics;
  /** `none` (default): every declared model loads at start, load/unload refused. `explicit`: see loadModels. */
  modelControlMode?: ModelControlMode;
  /** In explicit mode, the models loaded at start (`*`: all); the others wait for a load request. */
  loadModels?: string[];
}

export interface EmbeddedNode {
  host: ModelHost;
  service: InferenceService;
  metrics: Metrics;
  /** The operator view (GET /infergate/pools). */
  poolsView(): PoolView[];
  close(): Promise<void>;
}

export async function createEmbeddedNode(options: EmbeddedNodeOptions): Promise<EmbeddedNode> {
  const metrics = options.metrics ?? new Metrics();
  const host = new ModelHost({ cards: options.cards, engines: options.engines, observe: metrics.observeExecution, log: options.log });
  const knownEngines = options.engines.names();
  const repository = loadModelRepository(options.modelsDir, { knownEngines });
  const mode = options.modelControlMode ?? DEFAULT_MODEL_CONTROL_MODE;
  const atStart = modelsToLoadAtStart(mode, repository.models, options.loadModels ?? [], options.modelsDir);
  host.addDeclarationErrors(repository.errors);
  let started = false;
  const target = new NodeTarget(host, { maxTensorElements: options.limits.maxTensorElements });
  const service = new InferenceService({
    target,
    version: options.version,
    requestTimeoutMs: options.limits.requestTimeoutMs,
    started: () => started,
    metrics,
    logError: options.logError,
    repository: new NodeRepositoryControl(host, { mode, modelsDir: options.modelsDir, knownEngines }),
  });
  await host.loadAll(atStart);
  // Declared but left for a load request (explicit mode): the index lists them as unloaded.
  host.addUnloaded(repository.models.filter((m) => !atStart.includes(m)));
  started = true;
  const capacity = options.cards.reduce((sum, c) => sum + c.coefficient, 0);
  return {
    host,
    service,
    metrics,
    poolsView: () => target.poolsView(options.nodeId, options.url, capacity),
    close: () => host.close(),
  };
}
