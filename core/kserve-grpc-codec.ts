/**
 * The KServe v2 gRPC wire form of one inference, both ways, for the node that runs it: a
 * serialized ModelInferRequest into the same validated InferRequest the HTTP codec produces, and
 * the response back into a serialized ModelInferResponse. A gateway never calls this: it forwards
 * the bytes (core/kserve-grpc-envelope.ts reads what routing needs).
 *
 * Inputs come either all in raw_input_contents (one entry per input, in order; numeric tensors
 * become views on the message where aligned) or each in its typed `contents` field; FP16 and BF16
 * have no typed field and come raw only. Outputs always leave in raw_output_contents, the form
 * Triton answers in and its clients read.
 */
import { elementCount, isDatatype, type Datatype, type TensorData } from './datatypes.js';
import { InferError, invalidArg } from './errors.js';
import { blobToTensorData, tensorToBlob } from './infer-binary.js';
import type { WireAnswer } from './infer-call.js';
import type { InferLimits } from './infer-json.js';
import { DEFAULT_MAX_STRING_BYTES, checkRequestStrings } from './json-limits.js';
import { GRPC_MESSAGE_CONTENT_TYPE } from './kserve-grpc-envelope.js';
import { inferMessageTypes } from './kserve-grpc-proto.js';
import type { ModelMetadata } from './model-metadata.js';
import { checkServingParameters } from './request-parameters.js';
import { formatShape, validateInferRequest } from './request-validation.js';
import type { InferRequest, InferResponse, ParameterValue, Parameters, RequestedOutput, Tensor } from './tensor.js';

/** An int64/uint64 as protobufjs decodes it: a Long (when the `long` package is present) or a number. */
type Int64Value = number | { low: number; high: number; unsigned: boolean };

interface ParameterMessage {
  bool_param?: boolean;
  int64_param?: Int64Value;
  string_param?: string;
  double_param?: number;
  uint64_param?: Int64Value;
}

type ParameterMap = Record<string, ParameterMessage>;

const CONTENT_FIELDS = [
  'bool_contents', 'int_contents', 'int64_contents', 'uint_contents', 'uint64_contents', 'fp32_contents', 'fp64_contents', 'bytes_contents',
] as const;
type ContentField = (typeof CONTENT_FIELDS)[number];
type ContentsMessage = { [F in ContentField]?: unknown[] };

interface InputMessage {
  name: string;
  datatype: string;
  shape: Int64Value[];
  parameters?: ParameterMap;
  contents?: ContentsMessage | null;
}

interface RequestMessage {
  model_name: string;
  model_version: string;
  id: string;
  parameters?: ParameterMap;
  inputs?: InputMessage[];
  outputs?: Array<{ name: string; parameters?: ParameterMap }>;
  raw_input_contents?: Uint8Array[];
}

/** The typed field each datatype's elements travel in; none for the 16-bit floats. */
const CONTENT_FIELD_OF: Record<Datatype, ContentField | undefined> = {
  BOOL: 'bool_contents',
  INT8: 'int_contents',
  INT16: 'int_contents',
  INT32: 'int_contents',
  INT64: 'int64_contents',
  UINT8: 'uint_contents',
  UINT16: 'uint_contents',
  UINT32: 'uint_contents',
  UINT64: 'uint64_contents',
  FP16: undefined,
  FP32: 'fp32_contents',
  FP64: 'fp64_contents',
  BF16: undefined,
  BYTES: 'bytes_contents',
};

/** Ranges of the datatypes narrower than the field that carries them. */
const NARROW_RANGE: Partial<Record<Datatype, [number, number]>> = {
  INT8: [-0x80, 0x7f],
  INT16: [-0x8000, 0x7fff],
  UINT8: [0, 0xff],
  UINT16: [0, 0xffff],
};

const failRequest = (message: string, reason: string): InferError => invalidArg(message, reason);

// ---------------------------------------------------------------------------------------------------
// Requests

/**
 * Parses a serialized ModelInferRequest and, when `meta` is given, validates it against the
 * metadata of the version that will run it (the same checks and messages as the HTTP door).
 */
