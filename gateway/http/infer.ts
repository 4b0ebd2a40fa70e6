import type { FastifyPluginAsync } from 'fastify';
import { InferError, asInferError, invalidArg } from '../../core/errors.js';
import { encodeInferResponse, parseBinaryInferRequest, parseInferenceHeaderLength } from '../../core/infer-binary.js';
import { parseJsonInferRequest, parseJsonWithNonFinite, type InferLimits } from '../../core/infer-json.js';
import type { ModelMetadata } from '../../core/model-metadata.js';
import type { InferRequest } from '../../core/tensor.js';
import type { InferenceService } from '../../service/inference-service.js';
import type { FrontDoorLimits } from '../../service/limits.js';
import type { Metrics } from '../../service/metrics.js';
import { MODEL_PATHS } from './models.js';

export const HEADER_LENGTH_HEADER = 'inference-header-content-length';

interface ModelParams {
  model: string;
  version?: string;
}

/** POST .../infer: JSON or the binary tensor extension in, the same out. */
export const inferRoutes = (service: InferenceService, limits: FrontDoorLimits, metrics?: Metrics): FastifyPluginAsync => async (app) => {
  const inferLimits: InferLimits = { maxElements: limits.maxTensorElements };
  for (const base of MODEL_PATHS) {
    app.post<{ Params: ModelParams }>(`${base}/infer`, async (request, reply) => {
      const { model, version } = request.params;
      const startedAt = performance.now();
      const pending = metrics?.pendingRequests(model);
      pending?.inc();
      // The version a failure is counted under: as asked, then as served once known.
      let servedVersion = version ?? '';
      try {
        const meta = service.requestMetadata(model, version);
        const body = request.body as Buffer | undefined;
        if (!body || body.length === 0) throw invalidArg('request body is empty: expected a JSON inference request', 'empty_body');
        const inferRequest = parseBody(body, request.headers[HEADER_LENGTH_HEADER], model, version, meta, inferLimits);
        const response = await service.infer(inferRequest, {
          deadlineMs: Date.now() + limits.requestTimeoutMs,
          requestId: String(request.id),
        });
        servedVersion = response.modelVersion;
        const encoded = encodeInferResponse(response, inferRequest);
        if (metrics) {
          const series = metrics.series(model, response.modelVersion);
          series.success.inc();
          series.duration.observe((performance.now() - startedAt) / 1000);
        }
        if (encoded.headerLength !== undefined) {
          void reply.header('Inference-Header-Content-Length', encoded.headerLength);
        }
        return reply.type(encoded.contentType).send(encoded.body);
      } catch (err) {
        const error = asInferError(err);
        metrics?.requestFailure.inc({ model, version: servedVersion, reason: error.reason });
        throw error;
      } finally {
        pending?.dec();
      }
    });
  }
};

function parseBody(
  body: Buffer,
  headerLengthValue: string | string[] | undefined,
  model: string,
  version: string | undefined,
  meta: ModelMetadata,
  inferLimits: InferLimits,
): InferRequest {
  const headerLength = parseInferenceHeaderLength(headerLengthValue);
  if (headerLength !== undefined) return parseBinaryInferRequest(body, headerLength, model, version, meta, inferLimits);
  let json: unknown;
  try {
    json = parseJsonWithNonFinite(body.toString('utf8'));
  } catch (err) {
    throw new InferError('INVALID_ARG', `malformed JSON in request body: ${(err as Error).message}`, 'malformed_json');
  }
  return parseJsonInferRequest(json, model, version, meta, inferLimits);
}
