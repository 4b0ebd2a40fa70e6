/**
 * POST .../infer: the request body as it came (JSON or the binary tensor extension, compressed or
 * not) goes to the inference service, and its answer goes back as it is (compressed by the node for
 * the client's Accept-Encoding). Two entries share one function:
 * - `createInferRequestHandler`: on node:http, ahead of fastify, for every infer request that arrives on
 *   a socket: the hottest route skips the framework's per-request work;
 * - the fastify route, which serves the same answer to `app.inject()` (tests) and anything that
 *   reaches fastify without the node:http entry.
 */
import { LOAD_HEADER } from '../../core/load-header.js';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import { Cancellation } from '../../core/cancellation.js';
import { InferError, asInferError, clientClosed, retryAfterSeconds } from '../../core/errors.js';
import type { WireAnswer } from '../../core/infer-call.js';
import {
  ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, INFERENCE_HEADER_CONTENT_LENGTH, REQUEST_ID, RETRY_AFTER, TIMEOUT_MS,
} from '../../core/http-headers.js';
import { httpErrorAnswer } from '../../core/kserve-http-codec.js';
import type { InferenceService } from '../../service/inference-service.js';
import type { FrontDoorLimits } from '../../service/limits.js';
import type { AccessControl } from '../../service/access-control.js';
import { admitRawInfer } from './auth.js';
import { inferContentTypeError } from './infer-content-type.js';
import { MODEL_PATHS } from './models.js';

/** `/v2/models/<m>[/versions/<v>]/infer`, an optional trailing slash and query. */
const INFER_PATH = /^\/v2\/models\/([^/?]+)(?:\/versions\/([^/?]+))?\/infer\/?(?:\?.*)?$/;

interface InferTarget {
  model: string;
  version?: string;
}

/**
 * Answers one infer request; never rejects (a failure becomes the protocol's error answer). The
 * body goes on with its codings (Content-Encoding) and the client's Accept-Encoding: the node that
 * decodes it inflates it, within `maxBodyBytes`, and compresses its answer.
 */
