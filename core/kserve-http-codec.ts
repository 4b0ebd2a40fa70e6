/**
 * The KServe v2 HTTP wire form of one inference, both ways, for the node that runs it: a request
 * body (JSON, or the binary tensor extension) into a validated InferRequest, and the response or
 * error back into a body. A gateway never calls this: it forwards the bytes.
 */
import { InferError, invalidArg, toHttpStatus } from './errors.js';
import { encodeInferResponse, parseBinaryInferRequest, parseInferenceHeaderLength } from './infer-binary.js';
import { parseJsonDocument, parseJsonInferRequest, type InferLimits, type JsonDocument } from './infer-json.js';
import type { WireAnswer, WirePayload } from './infer-call.js';
import { JSON_CONTENT_TYPE } from './http-headers.js';
import type { ModelMetadata } from './model-metadata.js';
import type { InferRequest, InferResponse } from './tensor.js';

/** Parses and validates a request body against the metadata of the version that will run it. */
export function decodeHttpInferRequest(
  payload: WirePayload,
  model: string,
  version: string | undefined,
  meta: ModelMetadata,
  limits: InferLimits,
): InferRequest {
  const { body } = payload;
  if (body.length === 0) throw invalidArg('request body is empty: expected a JSON inference request', 'empty_body');
  const headerLength = parseInferenceHeaderLength(payload.headerLength);
  if (headerLength !== undefined) return parseBinaryInferRequest(body, headerLength, model, version, meta, limits);
  let json: JsonDocument;
  try {
    json = parseJsonDocument(body.toString('utf8'));
  } catch (err) {
    throw new InferError('INVALID_ARG', `malformed JSON in request body: ${(err as Error).message}`, 'malformed_json');
  }
  return parseJsonInferRequest(json.value, model, version, meta, limits, json.text);
}

/** The response in the form the request asked for (JSON, or binary outputs). */
export function encodeHttpInferResponse(response: InferResponse, request: InferRequest): WireAnswer {
  const encoded = encodeInferResponse(response, request);
  return {
    status: 200,
    contentType: encoded.contentType,
    headerLength: encoded.headerLength === undefined ? undefined : String(encoded.headerLength),
    body: encoded.body,
    modelVersion: response.modelVersion,
  };
}

/** The protocol's error shape, `{"error": "<message>"}`, with the status the shared code table gives. */
export function httpErrorAnswer(error: InferError): WireAnswer {
  return { status: toHttpStatus(error.code), contentType: JSON_CONTENT_TYPE, body: Buffer.from(JSON.stringify({ error: error.message })) };
}
