/**
 * Builds the HTTP front door: one fastify app, one error handler, a plugin per route group.
 * Bodies arrive as raw Buffers (JSON and binary tensors alike) so that the infer route decides how
 * to parse them and the body limit applies to both.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { InferenceService } from '../../service/inference-service.js';
import type { FrontDoorLimits } from '../../service/limits.js';
import type { Metrics } from '../../service/metrics.js';
import { installErrorHandling, type ErrorObserver } from './errors.js';
import { healthRoutes } from './health.js';
import { inferRoutes } from './infer.js';
import { modelRoutes } from './models.js';

export interface HttpServerOptions {
  service: InferenceService;
  limits: FrontDoorLimits;
  metrics?: Metrics;
  /** Extra route groups (operator view, heartbeat intake, simulation control). */
  plugins?: FastifyPluginAsync[];
  /** A pino logger to share, or false for none. */
  logger?: FastifyBaseLogger | false;
}

export async function buildHttpServer(options: HttpServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    bodyLimit: options.limits.maxBodyBytes,
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    keepAliveTimeout: 65_000,
    routerOptions: { ignoreTrailingSlash: true },
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  installErrorHandling(app, options.metrics ? countFrameworkFailures(options.metrics) : undefined);
  await app.register(healthRoutes(options.service));
  await app.register(modelRoutes(options.service));
  await app.register(inferRoutes(options.service, options.limits, options.metrics));
  for (const plugin of options.plugins ?? []) await app.register(plugin);
  return app;
}

/**
 * The infer handler counts its own failures by reason; a request fastify turns away before the
 * handler runs (413 over --max-body-bytes) is counted here, with the same labels.
 */
function countFrameworkFailures(metrics: Metrics): ErrorObserver {
  return (error, request, framework) => {
    if (!framework || !request.routeOptions.url?.endsWith('/infer')) return;
    const { model, version } = request.params as { model?: string; version?: string };
    if (model === undefined) return;
    metrics.requestFailure.inc({ model, version: version ?? '', reason: error.reason });
  };
}

/** JSON body of a non-infer route, parsed from the raw Buffer the server keeps. */
export function jsonBody<T>(body: unknown): T {
  if (Buffer.isBuffer(body)) return JSON.parse(body.toString('utf8')) as T;
  return body as T;
}
