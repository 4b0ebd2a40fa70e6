/**
 * The binary tensor extension (Triton's, adopted by KServe v2): a JSON header, then the raw
 * little-endian row-major blobs of the tensors that carry `binary_data_size`, in tensor order. The
 * header's byte length travels in the `Inference-Header-Content-Length` HTTP header.
 *
 * Parsed numeric tensors are views on the body where the blob is aligned for its element size, so a
 * large FP32 input costs no copy; they are copied when unaligned (Node's small-Buffer pool and the
 * header length make unaligned offsets common). Such views share memory with the body: the body must
 * not be reused while the request lives. BYTES elements are always views.
 *
 * `Inference-Header-Content-Length: 0` (Triton's "raw binary request"): the whole body is the single
 * input of a single-input model. Name, datatype and shape come from the metadata: a batching model
 * gets batch 1; a non-BYTES input may have at most one variable dim (besides the batch dim), inferred
 * from the body size; a BYTES input must have shape [1] (or [-1], read as 1) and the body is that one
 * element's bytes, with no length prefix. All outputs are returned binary, as Triton does.
 */
import { isUtf8 } from 'node:buffer';
import {
  arrayConstructorFor,
  elementByteSize,
  elementCount,
  type Datatype,
  type NumericArray,
  type TensorData,
} from './datatypes.js';
import { InferError } from './errors.js';
import { DEFAULT_MAX_JSON_DEPTH, checkJsonDepth } from './json-limits.js';
import { BINARY_CONTENT_TYPE, INFERENCE_HEADER_CONTENT_LENGTH, JSON_CONTENT_TYPE, headerName } from './http-headers.js';

const HEADER_LENGTH_NAME = headerName(INFERENCE_HEADER_CONTENT_LENGTH);
import {
  failRequest,
  failResponse,
  parseInferRequestObject,
  parseInferResponseObject,
  parseJsonDocument,
  requestedOutputToJson,
  responseEnvelopeText,
  tensorToJsonText,
  type BinaryTensorReader,
  type Fail,
  type InferLimits,
  type JsonDocument,
} from './infer-json.js';
import type { ModelMetadata } from './model-metadata.js';
import { formatShape, validateInferRequest } from './request-validation.js';
import type { InferRequest, InferResponse, Parameters, Tensor } from './tensor.js';


export interface EncodedBody {
  body: Buffer;
  /** Byte length of the JSON header; undefined when the body is plain JSON. */
  headerLength: number | undefined;
  contentType: string;
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * The `Inference-Header-Content-Length` value as a number; undefined when absent. Strict: digits
 * only, as a lenient parseInt would read "12abc" as 12 and slice the body in the wrong place.
 */
export function parseInferenceHeaderLength(value: string | string[] | undefined): number | undefined {
  if (value === undefined) return undefined;
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined) return undefined;
  const trimmed = text.trim();
  if (!/^\d{1,15}$/.test(trimmed)) {
    throw new InferError(
      'INVALID_ARG',
      `${HEADER_LENGTH_NAME} must be a non-negative integer, got ${JSON.stringify(text)}`,
      'bad_header_length',
    );
  }
  return Number(trimmed);
}

// ---------------------------------------------------------------------------------------------------
// Requests

export function parseBinaryInferRequest(
  body: Buffer,
  headerLength: number,
  modelName: string,
  modelVersion: string | undefined,
  meta: ModelMetadata | undefined,
  limits: InferLimits,
): InferRequest {
  checkHeaderLength(headerLength, body.length, failRequest);
  if (headerLength === 0) return parseRawInferRequest(body, modelName, modelVersion, meta, limits);

  const header = parseHeader(body, headerLength, failRequest, 'malformed_request', limits.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH);
  const blobs = new BlobCursor(body, headerLength, failRequest);
  const req = parseInferRequestObject(header.value, modelName, modelVersion, limits, blobs.read, header.text);
  blobs.finish();
  if (meta !== undefined) validateInferRequest(req, meta);
  return req;
}

