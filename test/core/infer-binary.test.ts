import { describe, expect, it } from 'vitest';
import type { Datatype, TensorData } from '../../core/datatypes.js';
import { InferError, type ErrorCode } from '../../core/errors.js';
import { numberToBf16, numberToFp16 } from '../../core/half-float.js';
import { BINARY_CONTENT_TYPE, JSON_CONTENT_TYPE } from '../../core/http-headers.js';
import {
  blobToTensorData,
  encodeInferRequest,
  encodeInferResponse,
  parseBinaryInferRequest,
  parseBinaryInferResponse,
  parseInferenceHeaderLength,
  tensorToBlob,
} from '../../core/infer-binary.js';
import { DEFAULT_INFER_LIMITS, failRequest, parseJsonWithNonFinite } from '../../core/infer-json.js';
import type { ModelMetadata } from '../../core/model-metadata.js';
import type { InferRequest, InferResponse, Tensor } from '../../core/tensor.js';

const meta: ModelMetadata = {
  name: 'mixed',
  versions: ['1'],
  platform: 'onnx',
  inputs: [
    { name: 'INPUT0', datatype: 'FP32', shape: [-1, 3] },
    { name: 'INPUT1', datatype: 'INT32', shape: [-1, 2] },
    { name: 'TEXT', datatype: 'BYTES', shape: [-1, 1] },
  ],
  outputs: [
    { name: 'OUTPUT0', datatype: 'FP32', shape: [-1, 3] },
    { name: 'OUTPUT1', datatype: 'INT32', shape: [-1, 2] },
  ],
  maxBatchSize: 8,
};

const limits = DEFAULT_INFER_LIMITS;
const enc = new TextEncoder();

function failure(fn: () => unknown): InferError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InferError);
    return err as InferError;
  }
  throw new Error('expected a throw');
}

/** A binary-extension body: the header JSON (padded with `pad` spaces) then the blobs. */
function binaryBody(header: object, blobs: Uint8Array[], pad = 0): { body: Buffer; headerLength: number } {
  const json = Buffer.from(JSON.stringify(header) + ' '.repeat(pad));
  const body = Buffer.alloc(json.length + blobs.reduce((n, b) => n + b.byteLength, 0));
  json.copy(body, 0);
  let offset = json.length;
  for (const b of blobs) {
    body.set(b, offset);
    offset += b.byteLength;
  }
  return { body, headerLength: json.length };
}

const f32 = (...v: number[]) => new Uint8Array(new Float32Array(v).buffer);
const i32 = (...v: number[]) => new Uint8Array(new Int32Array(v).buffer);
function packBytes(...elements: string[]): Uint8Array {
  const parts = elements.map((s) => enc.encode(s));
  const out = Buffer.alloc(parts.reduce((n, p) => n + 4 + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.writeUInt32LE(p.length, o);
    out.set(p, o + 4);
    o += 4 + p.length;
  }
  return out;
}

/** The three inputs of `meta` at batch 2: INPUT0 binary, INPUT1 JSON, TEXT binary. */
function mixedHeader(): any {
  return {
    id: 'mix',
    inputs: [
      { name: 'INPUT0', datatype: 'FP32', shape: [2, 3], parameters: { binary_data_size: 24 } },
      { name: 'INPUT1', datatype: 'INT32', shape: [2, 2], data: [[1, 2], [3, 4]] },
      { name: 'TEXT', datatype: 'BYTES', shape: [2, 1], parameters: { binary_data_size: 4 + 2 + 4 + 3 } },
    ],
    outputs: [{ name: 'OUTPUT0', parameters: { binary_data: true } }],
  };
}
const mixedBlobs = () => [f32(1, 2, 3, 4, 5, 6), packBytes('hi', 'you')];

function sampleTensors(): Tensor[] {
  const t = (datatype: Datatype, data: TensorData): Tensor => ({ name: `T_${datatype}`, datatype, shape: [2, 2], data });
  return [
    t('BOOL', new Uint8Array([1, 0, 0, 1])),
    t('UINT8', new Uint8Array([0, 255, 7, 128])),
    t('UINT16', new Uint16Array([0, 65535, 1, 300])),
    t('UINT32', new Uint32Array([0, 4294967295, 1, 65536])),
    // Exact beyond 2^53: the reason the backend hop is binary.
    t('UINT64', new BigUint64Array([0n, 2n ** 64n - 1n, 2n ** 53n + 1n, 42n])),
    t('INT8', new Int8Array([-128, 127, 0, -1])),
    t('INT16', new Int16Array([-32768, 32767, 0, -1])),
    t('INT32', new Int32Array([-2147483648, 2147483647, 0, -1])),
    t('INT64', new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 2n ** 53n + 1n, -5n])),
    t('FP16', new Uint16Array([1.5, -2, 65504, NaN].map(numberToFp16))),
    t('FP32', new Float32Array([1.5, NaN, -Infinity, 1e-40])),
    t('FP64', new Float64Array([Math.PI, NaN, Infinity, 5e-324])),
    t('BF16', new Uint16Array([1, -0.5, 3e38, Infinity].map(numberToBf16))),
    t('BYTES', [enc.encode('hello'), new Uint8Array(0), new Uint8Array([0xff, 0x00, 0xfe]), enc.encode('✓')]),
  ];
}

