/**
 * Fuzzing the binary tensor extension (core/infer-binary.ts) through decodeHttpInferRequest: a JSON
 * header of Inference-Header-Content-Length bytes, then each input's blob of binary_data_size bytes.
 * Cases: any header-length text, headers whose binary_data_size disagrees with the shape or the
 * bytes that follow, bodies cut short or extended, bytes flipped anywhere, and raw binary requests
 * (header length 0). Each either parses into a request that fits the model or gets a 4xx.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { elementCount } from '../../core/datatypes.js';
import { encodeInferRequest } from '../../core/infer-binary.js';
import { decodeHttpInferRequest } from '../../core/kserve-http-codec.js';
import type { ModelMetadata } from '../../core/model-metadata.js';
import type { InferRequest } from '../../core/tensor.js';
import { checkProperty, cleanOutcome } from './fuzz-settings.js';

const meta: ModelMetadata = {
  name: 'fuzzed',
  versions: ['1'],
  platform: 'onnx',
  inputs: [
    { name: 'INPUT0', datatype: 'FP32', shape: [-1, 3] },
    { name: 'INPUT1', datatype: 'INT64', shape: [-1, 2] },
    { name: 'TEXT', datatype: 'BYTES', shape: [-1, 1] },
    { name: 'HALF', datatype: 'FP16', shape: [-1, 2] },
  ],
  outputs: [{ name: 'OUTPUT0', datatype: 'FP32', shape: [-1, 3] }],
  maxBatchSize: 4,
};
/** One input with a variable dim: what a raw binary request (header length 0) is for. */
const rawMeta: ModelMetadata = {
  name: 'raw', versions: ['1'], platform: 'onnx', maxBatchSize: 0,
  inputs: [{ name: 'IN', datatype: 'INT32', shape: [-1, 2] }],
  outputs: [{ name: 'OUT', datatype: 'INT32', shape: [-1, 2] }],
};
const limits = { maxTensorElements: 4096 };

function decode(body: Buffer, headerLength: string | undefined, model = meta): InferRequest {
  const result = decodeHttpInferRequest({ format: 'http', body, headerLength } as never, model.name, undefined, model, limits);
  if (result instanceof Promise) throw new Error('no Content-Encoding was given: decoding must be synchronous');
  return result;
}

function expectFits(req: InferRequest, model: ModelMetadata): void {
  expect(req.inputs.length).toBe(model.inputs.length);
  for (const input of req.inputs) {
    expect(input.datatype).toBe(model.inputs.find((t) => t.name === input.name)!.datatype);
    expect(input.data.length).toBe(elementCount(input.shape));
  }
}

function property(body: Buffer, headerLength: string | undefined, model = meta): boolean {
  const outcome = cleanOutcome(() => decode(body, headerLength, model));
  if (outcome.ok) expectFits(outcome.value, model);
  return outcome.ok;
}

/** A valid binary request for `meta` with batch n: the body and its header length. */
function validBody(n: number, seed: number): { body: Buffer; headerLength: number } {
  const req: InferRequest = {
    modelName: meta.name,
    inputs: [
      { name: 'INPUT0', datatype: 'FP32', shape: [n, 3], data: Float32Array.from({ length: 3 * n }, (_, i) => i * seed) },
      { name: 'INPUT1', datatype: 'INT64', shape: [n, 2], data: BigInt64Array.from({ length: 2 * n }, (_, i) => BigInt(i - seed)) },
      { name: 'TEXT', datatype: 'BYTES', shape: [n, 1], data: Array.from({ length: n }, (_, i) => Buffer.from(`text ${i}`.repeat(seed % 3))) },
      { name: 'HALF', datatype: 'FP16', shape: [n, 2], data: Uint16Array.from({ length: 2 * n }, (_, i) => (i * 0x1111 + seed) & 0xffff) },
    ],
  };
  const encoded = encodeInferRequest(req, { binaryOutputs: seed % 2 === 0 });
  return { body: encoded.body, headerLength: encoded.headerLength };
}

const headerLengthText = fc.oneof(
  fc.nat({ max: 600 }).map(String),
  fc.constantFrom('', ' ', '-1', '0x10', '1e2', '12abc', '9999999999999999', '18446744073709551616', '+5', '3.0', ' 7 ', '\t0'),
  fc.string({ maxLength: 6 }),
);

