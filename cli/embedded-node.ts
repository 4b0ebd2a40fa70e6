/**
 * A model-serving node in one process: declared models loaded on this node's cards, served by the
 * inference service straight from their queues (no pool, no picker: there is no other node to
 * choose). `infergate serve` is exactly this; `infergate backend` is this plus heartbeats.
 */
import type { Card } from '../adapters/card.js';
import { DEFAULT_MODEL_CONTROL_MODE, DEFAULT_REPOSITORY_POLL_SECS, modelsToLoadAtStart, type ModelControlMode } from '../core/model-control.js';
import { loadModelRepository } from '../core/model-repository.js';
import { loadPipelineRepository } from '../core/pipeline-declaration.js';
import type { EngineRegistry } from '../engines/engine-registry.js';
import { instanceReports } from '../node/instance-report.js';
import { ModelHost } from '../node/model-host.js';
import type { PoolView } from '../scheduler/pool.js';
import { InferenceService } from '../service/inference-service.js';
import type { FrontDoorLimits } from '../service/limits.js';
import { Metrics } from '../service/metrics.js';
import { NodeTarget } from '../service/node-target.js';
import { PipelineTarget, buildPipelines } from '../service/pipeline-target.js';
import { NodeRepositoryControl, type RepositoryPollOutcome } from '../service/repository-control.js';

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
  /** Poll mode: seconds between two looks at the repository directory (Triton's --repository-poll-secs). */
  repositoryPollSecs?: number;
  /** In explicit mode, the models loaded at start (`*`: all); the others wait for a load request. */
  loadModels?: string[];
  /** Time to measure each (model, card) pair at load for the load report (node/calibration.ts); 0 = off. */
  calibrateMs?: number;
  /** Queue depth of a model declared with max_queue_size 0 (--max-queue-depth). */
  maxQueueDepth?: number;
}

export interface EmbeddedNode {
  host: ModelHost;
  service: InferenceService;
  metrics: Metrics;
  /** The operator view (GET /infergate/pools). */
  poolsView(): PoolView[];
  /** Poll mode: one look at the repository directory (the node also polls on its own timer). */
  pollRepository(): Promise<RepositoryPollOutcome>;
  /** Readiness turns false (a shutdown began): load balancers stop sending before the doors close. */
  markStopping(): void;
  close(): Promise<void>;
}

export async function createEmbeddedNode(options: EmbeddedNodeOptions): Promise<EmbeddedNode> {
  const metrics = options.metrics ?? new Metrics();
  const host = new ModelHost({ cards: options.cards, engines: options.engines, observe: metrics.observeExecution, log: options.log, calibrateMs: options.calibrateMs, maxQueueDepth: options.maxQueueDepth });
  metrics.registerInstanceInfo(() => instanceReports(host));
  const knownEngines = options.engines.names();
  const repository = loadModelRepository(options.modelsDir, { knownEngines });
  const mode = options.modelControlMode ?? DEFAULT_MODEL_CONTROL_MODE;
  const atStart = modelsToLoadAtStart(mode, repository.models, options.loadModels ?? [], options.modelsDir);
  host.addDeclarationErrors(repository.errors);
  // Pipelines (a `pipeline:` declaration) run here, their model steps on this node's own models.
  const declaredPipelines = loadPipelineRepository(options.modelsDir);
  const pipelines = buildPipelines(declaredPipelines.pipelines);
  host.addDeclarationErrors([...declaredPipelines.errors, ...pipelines.errors]);
  let started = false;
  const { maxTensorElements, maxJsonDepth, maxStringBytes } = options.limits;
  const inferLimits = { maxTensorElements, maxJsonDepth, maxStringBytes };
  const nodeTarget = new NodeTarget(host, inferLimits);
  const target = new PipelineTarget(nodeTarget, pipelines.executors, inferLimits);
  const control = new NodeRepositoryControl(host, { mode, modelsDir: options.modelsDir, knownEngines });
  const service = new InferenceService({
    target,
    version: options.version,
    requestTimeoutMs: options.limits.requestTimeoutMs,
    started: () => started,
    metrics,
    logError: options.logError,
    repository: control,
  });
  await host.loadAll(atStart);
  // Declared but left for a load request (explicit mode): the index lists them as unloaded.
  host.addUnloaded(repository.models.filter((m) => !atStart.includes(m)));
  started = true;
  let pollTimer: NodeJS.Timeout | undefined;
  if (mode === 'poll') {
    await control.poll(); // takes note of what loaded at start
    pollTimer = setInterval(() => {
      void control.poll().then((outcome) => {
        for (const name of outcome.loaded) options.log?.(`repository poll: loaded '${name}'`);
        for (const name of outcome.reloaded) options.log?.(`repository poll: reloaded '${name}'`);
        for (const name of outcome.unloaded) options.log?.(`repository poll: unloaded '${name}'`);
        for (const failure of outcome.failed) options.log?.(`repository poll: failed to load ${failure}`);
      }, (err: unknown) => options.logError?.(`repository poll failed: ${(err as Error).message}`));
    }, (options.repositoryPollSecs ?? DEFAULT_REPOSITORY_POLL_SECS) * 1000);
    pollTimer.unref();
  }
  const capacity = options.cards.reduce((sum, c) => sum + c.coefficient, 0);
  return {
    host,
    service,
    metrics,
    poolsView: () => nodeTarget.poolsView(options.nodeId, options.url, capacity),
    pollRepository: () => control.poll(),
    markStopping: () => {
      started = false;
    },
    close: () => {
      clearInterval(pollTimer);
      return host.close();
    },
  };
}
