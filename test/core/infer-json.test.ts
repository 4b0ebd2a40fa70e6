import { describe, expect, it } from 'vitest';
import type { Datatype, TensorData } from '../../core/datatypes.js';
import { InferError, type ErrorCode } from '../../core/errors.js';
import { numberToBf16, numberToFp16 } from '../../core/half-float.js';
import {
  DEFAULT_INFER_LIMITS,
  DEFAULT_MAX_TENSOR_ELEMENTS,
  inferRequestToJson,
  inferResponseToJson,
  parseJsonInferRequest,
  parseJsonInferResponse,
  parseJsonWithNonFinite,
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
    { label: 'INT64 beyond 2^53', body: input0({ datatype: 'INT64', shape: [1], data: [2 ** 53] }), message: 'value 9007199254740992 is beyond ±(2^53 - 1), which a JSON number cannot carry exactly for INT64' },
    { label: 'UINT64 negative', body: input0({ datatype: 'UINT64', shape: [1], data: [-1] }), message: 'value -1 is out of range for UINT64 (negative)' },
    { label: 'UINT64 beyond 2^53', body: input0({ datatype: 'UINT64', shape: [1], data: [2 ** 60] }), message: 'binary tensor extension' },
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

/** One [2,2] tensor per datatype, with the edge values JSON can carry exactly. */
function sampleTensors(): Tensor[] {
  const enc = new TextEncoder();
  const t = (datatype: Datatype, data: TensorData): Tensor => ({ name: `T_${datatype}`, datatype, shape: [2, 2], data });
  return [
    t('BOOL', new Uint8Array([1, 0, 0, 1])),
    t('UINT8', new Uint8Array([0, 255, 7, 128])),
    t('UINT16', new Uint16Array([0, 65535, 1, 300])),
    t('UINT32', new Uint32Array([0, 4294967295, 1, 65536])),
    t('UINT64', new BigUint64Array([0n, 2n ** 53n - 1n, 5n, 42n])),
    t('INT8', new Int8Array([-128, 127, 0, -1])),
    t('INT16', new Int16Array([-32768, 32767, 0, -1])),
    t('INT32', new Int32Array([-2147483648, 2147483647, 0, -1])),
    t('INT64', new BigInt64Array([-(2n ** 53n - 1n), 2n ** 53n - 1n, 0n, -5n])),
    t('FP16', new Uint16Array([1.5, -2, 65504, 2 ** -24].map(numberToFp16))),
    t('FP32', new Float32Array([1.5, Math.fround(-0.1), Math.fround(3.4e38), Math.fround(1e-40)])),
    t('FP64', new Float64Array([Math.PI, -1e308, 5e-324, 0])),
    t('BF16', new Uint16Array([1, -0.5, 3e38, 1e-38].map(numberToBf16))),
    t('BYTES', ['hello', '', 'ünïcödé ✓', 'a\u0000b'].map((s) => enc.encode(s))),
  ];
}

/** Storage in a comparable form: BYTES elements as plain arrays (Buffer vs Uint8Array). */
function comparable(data: TensorData): unknown {
  return Array.isArray(data) ? data.map((b) => Array.from(b)) : data;
}

const viaText = (o: object): unknown => JSON.parse(JSON.stringify(o));

describe('JSON round trips', () => {
  it.each(sampleTensors().map((t) => [t.datatype, t] as const))('request %s: inferRequestToJson → parseJsonInferRequest', (_dt, tensor) => {
    const req: InferRequest = {
      modelName: 'm',
      id: 'abc',
      parameters: { priority: 1 },
      inputs: [tensor],
      outputs: [{ name: 'OUT', binaryData: true }],
      binaryDataOutput: false,
    };
    const back = parseJsonInferRequest(viaText(inferRequestToJson(req)), 'm', undefined, undefined, DEFAULT_INFER_LIMITS);
    expect(back.id).toBe('abc');
    expect(back.parameters).toEqual({ priority: 1 });
    expect(back.binaryDataOutput).toBe(false);
    expect(back.outputs).toEqual([{ name: 'OUT', binaryData: true }]);
    expect(back.inputs[0].datatype).toBe(tensor.datatype);
    expect(back.inputs[0].shape).toEqual([2, 2]);
    expect(comparable(back.inputs[0].data)).toEqual(comparable(tensor.data));
  });

  it.each(sampleTensors().map((t) => [t.datatype, t] as const))('response %s: inferResponseToJson → parseJsonInferResponse', (_dt, tensor) => {
    const res: InferResponse = { modelName: 'm', modelVersion: '3', id: 'abc', outputs: [tensor] };
    const back = parseJsonInferResponse(viaText(inferResponseToJson(res)));
    expect(back.modelName).toBe('m');
    expect(back.modelVersion).toBe('3');
    expect(back.id).toBe('abc');
    expect(back.outputs[0].datatype).toBe(tensor.datatype);
    expect(comparable(back.outputs[0].data)).toEqual(comparable(tensor.data));
  });

  it('writes BOOL as true/false, 64-bit as numbers, halves and BYTES decoded', () => {
    const json = inferResponseToJson({ modelName: 'm', modelVersion: '1', outputs: sampleTensors() }) as any;
    const data = (dt: string) => json.outputs.find((o: any) => o.datatype === dt).data;
    expect(data('BOOL')).toEqual([true, false, false, true]);
    expect(data('INT64')).toEqual([-(2 ** 53 - 1), 2 ** 53 - 1, 0, -5]);
    expect(data('FP16')).toEqual([1.5, -2, 65504, 2 ** -24]);
    expect(data('BF16')[0]).toBe(1);
    expect(data('BYTES')).toEqual(['hello', '', 'ünïcödé ✓', 'a\u0000b']);
    expect(json).toMatchObject({ model_name: 'm', model_version: '1' });
    expect(json).not.toHaveProperty('id');
  });

  it('writes non-finite floats as "NaN"/"Infinity"/"-Infinity" strings and reads them back', () => {
    const res: InferResponse = {
      modelName: 'm',
      modelVersion: '1',
      outputs: [
        { name: 'A', datatype: 'FP32', shape: [3], data: new Float32Array([NaN, Infinity, -Infinity]) },
        { name: 'B', datatype: 'FP16', shape: [2], data: new Uint16Array([0x7e00, 0xfc00]) },
      ],
    };
    const json = viaText(inferResponseToJson(res)) as any;
    expect(json.outputs[0].data).toEqual(['NaN', 'Infinity', '-Infinity']);
    expect(json.outputs[1].data).toEqual(['NaN', '-Infinity']);
    const back = parseJsonInferResponse(json);
    const a = back.outputs[0].data as Float32Array;
    expect(a[0]).toBeNaN();
    expect(a[1]).toBe(Infinity);
    expect(back.outputs[1].data).toEqual(new Uint16Array([0x7e00, 0xfc00]));
  });

  it('INT64 outputs beyond 2^53 lose precision in JSON (documented caveat)', () => {
    const res: InferResponse = { modelName: 'm', modelVersion: '1', outputs: [{ name: 'A', datatype: 'INT64', shape: [1], data: new BigInt64Array([2n ** 60n + 1n]) }] };
    const json = inferResponseToJson(res) as any;
    expect(json.outputs[0].data[0]).toBe(2 ** 60);
    // A client reading such a response keeps what is left rather than failing.
    expect(parseJsonInferResponse(viaText(json)).outputs[0].data).toEqual(new BigInt64Array([2n ** 60n]));
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
