import { describe, expect, it } from 'vitest';
import type { Datatype, TensorData } from '../../core/datatypes.js';
import { InferError, type ErrorCode } from '../../core/errors.js';
import { bf16ToNumber, fp16ToNumber, numberToBf16, numberToFp16 } from '../../core/half-float.js';
import { parseBinaryInferRequest } from '../../core/infer-binary.js';
import {
  DEFAULT_INFER_LIMITS,
  DEFAULT_MAX_TENSOR_ELEMENTS,
  inferRequestToJson,
  inferRequestToJsonText,
  inferResponseToJson,
  inferResponseToJsonText,
  parseJsonInferRequest,
  parseJsonDocument,
  parseJsonInferResponse,
  parseJsonWithNonFinite,
  tensorDataToJsonText,
} from '../../core/infer-json.js';
import type { ModelMetadata } from '../../core/model-metadata.js';
import type { InferRequest, InferResponse, Tensor } from '../../core/tensor.js';

const meta: ModelMetadata = {
  name: 'adder',
  versions: ['1'],
  platform: 'onnx',
  inputs: [
    { name: 'INPUT0', datatype: 'FP32', shape: [-1, 3] },
    { name: 'INPUT1', datatype: 'INT32', shape: [-1, 2] },
  ],
  outputs: [
    { name: 'OUTPUT0', datatype: 'FP32', shape: [-1, 3] },
    { name: 'OUTPUT1', datatype: 'INT32', shape: [-1, 2] },
  ],
  maxBatchSize: 4,
};

const limits = { maxTensorElements: 1000 };

/** A valid body for `meta`; `patch` edits a deep copy. */
function body(patch: (b: any) => void = () => {}): any {
  const b: any = {
    id: 'r1',
    inputs: [
      { name: 'INPUT0', datatype: 'FP32', shape: [2, 3], data: [1, 2, 3, 4, 5, 6] },
      { name: 'INPUT1', datatype: 'INT32', shape: [2, 2], data: [[1, 2], [3, 4]] },
    ],
  };
  patch(b);
  return b;
}

/** Replaces INPUT0 with a one-off tensor (parse errors come before validation against `meta`). */
const input0 = (tensor: Record<string, unknown>) => body((b) => (b.inputs[0] = { name: 'INPUT0', ...tensor }));

function failure(fn: () => unknown): InferError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InferError);
    return err as InferError;
  }
  throw new Error('expected a throw');
}

