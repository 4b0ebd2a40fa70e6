/**
 * The JSON body of the KServe v2 infer call, both ways, on both sides (the HTTP door parses
 * requests and writes responses; the remote-backend client writes requests and parses responses).
 *
 * Decisions, where the protocol leaves room:
 * - BOOL elements must be JSON true/false, as Triton requires; 0/1 are rejected with a message that
 *   says so, rather than guessed at.
 * - INT64/UINT64 travel as JSON numbers. A JSON number is a double, so on input any integer beyond
 *   ±(2^53 − 1) is rejected (it has already been rounded by the JSON parser); on output values
 *   beyond that range lose precision. Exact 64-bit values need the binary tensor extension.
 * - NaN, Infinity and -Infinity are not JSON. Triton writes and reads them as bare tokens (rapidjson
 *   kWriteNanAndInfFlag / kParseNanAndInfFlag); JSON.stringify would turn them into null, silently.
 *   infergate writes them as the strings "NaN", "Infinity", "-Infinity", which every JSON parser
 *   accepts, and accepts those strings (and, through parseJsonWithNonFinite, Triton's bare tokens)
 *   for FP16/BF16/FP32/FP64 elements. No other string is accepted for a numeric datatype.
 * - A finite number that rounds to infinity in its datatype (1e39 for FP32, 70000 for FP16) is out of
 *   range, not silently infinite.
 * - BYTES elements are JSON strings, carried as their UTF-8 bytes. On output, bytes that are not
 *   UTF-8 are decoded with U+FFFD replacements; arbitrary bytes need binary output.
 * - The binary-extension parameters (binary_data_output, binary_data, binary_data_size) are lifted
 *   into InferRequest/RequestedOutput fields and removed from `parameters`: they describe one hop's
 *   encoding, not the request, and each hop writes its own.
 */
import {
  allocate,
  elementCount,
  isDatatype,
  type Datatype,
  type NumericArray,
  type TensorData,
} from './datatypes.js';
import { BF16_MAX, FP16_MAX, bf16ToNumber, fp16ToNumber, numberToBf16, numberToFp16 } from './half-float.js';
import { InferError } from './errors.js';
import type { ModelMetadata } from './model-metadata.js';
import { formatShape, validateInferRequest } from './request-validation.js';
import type { InferRequest, InferResponse, Parameters, RequestedOutput, Tensor } from './tensor.js';

export interface InferLimits {
  /** Most tensor elements, summed over all inputs of one request. */
  maxTensorElements: number;
}

/** 16 Mi elements: 64 MiB of FP32, Triton's default input cap (--max-tensor-elements). */
export const DEFAULT_MAX_TENSOR_ELEMENTS = 16 * 1024 * 1024;

export const DEFAULT_INFER_LIMITS: Readonly<InferLimits> = { maxTensorElements: DEFAULT_MAX_TENSOR_ELEMENTS };

/** How a malformed body is reported: requests are the client's fault, responses the backend's. */
export type Fail = (message: string, reason: string) => InferError;

export const failRequest: Fail = (message, reason) => new InferError('INVALID_ARG', message, reason);
export const failResponse: Fail = (message, reason) =>
  new InferError('INTERNAL', `malformed inference response: ${message}`, reason);

/**
 * Hands back the storage of an input or output whose data travels as a binary blob
 * (`binary_data_size`). Called in tensor order, so a reader can slice a body sequentially.
 */
export type BinaryTensorReader = (
  where: string,
  datatype: Datatype,
  shape: number[],
  byteSize: number,
) => TensorData;

// ---------------------------------------------------------------------------------------------------
// Requests

export function parseJsonInferRequest(
  body: unknown,
  modelName: string,
  modelVersion: string | undefined,
  meta: ModelMetadata | undefined,
  limits: InferLimits,
): InferRequest {
  const req = parseInferRequestObject(body, modelName, modelVersion, limits, undefined);
  if (meta !== undefined) validateInferRequest(req, meta);
  return req;
}

/**
 * The request object, parsed; `readBinary` is given by the binary-extension parser and is the only
 * way an input may come without `data`.
 */
