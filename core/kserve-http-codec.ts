/**
 * The KServe v2 HTTP wire form of one inference, both ways, for the node that runs it: a request
 * body (JSON, or the binary tensor extension) into a validated InferRequest, and the response or
 * error back into a body, with the body's content codings (gzip, deflate) undone on the way in and
 * applied on the way out. A gateway never calls this: it forwards the bytes.
 */
import { isUtf8 } from 'node:buffer';
import {
  DEFAULT_MAX_BODY_BYTES, MIN_COMPRESSED_ANSWER_BYTES, answerCoding, deflateBody, inflateBody, requestCodings,
} from './content-coding.js';
import { InferError, invalidArg, toHttpStatus } from './errors.js';
import { encodeInferResponse, parseBinaryInferRequest, parseInferenceHeaderLength } from './infer-binary.js';
import { parseJsonDocument, parseJsonInferRequest, type InferLimits, type JsonDocument } from './infer-json.js';
import type { WireAnswer, WirePayload } from './infer-call.js';
import { JSON_CONTENT_TYPE } from './http-headers.js';
import { DEFAULT_MAX_JSON_DEPTH, checkJsonDepth } from './json-limits.js';
import type { ModelMetadata } from './model-metadata.js';
import { checkServingParameters } from './request-parameters.js';
import type { InferRequest, InferResponse } from './tensor.js';

/**
 * Parses and validates a request body against the metadata of the version that will run it, after
 * undoing its Content-Encoding (bounded by `payload.maxDecodedBytes`). Synchronous for a body
 * without one, the common case: no promise on that path.
 */
export function decodeHttpInferRequest(
  payload: WirePayload,
  model: string,
  version: string | undefined,
  meta: ModelMetadata,
  limits: InferLimits,
): InferRequest | Promise<InferRequest> {
  const codings = requestCodings(payload.contentEncoding);
  if (codings.length === 0 || payload.body.length === 0) return decodeBody(payload.body, payload, model, version, meta, limits);
  return inflateBody(payload.body, codings, payload.maxDecodedBytes ?? DEFAULT_MAX_BODY_BYTES)
    .then((body) => decodeBody(body, payload, model, version, meta, limits));
}

function decodeBody(
  body: Buffer,
  payload: WirePayload,
  model: string,
  version: string | undefined,
  meta: ModelMetadata,
  limits: InferLimits,
): InferRequest {
  const request = parseBody(body, payload.headerLength, model, version, meta, limits);
  checkServingParameters(request.parameters);
  return request;
}

function parseBody(
  body: Buffer,
  headerLengthText: string | undefined,
  model: string,
  version: string | undefined,
  meta: ModelMetadata,
  limits: InferLimits,
): InferRequest {
  if (body.length === 0) throw invalidArg('request body is empty: expected a JSON inference request', 'empty_body');
  const headerLength = parseInferenceHeaderLength(headerLengthText);
  if (headerLength !== undefined) return parseBinaryInferRequest(body, headerLength, model, version, meta, limits);
  // toString would put U+FFFD in place of bad bytes and go on; JSON text must be UTF-8 (RFC 8259 §8.1).
  if (!isUtf8(body)) throw invalidArg('request body is not valid UTF-8; JSON text must be UTF-8', 'invalid_utf8');
  const text = body.toString('utf8');
  checkJsonDepth(text, limits.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH);
  let json: JsonDocument;
  try {
    json = parseJsonDocument(text);
  } catch (err) {
    throw new InferError('INVALID_ARG', `malformed JSON in request body: ${(err as Error).message}`, 'malformed_json');
  }
  return parseJsonInferRequest(json.value, model, version, meta, limits, json.text);
}

/**
 * The response in the form the request asked for (JSON, or binary outputs), compressed in the
 * coding the client's Accept-Encoding prefers when it is worth it (MIN_COMPRESSED_ANSWER_BYTES).
 * The whole body is compressed, JSON header and binary tensors alike, and Inference-Header-Content-Length
 * keeps the uncompressed JSON header's length, as Triton does.
 */
export function encodeHttpInferResponse(response: InferResponse, request: InferRequest, acceptEncoding?: string): WireAnswer | Promise<WireAnswer> {
  const encoded = encodeInferResponse(response, request);
  const answer: WireAnswer = {
    status: 200,
    contentType: encoded.contentType,
    headerLength: encoded.headerLength === undefined ? undefined : String(encoded.headerLength),
    body: encoded.body,
    modelVersion: response.modelVersion,
  };
  if (acceptEncoding === undefined || answer.body.byteLength < MIN_COMPRESSED_ANSWER_BYTES) return answer;
  const coding = answerCoding(acceptEncoding);
  if (coding === undefined) return answer;
  const compressed = deflateBody(answer.body, coding);
  return compressed instanceof Promise
    ? compressed.then((body) => ({ ...answer, body, contentEncoding: coding }))
    : { ...answer, body: compressed, contentEncoding: coding };
}

/** The protocol's error shape, `{"error": "<message>"}`, with the status the shared code table gives. */
export function httpErrorAnswer(error: InferError): WireAnswer {
  const answer = { status: toHttpStatus(error.code), contentType: JSON_CONTENT_TYPE, body: Buffer.from(JSON.stringify({ error: error.message })) };
  return error.retryAfterMs === undefined ? answer : { ...answer, retryAfterMs: error.retryAfterMs };
}