describe('parseJsonInferRequest', () => {
  it('parses a good request, flat and nested data alike', () => {
    const req = parseJsonInferRequest(body(), 'adder', '1', meta, limits);
    expect(req.modelName).toBe('adder');
    expect(req.modelVersion).toBe('1');
    expect(req.id).toBe('r1');
    expect(req.inputs[0]).toEqual({ name: 'INPUT0', datatype: 'FP32', shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) });
    expect(req.inputs[1].data).toEqual(new Int32Array([1, 2, 3, 4]));
    expect(req.outputs).toBeUndefined();
  });

  it('gives the same storage for flat and nested data, at any depth', () => {
    const flat = input0({ datatype: 'FP32', shape: [2, 2, 2], data: [1, 2, 3, 4, 5, 6, 7, 8] });
    const nested = input0({ datatype: 'FP32', shape: [2, 2, 2], data: [[[1, 2], [3, 4]], [[5, 6], [7, 8]]] });
    const a = parseJsonInferRequest(flat, 'adder', undefined, undefined, limits);
    const b = parseJsonInferRequest(nested, 'adder', undefined, undefined, limits);
    expect(b.inputs[0].data).toEqual(a.inputs[0].data);
    expect(a.inputs[0].data).toEqual(new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]));
  });

  it('handles empty tensors and scalars', () => {
    const zero = parseJsonInferRequest(input0({ datatype: 'FP32', shape: [2, 0], data: [[], []] }), 'm', undefined, undefined, limits);
    expect(zero.inputs[0].data).toEqual(new Float32Array(0));
    const empty = parseJsonInferRequest(input0({ datatype: 'FP32', shape: [0, 3], data: [] }), 'm', undefined, undefined, limits);
    expect(empty.inputs[0].data).toEqual(new Float32Array(0));
    const scalar = parseJsonInferRequest(input0({ datatype: 'INT8', shape: [], data: [-5] }), 'm', undefined, undefined, limits);
    expect(scalar.inputs[0].data).toEqual(new Int8Array([-5]));
  });

  it('lifts the binary-extension parameters into fields and keeps the rest', () => {
    const req = parseJsonInferRequest(
      body((b) => {
        b.parameters = { binary_data_output: true, priority: 2 };
        b.outputs = [
          { name: 'OUTPUT0', parameters: { binary_data: false, classification: 3 } },
          { name: 'OUTPUT1' },
        ];
      }),
      'adder',
      undefined,
      meta,
      limits,
    );
    expect(req.binaryDataOutput).toBe(true);
    expect(req.parameters).toEqual({ priority: 2 });
    expect(req.outputs).toEqual([
      { name: 'OUTPUT0', binaryData: false, parameters: { classification: 3 } },
      { name: 'OUTPUT1' },
    ]);
  });

  it('skips validation when no metadata is given', () => {
    const req = parseJsonInferRequest(input0({ name: 'ANYTHING', datatype: 'BOOL', shape: [1], data: [true] }), 'm', undefined, undefined, limits);
    expect(req.inputs[0].name).toBe('ANYTHING');
  });

  it('accepts "NaN"/"Infinity"/"-Infinity" strings for float datatypes only', () => {
    const req = parseJsonInferRequest(input0({ datatype: 'FP32', shape: [3], data: ['NaN', 'Infinity', '-Infinity'] }), 'm', undefined, undefined, limits);
    const data = req.inputs[0].data as Float32Array;
    expect(data[0]).toBeNaN();
    expect([data[1], data[2]]).toEqual([Infinity, -Infinity]);
    const half = parseJsonInferRequest(input0({ datatype: 'FP16', shape: [1], data: ['-Infinity'] }), 'm', undefined, undefined, limits);
    expect(half.inputs[0].data).toEqual(new Uint16Array([0xfc00]));
  });

  it('accepts FP16/BF16 values up to their largest finite magnitude, rounding', () => {
    const req = parseJsonInferRequest(input0({ datatype: 'FP16', shape: [3], data: [65504, 65519, 0.1] }), 'm', undefined, undefined, limits);
    expect(req.inputs[0].data).toEqual(new Uint16Array([0x7bff, 0x7bff, 0x2e66]));
  });

  it('accepts 64-bit integers up to ±(2^53 - 1)', () => {
    const max = Number.MAX_SAFE_INTEGER;
    const req = parseJsonInferRequest(input0({ datatype: 'INT64', shape: [2], data: [max, -max] }), 'm', undefined, undefined, limits);
    expect(req.inputs[0].data).toEqual(new BigInt64Array([BigInt(max), BigInt(-max)]));
  });

  it('the default element limit is 16 Mi', () => {
    expect(DEFAULT_MAX_TENSOR_ELEMENTS).toBe(16 * 1024 * 1024);
    expect(DEFAULT_INFER_LIMITS.maxTensorElements).toBe(DEFAULT_MAX_TENSOR_ELEMENTS);
  });

  interface Bad {
    label: string;
    body: unknown;
    code?: ErrorCode;
    message: string;
    limits?: { maxTensorElements: number };
  }
  const bad: Bad[] = [
    { label: 'null body', body: null, message: 'request body must be a JSON object, got null' },
    { label: 'array body', body: [1], message: 'request body must be a JSON object, got an array' },
    { label: 'string body', body: 'hi', message: 'request body must be a JSON object, got string "hi"' },
    { label: 'no inputs', body: body((b) => delete b.inputs), message: "request has no 'inputs'" },
    { label: 'inputs not an array', body: body((b) => (b.inputs = {})), message: "'inputs' must be an array, got an object" },
    { label: 'inputs empty', body: body((b) => (b.inputs = [])), message: "'inputs' is empty" },
    { label: 'input not an object', body: body((b) => (b.inputs[0] = 5)), message: 'inputs[0] must be an object, got number 5' },
    { label: 'input without name', body: body((b) => delete b.inputs[0].name), message: "inputs[0]: 'name' must be a non-empty string, got nothing" },
    { label: 'input name a number', body: body((b) => (b.inputs[1].name = 7)), message: "inputs[1]: 'name' must be a non-empty string, got number 7" },
    { label: 'no datatype', body: body((b) => delete b.inputs[0].datatype), message: "input 'INPUT0': missing 'datatype'" },
    { label: 'unknown datatype', body: body((b) => (b.inputs[0].datatype = 'FP8')), message: "input 'INPUT0': unknown datatype 'FP8'; expected one of BOOL" },
    { label: 'datatype lower case', body: body((b) => (b.inputs[0].datatype = 'fp32')), message: "unknown datatype 'fp32'" },
    { label: 'no shape', body: body((b) => delete b.inputs[0].shape), message: "input 'INPUT0': missing 'shape'" },
    { label: 'shape not an array', body: body((b) => (b.inputs[0].shape = '2,3')), message: "input 'INPUT0': 'shape' must be an array, got string \"2,3\"" },
    { label: 'negative dim', body: body((b) => (b.inputs[0].shape = [-1, 3])), message: "input 'INPUT0': shape dim 0 must be a non-negative integer, got number -1" },
    { label: 'fractional dim', body: body((b) => (b.inputs[0].shape = [2, 1.5])), message: 'shape dim 1 must be a non-negative integer, got number 1.5' },
    { label: 'string dim', body: body((b) => (b.inputs[0].shape = ['2', 3])), message: 'shape dim 0 must be a non-negative integer, got string "2"' },
    { label: 'no data', body: body((b) => delete b.inputs[0].data), message: "input 'INPUT0': missing 'data'" },
    { label: 'data not an array', body: body((b) => (b.inputs[0].data = 1)), message: "input 'INPUT0': 'data' must be an array, got number 1" },
    { label: 'flat count short', body: body((b) => b.inputs[0].data.pop()), message: "input 'INPUT0': shape [2,3] needs 6 elements, 'data' has 5" },
    { label: 'nested row short', body: body((b) => (b.inputs[1].data = [[1, 2], [3]])), message: "input 'INPUT1': data[1] has 1 entries, shape [2,2] needs 2 at depth 1" },
    { label: 'nested rows too many', body: body((b) => (b.inputs[1].data = [[1, 2], [3, 4], [5, 6]])), message: 'data has 3 entries, shape [2,2] needs 2 at depth 0' },
    { label: 'ragged nesting', body: body((b) => (b.inputs[1].data = [[1, 2], 3])), message: "input 'INPUT1': data[1] is not an array; nested data must be rectangular" },
    { label: 'nested deeper than shape', body: body((b) => (b.inputs[1].data = [[[1], [2]], [[3], [4]]])), message: 'data[0][0] nests deeper than shape [2,2]' },
    { label: 'flat then nested', body: body((b) => (b.inputs[1].data = [1, [2], 3, 4])), message: "input 'INPUT1': data[1] is an array but data[0] is not" },
    { label: 'string for FP32', body: body((b) => (b.inputs[0].data[1] = 'x')), message: "input 'INPUT0': element 1: expected a number for FP32, got string \"x\"" },
    { label: 'null element', body: body((b) => (b.inputs[0].data[2] = null)), message: 'element 2: expected a number for FP32, got null' },
    { label: 'numeric string for INT32', body: body((b) => (b.inputs[1].data = ['5', 1, 2, 3])), message: "input 'INPUT1': element 0: expected a number for INT32, got string \"5\"" },
    { label: 'fraction for INT32', body: body((b) => (b.inputs[1].data = [[1, 2.5], [3, 4]])), message: "input 'INPUT1': element 1: expected an integer for INT32, got 2.5" },
    { label: 'UINT8 256', body: input0({ datatype: 'UINT8', shape: [2], data: [1, 256] }), message: 'element 1: value 256 is out of range for UINT8 [0, 255]' },
    { label: 'UINT32 -1', body: input0({ datatype: 'UINT32', shape: [1], data: [-1] }), message: 'value -1 is out of range for UINT32 [0, 4294967295]' },
    { label: 'INT8 -129', body: input0({ datatype: 'INT8', shape: [1], data: [-129] }), message: 'value -129 is out of range for INT8 [-128, 127]' },
    { label: 'INT32 2^31', body: input0({ datatype: 'INT32', shape: [1], data: [2 ** 31] }), message: 'value 2147483648 is out of range for INT32' },
    { label: 'FP32 overflow', body: input0({ datatype: 'FP32', shape: [1], data: [1e39] }), message: 'element 0: value 1e+39 overflows FP32' },
    { label: 'FP16 overflow', body: input0({ datatype: 'FP16', shape: [1], data: [70000] }), message: 'value 70000 overflows FP16 (largest finite magnitude 65504)' },
    { label: 'BF16 overflow', body: input0({ datatype: 'BF16', shape: [1], data: [-1e39] }), message: 'value -1e+39 overflows BF16' },
    // A body built in code has no JSON text to read a 64-bit value beyond 2^53 from (text: see '64-bit integers').
    { label: 'INT64 beyond 2^53 without JSON text', body: input0({ datatype: 'INT64', shape: [1], data: [2 ** 53] }), message: 'value 9007199254740992 is beyond ±(2^53 - 1) and its JSON text is not at hand, so INT64 cannot have it exactly' },
    { label: 'UINT64 negative', body: input0({ datatype: 'UINT64', shape: [1], data: [-1] }), message: 'value -1 is out of range for UINT64 (negative)' },
    { label: 'UINT64 beyond 2^53 without JSON text', body: input0({ datatype: 'UINT64', shape: [1], data: [2 ** 60] }), message: 'and its JSON text is not at hand, so UINT64 cannot have it exactly' },
    { label: 'BOOL as number', body: input0({ datatype: 'BOOL', shape: [2], data: [true, 1] }), message: 'element 1: expected true or false for BOOL, got number 1' },
    { label: 'BOOL as string', body: input0({ datatype: 'BOOL', shape: [1], data: ['true'] }), message: 'expected true or false for BOOL, got string "true"' },
    { label: 'BYTES as number', body: input0({ datatype: 'BYTES', shape: [1], data: [5] }), message: 'element 0: expected a string for BYTES, got number 5' },
    { label: 'other string for FP64', body: input0({ datatype: 'FP64', shape: [1], data: ['nan'] }), message: 'expected a number for FP64, got string "nan"' },
    { label: 'too many elements', body: input0({ datatype: 'FP32', shape: [4, 3], data: new Array(12).fill(0) }), limits: { maxTensorElements: 15 }, code: 'PAYLOAD_TOO_LARGE', message: 'over the limit --max-tensor-elements = 15' },
    { label: 'huge declared shape', body: input0({ datatype: 'FP32', shape: [100000, 100000], data: [] }), code: 'PAYLOAD_TOO_LARGE', message: 'brings the request to 10000000000 elements' },
    { label: 'binary_data_size in JSON', body: body((b) => (b.inputs[0].parameters = { binary_data_size: 24 })), message: "input 'INPUT0': parameter binary_data_size needs the binary tensor extension" },
    { label: 'parameters not an object', body: body((b) => (b.parameters = [1])), message: "request: 'parameters' must be an object, got an array" },
    { label: 'parameter value an object', body: body((b) => (b.parameters = { foo: {} })), message: "request: parameter 'foo' must be a boolean, number or string, got an object" },
    { label: 'binary_data_output not a bool', body: body((b) => (b.parameters = { binary_data_output: 'yes' })), message: 'parameter binary_data_output must be true or false, got string "yes"' },
    { label: 'id a number', body: body((b) => (b.id = 5)), message: "'id' must be a string, got number 5" },
    { label: 'outputs not an array', body: body((b) => (b.outputs = 'OUTPUT0')), message: "'outputs' must be an array" },
    { label: 'output without name', body: body((b) => (b.outputs = [{}])), message: "outputs[0]: 'name' must be a non-empty string" },
    { label: 'binary_data not a bool', body: body((b) => (b.outputs = [{ name: 'OUTPUT0', parameters: { binary_data: 1 } }])), message: "output 'OUTPUT0': parameter binary_data must be true or false, got number 1" },
    { label: 'shared memory', body: body((b) => (b.inputs[0].parameters = { shared_memory_region: 'r' })), code: 'UNSUPPORTED', message: 'shared memory (parameter shared_memory_region) is not supported' },
    // Parsed fine, refused by validation against the metadata.
    { label: 'unknown input', body: body((b) => (b.inputs[0].name = 'INPUTX')), message: "unknown input 'INPUTX' for model 'adder'" },
    { label: 'datatype differs from model', body: body((b) => (b.inputs[0].datatype = 'FP64')), message: "input 'INPUT0': expected datatype FP32, got FP64" },
    { label: 'fixed dim differs from model', body: body((b) => (b.inputs[0].shape = [3, 2])), message: "input 'INPUT0': dim 1 expected 3, got 2" },
    { label: 'batch too large', body: input0({ datatype: 'FP32', shape: [5, 3], data: new Array(15).fill(0) }), message: 'batch size 5 exceeds max_batch_size 4' },
    { label: 'missing input', body: body((b) => b.inputs.pop()), message: "missing input 'INPUT1' for model 'adder'" },
    { label: 'duplicate input', body: body((b) => b.inputs.push(b.inputs[0])), message: "input 'INPUT0' is given more than once" },
    { label: 'unknown output', body: body((b) => (b.outputs = [{ name: 'OUTPUT9' }])), message: "requested output 'OUTPUT9' is not an output of model 'adder'" },
    { label: 'duplicate output', body: body((b) => (b.outputs = [{ name: 'OUTPUT0' }, { name: 'OUTPUT0' }])), message: "output 'OUTPUT0' is requested more than once" },
  ];

  it('has a table of at least 30 bad requests', () => {
    expect(bad.length).toBeGreaterThanOrEqual(30);
  });

  it.each(bad)('rejects: $label', ({ body: b, code = 'INVALID_ARG', message, limits: l = limits }) => {
    const err = failure(() => parseJsonInferRequest(b, 'adder', undefined, meta, l));
    expect(err.code).toBe(code);
    expect(err.message).toContain(message);
  });
});