function answerInfer(
  service: InferenceService,
  target: InferTarget,
  headers: IncomingHttpHeaders,
  body: Buffer,
  requestId: string,
  cancellation: Cancellation,
  maxBodyBytes: number,
): Promise<WireAnswer> {
  let answer: Promise<WireAnswer>;
  try {
    answer = service.infer({
      model: target.model,
      version: target.version,
      requestId,
      timeoutMs: timeoutOf(headers[TIMEOUT_MS]),
      cancellation,
      payload: {
        format: 'kserve-http',
        body,
        headerLength: single(headers[INFERENCE_HEADER_CONTENT_LENGTH]),
        contentType: headers[CONTENT_TYPE],
        contentEncoding: headers[CONTENT_ENCODING],
        acceptEncoding: single(headers[ACCEPT_ENCODING]),
        maxDecodedBytes: maxBodyBytes,
      },
    });
  } catch (err) {
    return Promise.resolve(httpErrorAnswer(asInferError(err)));
  }
  return answer.then(undefined, (err: unknown) => httpErrorAnswer(asInferError(err)));
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function timeoutOf(value: string | string[] | undefined): number | undefined {
  const text = single(value);
  if (text === undefined) return undefined;
  if (!/^\d{1,12}$/.test(text.trim())) {
    throw new InferError('INVALID_ARG', `${TIMEOUT_MS} must be a whole number of milliseconds, got ${JSON.stringify(text)}`, 'bad_timeout');
  }
  return Number(text);
}

function answerHeaders(answer: WireAnswer, loadHeader?: () => string): Record<string, string | number> {
  const headers: Record<string, string | number> = { [CONTENT_TYPE]: answer.contentType, [CONTENT_LENGTH]: answer.body.byteLength };
  if (answer.headerLength !== undefined) headers[INFERENCE_HEADER_CONTENT_LENGTH] = answer.headerLength;
  if (answer.contentEncoding !== undefined) headers[CONTENT_ENCODING] = answer.contentEncoding;
  if (answer.retryAfterMs !== undefined) headers[RETRY_AFTER] = retryAfterSeconds(answer.retryAfterMs);
  // Read as the answer leaves, so the figures include the request just finished.
  if (loadHeader !== undefined) headers[LOAD_HEADER] = loadHeader();
  return headers;
}

function decodeTarget(match: RegExpExecArray): InferTarget | undefined {
  try {
    return { model: decodeURIComponent(match[1]), version: match[2] === undefined ? undefined : decodeURIComponent(match[2]) };
  } catch {
    return undefined; // malformed percent-encoding: let fastify answer 400
  }
}

/**
 * The node:http entry: true when it took the request (a POST to an infer path), false to leave it
 * to fastify. Reads the body under --max-body-bytes, aborts the request when the client goes away
 * before its answer.
 */
export function createInferRequestHandler(
  service: InferenceService,
  limits: FrontDoorLimits,
  /** A backend's load figures (core/load-header.ts), put on every answer; undefined on a gateway. */
  loadHeader?: () => string,
  /** API keys (service/access-control.ts); undefined: open. Checked before the body is read. */
  access?: AccessControl,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  const tooLarge = () => new InferError('PAYLOAD_TOO_LARGE', 'request body is larger than the configured limit (--max-body-bytes)', 'body_too_large');
  return (req, res) => {
    if (req.method !== 'POST') return false;
    const match = INFER_PATH.exec(req.url ?? '');
    if (!match) return false;
    const target = decodeTarget(match);
    if (!target) return false;
    if (access && !admitRawInfer(access, req, res, target.model)) return true;
    const refuse = (error: InferError) => {
      service.recordFailure(target.model, target.version, error);
      const answer = httpErrorAnswer(error);
      // The rest of the body is not read: the connection cannot carry another request.
      res.writeHead(answer.status, { ...answerHeaders(answer), connection: 'close' });
      res.end(answer.body, () => req.destroy());
    };
    const badType = inferContentTypeError(single(req.headers[CONTENT_TYPE]));
    if (badType) {
      refuse(badType);
      return true;
    }
    const declared = Number(req.headers[CONTENT_LENGTH]);
    if (declared > limits.maxBodyBytes) {
      refuse(tooLarge());
      return true;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on('data', (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size > limits.maxBodyBytes) {
        refused = true;
        refuse(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (refused) return;
      const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
      const requestId = single(req.headers[REQUEST_ID]) || randomUUID();
      const cancellation = new Cancellation();
      res.once('close', () => {
        if (!res.writableFinished) cancellation.cancel(clientClosed());
      });
      void answerInfer(service, target, req.headers, body, requestId, cancellation, limits.maxBodyBytes).then((answer) => {
        if (res.destroyed) return;
        res.writeHead(answer.status, answerHeaders(answer, loadHeader));
        res.end(answer.body);
      });
    });
    return true;
  };
}

/** The same route on fastify: for `app.inject()`, and behind any server without the node:http entry. */
export const inferRoutes = (service: InferenceService, limits: FrontDoorLimits, loadHeader?: () => string): FastifyPluginAsync => async (app) => {
  for (const base of MODEL_PATHS) {
    app.post<{ Params: InferTarget }>(`${base}/infer`, async (request, reply) => {
      const cancellation = new Cancellation();
      reply.raw.once('close', () => {
        if (!reply.raw.writableFinished) cancellation.cancel(clientClosed());
      });
      const badType = inferContentTypeError(single(request.headers[CONTENT_TYPE]));
      if (badType) throw badType;
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const answer = await answerInfer(service, request.params, request.headers, body, String(request.id), cancellation, limits.maxBodyBytes);
      return reply.status(answer.status).headers(answerHeaders(answer, loadHeader)).send(Buffer.from(answer.body.buffer, answer.body.byteOffset, answer.body.byteLength));
    });
  }
};
