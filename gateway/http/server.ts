/**
 * Builds the HTTP front door: one fastify app, one error handler, a plugin per route group, on a
 * node:http server whose request handler gives infer requests to the infer entry first (the hot
 * route, without the framework) and everything else to fastify.
 * Bodies arrive as raw Buffers (JSON and binary tensors alike) so that the infer route decides how
 * to parse them and the body limit applies to both.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { REQUEST_ID } from '../../core/http-headers.js';
import type { InferenceService } from '../../service/inference-service.js';
import type { FrontDoorLimits } from '../../service/limits.js';
import type { Metrics } from '../../service/metrics.js';
import { installErrorHandling, type ErrorObserver } from './errors.js';
import { healthRoutes } from './health.js';
import { createInferRequestHandler, inferRoutes } from './infer.js';
import { modelRoutes } from './models.js';

/** Longer than the usual 60 s idle timeout of load balancers in front, so they close first. */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;

export interface HttpServerOptions {
  service: InferenceService;
  limits: FrontDoorLimits;
  metrics?: Metrics;
  /** Extra route groups (operator view, heartbeat intake, simulation control). */
  plugins?: FastifyPluginAsync[];
  /** A pino logger to share, or false for none. */
  logger?: FastifyBaseLogger | false;
  /** Where failures of the server itself are reported, whatever the log level. */
  logError?: (message: string) => void;
  /** A backend's load header value, put on every infer answer (core/load-header.ts). */
  loadHeader?: () => string;
}

export async function buildHttpServer(options: HttpServerOptions): Promise<FastifyInstance> {
  const inferEntry = createInferRequestHandler(options.service, options.limits, options.loadHeader);
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    bodyLimit: options.limits.maxBodyBytes,
    requestIdHeader: REQUEST_ID,
    genReqId: () => randomUUID(),
    routerOptions: { ignoreTrailingSlash: true },
    // At debug level every request goes through fastify, so that each one is logged.
    serverFactory: (handler) => {
      const server = createServer(options.logger ? handler : (req, res) => {
        if (!inferEntry(req, res)) handler(req, res);
      });
      server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
      return server;
    },
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  installErrorHandling(app, options.metrics ? countFrameworkFailures(options.metrics) : undefined, options.logError);
  await app.register(healthRoutes(options.service));
  await app.register(modelRoutes(options.service));
  await app.register(inferRoutes(options.service, options.limits, options.loadHeader));
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