// ---------------------------------------------------------------------------------------------------
// Round trips

/** One [2,2] tensor per datatype, with its edge values: all of them travel exactly in JSON text. */
function sampleTensors(): Tensor[] {
  const enc = new TextEncoder();
  const t = (datatype: Datatype, data: TensorData): Tensor => ({ name: `T_${datatype}`, datatype, shape: [2, 2], data });
  return [
    t('BOOL', new Uint8Array([1, 0, 0, 1])),
    t('UINT8', new Uint8Array([0, 255, 7, 128])),
    t('UINT16', new Uint16Array([0, 65535, 1, 300])),
    t('UINT32', new Uint32Array([0, 4294967295, 1, 65536])),
    t('UINT64', new BigUint64Array([0n, 2n ** 64n - 1n, 2n ** 53n + 1n, 42n])),
    t('INT8', new Int8Array([-128, 127, 0, -1])),
    t('INT16', new Int16Array([-32768, 32767, 0, -1])),
    t('INT32', new Int32Array([-2147483648, 2147483647, 0, -1])),
    t('INT64', new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 2n ** 53n + 1n, -5n])),
    t('FP16', new Uint16Array([1.5, -0, 65504, 2 ** -24].map(numberToFp16))),
    t('FP32', new Float32Array([1.5, Math.fround(-0.1), -0, Math.fround(1e-40)])),
    t('FP64', new Float64Array([Math.PI, -1e308, 5e-324, -0])),
    t('BF16', new Uint16Array([1, -0.5, -0, 1e-38].map(numberToBf16))),
    t('BYTES', ['hello', '', 'ünïcödé ✓', 'a\u0000b'].map((s) => enc.encode(s))),
  ];
}

