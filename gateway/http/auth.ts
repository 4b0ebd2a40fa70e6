/**
 * API keys on the HTTP door: every route belongs to an endpoint group, and a request is let in by
 * the access control before its handler runs. Two entries, as for infer itself (infer.ts):
 * - `accessHook`: a fastify onRequest hook, for every route fastify serves;
 * - `admitRawInfer`: for the node:http infer entry, called before the body is read.
 * A refusal is the protocol's `{"error": "..."}` with 401 (and `WWW-Authenticate: Bearer`), 403, or
 * 429 with Retry-After. The heartbeat intake is no client route: nodes authenticate there by
 * their own means, so it is left out here.
 */
import type { onRequestHookHandler } from 'fastify';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { asInferError, retryAfterSeconds, toHttpStatus, type InferError } from '../../core/errors.js';
import { CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER } from '../../core/http-headers.js';
import { presentedKey, type AccessControl, type AccessRequest } from '../../service/access-control.js';
import { ALL_STATISTICS_PATH } from './models.js';

export const WWW_AUTHENTICATE = 'www-authenticate';
export const API_KEY_HEADER = 'x-api-key';

/** Routes where nodes, not clients, call in (gateway/http/operator.ts): not a client group. */
export const NODE_INTAKE_PATHS: ReadonlySet<string> = new Set(['/infergate/heartbeat', '/infergate/leave']);

const MODEL_ROUTE = /^\/v2\/models\/:model(?:\/versions\/:version)?(\/ready|\/config|\/stats|\/infer)?$/;
const REPOSITORY_MODEL_ROUTE = /^\/v2\/repository\/models\/:model\/(load|unload)$/;

/**
 * What a route asks of the access control, from fastify's route pattern; undefined for the node
 * intake. A route not named here (a node's own views, the simulation control, anything added
 * later) is `operator`: a new route is closed until someone decides otherwise.
 */
export function accessOfRoute(routeUrl: string, params: { model?: string }): AccessRequest | undefined {
  if (NODE_INTAKE_PATHS.has(routeUrl)) return undefined;
  if (routeUrl === '/v2/health/live' || routeUrl === '/v2/health/ready') return { group: 'health' };
  if (routeUrl === '/v2') return { group: 'metadata' };
  if (routeUrl === ALL_STATISTICS_PATH) return { group: 'statistics', allModels: true };
  if (routeUrl === '/v2/repository/index') return { group: 'repository', allModels: true };
  const model = MODEL_ROUTE.exec(routeUrl);
  if (model) {
    const group = model[1] === '/infer' ? 'inference' : model[1] === '/stats' ? 'statistics' : 'metadata';
    return { group, model: params.model };
  }
  if (REPOSITORY_MODEL_ROUTE.test(routeUrl)) return { group: 'repository', model: params.model };
  return { group: 'operator' };
}

export function keyOfHeaders(headers: IncomingHttpHeaders): string | undefined {
  const apiKey = headers[API_KEY_HEADER];
  return presentedKey(headers.authorization, Array.isArray(apiKey) ? apiKey[0] : apiKey);
}

/** The fastify onRequest hook: a refusal goes to the one error handler (errors.ts) as an InferError. */
export function accessHook(access: AccessControl): onRequestHookHandler {
  return (request, reply, done) => {
    const routeUrl = request.routeOptions.url;
    // No route: the 404 that follows serves nothing.
    if (routeUrl === undefined) return done();
    const wanted = accessOfRoute(routeUrl, request.params as { model?: string });
    if (wanted === undefined) return done();
    try {
      const admission = access.admit(keyOfHeaders(request.headers), wanted);
      reply.raw.once('close', admission.release);
    } catch (err) {
      const error = asInferError(err);
      if (error.code === 'UNAUTHENTICATED') void reply.header(WWW_AUTHENTICATE, 'Bearer');
      return done(error);
    }
    done();
  };
}

/**
 * The infer entry's check, before the body is read: true when admitted (the admission ends when
 * the response closes), false when the refusal has been sent. The unread body means the
 * connection cannot carry another request: it is closed.
 */
export function admitRawInfer(access: AccessControl, req: IncomingMessage, res: ServerResponse, model: string): boolean {
  try {
    const admission = access.admit(keyOfHeaders(req.headers), { group: 'inference', model });
    res.once('close', admission.release);
    return true;
  } catch (err) {
    const error = asInferError(err);
    const body = JSON.stringify({ error: error.message });
    res.writeHead(toHttpStatus(error.code), refusalHeaders(error, Buffer.byteLength(body)));
    res.end(body, () => req.destroy());
    return false;
  }
}

function refusalHeaders(error: InferError, length: number): Record<string, string | number> {
  const headers: Record<string, string | number> = { [CONTENT_TYPE]: 'application/json; charset=utf-8', [CONTENT_LENGTH]: length, connection: 'close' };
  if (error.code === 'UNAUTHENTICATED') headers[WWW_AUTHENTICATE] = 'Bearer';
  if (error.retryAfterMs !== undefined) headers[RETRY_AFTER] = retryAfterSeconds(error.retryAfterMs);
  return headers;
}