/** Storage in a comparable form (NaN-safe, Buffer vs Uint8Array-safe). */
function comparable(data: TensorData): unknown {
  if (Array.isArray(data)) return data.map((b) => Array.from(b));
  return Array.from(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}

describe('binary requests', () => {
  it.each(sampleTensors().map((t) => [t.datatype, t] as const))('%s: encodeInferRequest → parseBinaryInferRequest is exact', (_dt, tensor) => {
    const req: InferRequest = { modelName: 'm', id: 'x', parameters: { priority: 1 }, inputs: [tensor], outputs: [{ name: 'O' }] };
    const { body, headerLength } = encodeInferRequest(req, { binaryOutputs: true });
    const back = parseBinaryInferRequest(body, headerLength, 'm', '2', undefined, limits);
    expect(back).toMatchObject({ modelName: 'm', modelVersion: '2', id: 'x', parameters: { priority: 1 }, binaryDataOutput: true });
    expect(back.outputs).toEqual([{ name: 'O', binaryData: true }]);
    expect(back.inputs[0]).toMatchObject({ name: tensor.name, datatype: tensor.datatype, shape: [2, 2] });
    expect(back.inputs[0].parameters).toBeUndefined();
    expect(comparable(back.inputs[0].data)).toEqual(comparable(tensor.data));
  });

  it('encodes every input binary and asks for binary outputs only when told', () => {
    const req: InferRequest = { modelName: 'm', inputs: [sampleTensors()[10]], outputs: [{ name: 'A', binaryData: false }, { name: 'B' }] };
    const yes = encodeInferRequest(req, { binaryOutputs: true });
    const yesHeader = JSON.parse(yes.body.toString('utf8', 0, yes.headerLength));
    expect(yes.contentType).toBe(BINARY_CONTENT_TYPE);
    expect(yesHeader).toEqual({
      parameters: { binary_data_output: true },
      inputs: [{ name: 'T_FP32', datatype: 'FP32', shape: [2, 2], parameters: { binary_data_size: 16 } }],
      outputs: [{ name: 'A', parameters: { binary_data: true } }, { name: 'B', parameters: { binary_data: true } }],
    });
    expect(yes.body.length).toBe(yes.headerLength + 16);
    const no = encodeInferRequest({ ...req, outputs: undefined }, { binaryOutputs: false });
    const noHeader = JSON.parse(no.body.toString('utf8', 0, no.headerLength));
    expect(noHeader).not.toHaveProperty('parameters');
    expect(noHeader).not.toHaveProperty('outputs');
    // The client's own per-output choice is for its hop, not the backend's.
    const jsonOutputs = encodeInferRequest({ ...req, outputs: [{ name: 'A', binaryData: true }] }, { binaryOutputs: false });
    expect(JSON.parse(jsonOutputs.body.toString('utf8', 0, jsonOutputs.headerLength)).outputs).toEqual([{ name: 'A', parameters: { binary_data: false } }]);
  });

  it('mixes JSON and binary inputs in one body', () => {
    const { body, headerLength } = binaryBody(mixedHeader(), mixedBlobs());
    const req = parseBinaryInferRequest(body, headerLength, 'mixed', undefined, meta, limits);
    expect(req.id).toBe('mix');
    expect(req.inputs.map((t) => t.name)).toEqual(['INPUT0', 'INPUT1', 'TEXT']);
    expect(Array.from(req.inputs[0].data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(req.inputs[1].data).toEqual(new Int32Array([1, 2, 3, 4]));
    expect((req.inputs[2].data as Uint8Array[]).map((b) => Buffer.from(b).toString())).toEqual(['hi', 'you']);
    expect(req.outputs).toEqual([{ name: 'OUTPUT0', binaryData: true }]);
  });

  it('views the body when a blob is aligned and copies when it is not', () => {
    const header = { inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 3], parameters: { binary_data_size: 12 } }, { name: 'INPUT1', datatype: 'INT32', shape: [1, 2], data: [1, 2] }, { name: 'TEXT', datatype: 'BYTES', shape: [1, 1], data: ['a'] }] };
    const base = Buffer.from(JSON.stringify(header)).length;
    const aligned = binaryBody(header, [f32(7, 8, 9)], (4 - (base % 4)) % 4);
    const unaligned = binaryBody(header, [f32(7, 8, 9)], ((4 - (base % 4)) % 4) + 1);
    const a = parseBinaryInferRequest(aligned.body, aligned.headerLength, 'mixed', undefined, meta, limits).inputs[0].data as Float32Array;
    const u = parseBinaryInferRequest(unaligned.body, unaligned.headerLength, 'mixed', undefined, meta, limits).inputs[0].data as Float32Array;
    expect(a.buffer).toBe(aligned.body.buffer);
    expect(u.buffer).not.toBe(unaligned.body.buffer);
    expect(Array.from(a)).toEqual([7, 8, 9]);
    expect(Array.from(u)).toEqual([7, 8, 9]);
  });

  it('blobToTensorData copies an unaligned slice of a pooled Buffer correctly', () => {
    const pooled = Buffer.from([0, 0, 0, 0x80, 0x3f, 0, 0, 0, 0x40]); // small: from the pool
    const data = blobToTensorData(pooled.subarray(1), 'input', 'FP32', [2], failRequest) as Float32Array;
    expect(Array.from(data)).toEqual([1, 2]);
  });

  interface Bad {
    label: string;
    make: () => { body: Buffer; headerLength: number };
    code?: ErrorCode;
    message: string;
  }
  const withHeader = (edit: (h: any) => void, blobs = mixedBlobs()) => () => {
    const h = mixedHeader();
    edit(h);
    return binaryBody(h, blobs);
  };
  const bad: Bad[] = [
    { label: 'header length past the body', make: () => ({ ...binaryBody(mixedHeader(), []), headerLength: 10_000 }), message: 'Inference-Header-Content-Length 10000 exceeds the body length' },
    { label: 'header length negative', make: () => ({ ...binaryBody(mixedHeader(), []), headerLength: -1 }), message: 'must be a non-negative integer, got -1' },
    { label: 'header cut short', make: () => ({ ...binaryBody(mixedHeader(), mixedBlobs()), headerLength: 20 }), message: 'the JSON header is not valid JSON' },
    { label: 'extra bytes after the blobs', make: () => binaryBody(mixedHeader(), [...mixedBlobs(), new Uint8Array(3)]), message: 'binary_data_size values add up to 37 bytes, but 40 bytes follow the JSON header' },
    { label: 'blob runs past the end', make: () => binaryBody(mixedHeader(), [f32(1, 2, 3, 4, 5, 6)]), message: "input 'TEXT': binary_data_size 13 runs past the end of the body (0 bytes left" },
    { label: 'size does not match shape', make: withHeader((h) => (h.inputs[0].parameters.binary_data_size = 20)), message: "input 'INPUT0': binary_data_size 20 does not match shape [2,3] of FP32: expected 24 (6 × 4 bytes)" },
    { label: 'both data and binary_data_size', make: withHeader((h) => (h.inputs[0].data = [1, 2, 3, 4, 5, 6])), message: "input 'INPUT0': has both 'data' and parameter binary_data_size" },
    { label: 'binary_data_size a string', make: withHeader((h) => (h.inputs[0].parameters.binary_data_size = '24')), message: 'parameter binary_data_size must be a non-negative integer, got string "24"' },
    { label: 'binary_data_size negative', make: withHeader((h) => (h.inputs[0].parameters.binary_data_size = -4)), message: 'binary_data_size must be a non-negative integer, got number -4' },
    { label: 'BYTES length past the blob', make: withHeader(() => {}, [f32(1, 2, 3, 4, 5, 6), Buffer.from([2, 0, 0, 0, 0x68, 0x69, 9, 0, 0, 0, 0x79, 0x6f, 0x75])]), message: "input 'TEXT': malformed BYTES data: element 1 declares 9 bytes, only 3 left" },
    { label: 'BYTES length prefix cut', make: withHeader((h) => (h.inputs[2].parameters.binary_data_size = 8), [f32(1, 2, 3, 4, 5, 6), Buffer.from([2, 0, 0, 0, 0x68, 0x69, 1, 0])]), message: 'element 1 of 2 (shape [2,1]) has no room for its 4-byte length (2 bytes left)' },
    { label: 'BYTES trailing bytes', make: withHeader((h) => (h.inputs[2].parameters.binary_data_size = 14), [f32(1, 2, 3, 4, 5, 6), Buffer.concat([packBytes('hi', 'you'), Buffer.from([0])])]), message: 'malformed BYTES data: 1 bytes left over after the 2 elements' },
    { label: 'BOOL byte other than 0/1', make: () => binaryBody({ inputs: [{ name: 'B', datatype: 'BOOL', shape: [3], parameters: { binary_data_size: 3 } }] }, [new Uint8Array([0, 1, 2])]), message: "input 'B': BOOL element 2 is byte 2; expected 0 or 1" },
    { label: 'binary outputs named wrong', make: withHeader((h) => (h.outputs = [{ name: 'NOPE' }])), message: "requested output 'NOPE' is not an output of model 'mixed'" },
    { label: 'binary input with wrong datatype for the model', make: withHeader((h) => ((h.inputs[0].datatype = 'INT32'), (h.inputs[0].parameters.binary_data_size = 24))), message: "input 'INPUT0': expected datatype FP32, got INT32" },
    { label: 'element limit', make: () => binaryBody({ inputs: [{ name: 'B', datatype: 'UINT8', shape: [17_000_000], parameters: { binary_data_size: 17_000_000 } }] }, []), code: 'PAYLOAD_TOO_LARGE', message: 'over the limit --max-tensor-elements = 16777216' },
  ];

  it.each(bad)('rejects: $label', ({ make, code = 'INVALID_ARG', message }) => {
    const { body, headerLength } = make();
    const err = failure(() => parseBinaryInferRequest(body, headerLength, 'mixed', undefined, meta, limits));
    expect(err.code).toBe(code);
    expect(err.message).toContain(message);
  });
});