/** Storage in a comparable form: BYTES elements as plain arrays (Buffer vs Uint8Array). toEqual tells -0 from 0. */
function comparable(data: TensorData): unknown {
  return Array.isArray(data) ? data.map((b) => Array.from(b)) : data;
}

/** What a server or client does with a JSON body: parse it (Triton's bare tokens included), then decode. */
const requestFromText = (text: string, l = DEFAULT_INFER_LIMITS) => {
  const json = parseJsonDocument(text);
  return parseJsonInferRequest(json.value, 'm', undefined, undefined, l, json.text);
};
const responseFromText = (text: string) => {
  const json = parseJsonDocument(text);
  return parseJsonInferResponse(json.value, json.text);
};

describe('JSON round trips', () => {
  it.each(sampleTensors().map((t) => [t.datatype, t] as const))('request %s: inferRequestToJsonText → parseJsonInferRequest', (_dt, tensor) => {
    const req: InferRequest = {
      modelName: 'm',
      id: 'abc',
      parameters: { priority: 1 },
      inputs: [tensor],
      outputs: [{ name: 'OUT', binaryData: true }],
      binaryDataOutput: false,
    };
    const back = requestFromText(inferRequestToJsonText(req));
    expect(back.id).toBe('abc');
    expect(back.parameters).toEqual({ priority: 1 });
    expect(back.binaryDataOutput).toBe(false);
    expect(back.outputs).toEqual([{ name: 'OUT', binaryData: true }]);
    expect(back.inputs[0].datatype).toBe(tensor.datatype);
    expect(back.inputs[0].shape).toEqual([2, 2]);
    expect(comparable(back.inputs[0].data)).toEqual(comparable(tensor.data));
  });

  it.each(sampleTensors().map((t) => [t.datatype, t] as const))('response %s: inferResponseToJsonText → parseJsonInferResponse', (_dt, tensor) => {
    const res: InferResponse = { modelName: 'm', modelVersion: '3', id: 'abc', outputs: [tensor] };
    const back = responseFromText(inferResponseToJsonText(res));
    expect(back.modelName).toBe('m');
    expect(back.modelVersion).toBe('3');
    expect(back.id).toBe('abc');
    expect(back.outputs[0].datatype).toBe(tensor.datatype);
    expect(comparable(back.outputs[0].data)).toEqual(comparable(tensor.data));
  });

  it('writes BOOL as true/false, 64-bit as exact digits, -0 as -0.0, halves and BYTES decoded', () => {
    const text = inferResponseToJsonText({ modelName: 'm', modelVersion: '1', outputs: sampleTensors() });
    const data = (dt: string) => text.match(new RegExp(`"datatype":"${dt}","shape":\\[2,2\\],"data":(\\[[^\\]]*\\])`))?.[1];
    expect(data('BOOL')).toBe('[true,false,false,true]');
    expect(data('INT64')).toBe('[-9223372036854775808,9223372036854775807,9007199254740993,-5]');
    expect(data('UINT64')).toBe('[0,18446744073709551615,9007199254740993,42]');
    expect(data('FP16')).toBe('[1.5,-0.0,65504,5.960464477539063e-8]');
    expect(data('FP32')).toBe('[1.5,-0.10000000149011612,-0.0,9.99994610111476e-41]');
    expect(data('BF16')).toBe('[1,-0.5,-0.0,1.0010069081221042e-38]');
    expect(data('BYTES')).toBe('["hello","","ünïcödé ✓","a\\u0000b"]');
    expect(text.startsWith('{"model_name":"m","model_version":"1","outputs":[')).toBe(true);
    expect(text).not.toContain('"id"');
  });

  it('the JSON-value forms are what a parser makes of the text', () => {
    const res: InferResponse = { modelName: 'm', modelVersion: '1', outputs: [{ name: 'A', datatype: 'FP32', shape: [2], data: new Float32Array([NaN, 2]) }] };
    expect(inferResponseToJson(res)).toEqual({ model_name: 'm', model_version: '1', outputs: [{ name: 'A', datatype: 'FP32', shape: [2], data: ['NaN', 2] }] });
    const req: InferRequest = { modelName: 'm', inputs: [{ name: 'B', datatype: 'INT32', shape: [1], data: new Int32Array([7]) }] };
    expect(inferRequestToJson(req)).toEqual({ inputs: [{ name: 'B', datatype: 'INT32', shape: [1], data: [7] }] });
  });

  it('reads a response without model_version and with nested data', () => {
    const res = parseJsonInferResponse({ model_name: 'm', outputs: [{ name: 'O', datatype: 'INT32', shape: [2, 1], data: [[1], [2]] }] });
    expect(res.modelVersion).toBe('');
    expect(res.outputs[0].data).toEqual(new Int32Array([1, 2]));
  });

  it.each([
    [null, 'malformed inference response: body must be a JSON object'],
    [{ outputs: [] }, "'model_name' must be a string"],
    [{ model_name: 'm' }, "'outputs' must be an array"],
    [{ model_name: 'm', outputs: [{ name: 'O', datatype: 'X', shape: [1], data: [1] }] }, "output 'O': unknown datatype 'X'"],
    [{ model_name: 'm', outputs: [{ name: 'O', datatype: 'FP32', shape: [1], parameters: { binary_data_size: 4 } }] }, 'binary_data_size in a pure JSON body'],
  ])('a malformed response is an INTERNAL error: %j', (bad, message) => {
    const err = failure(() => parseJsonInferResponse(bad));
    expect(err.code).toBe('INTERNAL');
    expect(err.message).toContain(message);
  });
});

