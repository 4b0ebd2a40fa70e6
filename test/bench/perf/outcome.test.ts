import { describe, expect, it } from 'vitest';
import { InferenceServerError } from '../../../client/client-errors.js';
import { classifyError, classifyGrpcCode, classifyHttpStatus } from '../../../bench/perf/outcome.js';

const withCode = (code: string, message = code) => Object.assign(new Error(message), { code });

describe('outcome classification', () => {
  it.each([
    [200, 'ok'], [400, 'failed'], [404, 'failed'], [413, 'failed'], [429, 'refused'], [500, 'failed'],
    [501, 'failed'], [503, 'refused'], [504, 'timed_out'],
  ])('HTTP %i → %s', (status, outcome) => {
    expect(classifyHttpStatus(status)).toBe(outcome);
  });

  it.each([
    [0, 'ok'], [3, 'failed'], [4, 'timed_out'], [5, 'failed'], [8, 'refused'], [12, 'failed'], [13, 'failed'], [14, 'refused'],
  ])('gRPC code %i → %s', (code, outcome) => {
    expect(classifyGrpcCode(code)).toBe(outcome);
  });

  it.each([
    ['an InferenceServerError 503 (also a gRPC UNAVAILABLE, through the client)', new InferenceServerError(503, 'queue full'), 'refused'],
    ['an InferenceServerError 429 (gRPC RESOURCE_EXHAUSTED)', new InferenceServerError(429, 'too many'), 'refused'],
    ['an InferenceServerError 504 (gRPC DEADLINE_EXCEEDED)', new InferenceServerError(504, 'deadline'), 'timed_out'],
    ['an InferenceServerError 400', new InferenceServerError(400, 'bad input'), 'failed'],
    ['an InferenceServerError 500', new InferenceServerError(500, 'boom'), 'failed'],
    ['connection refused', withCode('ECONNREFUSED'), 'refused'],
    ['connection reset', withCode('ECONNRESET'), 'refused'],
    ['undici: other side closed', withCode('UND_ERR_SOCKET', 'other side closed'), 'refused'],
    ['undici: connect timeout', withCode('UND_ERR_CONNECT_TIMEOUT'), 'refused'],
    ['refused inside an AggregateError (Node tries each address)', new AggregateError([withCode('ECONNREFUSED')], ''), 'refused'],
    ['refused as the cause', new Error('fetch failed', { cause: withCode('ECONNREFUSED') }), 'refused'],
    ['undici: headers timeout', withCode('UND_ERR_HEADERS_TIMEOUT'), 'timed_out'],
    ['undici: body timeout', withCode('UND_ERR_BODY_TIMEOUT'), 'timed_out'],
    ['an abort by the timeout signal', new DOMException('timeout', 'TimeoutError'), 'timed_out'],
    ['a raw gRPC ServiceError UNAVAILABLE', Object.assign(new Error('14 UNAVAILABLE'), { code: 14, metadata: {} }), 'refused'],
    ['a raw gRPC ServiceError DEADLINE_EXCEEDED', Object.assign(new Error('4 DEADLINE_EXCEEDED'), { code: 4, metadata: {} }), 'timed_out'],
    ['a raw gRPC ServiceError INVALID_ARGUMENT', Object.assign(new Error('3 INVALID_ARGUMENT'), { code: 3, metadata: {} }), 'failed'],
    ['anything else', new TypeError('the answer has no output'), 'failed'],
    ['a thrown string', 'oops', 'failed'],
  ])('%s → %s', (_what, err, outcome) => {
    expect(classifyError(err).outcome).toBe(outcome);
  });

  it('keeps the error code in the message', () => {
    expect(classifyError(withCode('ECONNREFUSED', 'connect failed')).message).toBe('ECONNREFUSED: connect failed');
    expect(classifyError(new InferenceServerError(503, 'queue full')).message).toBe('UNAVAILABLE: queue full');
  });
});
