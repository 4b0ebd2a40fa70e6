/**
 * Triton's serving parameters, `timeout` (µs) and `priority`: checked as non-negative integers by
 * both codecs (JSON and binary HTTP bodies, the gRPC parameters map), with a 400 naming the
 * parameter, and kept in the request's parameters.
 */
import { describe, expect, it } from 'vitest';
import { InferError } from '../../core/errors.js';
import { encodeInferRequest } from '../../core/infer-binary.js';
import { decodeGrpcInferRequest } from '../../core/kserve-grpc-codec.js';
import { inferMessageTypes } from '../../core/kserve-grpc-proto.js';
import { decodeHttpInferRequest } from '../../core/kserve-http-codec.js';
import type { ModelMetadata } from '../../core/model-metadata.js';
import { checkServingParameters, timeoutParameterPassed, timeoutParameterUs } from '../../core/request-parameters.js';
import type { InferRequest, Parameters } from '../../core/tensor.js';

const meta: ModelMetadata = {
  name: 'echo',
  versions: ['1'],
  platform: 'test',
  inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [-1] }],
  outputs: [{ name: 'OUTPUT0', datatype: 'FP32', shape: [-1] }],
  maxBatchSize: 0,
};
const limits = { maxTensorElements: 1000 };
const input = { name: 'INPUT0', datatype: 'FP32', shape: [2], data: [1, 2] };

function caught(fn: () => unknown): InferError {
  try {
    fn();
  } catch (err) {
    return err as InferError;
  }
  throw new Error('expected an error');
}

/** Decodes synchronously (no Content-Encoding): the HTTP codec then answers without a promise. */
function decodeJson(parameters: unknown): InferRequest {
  const body = Buffer.from(JSON.stringify({ parameters, inputs: [input] }));
  return decodeHttpInferRequest({ format: 'kserve-http', body }, 'echo', '1', meta, limits) as InferRequest;
}

function decodeBinary(parameters: Parameters): InferRequest {
  const encoded = encodeInferRequest({ modelName: 'echo', parameters, inputs: [{ ...input, datatype: 'FP32', data: new Float32Array([1, 2]) }] }, { binaryOutputs: false });
  return decodeHttpInferRequest({ format: 'kserve-http', body: encoded.body, headerLength: String(encoded.headerLength) }, 'echo', '1', meta, limits) as InferRequest;
}

function decodeGrpc(parameters: Record<string, object>): InferRequest {
  const types = inferMessageTypes();
  const message = types.request.fromObject({
    model_name: 'echo', parameters,
    inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [2], contents: { fp32_contents: [1, 2] } }],
  });
  return decodeGrpcInferRequest(types.request.encode(message).finish(), 'echo', '1', meta, limits);
}

describe('checkServingParameters', () => {
  it.each([
    [undefined],
    [{}],
    [{ timeout: 0, priority: 0 }],
    [{ timeout: 1000, priority: 3 }],
    [{ timeout: 2 ** 60 }],
    [{ other: 'anything', binary_data_output: true }],
  ])('%j passes', (params) => {
    expect(() => checkServingParameters(params)).not.toThrow();
  });

  it.each([
    [{ timeout: 'abc' }, `request: parameter 'timeout' must be a non-negative integer (microseconds), got string "abc"`],
    [{ timeout: -1 }, `request: parameter 'timeout' must be a non-negative integer (microseconds), got number -1`],
    [{ timeout: 1.5 }, `request: parameter 'timeout' must be a non-negative integer (microseconds), got number 1.5`],
    [{ timeout: true }, `request: parameter 'timeout' must be a non-negative integer (microseconds), got boolean true`],
    [{ priority: -2 }, `request: parameter 'priority' must be a non-negative integer, got number -2`],
    [{ priority: 'high' }, `request: parameter 'priority' must be a non-negative integer, got string "high"`],
  ])('%j is a 400 naming the parameter', (params, message) => {
    const error = caught(() => checkServingParameters(params as Parameters));
    expect(error).toMatchObject({ code: 'INVALID_ARG', reason: 'bad_parameter', message });
  });
});

describe('timeoutParameterUs', () => {
  it('reads the timeout; absent or 0 is none (Triton: 0 means no timeout)', () => {
    expect(timeoutParameterUs(undefined)).toBeUndefined();
    expect(timeoutParameterUs({})).toBeUndefined();
    expect(timeoutParameterUs({ timeout: 0 })).toBeUndefined();
    expect(timeoutParameterUs({ timeout: 1500 })).toBe(1500);
  });

  it('its answer is a 504 that says which limit passed', () => {
    expect(timeoutParameterPassed(1000)).toMatchObject({ code: 'DEADLINE_EXCEEDED', message: 'request did not finish within its timeout parameter (1000 µs)' });
  });
});

describe('the codecs check them', () => {
  it('JSON: kept in the parameters when valid, 400 naming the parameter when not', () => {
    expect(decodeJson({ timeout: 1000, priority: 1 }).parameters).toEqual({ timeout: 1000, priority: 1 });
    expect(caught(() => decodeJson({ timeout: 'abc' })).message).toMatch(/parameter 'timeout'/);
  });

  it('binary extension: the same', () => {
    expect(decodeBinary({ timeout: 1000 }).parameters).toEqual({ timeout: 1000 });
    expect(caught(() => decodeBinary({ priority: -1 })).message).toMatch(/parameter 'priority'/);
  });

  it('gRPC parameters map: int64 values pass, a string or a negative value is a 400 naming the parameter', () => {
    expect(decodeGrpc({ timeout: { int64_param: 1000 }, priority: { uint64_param: 2 } }).parameters).toEqual({ timeout: 1000, priority: 2 });
    expect(caught(() => decodeGrpc({ timeout: { string_param: 'abc' } }))).toMatchObject({
      code: 'INVALID_ARG', message: `request: parameter 'timeout' must be a non-negative integer (microseconds), got string "abc"`,
    });
    expect(caught(() => decodeGrpc({ priority: { int64_param: -1 } })).message).toMatch(/parameter 'priority'/);
  });
});