function parseRawInferRequest(
  body: Buffer,
  modelName: string,
  modelVersion: string | undefined,
  meta: ModelMetadata | undefined,
  limits: InferLimits,
): InferRequest {
  const raw = `raw binary request (${HEADER_LENGTH_NAME}: 0)`;
  if (meta === undefined) {
    throw failRequest(`a ${raw} needs the model's metadata to name its input`, 'raw_binary');
  }
  if (meta.inputs.length !== 1) {
    throw failRequest(
      `a ${raw} needs a model with exactly one input; model '${meta.name}' has ${meta.inputs.length}`,
      'raw_binary',
    );
  }
  const spec = meta.inputs[0];
  const where = `input '${spec.name}'`;
  const batching = meta.maxBatchSize > 0;
  const dims = batching ? spec.shape.slice(1) : spec.shape.slice();
  let shape: number[];

  if (spec.datatype === 'BYTES') {
    if (dims.some((d) => d !== 1 && d !== -1)) {
      throw failRequest(
        `${where}: a ${raw} sends one BYTES element, so the input's shape must be [1]; it is ${formatShape(spec.shape)}`,
        'raw_binary',
      );
    }
    shape = dims.map(() => 1);
  } else {
    const variable = dims.filter((d) => d < 0).length;
    if (variable > 1) {
      throw failRequest(
        `${where}: a ${raw} can infer at most one variable dim, shape ${formatShape(spec.shape)} has ${variable}`,
        'raw_binary',
      );
    }
    const size = elementByteSize(spec.datatype);
    const unit = dims.reduce((n, d) => (d < 0 ? n : n * d), size);
    let inferred = 0;
    if (variable === 0 || unit === 0) {
      if (body.length !== unit) {
        throw failRequest(
          `${where}: ${raw} body has ${body.length} bytes, shape ${formatShape(spec.shape)} of ${spec.datatype} needs ${unit}`,
          'binary_size_mismatch',
        );
      }
    } else {
      if (body.length % unit !== 0) {
        throw failRequest(
          `${where}: ${raw} body has ${body.length} bytes, not a multiple of the ${unit} bytes one step of the variable dim of shape ${formatShape(spec.shape)} takes`,
          'binary_size_mismatch',
        );
      }
      inferred = body.length / unit;
    }
    shape = dims.map((d) => (d < 0 ? inferred : d));
  }
  if (batching) shape.unshift(1);

  const count = elementCount(shape);
  if (count > limits.maxTensorElements) {
    throw new InferError(
      'PAYLOAD_TOO_LARGE',
      `${where}: shape ${formatShape(shape)} has ${count} elements, over the limit --max-tensor-elements = ${limits.maxTensorElements}`,
      'too_many_elements',
    );
  }
  const data: TensorData = spec.datatype === 'BYTES' ? [body] : blobToTensorData(body, where, spec.datatype, shape, failRequest);
  const req: InferRequest = {
    modelName,
    inputs: [{ name: spec.name, datatype: spec.datatype, shape, data }],
    binaryDataOutput: true,
  };
  if (modelVersion !== undefined) req.modelVersion = modelVersion;
  validateInferRequest(req, meta);
  return req;
}

/**
 * The gateway→backend hop: every input binary. `binaryOutputs` asks for every output binary
 * (request-level binary_data_output, and binary_data on each named output).
 */
export function encodeInferRequest(req: InferRequest, options: { binaryOutputs: boolean }): EncodedBody & { headerLength: number } {
  const blobs: Uint8Array[] = [];
  const inputs = req.inputs.map((t) => {
    const blob = tensorToBlob(t);
    blobs.push(blob);
    return binaryTensorHead(t, blob.byteLength);
  });
  const json: Record<string, unknown> = {};
  if (req.id !== undefined) json.id = req.id;
  const params: Parameters = Object.assign({}, req.parameters); // see binaryTensorHead
  if (options.binaryOutputs) params.binary_data_output = true;
  if (Object.keys(params).length > 0) json.parameters = params;
  json.inputs = inputs;
  if (req.outputs !== undefined) {
    json.outputs = req.outputs.map((o) => requestedOutputToJson(o, options.binaryOutputs));
  }
  return assemble(JSON.stringify(json), blobs);
}

// ---------------------------------------------------------------------------------------------------
// Responses

/**
 * Outputs asked for binary (per-output binary_data, else the request's binary_data_output) become
 * blobs; the rest stay JSON in the header, written as text (tensorToJsonText: 64-bit integers
 * exact, -0.0, bare NaN/Infinity). With no blob at all the body is plain JSON.
 */
