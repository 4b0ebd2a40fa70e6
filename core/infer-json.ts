/**
 * The JSON body of the KServe v2 infer call, both ways, on both sides (the HTTP door parses
 * requests and writes responses; the remote-backend client writes requests and parses responses).
 *
 * Decisions, where the protocol leaves room:
 * - BOOL elements must be JSON true/false, as Triton requires; 0/1 are rejected with a message that
 *   says so, rather than guessed at.
 * - INT64/UINT64 travel as JSON numbers, exact to all 64 bits both ways, as Triton reads and writes
 *   them. JSON.parse reads every number as a double, exact up to ±(2^53 − 1); an INT64/UINT64
 *   element beyond that is read again from its literal in the body's text (parseJsonWithNonFinite
 *   keeps the text for the decoder, JsonCursor finds the literal). Beyond 2^53 only plain integer
 *   digits are exact: 1e19 or 9007199254740993.0 are refused (Triton refuses any non-integer JSON
 *   value for these types). Output is written as text (tensorToJsonText): a BigInt's own digits.
 * - NaN, Infinity and -Infinity are not JSON. Triton writes and reads them as bare tokens (rapidjson
 *   kWriteNanAndInfFlag / kParseNanAndInfFlag), and so does infergate: written bare, read bare
 *   (parseJsonWithNonFinite) and, as earlier infergate wrote them, as the strings "NaN", "Infinity",
 *   "-Infinity" for FP16/BF16/FP32/FP64 elements. No other string is accepted for a numeric datatype.
 * - -0 keeps its sign: written -0.0, as rapidjson writes it (JSON.stringify would write 0).
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
import { DEFAULT_MAX_STRING_BYTES, checkRequestStrings } from './json-limits.js';
import type { ModelMetadata } from './model-metadata.js';
import { formatShape, validateInferRequest } from './request-validation.js';
import type { InferRequest, InferResponse, Parameters, RequestedOutput, Tensor } from './tensor.js';

export interface InferLimits {
  /** Most tensor elements, summed over all inputs of one request. */
  maxTensorElements: number;
  /** Deepest nesting of a JSON body (--max-json-depth); DEFAULT_MAX_JSON_DEPTH when not given. */
  maxJsonDepth?: number;
  /** Longest name, id, datatype or parameter string (--max-string-bytes); DEFAULT_MAX_STRING_BYTES when not given. */
  maxStringBytes?: number;
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

