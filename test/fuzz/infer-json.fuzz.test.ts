/**
 * Fuzzing the JSON infer parser and the request validation behind it (core/infer-json.ts,
 * core/request-validation.ts), through the node's own entry point decodeHttpInferRequest: every
 * body either parses into a request that satisfies the model's metadata, or is refused with an
 * InferError whose status is a 4xx. Three sources: any JSON value, near-valid requests built field
 * by field (names, datatypes, shapes, data and parameters each sometimes wrong), and random bytes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DATATYPES, elementCount } from '../../core/datatypes.js';
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
    { name: 'FLAG', datatype: 'BOOL', shape: [-1, 1] },
  ],
  outputs: [{ name: 'OUTPUT0', datatype: 'FP32', shape: [-1, 3] }],
  maxBatchSize: 4,
};
const limits = { maxTensorElements: 4096 };

function decode(body: Buffer): InferRequest {
  const result = decodeHttpInferRequest({ format: 'http', body } as never, meta.name, undefined, meta, limits);
  if (result instanceof Promise) throw new Error('no Content-Encoding was given: decoding must be synchronous');
  return result;
}

/** What an accepted request must satisfy, whatever body it came from. */
function expectValid(req: InferRequest): void {
  for (const input of req.inputs) {
    const spec = meta.inputs.find((t) => t.name === input.name)!;
    expect(spec).toBeDefined();
    expect(input.datatype).toBe(spec.datatype);
    expect(input.shape.every((d) => Number.isSafeInteger(d) && d >= 0)).toBe(true);
    expect(input.data.length).toBe(elementCount(input.shape));
  }
  expect(req.inputs.length).toBe(meta.inputs.length);
}

function property(body: Buffer): void {
  const outcome = cleanOutcome(() => decode(body));
  if (outcome.ok) expectValid(outcome.value);
}

// --- near-valid requests, written as JSON text so that number literals can be anything -----------

/** One number literal: ordinary, 64-bit and beyond, fractional, exponent, non-finite tokens. */
const numberLiteral = fc.oneof(
  fc.integer({ min: -5, max: 300 }).map(String),
  fc.bigInt({ min: -(2n ** 65n), max: 2n ** 65n }).map(String),
  fc.double().filter(Number.isFinite).map(String),
  fc.constantFrom('NaN', 'Infinity', '-Infinity', '-0', '1e39', '1e400', '0.5', '-1', '9007199254740993', '18446744073709551616'),
);

/** A JSON text element: mostly numbers, sometimes the wrong kind. */
const elementLiteral = fc.oneof(
  { weight: 6, arbitrary: numberLiteral },
  { weight: 1, arbitrary: fc.constantFrom('true', 'false', 'null', '"x"', '"NaN"', '[]', '{}', '[1,[2]]') },
  { weight: 1, arbitrary: fc.string({ maxLength: 8 }).map((s) => JSON.stringify(s)) },
);

const dimLiteral = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 4 }).map(String) },
  { weight: 1, arbitrary: fc.constantFrom('-1', '-3', '1.5', '1e3', '4294967296', '9007199254740993', '1e308', '"2"', 'null', 'true', '[]') },
);

const nameLiteral = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...meta.inputs.map((t) => t.name)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 6 }) },
).map((s) => JSON.stringify(s));

const datatypeLiteral = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...DATATYPES) },
  { weight: 1, arbitrary: fc.string({ maxLength: 6 }) },
).map((s) => JSON.stringify(s));

const parameterValueLiteral = fc.oneof(fc.boolean(), fc.integer(), fc.string({ maxLength: 6 }), fc.constant(null), fc.double())
  .map((v) => JSON.stringify(v) ?? 'null');
const parametersLiteral = fc.dictionary(
  fc.oneof(fc.constantFrom('binary_data', 'binary_data_size', 'binary_data_output', 'priority', 'timeout', 'shared_memory_region', 'classification'), fc.string({ maxLength: 5 })),
  parameterValueLiteral,
  { maxKeys: 3 },
).map((d) => `{${Object.entries(d).map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`);

/** `data`: flat of about the right length, nested by rows, or not an array at all. */
const dataLiteral = fc.oneof(
  { weight: 4, arbitrary: fc.array(elementLiteral, { maxLength: 14 }).map((xs) => `[${xs.join(',')}]`) },
  { weight: 2, arbitrary: fc.array(fc.array(elementLiteral, { maxLength: 4 }), { maxLength: 4 }).map((rows) => `[${rows.map((r) => `[${r.join(',')}]`).join(',')}]`) },
  { weight: 1, arbitrary: fc.constantFrom('null', '1', '"data"', '{}', '[[[]]]') },
);