export function parseInferRequestObject(
  body: unknown,
  modelName: string,
  modelVersion: string | undefined,
  limits: InferLimits,
  readBinary: BinaryTensorReader | undefined,
): InferRequest {
  const fail = failRequest;
  if (!isObject(body)) throw fail(`request body must be a JSON object, got ${describeJsonValue(body)}`, 'malformed_request');

  const req: InferRequest = { modelName, inputs: [] };
  if (modelVersion !== undefined) req.modelVersion = modelVersion;
  if (body.id !== undefined) {
    if (typeof body.id !== 'string') throw fail(`'id' must be a string, got ${describeJsonValue(body.id)}`, 'malformed_request');
    req.id = body.id;
  }
  const params = parseParameters(body.parameters, 'request', fail);
  if (params !== undefined) {
    const binaryOutput = takeBool(params, 'binary_data_output', 'request', fail);
    if (binaryOutput !== undefined) req.binaryDataOutput = binaryOutput;
    if (Object.keys(params).length > 0) req.parameters = params;
  }

  if (body.inputs === undefined) throw fail(`request has no 'inputs'`, 'malformed_request');
  if (!Array.isArray(body.inputs)) throw fail(`'inputs' must be an array, got ${describeJsonValue(body.inputs)}`, 'malformed_request');
  if (body.inputs.length === 0) throw fail(`'inputs' is empty; a request needs at least one input`, 'malformed_request');

  let total = 0;
  body.inputs.forEach((raw: unknown, i: number) => {
    const head = parseTensorHead(raw, `inputs[${i}]`, 'input', fail);
    const where = `input '${head.name}'`;
    const count = elementCount(head.shape);
    total += count;
    if (total > limits.maxTensorElements) {
      throw new InferError(
        'PAYLOAD_TOO_LARGE',
        `${where}: shape ${formatShape(head.shape)} brings the request to ${total} elements, over the limit --max-tensor-elements = ${limits.maxTensorElements}`,
        'too_many_elements',
      );
    }
    const tensorParams = head.parameters;
    rejectSharedMemory(tensorParams, where);
    const byteSize = tensorParams === undefined ? undefined : takeBinaryDataSize(tensorParams, where, fail);
    let data: TensorData;
    if (byteSize !== undefined) {
      if (readBinary === undefined) {
        throw fail(
          `${where}: parameter binary_data_size needs the binary tensor extension (an Inference-Header-Content-Length header); a pure JSON body must carry 'data'`,
          'unexpected_binary',
        );
      }
      if (head.data !== undefined) {
        throw fail(`${where}: has both 'data' and parameter binary_data_size; give one`, 'data_and_binary');
      }
      data = readBinary(where, head.datatype, head.shape, byteSize);
    } else {
      if (head.data === undefined) throw fail(`${where}: missing 'data'`, 'malformed_request');
      data = jsonToTensorData(head.data, where, head.datatype, head.shape, fail, false);
    }
    const tensor: Tensor = { name: head.name, datatype: head.datatype, shape: head.shape, data };
    if (tensorParams !== undefined && Object.keys(tensorParams).length > 0) tensor.parameters = tensorParams;
    req.inputs.push(tensor);
  });

  if (body.outputs !== undefined) {
    if (!Array.isArray(body.outputs)) throw fail(`'outputs' must be an array, got ${describeJsonValue(body.outputs)}`, 'malformed_request');
    req.outputs = body.outputs.map((raw: unknown, i: number) => parseRequestedOutput(raw, i, fail));
  }
  return req;
}

function parseRequestedOutput(raw: unknown, i: number, fail: Fail): RequestedOutput {
  if (!isObject(raw)) throw fail(`outputs[${i}] must be an object, got ${describeJsonValue(raw)}`, 'malformed_request');
  if (typeof raw.name !== 'string' || raw.name === '') {
    throw fail(`outputs[${i}]: 'name' must be a non-empty string, got ${describeJsonValue(raw.name)}`, 'malformed_request');
  }
  const out: RequestedOutput = { name: raw.name };
  const where = `output '${raw.name}'`;
  const params = parseParameters(raw.parameters, where, fail);
  if (params !== undefined) {
    rejectSharedMemory(params, where);
    const binary = takeBool(params, 'binary_data', where, fail);
    if (binary !== undefined) out.binaryData = binary;
    if (Object.keys(params).length > 0) out.parameters = params;
  }
  return out;
}

export function inferRequestToJson(req: InferRequest): object {
  const json: Record<string, unknown> = {};
  if (req.id !== undefined) json.id = req.id;
  // Object.assign, not a spread: a spread copy that then gets a property takes a slow path in this V8.
  const params: Parameters = Object.assign({}, req.parameters);
  if (req.binaryDataOutput !== undefined) params.binary_data_output = req.binaryDataOutput;
  if (Object.keys(params).length > 0) json.parameters = params;
  json.inputs = req.inputs.map((t) => tensorToJson(t));
  if (req.outputs !== undefined) json.outputs = req.outputs.map((o) => requestedOutputToJson(o));
  return json;
}