/** `sourceText`: the JSON text `body` was parsed from (parseJsonDocument), to read 64-bit integers exactly. */
export function parseJsonInferRequest(
  body: unknown,
  modelName: string,
  modelVersion: string | undefined,
  meta: ModelMetadata | undefined,
  limits: InferLimits,
  sourceText?: string,
): InferRequest {
  const req = parseInferRequestObject(body, modelName, modelVersion, limits, undefined, sourceText);
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
  sourceText?: string,
): InferRequest {
  const fail = failRequest;
  const source = sourceText;
  if (!isObject(body)) throw fail(`request body must be a JSON object, got ${describeJsonValue(body)}`, 'malformed_request');
  checkRequestStrings(body, limits.maxStringBytes ?? DEFAULT_MAX_STRING_BYTES);

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
      data = jsonToTensorData(head.data, where, head.datatype, head.shape, fail, { text: source, list: 'inputs', index: i, acceptRounded: false });
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

/**
 * The request as JSON text, the way it travels: 64-bit integers exact, -0 as -0.0, NaN and
 * ±Infinity as bare tokens (see the file comment).
 */
export function inferRequestToJsonText(req: InferRequest): string {
  const members: string[] = [];
  if (req.id !== undefined) members.push(`"id":${JSON.stringify(req.id)}`);
  // Object.assign, not a spread: a spread copy that then gets a property takes a slow path in this V8.
  const params: Parameters = Object.assign({}, req.parameters);
  if (req.binaryDataOutput !== undefined) params.binary_data_output = req.binaryDataOutput;
  if (Object.keys(params).length > 0) members.push(`"parameters":${JSON.stringify(params)}`);
  members.push(`"inputs":[${req.inputs.map((t) => tensorToJsonText(t)).join(',')}]`);
  if (req.outputs !== undefined) members.push(`"outputs":${JSON.stringify(req.outputs.map((o) => requestedOutputToJson(o)))}`);
  return `{${members.join(',')}}`;
}

/**
 * The request as a JSON value: what a parser makes of inferRequestToJsonText (non-finite floats as
 * the strings "NaN", "Infinity", "-Infinity"). JSON.stringify of it is not exact: it rounds 64-bit
 * integers beyond 2^53 and writes -0 as 0. Send inferRequestToJsonText instead.
 */
export function inferRequestToJson(req: InferRequest): object {
  return parseJsonWithNonFinite(inferRequestToJsonText(req)) as object;
}

export function requestedOutputToJson(out: RequestedOutput, binaryData = out.binaryData): object {
  const params: Parameters = Object.assign({}, out.parameters); // see inferRequestToJsonText
  if (binaryData !== undefined) params.binary_data = binaryData;
  return Object.keys(params).length > 0 ? { name: out.name, parameters: params } : { name: out.name };
}

// ---------------------------------------------------------------------------------------------------
// Responses

/** The response as JSON text, the way it travels; see inferRequestToJsonText. */
export function inferResponseToJsonText(res: InferResponse): string {
  return responseEnvelopeText(res, res.outputs.map((t) => tensorToJsonText(t)));
}

/** The response as a JSON value; not exact through JSON.stringify, see inferRequestToJson. */
export function inferResponseToJson(res: InferResponse): object {
  return parseJsonWithNonFinite(inferResponseToJsonText(res)) as object;
}

/** `{model_name, model_version, id?, parameters?, outputs}` around outputs already written as JSON text. */
export function responseEnvelopeText(res: InferResponse, outputs: readonly string[]): string {
  let text = `{"model_name":${JSON.stringify(res.modelName)},"model_version":${JSON.stringify(res.modelVersion)}`;
  if (res.id !== undefined) text += `,"id":${JSON.stringify(res.id)}`;
  if (res.parameters !== undefined && Object.keys(res.parameters).length > 0) text += `,"parameters":${JSON.stringify(res.parameters)}`;
  return `${text},"outputs":[${outputs.join(',')}]}`;
}

export function parseJsonInferResponse(body: unknown, sourceText?: string): InferResponse {
  return parseInferResponseObject(body, undefined, sourceText);
}

export function parseInferResponseObject(body: unknown, readBinary: BinaryTensorReader | undefined, sourceText?: string): InferResponse {
  const fail = failResponse;
  const source = sourceText;
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
      data = jsonToTensorData(head.data, where, head.datatype, head.shape, fail, { text: source, list: 'outputs', index: i, acceptRounded: true });
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

export function tensorToJsonText(t: Tensor): string {
  let text = `{"name":${JSON.stringify(t.name)},"datatype":"${t.datatype}","shape":[${t.shape.join(',')}]`;
  if (t.parameters !== undefined && Object.keys(t.parameters).length > 0) text += `,"parameters":${JSON.stringify(t.parameters)}`;
  return `${text},"data":${tensorDataToJsonText(t.datatype, t.data)}}`;
}

/**
 * A tensor's elements as a flat row-major JSON array, written as text so that nothing goes through
 * a double or JSON.stringify's number rules; see the file comment for BOOL, 64-bit, floats and
 * BYTES. Concatenation, not JSON.stringify of an array of numbers: a 16-FP32 response measured
 * twice as fast to encode.
 */
export function tensorDataToJsonText(datatype: Datatype, data: TensorData): string {
  switch (datatype) {
    case 'BYTES': {
      const decoder = new TextDecoder('utf-8');
      return JSON.stringify((data as Uint8Array[]).map((b) => decoder.decode(b)));
    }
    case 'BOOL':
      return boolsText(data as Uint8Array);
    case 'FP16':
      return halfFloatsText(data as Uint16Array, fp16ToNumber);
    case 'BF16':
      return halfFloatsText(data as Uint16Array, bf16ToNumber);
    case 'FP32':
    case 'FP64':
      return floatsText(data as Float32Array | Float64Array);
    default:
      // Integers, INT64/UINT64 included: a BigInt's own digits, exact.
      return `[${(data as NumericArray as Int32Array).join(',')}]`;
  }
}

function boolsText(values: Uint8Array): string {
  let text = '[';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) text += ',';
    text += values[i] !== 0 ? 'true' : 'false';
  }
  return `${text}]`;
}

