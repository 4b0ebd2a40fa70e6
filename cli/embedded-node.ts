/**
 * A model-serving node in one process: declared models loaded on this node's cards, a pool per
 * (model, version) holding the in-process LocalBackend, and the inference service the front doors
 * use. `infergate serve` is exactly this; `infergate backend` is this plus heartbeats.
 */
import type { Card } from '../adapters/card.js';
import { notFound } from '../core/errors.js';
import { toModelConfig } from '../core/model-config.js';
import { loadModelRepository } from '../core/model-repository.js';
import type { EngineRegistry } from '../engines/engine-registry.js';
import { InferenceService } from '../service/inference-service.js';
import { Metrics } from '../service/metrics.js';
import { PoolSet } from '../scheduler/pool-set.js';
import { Router } from '../scheduler/router.js';
import { createWeightPolicy } from '../scheduler/weight-policy.js';
import { LocalBackend } from '../transport/local-backend.js';
import { ModelHost } from '../node/model-host.js';

export interface EmbeddedNodeOptions {
  nodeId: string;
  url: string;
  modelsDir: string;
  cards: Card[];
  engines: EngineRegistry;
  version: string;
  log?: (message: string) => void;
  metrics?: Metrics;
}

export interface EmbeddedNode {
  host: ModelHost;
  pools: PoolSet;
  service: InferenceService;
  metrics: Metrics;
  close(): Promise<void>;
}

export async function createEmbeddedNode(options: EmbeddedNodeOptions): Promise<EmbeddedNode> {
  const pools = new PoolSet(() => createWeightPolicy('static'));
  const metrics = options.metrics ?? new Metrics({ pools: () => pools });
  const host = new ModelHost({ cards: options.cards, engines: options.engines, observe: metrics.observeExecution, log: options.log });
  const repository = loadModelRepository(options.modelsDir, { knownEngines: options.engines.names() });
  host.addDeclarationErrors(repository.errors);
  let started = false;
  const router = new Router(pools);
  const backend = new LocalBackend(options.nodeId, host);
  const service = new InferenceService({
    pools,
    router,
    version: options.version,
    started: () => started,
    unavailableModels: () => host.index().filter((e) => e.state !== 'READY'),
    modelConfig: async (model, version) => {
      const hosted = host.models().find((m) => m.metadata.name === model);
      if (!hosted || !hosted.executors.has(version)) throw notFound(`unknown model: '${model}'`);
      return toModelConfig(hosted.declared.declaration, hosted.metadata.platform);
    },
  });
  await host.loadAll(repository.models);
  const capacity = options.cards.reduce((sum, c) => sum + c.coefficient, 0);
  for (const hosted of host.models()) {
    for (const version of hosted.executors.keys()) {
      // No in-flight cap here: the executor's own queue (max_queue_size) bounds local work.
      const pool = pools.getOrCreate(hosted.metadata.name, version, hosted.metadata);
      pool.upsert({ id: options.nodeId, nodeId: options.nodeId, url: options.url, backend, capacity }, Date.now());
    }
  }
  started = true;
  return {
    host,
    pools,
    service,
    metrics,
    close: () => host.close(),
  };
}