describe('fuzz: binary tensor requests', { timeout: 60_000 }, () => {
  it('the valid bodies the mutations start from are accepted', () => {
    for (const n of [1, 3]) {
      const { body, headerLength } = validBody(n, 2);
      expectFits(decode(body, String(headerLength)), meta);
    }
  });

  it('any Inference-Header-Content-Length over a valid body: a valid request or a 4xx', async () => {
    const cases = fc.record({ n: fc.integer({ min: 1, max: 4 }), seed: fc.nat({ max: 9 }), header: headerLengthText });
    await checkProperty('binary: header length values', fc.property(cases, ({ n, seed, header }) => {
      const { body } = validBody(n, seed);
      property(body, header);
    }), 8000);
  });

  it('binary_data_size and shapes rewritten in the header: a valid request or a 4xx', async () => {
    const sizeLiteral = fc.oneof(fc.nat({ max: 80 }).map(String), fc.constantFrom('-4', '1.5', '1e30', '"8"', 'null', 'true', '9007199254740993'));
    const cases = fc.record({
      n: fc.integer({ min: 1, max: 4 }),
      seed: fc.nat({ max: 9 }),
      which: fc.nat({ max: 3 }),
      size: sizeLiteral,
      dims: fc.option(fc.array(fc.oneof(fc.integer({ min: -2, max: 6 }).map(String), fc.constantFrom('4294967296', '0.5')), { maxLength: 3 })),
    });
    await checkProperty('binary: binary_data_size / shape mismatches', fc.property(cases, ({ n, seed, which, size, dims }) => {
      const { body, headerLength } = validBody(n, seed);
      const header = body.subarray(0, headerLength).toString();
      let k = -1;
      let edited = header.replace(/"binary_data_size":\d+/g, (m) => (++k === which ? `"binary_data_size":${size}` : m));
      if (dims !== null) {
        k = -1;
        edited = edited.replace(/"shape":\[[^\]]*\]/g, (m) => (++k === which ? `"shape":[${dims.join(',')}]` : m));
      }
      const head = Buffer.from(edited);
      property(Buffer.concat([head, body.subarray(headerLength)]), String(head.length));
    }), 8000);
  });

  it('bodies truncated, extended, or with bytes flipped: a valid request or a 4xx', async () => {
    const cases = fc.record({
      n: fc.integer({ min: 1, max: 4 }),
      seed: fc.nat({ max: 9 }),
      cut: fc.nat({ max: 64 }),
      extra: fc.uint8Array({ maxLength: 24 }),
      flips: fc.array(fc.record({ at: fc.nat(), value: fc.nat({ max: 255 }) }), { maxLength: 4 }),
      headerDelta: fc.integer({ min: -3, max: 3 }),
    });
    await checkProperty('binary: truncated / extended / flipped bodies', fc.property(cases, ({ n, seed, cut, extra, flips, headerDelta }) => {
      const { body, headerLength } = validBody(n, seed);
      const changed = Buffer.concat([body.subarray(0, Math.max(0, body.length - cut)), extra]);
      for (const f of flips) if (changed.length > 0) changed[f.at % changed.length] = f.value;
      property(changed, String(Math.max(0, headerLength + headerDelta)));
    }), 10000);
  });

  it('raw binary requests (header length 0) of any size: a valid request or a 4xx', async () => {
    let accepted = 0;
    await checkProperty('binary: raw bodies', fc.property(fc.uint8Array({ minLength: 1, maxLength: 96 }), (bytes) => {
      if (property(Buffer.from(bytes), '0', rawMeta)) accepted++;
    }), 5000);
    expect(accepted).toBeGreaterThan(0); // the multiples of 8 bytes
  });

  it('random bytes with a random header length: a 4xx', async () => {
    const cases = fc.record({ bytes: fc.uint8Array({ maxLength: 200 }), header: headerLengthText });
    await checkProperty('binary: random bytes', fc.property(cases, ({ bytes, header }) => {
      property(Buffer.from(bytes), header);
    }), 8000);
  });
});