function floatsText(values: Float32Array | Float64Array): string {
  let text = '[';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) text += ',';
    text += floatLiteral(values[i]);
  }
  return `${text}]`;
}

function halfFloatsText(bits: Uint16Array, decode: (bits: number) => number): string {
  let text = '[';
  for (let i = 0; i < bits.length; i++) {
    if (i > 0) text += ',';
    text += floatLiteral(decode(bits[i]));
  }
  return `${text}]`;
}

/**
 * A float as Triton's writer (rapidjson, kWriteNanAndInfFlag) puts it: NaN, Infinity and -Infinity
 * as bare tokens (which is what String gives) and -0 as -0.0; otherwise JavaScript's shortest
 * round-trip digits.
 */
function floatLiteral(v: number): string {
  return v === 0 && 1 / v < 0 ? '-0.0' : String(v);
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
 * Where a tensor's `data` came from, for INT64/UINT64 elements beyond ±(2^53 − 1): JSON.parse has
 * rounded those to a double, so they are read again from the body's JSON text.
 */
export interface DataSource {
  /** The body's JSON text; undefined when not at hand (a body built in code, or parsed elsewhere). */
  text: string | undefined;
  /** The tensor's place in the body: `body[list][index].data`. */
  list: 'inputs' | 'outputs';
  index: number;
  /**
   * Without the text, take the rounded value rather than refuse it: a response from a server that
   * wrote it rounded has lost that precision already, and refusing it would only lose the rest.
   */
  acceptRounded: boolean;
}

/** JSON `data` (flat, or nested to exactly the shape) into typed storage. */
export function jsonToTensorData(
  data: unknown,
  where: string,
  datatype: Datatype,
  shape: readonly number[],
  fail: Fail,
  source: DataSource,
): TensorData {
  if (!Array.isArray(data)) throw fail(`${where}: 'data' must be an array, got ${describeJsonValue(data)}`, 'bad_data');
  const count = elementCount(shape);
  const put = elementWriter(datatype, count, where, fail, source);

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

function elementWriter(datatype: Datatype, count: number, where: string, fail: Fail, source: DataSource): ElementWriter {
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
    case 'UINT64':
      write = wideIntegerWriter(storage as BigInt64Array | BigUint64Array, datatype, source, { number, bad, outOfRange });
      break;
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

const INT64_RANGE = { INT64: [-(2n ** 63n), 2n ** 63n - 1n], UINT64: [0n, 2n ** 64n - 1n] } as const;

/**
 * The value of a JSON number literal that is a plain integer; null when it has a fraction or an
 * exponent (BigInt refuses those, and a JSON number has no other form BigInt would take).
 */
function integerLiteral(text: string): bigint | null {
  try {
    return BigInt(text);
  } catch {
    return null;
  }
}

/** How an element writer reads a number and says what is wrong with element i. */
interface ElementChecks {
  number(v: unknown, i: number): number;
  bad(i: number, what: string): InferError;
  outOfRange(i: number, what: string): InferError;
}

/**
 * INT64/UINT64 elements: from the double up to ±(2^53 − 1), where it is exact; beyond, from the
 * element's JSON literal, as JSON.parse has rounded the double. The literals are found once per
 * tensor, and only when such an element comes.
 */
function wideIntegerWriter(
  out: BigInt64Array | BigUint64Array,
  datatype: 'INT64' | 'UINT64',
  source: DataSource,
  { number, bad, outOfRange }: ElementChecks,
): (v: unknown, i: number) => void {
  const unsigned = datatype === 'UINT64';
  const [min, max] = INT64_RANGE[datatype];
  const inRange = (i: number, value: bigint): bigint => {
    if (unsigned && value < 0) throw outOfRange(i, `value ${value} is out of range for UINT64 (negative)`);
    if (value < min || value > max) throw outOfRange(i, `value ${value} is out of range for ${datatype} [${min}, ${max}]`);
    return value;
  };
  let literals: readonly string[] | undefined | null = null; // null: not looked for yet
  const exact = (x: number, i: number): bigint => {
    if (literals === null) literals = dataLiterals(source);
    const text = literals?.[i];
    const value = text === undefined ? undefined : integerLiteral(text);
    if (value === null) {
      throw bad(i, `expected an integer for ${datatype}, got ${text}; beyond ±(2^53 - 1) only plain integer digits are exact`);
    }
    // The literal must be this element's: it rounds to the same double.
    if (value !== undefined && Number(value) === x) return inRange(i, value);
    const rounded = BigInt(x); // for messages too: String(2 ** 60) would say 1152921504606847000
    if (!source.acceptRounded) {
      throw outOfRange(i, `value ${rounded} is beyond ±(2^53 - 1) and its JSON text is not at hand, so ${datatype} cannot have it exactly`);
    }
    return inRange(i, rounded);
  };
  return (v, i) => {
    const x = number(v, i);
    if (Number.isSafeInteger(x)) {
      if (unsigned && x < 0) inRange(i, BigInt(x));
      out[i] = BigInt(x);
    } else if (Number.isInteger(x)) {
      out[i] = exact(x, i);
    } else {
      throw bad(i, `expected an integer for ${datatype}, got ${x}`);
    }
  };
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

// ---------------------------------------------------------------------------------------------------
// JSON text: Triton's non-finite tokens in, and 64-bit literals read exactly

/** A parsed JSON body and the text it was parsed from, which a decoder reads 64-bit integers from exactly. */
export interface JsonDocument {
  value: unknown;
  text: string;
}

/** JSON.parse with Triton's non-finite tokens (see parseJsonDocument); the value alone. */
export function parseJsonWithNonFinite(text: string): unknown {
  return parseJsonDocument(text).value;
}

/**
 * JSON.parse that also reads Triton's bare NaN, Infinity and -Infinity tokens (as the strings
 * "NaN", "Infinity", "-Infinity", which the tensor decoders accept for float datatypes), and
 * returns the text the value came from beside it: the decoders read 64-bit integers from it
 * exactly. The token rewrite runs only after a plain parse has failed, so ordinary bodies pay
 * nothing for it. Throws SyntaxError like JSON.parse.
 */
export function parseJsonDocument(text: string): JsonDocument {
  let source = text;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    if (!text.includes('NaN') && !text.includes('Infinity')) throw err;
    source = quoteNonFiniteTokens(text);
    if (source === text) throw err;
    try {
      value = JSON.parse(source);
    } catch {
      throw err;
    }
  }
  return { value, text: source };
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

/**
 * The JSON text of each element of a tensor's `data`, flattened in order (a nested array's leaves,
 * row-major, as jsonToTensorData walks them); undefined when the text or the path is not at hand.
 */
function dataLiterals(source: DataSource): string[] | undefined {
  if (source.text === undefined) return undefined;
  const cursor = new JsonCursor(source.text);
  return cursor.member(source.list) && cursor.element(source.index) && cursor.member('data') ? cursor.leaves() : undefined;
}

const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

/** A run of characters that neither open nor close a container nor start a string: skipped at once. */
const PLAIN_RUN = /[^"[\]{}]*/y;

/**
 * Walks JSON text that JSON.parse has already accepted, to find the source text of one value: it
 * skips what it does not need and checks nothing beyond what finding needs. Each step returns
 * false (or undefined) when the value it looks for is not there.
 */
class JsonCursor {
  readonly #text: string;
  #at = 0;

  constructor(text: string) {
    this.#text = text;
  }

  /** Into the value of `key` of the object here; the last one when repeated, as JSON.parse keeps. */
  member(key: string): boolean {
    if (!this.#enter(OPEN_BRACE)) return false;
    let found = -1;
    for (;;) {
      this.#skipSpace();
      const c = this.#text.charCodeAt(this.#at);
      if (c === COMMA) {
        this.#at++;
        continue;
      }
      if (c !== QUOTE) break; // '}', or the end
      const name = this.#readString();
      this.#skipSpace();
      if (this.#text.charCodeAt(this.#at) === COLON) this.#at++;
      this.#skipSpace();
      if (name === key) found = this.#at;
      if (!this.#skipValue()) break;
    }
    if (found < 0) return false;
    this.#at = found;
    return true;
  }

  /** Into element `index` of the array here. */
  element(index: number): boolean {
    if (!this.#enter(OPEN_BRACKET)) return false;
    for (let i = 0; ; i++) {
      this.#skipSpace();
      const c = this.#text.charCodeAt(this.#at);
      if (c === CLOSE_BRACKET || Number.isNaN(c)) return false;
      if (i === index) return true;
      if (!this.#skipValue()) return false;
      this.#skipSpace();
      if (this.#text.charCodeAt(this.#at) === COMMA) this.#at++;
    }
  }

  /** The text of each non-array value in the array here, depth first: nested data's leaves, row-major. */
  leaves(): string[] | undefined {
    this.#skipSpace();
    const start = this.#at;
    if (this.#text.charCodeAt(start) !== OPEN_BRACKET || !this.#skipValue()) return undefined;
    const array = this.#text.slice(start, this.#at);
    // Numbers only, the usual case: the leaves are what the commas separate, brackets and spaces aside.
    if (!/["{]/.test(array)) return array.replace(/[[\]\s]+/g, '').split(',').filter((t) => t !== '');
    this.#at = start;
    const out: string[] = [];
    return this.#collect(out) ? out : undefined;
  }

  #collect(out: string[]): boolean {
    if (!this.#enter(OPEN_BRACKET)) return false;
    for (;;) {
      this.#skipSpace();
      const c = this.#text.charCodeAt(this.#at);
      if (c === CLOSE_BRACKET) {
        this.#at++;
        return true;
      }
      if (c === COMMA) {
        this.#at++;
      } else if (c === OPEN_BRACKET) {
        if (!this.#collect(out)) return false;
      } else {
        const start = this.#at;
        if (!this.#skipValue()) return false;
        out.push(this.#text.slice(start, this.#at));
      }
    }
  }

  /** Past `open` ('{' or '['), when that is what comes next. */
  #enter(open: number): boolean {
    this.#skipSpace();
    if (this.#text.charCodeAt(this.#at) !== open) return false;
    this.#at++;
    return true;
  }

  #skipSpace(): void {
    for (;;) {
      const c = this.#text.charCodeAt(this.#at);
      if (c !== SPACE && c !== LF && c !== CR && c !== TAB) return;
      this.#at++;
    }
  }

  /** A string's value; escapes are rare in keys, so only then is JSON.parse asked to decode. */
  #readString(): string {
    const start = this.#at;
    this.#skipString();
    const raw = this.#text.slice(start + 1, this.#at - 1);
    return raw.includes('\\') ? (JSON.parse(this.#text.slice(start, this.#at)) as string) : raw;
  }

  #skipString(): void {
    const text = this.#text;
    let i = this.#at + 1;
    for (;;) {
      const c = text.charCodeAt(i);
      if (Number.isNaN(c)) break;
      if (c === BACKSLASH) i += 2;
      else if (c === QUOTE) {
        i++;
        break;
      } else i++;
    }
    this.#at = i;
  }

  /** Past one value of any kind (strings skipped whole, brackets counted); false when there is none here. */
  #skipValue(): boolean {
    const text = this.#text;
    const start = this.#at;
    let c = text.charCodeAt(this.#at);
    if (c === QUOTE) {
      this.#skipString();
      return true;
    }
    if (c !== OPEN_BRACKET && c !== OPEN_BRACE) {
      // A number, true, false or null: up to the next delimiter.
      while (!Number.isNaN(c) && c !== COMMA && c !== CLOSE_BRACKET && c !== CLOSE_BRACE && c !== SPACE && c !== LF && c !== CR && c !== TAB) {
        c = text.charCodeAt(++this.#at);
      }
      return this.#at > start;
    }
    let depth = 0;
    for (;;) {
      c = text.charCodeAt(this.#at);
      if (Number.isNaN(c)) return false;
      if (c === QUOTE) {
        this.#skipString();
      } else {
        if (c === OPEN_BRACKET || c === OPEN_BRACE) depth++;
        else if (c === CLOSE_BRACKET || c === CLOSE_BRACE) depth--;
        this.#at++;
        if (depth === 0) return true;
      }
      PLAIN_RUN.lastIndex = this.#at;
      PLAIN_RUN.test(text);
      this.#at = PLAIN_RUN.lastIndex;
    }
  }
}