export function requestedOutputToJson(out: RequestedOutput, binaryData = out.binaryData): object {
  const params: Parameters = Object.assign({}, out.parameters); // see inferRequestToJson
  if (binaryData !== undefined) params.binary_data = binaryData;
  return Object.keys(params).length > 0 ? { name: out.name, parameters: params } : { name: out.name };
}

// ---------------------------------------------------------------------------------------------------
// Responses

export function inferResponseToJson(res: InferResponse): object {
  return responseEnvelope(res, res.outputs.map((t) => tensorToJson(t)));
}

/** `{model_name, model_version, id?, parameters?, outputs}` around already-encoded outputs. */
export function responseEnvelope(res: InferResponse, outputs: object[]): object {
  const json: Record<string, unknown> = { model_name: res.modelName, model_version: res.modelVersion };
  if (res.id !== undefined) json.id = res.id;
  if (res.parameters !== undefined && Object.keys(res.parameters).length > 0) json.parameters = res.parameters;
  json.outputs = outputs;
  return json;
}

export function parseJsonInferResponse(body: unknown): InferResponse {
  return parseInferResponseObject(body, undefined);
}

export function parseInferResponseObject(body: unknown, readBinary: BinaryTensorReader | undefined): InferResponse {
  const fail = failResponse;
  if (!isObject(body)) throw fail(`body must be a JSON object, got ${describeJsonValue(body)}`, 'malformed_response');
  if (typeof body.model_name !== 'string') {
    throw fail(`'model_name' must be a string, got ${describeJsonValue(body.model_name)}`, 'malformed_response');
  }
  if (body.model_version !== undefined && typeof body.model_version !== 'string') {
    throw fail(`'model_version' must be a string, got ${describeJsonValue(body.model_version)}`, 'malformed_response');
  }
  const res: InferResponse = { modelName: body.model_name, modelVersion: body.model_version ?? '', outputs: [] };
  if (body.id !== undefined) {
    if (typeof body.id !== 'string') throw fail(`'id' must be a string, got ${describeJsonValue(body.id)}`, 'malformed_response');
    res.id = body.id;
  }
  const params = parseParameters(body.parameters, 'response', fail);
  if (params !== undefined && Object.keys(params).length > 0) res.parameters = params;
  if (!Array.isArray(body.outputs)) throw fail(`'outputs' must be an array, got ${describeJsonValue(body.outputs)}`, 'malformed_response');

  body.outputs.forEach((raw: unknown, i: number) => {
    const head = parseTensorHead(raw, `outputs[${i}]`, 'output', fail);
    const where = `output '${head.name}'`;
    const tensorParams = head.parameters;
    const byteSize = tensorParams === undefined ? undefined : takeBinaryDataSize(tensorParams, where, fail);
    let data: TensorData;
    if (byteSize !== undefined) {
      if (readBinary === undefined) throw fail(`${where}: binary_data_size in a pure JSON body`, 'unexpected_binary');
      data = readBinary(where, head.datatype, head.shape, byteSize);
    } else {
      if (head.data === undefined) throw fail(`${where}: missing 'data'`, 'malformed_response');
      data = jsonToTensorData(head.data, where, head.datatype, head.shape, fail, true);
    }
    const tensor: Tensor = { name: head.name, datatype: head.datatype, shape: head.shape, data };
    if (tensorParams !== undefined && Object.keys(tensorParams).length > 0) tensor.parameters = tensorParams;
    res.outputs.push(tensor);
  });
  return res;
}

// ---------------------------------------------------------------------------------------------------
// Tensors

interface TensorHead {
  name: string;
  datatype: Datatype;
  shape: number[];
  parameters?: Parameters;
  data?: unknown;
}

