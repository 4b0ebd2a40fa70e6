/**
 * softmax, argmax, top-k, labels and Triton's classification strings, on exact tables (pure).
 * The classification format follows Triton's server (src/classification.cc): "<value>:<index>"
 * plus ":<label>" when labelled, values as C's std::to_string writes them, highest value first.
 */
import { describe, expect, it } from 'vitest';
import { InferError } from '../../core/errors.js';
import { numberToFp16 } from '../../core/half-float.js';
import type { Tensor } from '../../core/tensor.js';
import { argmax } from '../../processing/argmax.js';
import { classificationCount, classify, formatClassValue } from '../../processing/classification.js';
import { parseLabels } from '../../processing/labels.js';
import { softmax } from '../../processing/softmax.js';
import { topK } from '../../processing/top-k.js';

const text = (t: Tensor) => (t.data as Uint8Array[]).map((b) => Buffer.from(b).toString('utf8'));

describe('softmax', () => {
  it('per row of the last dim; rows sum to 1', () => {
    const out = softmax([0, Math.log(3), 1, 1], 2);
    expect(Array.from(out)).toEqual([0.25, 0.75, 0.5, 0.5].map(Math.fround));
  });
  it('large logits do not overflow (the row max is subtracted)', () => {
    const out = softmax([1000, 1000 + Math.log(3)], 2);
    expect(out[0]).toBeCloseTo(0.25, 6);
    expect(Number.isFinite(out[1])).toBe(true);
  });
  it('rows must tile the values', () => {
    expect(() => softmax([1, 2, 3], 2)).toThrow(/do not split into rows of 2/);
  });
});

describe('argmax', () => {
  it.each([
    [[1, 5, 10, 4], 4, [2]],
    [[3, 1, 3, 0, 9, 9], 3, [0, 1]],
    [[NaN, 1, 0], 3, [1]],
  ])('%j rows of %i → %j (ties: lowest index)', (values, row, expected) => {
    const out = argmax(values, row);
    expect(out).toBeInstanceOf(BigInt64Array);
    expect(Array.from(out, Number)).toEqual(expected);
  });
});

describe('topK', () => {
  it('Triton\'s example: [1, 5, 10, 4] top 2 → indices 2, 1', () => {
    expect(topK([1, 5, 10, 4], 4, 2)).toEqual([[{ index: 2, value: 10 }, { index: 1, value: 5 }]]);
  });
  it('per row; k beyond the row gives the whole row; equal values keep index order; NaN last', () => {
    expect(topK([2, 2, 1, NaN, 0, 7], 3, 5)).toEqual([
      [{ index: 0, value: 2 }, { index: 1, value: 2 }, { index: 2, value: 1 }],
      [{ index: 2, value: 7 }, { index: 1, value: 0 }, { index: 0, value: NaN }],
    ]);
  });
  it('k must be a positive integer', () => {
    expect(() => topK([1], 1, 0)).toThrow(/positive integer/);
  });
});

describe('parseLabels', () => {
  it.each([
    ['cat\ndog\nbird\n', ['cat', 'dog', 'bird']],
    ['cat\r\ndog', ['cat', 'dog']],
    ['a\n\nc\n', ['a', '', 'c']],
  ])('%j', (input, expected) => {
    expect(parseLabels(input)).toEqual(expected);
  });
});

describe('formatClassValue: as std::to_string', () => {
  it.each([
    [0.853, 'FP32', '0.853000'],
    [Math.fround(0.1), 'FP32', '0.100000'],
    [10, 'FP32', '10.000000'],
    [-2.5, 'FP64', '-2.500000'],
    [-0, 'FP32', '-0.000000'],
    [1e-9, 'FP32', '0.000000'],
    [-1e-9, 'FP64', '-0.000000'],
    [0.0078125, 'FP32', '0.007812'], // an exact tie: printf rounds half to even, toFixed would say 0.007813
    [0.0234375, 'FP32', '0.023438'], // a tie that rounds up to even
    [1e21, 'FP64', '1000000000000000000000.000000'],
    [Infinity, 'FP32', 'inf'],
    [-Infinity, 'FP32', '-inf'],
    [NaN, 'FP32', 'nan'],
    [7, 'INT32', '7'],
    [-3, 'INT8', '-3'],
  ] as const)('%s (%s) → %s', (value, datatype, expected) => {
    expect(formatClassValue(value, datatype)).toBe(expected);
  });
});

it('formatClassValue writes INT64 digits exactly', () => {
  expect(formatClassValue(9007199254740993n, 'INT64')).toBe('9007199254740993');
});

describe('classify: the classification extension', () => {
  const probs: Tensor = { name: 'PROBS', datatype: 'FP32', shape: [2, 4], data: new Float32Array([0.1, 0.5, 0.3, 0.1, 0.7, 0.1, 0.1, 0.1]) };

  it('batching: [batch, k] strings "<value>:<index>:<label>", highest first', () => {
    const out = classify(probs, 2, { batching: true, labels: ['cat', 'dog', 'bird', 'fish'] });
    expect(out).toMatchObject({ name: 'PROBS', datatype: 'BYTES', shape: [2, 2] });
    expect(text(out)).toEqual(['0.500000:1:dog', '0.300000:2:bird', '0.700000:0:cat', '0.100000:1:dog']);
  });

  it('without labels: "<value>:<index>"; a class beyond the labels list gets none', () => {
    expect(text(classify(probs, 1, { batching: true }))).toEqual(['0.500000:1', '0.700000:0']);
    expect(text(classify(probs, 1, { batching: true, labels: ['cat'] }))).toEqual(['0.500000:1', '0.700000:0:cat']);
  });

  it('not batching: the whole tensor is one row, shape [k]; k past the classes gives them all', () => {
    const out = classify({ name: 'O', datatype: 'INT32', shape: [3], data: new Int32Array([4, 9, -1]) }, 10, { batching: false });
    expect(out.shape).toEqual([3]);
    expect(text(out)).toEqual(['9:1', '4:0', '-1:2']);
  });

  it('FP16 values are read from their bit patterns', () => {
    const out = classify({ name: 'O', datatype: 'FP16', shape: [2], data: new Uint16Array([numberToFp16(0.25), numberToFp16(0.75)]) }, 1, { batching: false });
    expect(text(out)).toEqual(['0.750000:1']);
  });

  it('BYTES and BOOL outputs: INVALID_ARG with Triton\'s words', () => {
    const err = (() => { try { classify({ name: 'S', datatype: 'BYTES', shape: [1], data: [new Uint8Array(1)] }, 1, { batching: false }); } catch (e) { return e; } })();
    expect(err).toBeInstanceOf(InferError);
    expect((err as InferError).message).toBe("output 'S': class result not available for output due to unsupported type 'BYTES'");
  });

  it.each([
    [undefined, undefined],
    [{ classification: 3 }, 3],
    [{ classification: 0 }, 'error'],
    [{ classification: 2.5 }, 'error'],
    [{ classification: '3' }, 'error'],
  ])('classificationCount(%j) → %s', (params, expected) => {
    if (expected === 'error') expect(() => classificationCount('O', params)).toThrow(/parameter 'classification' must be a positive integer/);
    else expect(classificationCount('O', params)).toBe(expected);
  });
});
