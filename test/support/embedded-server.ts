/**
 * A whole in-process model node behind the HTTP front door, for tests that call `app.inject()`:
 * the real repository loader, the real engines (onnxruntime-node) on the CPU card, no socket.
 */
import type { FastifyInstance } from 'fastify';
import { DEFAULT_CARD_TABLE } from '../../adapters/card-table.js';
import { detectCpuCards } from '../../adapters/cpu.js';
import { createEmbeddedNode, type EmbeddedNode } from '../../cli/embedded-node.js';
import type { ModelControlMode } from '../../core/model-control.js';
import { bundledModelsDir } from '../../core/package-root.js';
import { createDefaultEngineRegistry } from '../../engines/engine-registry.js';
import { poolRoutes } from '../../gateway/http/operator.js';
import { buildHttpServer } from '../../gateway/http/server.js';
import { DEFAULT_LIMITS, type FrontDoorLimits } from '../../service/limits.js';

export const TEST_SERVER_VERSION = '0.0.0-test';

export interface EmbeddedServerOptions {
  /** Defaults to the models that ship with the package. */
  modelsDir?: string;
  /** Overrides of the front door's default limits (e.g. a small maxBodyBytes). */
  limits?: Partial<FrontDoorLimits>;
  /** Cores of the CPU card; 2 keeps parallel test files from oversubscribing the machine. */
  cores?: number;
  /** Defaults to `none` (every declared model loads at start). */
  modelControlMode?: ModelControlMode;
  /** In explicit mode, the models loaded at start. */
  loadModels?: string[];
}

export interface EmbeddedServer {
  app: FastifyInstance;
  node: EmbeddedNode;
  /** Declaration and load messages the node logged while starting. */
  log: string[];
  close(): Promise<void>;
}

export async function startEmbeddedServer(options: EmbeddedServerOptions = {}): Promise<EmbeddedServer> {
  const log: string[] = [];
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const node = await createEmbeddedNode({
    nodeId: 'test-node',
    url: 'in-process',
    modelsDir: options.modelsDir ?? bundledModelsDir(),
    cards: detectCpuCards(DEFAULT_CARD_TABLE, { cores: options.cores ?? 2 }),
    engines: createDefaultEngineRegistry(),
    version: TEST_SERVER_VERSION,
    limits,
    log: (m) => log.push(m),
    logError: (m) => log.push(m),
    modelControlMode: options.modelControlMode,
    loadModels: options.loadModels,
  });
  const app = await buildHttpServer({
    service: node.service,
    limits,
    metrics: node.metrics,
    plugins: [poolRoutes(node.poolsView)],
    logger: false,
  });
  await app.ready();
  return {
    app,
    node,
    log,
    close: async () => {
      await app.close();
      await node.close();
    },
  };
}