function parseTensorHead(raw: unknown, at: string, kind: 'input' | 'output', fail: Fail): TensorHead {
  const reason = kind === 'input' ? 'malformed_request' : 'malformed_response';
  if (!isObject(raw)) throw fail(`${at} must be an object, got ${describeJsonValue(raw)}`, reason);
  if (typeof raw.name !== 'string' || raw.name === '') {
    throw fail(`${at}: 'name' must be a non-empty string, got ${describeJsonValue(raw.name)}`, reason);
  }
  const where = `${kind} '${raw.name}'`;
  if (raw.datatype === undefined) throw fail(`${where}: missing 'datatype'`, reason);
  if (!isDatatype(raw.datatype)) {
    throw fail(
      `${where}: unknown datatype ${typeof raw.datatype === 'string' ? `'${raw.datatype}'` : describeJsonValue(raw.datatype)}; expected one of BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, FP32, FP64, BF16, BYTES`,
      'unknown_datatype',
    );
  }
  if (raw.shape === undefined) throw fail(`${where}: missing 'shape'`, reason);
  if (!Array.isArray(raw.shape)) throw fail(`${where}: 'shape' must be an array, got ${describeJsonValue(raw.shape)}`, reason);
  const shape: number[] = [];
  raw.shape.forEach((d: unknown, i: number) => {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw fail(`${where}: shape dim ${i} must be a non-negative integer, got ${describeJsonValue(d)}`, 'bad_shape');
    }
    shape.push(d);
  });
  const head: TensorHead = { name: raw.name, datatype: raw.datatype, shape, data: raw.data };
  const params = parseParameters(raw.parameters, where, fail);
  if (params !== undefined) head.parameters = params;
  return head;
}

export function tensorToJson(t: Tensor): object {
  const json: Record<string, unknown> = { name: t.name, datatype: t.datatype, shape: t.shape };
  if (t.parameters !== undefined && Object.keys(t.parameters).length > 0) json.parameters = t.parameters;
  json.data = tensorDataToJson(t.datatype, t.data);
  return json;
}

/**
 * Flat row-major JSON values of a tensor; see the file comment for BOOL, 64-bit, NaN and BYTES.
 * Built with push, not `new Array(n)`: V8's JSON.stringify takes a slow path for holey arrays
 * (measured: 16 FP32 values took ~45 % longer to stringify).
 */
export function tensorDataToJson(datatype: Datatype, data: TensorData): unknown[] {
  if (datatype === 'BYTES') {
    const decoder = new TextDecoder('utf-8');
    return (data as Uint8Array[]).map((b) => decoder.decode(b));
  }
  const values = data as NumericArray;
  const n = values.length;
  const out: unknown[] = [];
  switch (datatype) {
    case 'BOOL':
      for (let i = 0; i < n; i++) out.push(values[i] !== 0);
      return out;
    case 'INT64':
    case 'UINT64':
      for (let i = 0; i < n; i++) out.push(Number(values[i]));
      return out;
    case 'FP16':
      for (let i = 0; i < n; i++) out.push(finiteOrName(fp16ToNumber(values[i] as number)));
      return out;
    case 'BF16':
      for (let i = 0; i < n; i++) out.push(finiteOrName(bf16ToNumber(values[i] as number)));
      return out;
    case 'FP32':
    case 'FP64':
      for (let i = 0; i < n; i++) out.push(finiteOrName(values[i] as number));
      return out;
    default:
      for (let i = 0; i < n; i++) out.push(values[i]);
      return out;
  }
}

function finiteOrName(v: number): number | string {
  if (Number.isFinite(v)) return v;
  return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
}

const NON_FINITE = new Map<unknown, number>([['NaN', NaN], ['Infinity', Infinity], ['-Infinity', -Infinity]]);

const INT_RANGE: Record<string, [number, number]> = {
  UINT8: [0, 0xff],
  UINT16: [0, 0xffff],
  UINT32: [0, 0xffffffff],
  INT8: [-0x80, 0x7f],
  INT16: [-0x8000, 0x7fff],
  INT32: [-0x80000000, 0x7fffffff],
};

const FP32_MAX = 3.4028234663852886e38;

/**
 * JSON `data` (flat, or nested to exactly the shape) into typed storage. `lenient64`: accept
 * INT64/UINT64 values beyond 2^53 as they came (a response has already lost that precision
 * upstream; refusing it would only lose the rest).
 */
