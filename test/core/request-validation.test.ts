import { describe, expect, it } from 'vitest';
import { InferError } from '../../core/errors.js';
import type { ModelMetadata } from '../../core/model-metadata.js';
import { formatShape, validateInferRequest } from '../../core/request-validation.js';
import type { InferRequest, Tensor } from '../../core/tensor.js';

const batching: ModelMetadata = {
  name: 'adder',
  versions: ['1'],
  platform: 'onnx',
  inputs: [
    { name: 'INPUT0', datatype: 'FP32', shape: [-1, 3] },
    { name: 'INPUT1', datatype: 'INT32', shape: [-1, -1] },
  ],
  outputs: [
    { name: 'OUTPUT0', datatype: 'FP32', shape: [-1, 3] },
    { name: 'OUTPUT1', datatype: 'FP32', shape: [-1, 3] },
  ],
  maxBatchSize: 4,
};

const plain: ModelMetadata = {
  name: 'plain',
  versions: ['1'],
  platform: 'onnx',
  inputs: [{ name: 'X', datatype: 'BYTES', shape: [2, -1] }],
  outputs: [{ name: 'Y', datatype: 'INT64', shape: [2] }],
  maxBatchSize: 0,
};

const in0 = (shape = [2, 3], data: Float32Array = new Float32Array(shape.reduce((a, b) => a * b, 1))): Tensor => ({
  name: 'INPUT0',
  datatype: 'FP32',
  shape,
  data,
});
const in1 = (shape = [2, 5]): Tensor => ({
  name: 'INPUT1',
  datatype: 'INT32',
  shape,
  data: new Int32Array(shape.reduce((a, b) => a * b, 1)),
});
const req = (inputs: Tensor[], extra: Partial<InferRequest> = {}): InferRequest => ({ modelName: 'adder', inputs, ...extra });

function failure(fn: () => void): InferError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InferError);
    return err as InferError;
  }
  throw new Error('expected a throw');
}

describe('validateInferRequest', () => {
  it('accepts a good batched request, with and without requested outputs', () => {
    expect(() => validateInferRequest(req([in0(), in1()]), batching)).not.toThrow();
    expect(() =>
      validateInferRequest(req([in1(), in0()], { outputs: [{ name: 'OUTPUT1' }, { name: 'OUTPUT0' }] }), batching),
    ).not.toThrow();
  });

  it('accepts variable dims of any size, including 0, on a non-batching model', () => {
    const x = (n: number): Tensor => ({ name: 'X', datatype: 'BYTES', shape: [2, n], data: new Array(2 * n).fill(new Uint8Array(1)) });
    expect(() => validateInferRequest({ modelName: 'plain', inputs: [x(0)] }, plain)).not.toThrow();
    expect(() => validateInferRequest({ modelName: 'plain', inputs: [x(7)] }, plain)).not.toThrow();
  });

  const cases: Array<[string, InferRequest, ModelMetadata, string, string]> = [
    ['unknown input', req([in0(), in1(), { ...in1(), name: 'EXTRA' }]), batching, "unknown input 'EXTRA' for model 'adder'; expected one of: INPUT0, INPUT1", 'unknown_input'],
    ['missing input', req([in0()]), batching, "missing input 'INPUT1' for model 'adder'", 'missing_input'],
    ['duplicate input', req([in0(), in0(), in1()]), batching, "input 'INPUT0' is given more than once", 'duplicate_input'],
    ['datatype mismatch', req([in0(), { ...in1(), datatype: 'INT64', data: new BigInt64Array(10) }]), batching, "input 'INPUT1': expected datatype INT32, got INT64", 'datatype_mismatch'],
    ['rank mismatch', req([in0([6]), in1()]), batching, "input 'INPUT0': expected shape [-1,3] (rank 2), got [6] (rank 1)", 'shape_mismatch'],
    ['fixed dim mismatch', req([in0([2, 4]), in1()]), batching, "input 'INPUT0': dim 1 expected 3, got 4", 'shape_mismatch'],
    ['batch over max', req([in0([5, 3]), in1([5, 1])]), batching, "input 'INPUT0': batch size 5 exceeds max_batch_size 4", 'batch_too_large'],
    ['batch zero', req([in0([0, 3]), in1([0, 1])]), batching, "input 'INPUT0': batch size must be at least 1, got 0", 'bad_batch_size'],
    ['batch sizes differ', req([in0([2, 3]), in1([3, 1])]), batching, "input 'INPUT1': batch size 3 differs from batch size 2 of input 'INPUT0'", 'batch_mismatch'],
    ['element count', req([in0([2, 3], new Float32Array(5)), in1()]), batching, "input 'INPUT0': shape [2,3] needs 6 elements, got 5", 'element_count_mismatch'],
    ['negative dim', { modelName: 'plain', inputs: [{ name: 'X', datatype: 'BYTES', shape: [2, -1], data: [] }] }, plain, "input 'X': dim 1 must be a non-negative integer, got -1", 'bad_shape'],
    ['unknown output', req([in0(), in1()], { outputs: [{ name: 'NOPE' }] }), batching, "requested output 'NOPE' is not an output of model 'adder'; expected one of: OUTPUT0, OUTPUT1", 'unknown_output'],
    ['duplicate output', req([in0(), in1()], { outputs: [{ name: 'OUTPUT0' }, { name: 'OUTPUT0', binaryData: true }] }), batching, "output 'OUTPUT0' is requested more than once", 'duplicate_output'],
  ];

  it.each(cases)('rejects %s', (_label, request, meta, message, reason) => {
    const err = failure(() => validateInferRequest(request, meta));
    expect(err.code).toBe('INVALID_ARG');
    expect(err.message).toContain(message);
    expect(err.reason).toBe(reason);
  });

  it('reports storage that does not hold the datatype as an internal error', () => {
    const err = failure(() =>
      validateInferRequest(req([{ ...in0(), data: new Float64Array(6) }, in1()]), batching),
    );
    expect(err.code).toBe('INTERNAL');
    expect(err.message).toContain("input 'INPUT0': storage Float64Array does not hold FP32 elements");
  });

  it('a batching model without batch dim on the input is a rank error', () => {
    const err = failure(() => validateInferRequest(req([in0([3]), in1()]), batching));
    expect(err.message).toContain('(rank 1)');
  });
});

describe('formatShape', () => {
  it('writes shapes compactly', () => {
    expect(formatShape([])).toBe('[]');
    expect(formatShape([-1, 3, 224])).toBe('[-1,3,224]');
  });
});