export function decodeGrpcInferRequest(
  body: Uint8Array,
  model: string,
  version: string | undefined,
  meta: ModelMetadata | undefined,
  limits: InferLimits,
): InferRequest {
  let message: RequestMessage;
  try {
    message = inferMessageTypes().request.decode(body) as unknown as RequestMessage;
  } catch (err) {
    throw invalidArg(`malformed ModelInferRequest: ${(err as Error).message}`, 'malformed_request');
  }
  checkDescriptiveStrings(message, limits.maxStringBytes ?? DEFAULT_MAX_STRING_BYTES);
  const req: InferRequest = { modelName: model, inputs: [] };
  if (version !== undefined) req.modelVersion = version;
  if (message.id) req.id = message.id;
  const params = toParameters(message.parameters, 'request');
  checkServingParameters(params);
  if (params !== undefined) req.parameters = params;

  const inputs = message.inputs ?? [];
  if (inputs.length === 0) throw failRequest(`request has no 'inputs'; a request needs at least one input`, 'malformed_request');
  const raw = message.raw_input_contents ?? [];
  if (raw.length > 0 && raw.length !== inputs.length) {
    throw failRequest(
      `the request has ${raw.length} raw_input_contents for ${inputs.length} inputs; give one per input, in the order of 'inputs'`,
      'raw_contents_mismatch',
    );
  }

  let total = 0;
  inputs.forEach((input, i) => {
    if (!input.name) throw failRequest(`inputs[${i}]: 'name' must be a non-empty string`, 'malformed_request');
    const where = `input '${input.name}'`;
    const datatype = toDatatype(input.datatype, where);
    const shape = toShape(input.shape, where);
    const count = elementCount(shape);
    total += count;
    if (total > limits.maxTensorElements) {
      throw new InferError(
        'PAYLOAD_TOO_LARGE',
        `${where}: shape ${formatShape(shape)} brings the request to ${total} elements, over the limit --max-tensor-elements = ${limits.maxTensorElements}`,
        'too_many_elements',
      );
    }
    const tensorParams = toParameters(input.parameters, where);
    rejectSharedMemory(tensorParams, where);
    const hasContents = Object.prototype.hasOwnProperty.call(input, 'contents') && input.contents != null;
    let data: TensorData;
    if (raw.length > 0) {
      if (hasContents && hasElements(input.contents!)) {
        throw failRequest(`${where}: has contents although the request carries raw_input_contents; give every input's data one way`, 'data_and_raw');
      }
      data = blobToTensorData(raw[i], where, datatype, shape, failRequest);
    } else {
      if (!hasContents) {
        throw failRequest(`${where}: no data: give raw_input_contents (one per input) or the input's contents`, 'malformed_request');
      }
      data = contentsToTensorData(input.contents!, where, datatype, shape);
    }
    const tensor: Tensor = { name: input.name, datatype, shape, data };
    if (tensorParams !== undefined) tensor.parameters = tensorParams;
    req.inputs.push(tensor);
  });

  const outputs = message.outputs ?? [];
  if (outputs.length > 0) {
    req.outputs = outputs.map((o, i): RequestedOutput => {
      if (!o.name) throw failRequest(`outputs[${i}]: 'name' must be a non-empty string`, 'malformed_request');
      const where = `output '${o.name}'`;
      const out: RequestedOutput = { name: o.name };
      const outParams = toParameters(o.parameters, where);
      rejectSharedMemory(outParams, where);
      if (outParams !== undefined) out.parameters = outParams;
      return out;
    });
  }
  if (meta !== undefined) validateInferRequest(req, meta);
  return req;
}

function toDatatype(value: string, where: string): Datatype {
  if (!value) throw failRequest(`${where}: missing 'datatype'`, 'malformed_request');
  if (!isDatatype(value)) {
    throw failRequest(
      `${where}: unknown datatype '${value}'; expected one of BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, FP32, FP64, BF16, BYTES`,
      'unknown_datatype',
    );
  }
  return value;
}

function toShape(dims: readonly Int64Value[] | undefined, where: string): number[] {
  return (dims ?? []).map((d, i) => {
    const n = Number(int64ToBigInt(d, false));
    if (!Number.isSafeInteger(n) || n < 0) throw failRequest(`${where}: shape dim ${i} must be a non-negative integer, got ${n}`, 'bad_shape');
    return n;
  });
}

function hasElements(contents: ContentsMessage): boolean {
  return CONTENT_FIELDS.some((f) => (contents[f]?.length ?? 0) > 0);
}

/** A tensor's typed contents into typed storage, checked against its datatype and shape. */
function contentsToTensorData(contents: ContentsMessage, where: string, datatype: Datatype, shape: readonly number[]): TensorData {
  const field = CONTENT_FIELD_OF[datatype];
  if (field === undefined) {
    throw failRequest(`${where}: ${datatype} has no typed contents field; send its data in raw_input_contents`, 'raw_only_datatype');
  }
  for (const other of CONTENT_FIELDS) {
    if (other !== field && (contents[other]?.length ?? 0) > 0) {
      throw failRequest(`${where}: datatype ${datatype} takes its elements in ${field}, got ${other}`, 'contents_mismatch');
    }
  }
  const values = contents[field] ?? [];
  const count = elementCount(shape);
  if (values.length !== count) {
    throw failRequest(`${where}: shape ${formatShape(shape)} needs ${count} elements, ${field} has ${values.length}`, 'element_count_mismatch');
  }
  switch (datatype) {
    case 'BOOL':
      return Uint8Array.from(values as boolean[], (v) => (v ? 1 : 0));
    case 'INT64':
      return BigInt64Array.from(values as Int64Value[], (v) => int64ToBigInt(v, false));
    case 'UINT64':
      return BigUint64Array.from(values as Int64Value[], (v) => int64ToBigInt(v, true));
    case 'FP32':
      return Float32Array.from(values as number[]);
    case 'FP64':
      return Float64Array.from(values as number[]);
    case 'BYTES':
      return (values as Uint8Array[]).slice();
    case 'INT32':
      return Int32Array.from(values as number[]);
    case 'UINT32':
      return Uint32Array.from(values as number[]);
    default: {
      const [min, max] = NARROW_RANGE[datatype]!;
      const numbers = values as number[];
      for (let i = 0; i < numbers.length; i++) {
        const x = numbers[i];
        if (x < min || x > max) throw failRequest(`${where}: element ${i}: value ${x} is out of range for ${datatype} [${min}, ${max}]`, 'out_of_range');
      }
      const Ctor = { INT8: Int8Array, INT16: Int16Array, UINT8: Uint8Array, UINT16: Uint16Array }[datatype as 'INT8' | 'INT16' | 'UINT8' | 'UINT16'];
      return Ctor.from(numbers);
    }
  }
}