describe('raw binary requests (Inference-Header-Content-Length: 0)', () => {
  const single = (input: ModelMetadata['inputs'][0], maxBatchSize: number): ModelMetadata => ({
    name: 'one',
    versions: ['1'],
    platform: 'onnx',
    inputs: [input],
    outputs: [{ name: 'OUT', datatype: 'FP32', shape: [-1] }],
    maxBatchSize,
  });

  it('a batching model gets batch 1 and all outputs binary', () => {
    const body = Buffer.from(f32(1, 2, 3));
    const req = parseBinaryInferRequest(body, 0, 'one', undefined, single({ name: 'IN', datatype: 'FP32', shape: [-1, 3] }, 8), limits);
    expect(req.inputs).toHaveLength(1);
    expect(req.inputs[0]).toMatchObject({ name: 'IN', datatype: 'FP32', shape: [1, 3] });
    expect(Array.from(req.inputs[0].data as Float32Array)).toEqual([1, 2, 3]);
    expect(req.binaryDataOutput).toBe(true);
    expect(req.outputs).toBeUndefined();
  });

  it('infers the one variable dim from the body size', () => {
    const req = parseBinaryInferRequest(Buffer.from(i32(1, 2, 3, 4, 5, 6, 7, 8)), 0, 'one', undefined, single({ name: 'IN', datatype: 'INT32', shape: [-1, 4] }, 0), limits);
    expect(req.inputs[0].shape).toEqual([2, 4]);
    const empty = parseBinaryInferRequest(Buffer.alloc(0), 0, 'one', undefined, single({ name: 'IN', datatype: 'INT32', shape: [-1, 4] }, 0), limits);
    expect(empty.inputs[0].shape).toEqual([0, 4]);
  });

  it('a BYTES input of shape [1] takes the whole body as its one element, no length prefix', () => {
    const body = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2]);
    const req = parseBinaryInferRequest(body, 0, 'one', undefined, single({ name: 'IMG', datatype: 'BYTES', shape: [1] }, 0), limits);
    expect(req.inputs[0].shape).toEqual([1]);
    expect(comparable(req.inputs[0].data)).toEqual([[0x89, 0x50, 0x4e, 0x47, 0, 1, 2]]);
    const batched = parseBinaryInferRequest(body, 0, 'one', undefined, single({ name: 'IMG', datatype: 'BYTES', shape: [-1, -1] }, 4), limits);
    expect(batched.inputs[0].shape).toEqual([1, 1]);
  });

  const twoInputs: ModelMetadata = { ...single({ name: 'A', datatype: 'FP32', shape: [1] }, 0), inputs: [{ name: 'A', datatype: 'FP32', shape: [1] }, { name: 'B', datatype: 'FP32', shape: [1] }] };
  it.each([
    ['a model with two inputs', twoInputs, Buffer.alloc(4), "needs a model with exactly one input; model 'one' has 2"],
    ['a body of the wrong size', single({ name: 'IN', datatype: 'FP32', shape: [-1, 3] }, 8), Buffer.alloc(13), "input 'IN': raw binary request (Inference-Header-Content-Length: 0) body has 13 bytes, shape [-1,3] of FP32 needs 12"],
    ['a body not a multiple of the variable dim', single({ name: 'IN', datatype: 'FP32', shape: [2, -1] }, 0), Buffer.alloc(12), 'body has 12 bytes, not a multiple of the 8 bytes'],
    ['two variable dims', single({ name: 'IN', datatype: 'FP32', shape: [-1, -1] }, 0), Buffer.alloc(16), 'can infer at most one variable dim, shape [-1,-1] has 2'],
    ['a BYTES input of shape [3]', single({ name: 'IN', datatype: 'BYTES', shape: [3] }, 0), Buffer.alloc(3), "input 'IN': a raw binary request (Inference-Header-Content-Length: 0) sends one BYTES element, so the input's shape must be [1]; it is [3]"],
    ['BOOL bytes other than 0/1', single({ name: 'IN', datatype: 'BOOL', shape: [-1] }, 0), Buffer.from([1, 7]), 'BOOL element 1 is byte 7'],
  ])('rejects %s', (_label, model, body, message) => {
    const err = failure(() => parseBinaryInferRequest(body, 0, 'one', undefined, model, limits));
    expect(err.code).toBe('INVALID_ARG');
    expect(err.message).toContain(message);
  });

  it('needs the metadata', () => {
    const err = failure(() => parseBinaryInferRequest(Buffer.alloc(4), 0, 'one', undefined, undefined, limits));
    expect(err.message).toContain("needs the model's metadata");
  });
});