export function encodeInferResponse(res: InferResponse, req: InferRequest): EncodedBody {
  const perOutput = new Map<string, boolean | undefined>();
  for (const o of req.outputs ?? []) perOutput.set(o.name, o.binaryData);
  const byDefault = req.binaryDataOutput ?? false;

  const blobs: Uint8Array[] = [];
  const outputs = res.outputs.map((t) => {
    if (!(perOutput.get(t.name) ?? byDefault)) return tensorToJsonText(t);
    const blob = tensorToBlob(t);
    blobs.push(blob);
    return JSON.stringify(binaryTensorHead(t, blob.byteLength));
  });
  const header = responseEnvelopeText(res, outputs);
  if (blobs.length === 0) {
    return { body: Buffer.from(header), headerLength: undefined, contentType: JSON_CONTENT_TYPE };
  }
  return assemble(header, blobs);
}

/** Client side; `headerLength` undefined: the body is plain JSON. */
export function parseBinaryInferResponse(body: Buffer, headerLength: number | undefined): InferResponse {
  if (headerLength === undefined) {
    const json = parseHeader(body, body.length, failResponse, 'malformed_response');
    return parseInferResponseObject(json.value, undefined, json.text);
  }
  checkHeaderLength(headerLength, body.length, failResponse);
  if (headerLength === 0) throw failResponse(`${HEADER_LENGTH_NAME} is 0`, 'malformed_response');
  const header = parseHeader(body, headerLength, failResponse, 'malformed_response');
  const blobs = new BlobCursor(body, headerLength, failResponse);
  const res = parseInferResponseObject(header.value, blobs.read, header.text);
  blobs.finish();
  return res;
}

// ---------------------------------------------------------------------------------------------------
// Blobs

