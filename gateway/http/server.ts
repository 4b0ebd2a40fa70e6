/**
 * Builds the HTTP front door: one fastify app, one error handler, a plugin per route group, on a
 * node:http server whose request handler gives infer requests to the infer entry first (the hot
 * route, without the framework) and everything else to fastify.
 * Bodies arrive as raw Buffers (JSON and binary tensors alike) so that the infer route decides how
 * to parse them and the body limit applies to both.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync, type FastifyReply, type FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import { createServer, type Server, type ServerOptions } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { ServerTls } from '../../core/tls-files.js';
import { REQUEST_ID } from '../../core/http-headers.js';
import { checkJsonDepth } from '../../core/json-limits.js';
import type { InferenceService } from '../../service/inference-service.js';
import type { FrontDoorLimits } from '../../service/limits.js';
import type { Metrics } from '../../service/metrics.js';
import type { AccessControl } from '../../service/access-control.js';
import { accessHook } from './auth.js';
import { clientErrorHandler, connectionOptions } from './connection-limits.js';
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
  /** Serve HTTPS with this certificate (and ask clients for one signed by `clientCa`, when set). */
  tls?: ServerTls;
  /** API keys (--api-keys): every client route checks them; undefined: the door is open. */
  access?: AccessControl;
}

export async function buildHttpServer(options: HttpServerOptions): Promise<FastifyInstance> {
  const inferEntry = createInferRequestHandler(options.service, options.limits, options.loadHeader, options.access);
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    bodyLimit: options.limits.maxBodyBytes,
    requestIdHeader: REQUEST_ID,
    genReqId: () => randomUUID(),
    routerOptions: { ignoreTrailingSlash: true },
    clientErrorHandler: clientErrorHandler(options.limits),
    // A URL the router cannot decode (malformed percent-encoding): fastify's own answer has fields of its own.
    frameworkErrors: (error, _request, reply) => {
      void (reply as unknown as FastifyReply).status(400).send({ error: `malformed URL: ${error.message}` });
    },
    // At debug level every request goes through fastify, so that each one is logged.
    serverFactory: (handler) => {
      const listener: typeof handler = options.logger ? handler : (req, res) => {
        if (!inferEntry(req, res)) handler(req, res);
      };
      const connection = connectionOptions(options.limits);
      const server = options.tls ? tlsServer(options.tls, listener, connection) : createServer(connection, listener);
      server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
      return server;
    },
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, jsonDepthChecked(options.limits.maxJsonDepth));
  installErrorHandling(app, options.metrics ? countFrameworkFailures(options.metrics) : undefined, options.logError);
  if (options.access) app.addHook('onRequest', accessHook(options.access));
  await app.register(healthRoutes(options.service));
  await app.register(modelRoutes(options.service));
  await app.register(inferRoutes(options.service, options.limits, options.loadHeader));
  for (const plugin of options.plugins ?? []) await app.register(plugin);
  return app;
}

/**
 * node:https under the same handler: fastify sees the same request objects. With a client CA,
 * a client without a certificate it signed is cut during the handshake, before any route runs.
 */
function tlsServer(tls: ServerTls, listener: Parameters<typeof createServer>[1], connection: ServerOptions): Server {
  const mutual = tls.clientCa !== undefined;
  // An https.Server is an http.Server that speaks TLS; fastify's types only know the latter.
  return createTlsServer({ ...connection, cert: tls.cert, key: tls.key, ca: tls.clientCa, requestCert: mutual, rejectUnauthorized: mutual }, listener) as unknown as Server;
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

/**
 * The raw body, after --max-json-depth on every route but infer: their bodies are JSON, parsed by
 * the route. An infer body may be binary or compressed: the node that decodes it checks its depth.
 */
function jsonDepthChecked(maxDepth: number) {
  return (request: FastifyRequest, body: Buffer, done: (err: Error | null, body?: Buffer) => void): void => {
    if (body.length > 0 && !request.routeOptions.url?.endsWith('/infer')) {
      try {
        checkJsonDepth(body.toString('utf8'), maxDepth);
      } catch (err) {
        done(err as Error);
        return;
      }
    }
    done(null, body);
  };
}

/** JSON body of a non-infer route, parsed from the raw Buffer the server keeps. */
export function jsonBody<T>(body: unknown): T {
  if (Buffer.isBuffer(body)) return JSON.parse(body.toString('utf8')) as T;
  return body as T;
}