describe('binary responses', () => {
  const res: InferResponse = {
    modelName: 'mixed',
    modelVersion: '1',
    id: 'r',
    outputs: [
      { name: 'OUTPUT0', datatype: 'FP32', shape: [1, 3], data: new Float32Array([0.5, NaN, 2]) },
      { name: 'OUTPUT1', datatype: 'INT32', shape: [1, 2], data: new Int32Array([7, -7]) },
    ],
  };
  const request = (extra: Partial<InferRequest>): InferRequest => ({ modelName: 'mixed', inputs: [], ...extra });

  it('is plain JSON when no output is asked for binary', () => {
    const out = encodeInferResponse(res, request({}));
    expect(out.headerLength).toBeUndefined();
    expect(out.contentType).toBe(JSON_CONTENT_TYPE);
    // NaN as Triton writes it: a bare token, so the body is read with parseJsonWithNonFinite.
    expect(out.body.toString()).toContain('"data":[0.5,NaN,2]');
    const json = parseJsonWithNonFinite(out.body.toString()) as any;
    expect(json.outputs[0].data).toEqual([0.5, 'NaN', 2]);
    expect(json).toMatchObject({ model_name: 'mixed', model_version: '1', id: 'r' });
    const back = parseBinaryInferResponse(out.body, undefined);
    expect(back.outputs[1].data).toEqual(new Int32Array([7, -7]));
  });

  it('per-output binary_data overrides binary_data_output', () => {
    const out = encodeInferResponse(res, request({ binaryDataOutput: true, outputs: [{ name: 'OUTPUT1', binaryData: false }, { name: 'OUTPUT0' }] }));
    expect(out.contentType).toBe(BINARY_CONTENT_TYPE);
    expect(out.headerLength).toBeGreaterThan(0);
    const header = JSON.parse(out.body.toString('utf8', 0, out.headerLength));
    expect(header.outputs[0]).toEqual({ name: 'OUTPUT0', datatype: 'FP32', shape: [1, 3], parameters: { binary_data_size: 12 } });
    expect(header.outputs[1]).toEqual({ name: 'OUTPUT1', datatype: 'INT32', shape: [1, 2], data: [7, -7] });
    expect(out.body.length).toBe(out.headerLength! + 12);
    const back = parseBinaryInferResponse(out.body, out.headerLength);
    const o0 = back.outputs[0].data as Float32Array;
    expect([o0[0], o0[2]]).toEqual([0.5, 2]);
    expect(o0[1]).toBeNaN();
    expect(back.outputs[0].parameters).toBeUndefined();
    expect(back.outputs[1].data).toEqual(new Int32Array([7, -7]));
  });

  it('per-output binary_data alone, without the request default', () => {
    const out = encodeInferResponse(res, request({ outputs: [{ name: 'OUTPUT1', binaryData: true }] }));
    const header = parseJsonWithNonFinite(out.body.toString('utf8', 0, out.headerLength)) as any;
    expect(header.outputs[0]).toHaveProperty('data');
    expect(header.outputs[1].parameters).toEqual({ binary_data_size: 8 });
  });

  it.each(sampleTensors().map((t) => [t.datatype, t] as const))('%s: encodeInferResponse → parseBinaryInferResponse is exact', (_dt, tensor) => {
    const out = encodeInferResponse({ modelName: 'm', modelVersion: '1', outputs: [tensor] }, request({ binaryDataOutput: true }));
    const back = parseBinaryInferResponse(out.body, out.headerLength);
    expect(back.outputs[0]).toMatchObject({ name: tensor.name, datatype: tensor.datatype, shape: [2, 2] });
    expect(comparable(back.outputs[0].data)).toEqual(comparable(tensor.data));
  });

  it("reads a Triton response whose JSON outputs carry bare NaN tokens", () => {
    const header = '{"model_name":"t","model_version":"1","outputs":[{"name":"A","datatype":"FP32","shape":[2],"data":[NaN,-Infinity]},{"name":"B","datatype":"UINT8","shape":[2],"parameters":{"binary_data_size":2}}]}';
    const body = Buffer.concat([Buffer.from(header), Buffer.from([3, 4])]);
    const back = parseBinaryInferResponse(body, Buffer.byteLength(header));
    const a = back.outputs[0].data as Float32Array;
    expect(a[0]).toBeNaN();
    expect(a[1]).toBe(-Infinity);
    expect(back.outputs[1].data).toEqual(new Uint8Array([3, 4]));
  });

  it.each([
    ['header past the body', Buffer.from('{}'), 5, 'exceeds the body length 2'],
    ['header length 0', Buffer.from('{}'), 0, 'Inference-Header-Content-Length is 0'],
    ['not JSON', Buffer.from('nope'), 4, 'the JSON header is not valid JSON'],
    ['blob missing', Buffer.from('{"model_name":"m","outputs":[{"name":"A","datatype":"FP32","shape":[1],"parameters":{"binary_data_size":4}}]}'), undefined, 'binary_data_size in a pure JSON body'],
  ])('a malformed binary response is INTERNAL: %s', (_label, body, headerLength, message) => {
    const err = failure(() => parseBinaryInferResponse(body, headerLength));
    expect(err.code).toBe('INTERNAL');
    expect(err.message).toContain(message);
  });
});

describe('tensorToBlob', () => {
  it('views numeric storage without copying and packs BYTES as length + bytes', () => {
    const data = new Float32Array([1, 2]);
    expect(tensorToBlob({ name: 'a', datatype: 'FP32', shape: [2], data }).buffer).toBe(data.buffer);
    const packed = tensorToBlob({ name: 'b', datatype: 'BYTES', shape: [2], data: [enc.encode('hi'), new Uint8Array(0)] });
    expect(Array.from(packed)).toEqual([2, 0, 0, 0, 0x68, 0x69, 0, 0, 0, 0]);
  });
});

describe('parseInferenceHeaderLength', () => {
  it('reads digits only', () => {
    expect(parseInferenceHeaderLength(undefined)).toBeUndefined();
    expect(parseInferenceHeaderLength('0')).toBe(0);
    expect(parseInferenceHeaderLength(' 128 ')).toBe(128);
    expect(parseInferenceHeaderLength(['64'])).toBe(64);
    for (const bad of ['', '-1', '12abc', '1.5', '0x10']) {
      const err = failure(() => parseInferenceHeaderLength(bad));
      expect(err.code).toBe('INVALID_ARG');
      expect(err.message).toContain('Inference-Header-Content-Length must be a non-negative integer');
    }
  });
});