/** A tensor's binary form: numeric storage as a view (no copy); BYTES packed as length + bytes. */
export function tensorToBlob(t: Tensor): Uint8Array {
  if (t.datatype !== 'BYTES') {
    requireLittleEndianHost();
    const data = t.data as NumericArray;
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  const elements = t.data as Uint8Array[];
  let total = 0;
  for (const e of elements) total += 4 + e.byteLength;
  const out = Buffer.allocUnsafe(total);
  let offset = 0;
  for (const e of elements) {
    out.writeUInt32LE(e.byteLength, offset);
    out.set(e, offset + 4);
    offset += 4 + e.byteLength;
  }
  return out;
}

/**
 * Typed storage for one tensor's blob (binary extension, or gRPC raw contents). Numeric blobs must
 * be exactly shape × element size; BYTES blobs must hold exactly the shape's element count.
 */
export function blobToTensorData(
  bytes: Uint8Array,
  where: string,
  datatype: Datatype,
  shape: readonly number[],
  fail: Fail,
): TensorData {
  const count = elementCount(shape);
  if (datatype === 'BYTES') return unpackBytes(bytes, where, count, shape, fail);

  const size = elementByteSize(datatype);
  if (bytes.byteLength !== count * size) {
    throw fail(
      `${where}: binary data is ${bytes.byteLength} bytes, shape ${formatShape(shape)} of ${datatype} needs ${count * size} (${count} × ${size} bytes)`,
      'binary_size_mismatch',
    );
  }
  requireLittleEndianHost();
  const Ctor = arrayConstructorFor(datatype);
  let data: NumericArray;
  if (bytes.byteOffset % size === 0) {
    data = new Ctor(bytes.buffer, bytes.byteOffset, count);
  } else {
    data = new Ctor(count);
    new Uint8Array(data.buffer).set(bytes);
  }
  if (datatype === 'BOOL') {
    const flags = data as Uint8Array;
    for (let i = 0; i < count; i++) {
      if (flags[i] > 1) throw fail(`${where}: BOOL element ${i} is byte ${flags[i]}; expected 0 or 1`, 'bad_element');
    }
  }
  return data;
}

function unpackBytes(bytes: Uint8Array, where: string, count: number, shape: readonly number[], fail: Fail): Uint8Array[] {
  const out = new Array<Uint8Array>(count);
  const end = bytes.byteLength;
  let offset = 0;
  for (let i = 0; i < count; i++) {
    if (end - offset < 4) {
      throw fail(
        `${where}: malformed BYTES data: element ${i} of ${count} (shape ${formatShape(shape)}) has no room for its 4-byte length (${end - offset} bytes left)`,
        'bad_bytes',
      );
    }
    const length = (bytes[offset] | (bytes[offset + 1] << 8) | (bytes[offset + 2] << 16)) + bytes[offset + 3] * 0x1000000;
    offset += 4;
    if (length > end - offset) {
      throw fail(
        `${where}: malformed BYTES data: element ${i} declares ${length} bytes, only ${end - offset} left`,
        'bad_bytes',
      );
    }
    out[i] = bytes.subarray(offset, offset + length);
    offset += length;
  }
  if (offset !== end) {
    throw fail(
      `${where}: malformed BYTES data: ${end - offset} bytes left over after the ${count} elements of shape ${formatShape(shape)}`,
      'bad_bytes',
    );
  }
  return out;
}

/** Slices blobs off the body in tensor order; `finish` checks they used up the body exactly. */
class BlobCursor {
  #body: Buffer;
  #start: number;
  #offset: number;
  #fail: Fail;

  constructor(body: Buffer, start: number, fail: Fail) {
    this.#body = body;
    this.#start = start;
    this.#offset = start;
    this.#fail = fail;
  }

  read: BinaryTensorReader = (where, datatype, shape, byteSize) => {
    if (datatype !== 'BYTES') {
      const count = elementCount(shape);
      const size = elementByteSize(datatype);
      if (byteSize !== count * size) {
        throw this.#fail(
          `${where}: binary_data_size ${byteSize} does not match shape ${formatShape(shape)} of ${datatype}: expected ${count * size} (${count} × ${size} bytes)`,
          'binary_size_mismatch',
        );
      }
    }
    const left = this.#body.length - this.#offset;
    if (byteSize > left) {
      throw this.#fail(
        `${where}: binary_data_size ${byteSize} runs past the end of the body (${left} bytes left after the previous tensors)`,
        'binary_size_mismatch',
      );
    }
    const bytes = this.#body.subarray(this.#offset, this.#offset + byteSize);
    this.#offset += byteSize;
    return blobToTensorData(bytes, where, datatype, shape, this.#fail);
  };

  finish(): void {
    const used = this.#offset - this.#start;
    const present = this.#body.length - this.#start;
    if (used !== present) {
      throw this.#fail(
        `binary_data_size values add up to ${used} bytes, but ${present} bytes follow the JSON header`,
        'binary_size_mismatch',
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Helpers

function binaryTensorHead(t: Tensor, byteSize: number): object {
  return {
    name: t.name,
    datatype: t.datatype,
    shape: t.shape,
    // Object.assign, not a spread followed by a property: the latter takes a slow path in this V8.
    parameters: Object.assign({}, t.parameters, { binary_data_size: byteSize }),
  };
}

function assemble(headerText: string, blobs: Uint8Array[]): EncodedBody & { headerLength: number } {
  const header = Buffer.from(headerText);
  let total = header.length;
  for (const b of blobs) total += b.byteLength;
  const body = Buffer.concat([header, ...blobs], total);
  return { body, headerLength: header.length, contentType: BINARY_CONTENT_TYPE };
}

function checkHeaderLength(headerLength: number, bodyLength: number, fail: Fail): void {
  if (!Number.isSafeInteger(headerLength) || headerLength < 0) {
    throw fail(`${HEADER_LENGTH_NAME} must be a non-negative integer, got ${headerLength}`, 'bad_header_length');
  }
  if (headerLength > bodyLength) {
    throw fail(
      `${HEADER_LENGTH_NAME} ${headerLength} exceeds the body length ${bodyLength}`,
      'bad_header_length',
    );
  }
}

/** `maxDepth`: a request's --max-json-depth, checked before parsing (a response is not checked). */
function parseHeader(body: Buffer, headerLength: number, fail: Fail, reason: string, maxDepth?: number): JsonDocument {
  if (maxDepth !== undefined && !isUtf8(body.subarray(0, headerLength))) {
    throw fail('the JSON header is not valid UTF-8; JSON text must be UTF-8', 'invalid_utf8');
  }
  const text = body.toString('utf8', 0, headerLength);
  if (maxDepth !== undefined) checkJsonDepth(text, maxDepth);
  try {
    return parseJsonDocument(text);
  } catch (err) {
    throw fail(`the JSON header is not valid JSON: ${(err as Error).message}`, reason);
  }
}

function requireLittleEndianHost(): void {
  if (!LITTLE_ENDIAN_HOST) {
    throw new InferError('UNSUPPORTED', 'the binary tensor extension needs a little-endian host', 'big_endian_host');
  }
}