export function jsonToTensorData(
  data: unknown,
  where: string,
  datatype: Datatype,
  shape: readonly number[],
  fail: Fail,
  lenient64: boolean,
): TensorData {
  if (!Array.isArray(data)) throw fail(`${where}: 'data' must be an array, got ${describeJsonValue(data)}`, 'bad_data');
  const count = elementCount(shape);
  const put = elementWriter(datatype, count, where, fail, lenient64);

  if (data.length > 0 && Array.isArray(data[0])) {
    let index = 0;
    const walk = (level: number, values: unknown[], path: string): void => {
      if (level >= shape.length) {
        throw fail(`${where}: data${path} nests deeper than shape ${formatShape(shape)}`, 'bad_data');
      }
      if (values.length !== shape[level]) {
        throw fail(
          `${where}: data${path} has ${values.length} entries, shape ${formatShape(shape)} needs ${shape[level]} at depth ${level}`,
          'bad_data',
        );
      }
      const leaf = level === shape.length - 1;
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        if (Array.isArray(v) === leaf) {
          throw fail(
            leaf
              ? `${where}: data${path}[${i}] nests deeper than shape ${formatShape(shape)}`
              : `${where}: data${path}[${i}] is not an array; nested data must be rectangular and match shape ${formatShape(shape)}`,
            'bad_data',
          );
        }
        if (leaf) put(v, index++);
        else walk(level + 1, v as unknown[], `${path}[${i}]`);
      }
    };
    walk(0, data, '');
  } else {
    if (data.length !== count) {
      throw fail(`${where}: shape ${formatShape(shape)} needs ${count} elements, 'data' has ${data.length}`, 'element_count_mismatch');
    }
    for (let i = 0; i < count; i++) {
      const v = data[i];
      if (Array.isArray(v)) {
        throw fail(`${where}: data[${i}] is an array but data[0] is not; nested data must be rectangular`, 'bad_data');
      }
      put(v, i);
    }
  }
  return put.storage;
}

type ElementWriter = ((v: unknown, i: number) => void) & { storage: TensorData };

function elementWriter(datatype: Datatype, count: number, where: string, fail: Fail, lenient64: boolean): ElementWriter {
  const storage = allocate(datatype, count);
  const bad = (i: number, what: string) => fail(`${where}: element ${i}: ${what}`, 'bad_element');
  const outOfRange = (i: number, what: string) => fail(`${where}: element ${i}: ${what}`, 'out_of_range');
  const number = (v: unknown, i: number): number => {
    if (typeof v !== 'number') throw bad(i, `expected a number for ${datatype}, got ${describeJsonValue(v)}`);
    return v;
  };
  const float = (v: unknown, i: number): number => {
    // Numbers first: a Map lookup per element (hashing the double) cost more than the rest of the write.
    if (typeof v === 'number') return v;
    const named = NON_FINITE.get(v);
    if (named !== undefined) return named;
    throw bad(i, `expected a number for ${datatype}, got ${describeJsonValue(v)} (only "NaN", "Infinity", "-Infinity" may be strings)`);
  };
  const overflowed = (i: number, v: number, max: number) =>
    outOfRange(i, `value ${v} overflows ${datatype} (largest finite magnitude ${max})`);

  let write: (v: unknown, i: number) => void;
  switch (datatype) {
    case 'BOOL': {
      const out = storage as Uint8Array;
      write = (v, i) => {
        if (typeof v !== 'boolean') throw bad(i, `expected true or false for BOOL, got ${describeJsonValue(v)}`);
        out[i] = v ? 1 : 0;
      };
      break;
    }
    case 'INT64':
    case 'UINT64': {
      const out = storage as BigInt64Array | BigUint64Array;
      const signed = datatype === 'INT64';
      write = (v, i) => {
        const x = number(v, i);
        if (!Number.isInteger(x)) throw bad(i, `expected an integer for ${datatype}, got ${x}`);
        if (!signed && x < 0) throw outOfRange(i, `value ${x} is out of range for UINT64 (negative)`);
        if (!Number.isSafeInteger(x)) {
          const limit = signed ? 2 ** 63 : 2 ** 64;
          if (!lenient64 || x >= limit || x < -limit) {
            throw outOfRange(
              i,
              `value ${x} is beyond ±(2^53 - 1), which a JSON number cannot carry exactly for ${datatype}; send it with the binary tensor extension`,
            );
          }
        }
        out[i] = BigInt(x);
      };
      break;
    }
    case 'FP16':
    case 'BF16': {
      const out = storage as Uint16Array;
      const encode = datatype === 'FP16' ? numberToFp16 : numberToBf16;
      const infinity = datatype === 'FP16' ? 0x7c00 : 0x7f80;
      const max = datatype === 'FP16' ? FP16_MAX : BF16_MAX;
      write = (v, i) => {
        const x = float(v, i);
        const bits = encode(x);
        if ((bits & 0x7fff) === infinity && Number.isFinite(x)) throw overflowed(i, x, max);
        out[i] = bits;
      };
      break;
    }
    case 'FP32': {
      const out = storage as Float32Array;
      write = (v, i) => {
        const x = float(v, i);
        const y = Math.fround(x);
        if (Number.isFinite(x) && !Number.isFinite(y)) throw overflowed(i, x, FP32_MAX);
        out[i] = y;
      };
      break;
    }
    case 'FP64': {
      const out = storage as Float64Array;
      write = (v, i) => {
        out[i] = float(v, i);
      };
      break;
    }
    case 'BYTES': {
      const out = storage as Uint8Array[];
      const encoder = new TextEncoder();
      write = (v, i) => {
        if (typeof v !== 'string') throw bad(i, `expected a string for BYTES, got ${describeJsonValue(v)}`);
        out[i] = encoder.encode(v);
      };
      break;
    }
    default: {
      const out = storage as NumericArray as Uint8Array;
      const [min, max] = INT_RANGE[datatype];
      write = (v, i) => {
        const x = number(v, i);
        if (!Number.isInteger(x)) throw bad(i, `expected an integer for ${datatype}, got ${x}`);
        if (x < min || x > max) throw outOfRange(i, `value ${x} is out of range for ${datatype} [${min}, ${max}]`);
        out[i] = x;
      };
    }
  }
  return Object.assign(write, { storage });
}