// ---------------------------------------------------------------------------------------------------
// 64-bit integers, -0, NaN and ±Infinity in JSON text (issue 13: as Triton reads and writes them)

/** A request body of one input, written as text so that its numbers are exactly the given literals. */
const oneInput = (datatype: string, literals: string, shape = `[${literals.split(',').length}]`) =>
  `{"inputs":[{"name":"X","datatype":"${datatype}","shape":${shape},"data":[${literals}]}]}`;

describe('64-bit integers in JSON text', () => {
  it.each([
    ['INT64', 'max', '9223372036854775807', 2n ** 63n - 1n],
    ['INT64', 'min', '-9223372036854775808', -(2n ** 63n)],
    ['INT64', '2^53 + 1', '9007199254740993', 2n ** 53n + 1n],
    ['INT64', '-(2^53 + 1)', '-9007199254740993', -(2n ** 53n) - 1n],
    ['INT64', '2^53 - 1 (the last a double holds)', '9007199254740991', 2n ** 53n - 1n],
    ['UINT64', 'max', '18446744073709551615', 2n ** 64n - 1n],
    ['UINT64', '2^63', '9223372036854775808', 2n ** 63n],
    ['UINT64', '2^53 + 1', '9007199254740993', 2n ** 53n + 1n],
  ] as const)('reads %s %s exactly', (datatype, _label, literal, value) => {
    const req = requestFromText(oneInput(datatype, `${literal},1`));
    const Storage = datatype === 'INT64' ? BigInt64Array : BigUint64Array;
    expect(req.inputs[0].data).toEqual(new Storage([value, 1n]));
  });

  it.each([
    ['INT64', '9223372036854775808', 'out_of_range', "input 'X': element 1: value 9223372036854775808 is out of range for INT64 [-9223372036854775808, 9223372036854775807]"],
    ['INT64', '-9223372036854775809', 'out_of_range', "input 'X': element 1: value -9223372036854775809 is out of range for INT64 [-9223372036854775808, 9223372036854775807]"],
    ['UINT64', '18446744073709551616', 'out_of_range', "input 'X': element 1: value 18446744073709551616 is out of range for UINT64 [0, 18446744073709551615]"],
    ['UINT64', '-1', 'out_of_range', "input 'X': element 1: value -1 is out of range for UINT64 (negative)"],
    ['UINT64', '-9007199254740993', 'out_of_range', "input 'X': element 1: value -9007199254740993 is out of range for UINT64 (negative)"],
    ['INT64', '1e19', 'bad_element', "input 'X': element 1: expected an integer for INT64, got 1e19; beyond ±(2^53 - 1) only plain integer digits are exact"],
    ['UINT64', '9007199254740993.0', 'bad_element', "input 'X': element 1: expected an integer for UINT64, got 9007199254740993.0; beyond ±(2^53 - 1) only plain integer digits are exact"],
    ['INT64', '1.5', 'bad_element', "input 'X': element 1: expected an integer for INT64, got 1.5"],
    ['INT64', 'NaN', 'bad_element', `input 'X': element 1: expected a number for INT64, got string "NaN"`],
  ] as const)('refuses %s %s with 400, naming the input and the element', (datatype, literal, reason, message) => {
    const err = failure(() => requestFromText(oneInput(datatype, `0,${literal}`)));
    expect(err.code).toBe('INVALID_ARG');
    expect(err.reason).toBe(reason);
    expect(err.message).toBe(message);
  });

  it('round-trips the extremes byte for byte: JSON text → tensor → JSON text', () => {
    const text = '{"inputs":['
      + '{"name":"I","datatype":"INT64","shape":[6],"data":[9223372036854775807,-9223372036854775808,9007199254740993,-9007199254740993,0,-1]},'
      + '{"name":"U","datatype":"UINT64","shape":[4],"data":[18446744073709551615,9223372036854775808,9007199254740993,0]}]}';
    expect(inferRequestToJsonText(requestFromText(text))).toBe(text);
    const response = text.replace('{"inputs":', '{"model_name":"m","model_version":"1","outputs":');
    expect(inferResponseToJsonText(responseFromText(response))).toBe(response);
  });

  it('finds the literals in nested data, pretty-printed text, escaped keys and after other inputs', () => {
    const text = `{
      "id": "x",
      "inputs": [
        { "name": "F", "datatype": "FP32", "shape": [1], "data": [ 1.5 ] },
        { "name": "S", "datatype": "BYTES", "shape": [2], "data": [ "[9223372036854775807]", "\\"]" ] },
        { "name": "I", "shape": [2, 2], "datatype": "INT64",
          "d\\u0061ta": [ [ 9223372036854775807 , 1 ] ,
                          [ 2 , -9223372036854775808 ] ] }
      ]
    }`;
    const req = requestFromText(text);
    expect(req.inputs[2].data).toEqual(new BigInt64Array([2n ** 63n - 1n, 1n, 2n, -(2n ** 63n)]));
  });

  it('takes the last of repeated keys, as JSON.parse does', () => {
    const text = '{"inputs":[{"name":"I","datatype":"UINT64","shape":[1],"data":[9007199254740995],"data":[18446744073709551615]}],'
      + '"inputs":[{"name":"I","datatype":"UINT64","shape":[2],"data":[1,2],"data":[9007199254740993,9007199254740995]}]}';
    expect(requestFromText(text).inputs[0].data).toEqual(new BigUint64Array([2n ** 53n + 1n, 2n ** 53n + 3n]));
  });

  it('reads them exactly from the JSON header of a binary-extension body too', () => {
    const header = oneInput('INT64', '9223372036854775807,-9223372036854775808');
    const req = parseBinaryInferRequest(Buffer.from(header), Buffer.byteLength(header), 'm', undefined, undefined, DEFAULT_INFER_LIMITS);
    expect(req.inputs[0].data).toEqual(new BigInt64Array([2n ** 63n - 1n, -(2n ** 63n)]));
  });

  it('a body decoded without the text it was parsed from keeps the old refusal (request) or the rounded value (response)', () => {
    const parsed = parseJsonWithNonFinite(oneInput('INT64', '9007199254740993')); // the value alone, no text
    expect(failure(() => parseJsonInferRequest(parsed, 'm', undefined, undefined, limits)).message)
      .toBe("input 'X': element 0: value 9007199254740992 is beyond ±(2^53 - 1) and its JSON text is not at hand, so INT64 cannot have it exactly");
    // A response from a server that wrote it rounded has lost that precision already: keep the rest.
    const res = parseJsonInferResponse({ model_name: 'm', outputs: [{ name: 'A', datatype: 'INT64', shape: [1], data: [2 ** 60] }] });
    expect(res.outputs[0].data).toEqual(new BigInt64Array([2n ** 60n]));
    expect(failure(() => parseJsonInferResponse({ model_name: 'm', outputs: [{ name: 'A', datatype: 'INT64', shape: [1], data: [2 ** 63] }] })).message)
      .toContain('value 9223372036854775808 is out of range for INT64');
  });

  it('writes INT64 and UINT64 storage as its own digits', () => {
    expect(tensorDataToJsonText('INT64', new BigInt64Array([2n ** 63n - 1n, -(2n ** 63n), 2n ** 53n + 1n]))).toBe('[9223372036854775807,-9223372036854775808,9007199254740993]');
    expect(tensorDataToJsonText('UINT64', new BigUint64Array([2n ** 64n - 1n]))).toBe('[18446744073709551615]');
    expect(tensorDataToJsonText('INT64', new BigInt64Array(0))).toBe('[]');
  });
});