function int64ToBigInt(value: Int64Value, unsigned: boolean): bigint {
  if (typeof value === 'number') return BigInt(value);
  const high = unsigned || value.unsigned ? BigInt(value.high >>> 0) : BigInt(value.high | 0);
  return (high << 32n) | BigInt(value.low >>> 0);
}

/** --max-string-bytes on what describes the request (id, names, datatypes, parameters); tensor contents are data. */
function checkDescriptiveStrings(message: RequestMessage, maxBytes: number): void {
  checkRequestStrings({
    id: message.id,
    parameters: message.parameters,
    inputs: (message.inputs ?? []).map((i) => ({ name: i.name, datatype: i.datatype, parameters: i.parameters })),
    outputs: message.outputs,
  }, maxBytes);
}

function toParameters(map: ParameterMap | undefined, where: string): Parameters | undefined {
  if (map === undefined) return undefined;
  const keys = Object.keys(map);
  if (keys.length === 0) return undefined;
  const out: Parameters = {};
  for (const key of keys) out[key] = parameterValue(map[key], key, where);
  return out;
}

function parameterValue(p: ParameterMessage | null, key: string, where: string): ParameterValue {
  // A map entry without its value message decodes to null (found by test/fuzz/grpc-infer).
  if (p == null) throw failRequest(`${where}: parameter '${key}' has no value`, 'bad_parameter');
  const has = (field: keyof ParameterMessage) => Object.prototype.hasOwnProperty.call(p, field);
  if (has('bool_param')) return p.bool_param!;
  if (has('string_param')) return p.string_param!;
  if (has('double_param')) return p.double_param!;
  const wide = has('int64_param') ? int64ToBigInt(p.int64_param!, false) : has('uint64_param') ? int64ToBigInt(p.uint64_param!, true) : undefined;
  if (wide === undefined) throw failRequest(`${where}: parameter '${key}' has no value`, 'bad_parameter');
  const n = Number(wide);
  if (!Number.isSafeInteger(n)) throw failRequest(`${where}: parameter '${key}' is ${wide}, beyond ±(2^53 - 1)`, 'bad_parameter');
  return n;
}

/** Triton's shared-memory extension is not offered; say so instead of ignoring the parameters. */
function rejectSharedMemory(params: Parameters | undefined, where: string): void {
  if (params !== undefined && 'shared_memory_region' in params) {
    throw new InferError('UNSUPPORTED', `${where}: shared memory (parameter shared_memory_region) is not supported`, 'shared_memory');
  }
}

// ---------------------------------------------------------------------------------------------------
// Responses

/** The response as a serialized ModelInferResponse, every output in raw_output_contents. */
export function encodeGrpcInferResponse(response: InferResponse): WireAnswer {
  const message = {
    model_name: response.modelName,
    model_version: response.modelVersion,
    ...(response.id !== undefined ? { id: response.id } : {}),
    ...(response.parameters !== undefined ? { parameters: toParameterMap(response.parameters) } : {}),
    outputs: response.outputs.map((t) => ({
      name: t.name,
      datatype: t.datatype,
      shape: t.shape,
      ...(t.parameters !== undefined ? { parameters: toParameterMap(t.parameters) } : {}),
    })),
    raw_output_contents: response.outputs.map((t) => tensorToBlob(t)),
  };
  return {
    status: 200,
    contentType: GRPC_MESSAGE_CONTENT_TYPE,
    body: inferMessageTypes().response.encode(message).finish(),
    modelVersion: response.modelVersion,
  };
}

function toParameterMap(params: Parameters): Record<string, ParameterMessage> {
  const map: Record<string, ParameterMessage> = {};
  for (const [key, value] of Object.entries(params)) {
    if (typeof value === 'boolean') map[key] = { bool_param: value };
    else if (typeof value === 'string') map[key] = { string_param: value };
    else map[key] = Number.isSafeInteger(value) ? { int64_param: value } : { double_param: value };
  }
  return map;
}
