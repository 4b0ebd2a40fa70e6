import type { FastifyPluginAsync } from 'fastify';
import { invalidArg } from '../../core/errors.js';
import type { InferenceService } from '../../service/inference-service.js';
import type { RepositoryParameters } from '../../service/repository-control.js';

interface ModelParams {
  model: string;
  version?: string;
}

/** Both URL forms of a model route: `/v2/models/<m>` and `/v2/models/<m>/versions/<v>`. */
export const MODEL_PATHS = ['/v2/models/:model', '/v2/models/:model/versions/:version'];

/**
 * Every model's statistics. A static segment wins over `:model` in fastify's router, so for a
 * model named `stats` this path gives the statistics, not its metadata (which stays reachable as
 * `/v2/models/stats/versions/<v>`); its other routes (`/v2/models/stats/ready`, …/stats, …) are
 * its own.
 */
export const ALL_STATISTICS_PATH = '/v2/models/stats';

/** Model metadata, readiness, configuration, statistics, the repository index, and model load/unload. */
export const modelRoutes = (service: InferenceService): FastifyPluginAsync => async (app) => {
  app.get(ALL_STATISTICS_PATH, async () => service.modelStatistics());
  for (const base of MODEL_PATHS) {
    app.get<{ Params: ModelParams }>(base, async (request) => {
      const { model, version } = request.params;
      const meta = service.modelMetadata(model, version);
      return { name: meta.name, versions: meta.versions, platform: meta.platform, inputs: meta.inputs, outputs: meta.outputs };
    });
    app.get<{ Params: ModelParams }>(`${base}/ready`, async (request, reply) => {
      const { model, version } = request.params;
      const ready = service.modelReady(model, version);
      return reply.status(ready ? 200 : 503).send({ name: model, ready });
    });
    app.get<{ Params: ModelParams }>(`${base}/config`, async (request) => {
      const { model, version } = request.params;
      return service.modelConfig(model, version);
    });
    app.get<{ Params: ModelParams }>(`${base}/stats`, async (request) => {
      const { model, version } = request.params;
      return service.modelStatistics(model, version);
    });
  }
  app.post('/v2/repository/index', async () => service.modelIndex());
  app.post<{ Params: { model: string } }>('/v2/repository/models/:model/load', async (request) => {
    await service.loadModel(request.params.model, repositoryParameters(request.body));
    return {};
  });
  app.post<{ Params: { model: string } }>('/v2/repository/models/:model/unload', async (request) => {
    await service.unloadModel(request.params.model, repositoryParameters(request.body));
    return {};
  });
};

/** The optional body `{"parameters": {...}}` of a load or unload; an empty body has none. */
function repositoryParameters(body: unknown): RepositoryParameters | undefined {
  const text = Buffer.isBuffer(body) ? body.toString('utf8').trim() : '';
  if (text === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalidArg('expected an empty body or a JSON object {"parameters": {...}}', 'bad_repository_request');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw invalidArg('expected an empty body or a JSON object {"parameters": {...}}', 'bad_repository_request');
  }
  const { parameters } = parsed as { parameters?: unknown };
  return typeof parameters === 'object' && parameters !== null ? parameters as RepositoryParameters : undefined;
}