describe('-0, NaN and ±Infinity in JSON text', () => {
  const FLOATS = ['FP16', 'BF16', 'FP32', 'FP64'] as const;
  /** A float element's value as the decoder stored it. */
  const decoded = (datatype: string, data: TensorData): number[] => {
    const values = [...(data as Float32Array | Float64Array | Uint16Array)];
    if (datatype === 'FP16') return values.map(fp16ToNumber);
    if (datatype === 'BF16') return values.map(bf16ToNumber);
    return values;
  };

  it.each(FLOATS)('%s: reads -0.0, -0, bare NaN, Infinity and -Infinity, and their strings', (datatype) => {
    const req = requestFromText(oneInput(datatype, '-0.0,-0,NaN,Infinity,-Infinity,"NaN","Infinity","-Infinity",0'));
    const values = decoded(datatype, req.inputs[0].data);
    expect(values).toEqual([-0, -0, NaN, Infinity, -Infinity, NaN, Infinity, -Infinity, 0]);
    expect(Object.is(values[0], -0) && Object.is(values[1], -0) && Object.is(values[8], 0)).toBe(true);
  });

  it.each(FLOATS)('%s: writes -0 as -0.0 and NaN, Infinity, -Infinity as bare tokens, as Triton does', (datatype) => {
    const values = [-0, 0, NaN, Infinity, -Infinity, 0.5];
    const storage = datatype === 'FP16' ? new Uint16Array(values.map(numberToFp16))
      : datatype === 'BF16' ? new Uint16Array(values.map(numberToBf16))
      : datatype === 'FP32' ? new Float32Array(values) : new Float64Array(values);
    expect(tensorDataToJsonText(datatype, storage)).toBe('[-0.0,0,NaN,Infinity,-Infinity,0.5]');
  });

  it.each(FLOATS)('%s: round-trips byte for byte: JSON text → tensor → JSON text', (datatype) => {
    const text = oneInput(datatype, '-0.0,NaN,Infinity,-Infinity,0.5,-2');
    expect(inferRequestToJsonText(requestFromText(text))).toBe(text);
    const response = text.replace('{"inputs":', '{"model_name":"m","model_version":"1","outputs":');
    expect(inferResponseToJsonText(responseFromText(response))).toBe(response);
  });

  it('keeps the sign bit of -0 and the NaN bit pattern JSON can name', () => {
    expect(requestFromText(oneInput('FP16', '-0.0,NaN')).inputs[0].data).toEqual(new Uint16Array([0x8000, 0x7e00]));
    expect(requestFromText(oneInput('BF16', '-0.0,-Infinity')).inputs[0].data).toEqual(new Uint16Array([0x8000, 0xff80]));
    const f32 = requestFromText(oneInput('FP32', '-0.0,NaN')).inputs[0].data as Float32Array;
    expect([...new Uint32Array(f32.buffer)]).toEqual([0x80000000, 0x7fc00000]);
  });

  it('refuses bare tokens for integer datatypes', () => {
    expect(failure(() => requestFromText(oneInput('INT32', 'Infinity'))).message).toBe(`input 'X': element 0: expected a number for INT32, got string "Infinity"`);
  });
});

describe('parseJsonWithNonFinite', () => {
  it("reads Triton's bare NaN/Infinity tokens, leaving strings alone", () => {
    const text = '{"data":[NaN,-Infinity, Infinity,1],"s":"NaN \\" Infinity"}';
    expect(parseJsonWithNonFinite(text)).toEqual({ data: ['NaN', '-Infinity', 'Infinity', 1], s: 'NaN " Infinity' });
  });

  it('parses ordinary JSON and still rejects broken JSON', () => {
    expect(parseJsonWithNonFinite('{"a":1}')).toEqual({ a: 1 });
    expect(() => parseJsonWithNonFinite('{"a":NaN')).toThrow(SyntaxError);
    expect(() => parseJsonWithNonFinite('{"a":}')).toThrow(SyntaxError);
  });
});