const inputLiteral = fc.record(
  { name: nameLiteral, datatype: datatypeLiteral, shape: fc.array(dimLiteral, { maxLength: 4 }).map((ds) => `[${ds.join(',')}]`), data: dataLiteral, parameters: parametersLiteral },
  { requiredKeys: ['name', 'datatype', 'shape'] },
).map((fields) => `{${Object.entries(fields).map(([k, v]) => `"${k}":${v}`).join(',')}}`);

const requestText = fc.record(
  {
    id: fc.oneof(fc.string({ maxLength: 6 }).map((s) => JSON.stringify(s)), fc.constant('7')),
    inputs: fc.array(inputLiteral, { maxLength: 5 }).map((xs) => `[${xs.join(',')}]`),
    outputs: fc.array(fc.record({ name: nameLiteral, parameters: parametersLiteral }, { requiredKeys: ['name'] }), { maxLength: 2 })
      .map((os) => `[${os.map((o) => `{${Object.entries(o).map(([k, v]) => `"${k}":${v}`).join(',')}}`).join(',')}]`),
    parameters: parametersLiteral,
  },
  { requiredKeys: ['inputs'] },
).map((fields) => `{${Object.entries(fields).map(([k, v]) => `"${k}":${v}`).join(',')}}`);

/** A well-formed request for `meta` with batch size n: the near-valid cases mutate these too. */
function validText(n: number): string {
  const row = (count: number, f: (i: number) => string) => `[${Array.from({ length: n * count }, (_, i) => f(i)).join(',')}]`;
  return JSON.stringify({ inputs: [] }).replace('[]', `[${[
    `{"name":"INPUT0","datatype":"FP32","shape":[${n},3],"data":${row(3, (i) => String(i / 2))}}`,
    `{"name":"INPUT1","datatype":"INT64","shape":[${n},2],"data":${row(2, (i) => (i % 2 ? '9223372036854775807' : String(-i)))}}`,
    `{"name":"TEXT","datatype":"BYTES","shape":[${n},1],"data":${row(1, (i) => JSON.stringify(`t${i}`))}}`,
    `{"name":"FLAG","datatype":"BOOL","shape":[${n},1],"data":${row(1, (i) => (i % 2 ? 'true' : 'false'))}}`,
  ].join(',')}]`);
}

describe('fuzz: JSON infer requests', { timeout: 60_000 }, () => {
  it('the valid request the mutations start from is accepted', () => {
    for (const n of [1, 4]) expectValid(decode(Buffer.from(validText(n))));
  });

  it('any JSON value as the body: a valid request or a 4xx', async () => {
    await checkProperty('json: arbitrary JSON values', fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
      property(Buffer.from(JSON.stringify(value) ?? 'null'));
    }), 10000);
  });

  it('near-valid requests (names, datatypes, shapes, data, parameters each sometimes wrong): a valid request or a 4xx', async () => {
    await checkProperty('json: structured near-valid requests', fc.property(requestText, (text) => {
      property(Buffer.from(text));
    }), 6000);
  });

  it('a valid request with one span of its text replaced: a valid request or a 4xx', async () => {
    const mutation = fc.record({
      n: fc.integer({ min: 1, max: 4 }),
      at: fc.nat(),
      cut: fc.integer({ min: 0, max: 12 }),
      insert: fc.oneof(elementLiteral, fc.constantFrom('', ',', ']', '[', '{', '}', '"', '\\', ':', '-', '0', 'e9', '\u0000', '\ud800')),
    });
    await checkProperty('json: mutated valid requests', fc.property(mutation, ({ n, at, cut, insert }) => {
      const text = validText(n);
      const i = at % text.length;
      property(Buffer.from(text.slice(0, i) + insert + text.slice(i + cut)));
    }), 10000);
  });

  it('random bytes and random strings as the body: a 4xx', async () => {
    const bodies = fc.oneof(
      fc.uint8Array({ maxLength: 256 }).map((b) => Buffer.from(b)),
      fc.string({ unit: 'binary', maxLength: 128 }).map((s) => Buffer.from(s)),
    );
    await checkProperty('json: random bytes', fc.property(bodies, (body) => property(body)), 10000);
  });
});