// ---------------------------------------------------------------------------------------------------
// Parameters and small helpers

function parseParameters(raw: unknown, where: string, fail: Fail): Parameters | undefined {
  if (raw === undefined) return undefined;
  if (!isObject(raw)) throw fail(`${where}: 'parameters' must be an object, got ${describeJsonValue(raw)}`, 'bad_parameter');
  const out: Parameters = {};
  for (const [key, value] of Object.entries(raw)) {
    if (typeof value !== 'boolean' && typeof value !== 'number' && typeof value !== 'string') {
      throw fail(`${where}: parameter '${key}' must be a boolean, number or string, got ${describeJsonValue(value)}`, 'bad_parameter');
    }
    out[key] = value;
  }
  return out;
}

function takeBool(params: Parameters, key: string, where: string, fail: Fail): boolean | undefined {
  if (!(key in params)) return undefined;
  const value = params[key];
  if (typeof value !== 'boolean') throw fail(`${where}: parameter ${key} must be true or false, got ${describeJsonValue(value)}`, 'bad_parameter');
  delete params[key];
  return value;
}

function takeBinaryDataSize(params: Parameters, where: string, fail: Fail): number | undefined {
  if (!('binary_data_size' in params)) return undefined;
  const value = params.binary_data_size;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw fail(`${where}: parameter binary_data_size must be a non-negative integer, got ${describeJsonValue(value)}`, 'bad_parameter');
  }
  delete params.binary_data_size;
  return value;
}

/** Triton's shared-memory extension is not offered; say so instead of ignoring the parameters. */
function rejectSharedMemory(params: Parameters | undefined, where: string): void {
  if (params !== undefined && 'shared_memory_region' in params) {
    throw new InferError('UNSUPPORTED', `${where}: shared memory (parameter shared_memory_region) is not supported`, 'shared_memory');
  }
}

function isObject(v: unknown): v is Record<string, any> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A value as a message shows it: its JSON type and a short rendering. */
export function describeJsonValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  switch (typeof v) {
    case 'string':
      return `string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
    case 'number':
    case 'boolean':
      return `${typeof v} ${v}`;
    case 'undefined':
      return 'nothing';
    case 'object':
      return 'an object';
    default:
      return typeof v;
  }
}

/**
 * JSON.parse that also reads Triton's bare NaN, Infinity and -Infinity tokens (as the strings
 * "NaN", "Infinity", "-Infinity", which the tensor decoders accept for float datatypes). The
 * rewrite runs only after a plain parse has failed, so ordinary bodies pay nothing. Throws
 * SyntaxError like JSON.parse.
 */
export function parseJsonWithNonFinite(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    if (!text.includes('NaN') && !text.includes('Infinity')) throw err;
    const rewritten = quoteNonFiniteTokens(text);
    if (rewritten === text) throw err;
    try {
      return JSON.parse(rewritten);
    } catch {
      throw err;
    }
  }
}

function quoteNonFiniteTokens(text: string): string {
  let out = '';
  let from = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) {
      inString = true;
      continue;
    }
    for (const token of ['-Infinity', 'Infinity', 'NaN']) {
      if (text.startsWith(token, i)) {
        out += `${text.slice(from, i)}"${token}"`;
        i += token.length - 1;
        from = i + 1;
        break;
      }
    }
  }
  return from === 0 ? text : out + text.slice(from);
}
