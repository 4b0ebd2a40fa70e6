/**
 * Content codings of infer bodies: which Content-Encoding a request may carry, inflating within a
 * limit (on the event loop for small bodies, on the thread pool for large ones), and which coding an
 * answer goes out in for a client's Accept-Encoding.
 */
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  DEFLATE_ON_LOOP_MAX_BYTES, INFLATE_ON_LOOP_MAX_BYTES, answerCoding, deflateBody, inflateBody, requestCodings,
} from '../../core/content-coding.js';
import { InferError } from '../../core/errors.js';

/** Bytes that compress but not to nothing, so that a compressed body stays over the on-loop threshold. */
function sample(length: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 7919) % 251 ^ (i >> 9);
  return bytes;
}

function caught(fn: () => unknown): InferError {
  try {
    fn();
  } catch (err) {
    return err as InferError;
  }
  throw new Error('expected an error');
}

describe('requestCodings', () => {
  it.each([
    [undefined, []],
    ['', []],
    ['identity', []],
    ['gzip', ['gzip']],
    ['GZip', ['gzip']],
    ['deflate', ['deflate']],
    ['deflate, gzip', ['deflate', 'gzip']],
    [' gzip , identity', ['gzip']],
  ])('%j → %j', (header, codings) => {
    expect(requestCodings(header)).toEqual(codings);
  });

  it.each(['br', 'zstd', 'compress', 'gzip, br'])('%s is refused with 400, naming it and the supported codings', (header) => {
    const error = caught(() => requestCodings(header));
    expect(error).toBeInstanceOf(InferError);
    expect(error.code).toBe('INVALID_ARG');
    expect(error.reason).toBe('unsupported_encoding');
    const named = header.split(',').map((s) => s.trim()).find((c) => c !== 'gzip');
    expect(error.message).toBe(`unsupported Content-Encoding '${named}'; supported: gzip, deflate, identity`);
  });
});

describe('inflateBody', () => {
  const small = Buffer.from('{"inputs": []}');
  const large = sample(4 * 1024 * 1024);

  it.each([
    ['gzip, small (on the event loop)', 'gzip', small, zlib.gzipSync],
    ['deflate, small (on the event loop)', 'deflate', small, zlib.deflateSync],
    ['gzip, large (thread pool)', 'gzip', large, zlib.gzipSync],
    ['deflate, large (thread pool)', 'deflate', large, zlib.deflateSync],
  ] as const)('%s gives the body back', async (_name, coding, body, compress) => {
    const compressed = compress(body);
    expect(compressed.length > INFLATE_ON_LOOP_MAX_BYTES).toBe(body === large);
    expect((await inflateBody(compressed, [coding], body.length)).equals(body)).toBe(true);
  });

  it('undoes several codings, the last applied first', async () => {
    const twice = zlib.gzipSync(zlib.deflateSync(large));
    expect((await inflateBody(twice, ['deflate', 'gzip'], large.length)).equals(large)).toBe(true);
  });

  it('reads a zlib stream labelled gzip (automatic header detection, as Triton)', async () => {
    expect((await inflateBody(zlib.deflateSync(small), ['gzip'], 1024)).equals(small)).toBe(true);
  });

  it.each([
    ['small', zlib.gzipSync(Buffer.alloc(1_000_000))],
    ['large', zlib.gzipSync(sample(1_000_000))],
  ])('a %s body inflating past the limit is 413, not inflated whole', async (_name, compressed) => {
    await expect(inflateBody(compressed, ['gzip'], 999_999)).rejects.toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
      reason: 'body_too_large',
      message: 'request body (Content-Encoding: gzip) inflates to more than the configured limit (--max-body-bytes = 999999)',
    });
    expect((await inflateBody(compressed, ['gzip'], 1_000_000)).length).toBe(1_000_000);
  });

  it.each([
    ['not compressed at all', Buffer.from('{"inputs": []}'), 'gzip', /^request body is not valid gzip data \(Content-Encoding: gzip\): incorrect header check$/],
    ['cut short', zlib.deflateSync(large).subarray(0, 5000), 'deflate', /^request body is not valid deflate data \(Content-Encoding: deflate\): unexpected end of file$/],
  ] as const)('a body %s is 400 naming the coding', async (_name, body, coding, message) => {
    await expect(inflateBody(body, [coding], 1 << 30)).rejects.toMatchObject({ code: 'INVALID_ARG', reason: 'malformed_encoding', message: expect.stringMatching(message) });
  });
});

describe('answerCoding', () => {
  it.each([
    [undefined, undefined],
    ['', undefined],
    ['gzip', 'gzip'],
    ['deflate', 'deflate'],
    ['gzip, deflate', 'gzip'],
    ['deflate, gzip', 'gzip'],
    ['deflate;q=1, gzip;q=0.5', 'deflate'],
    ['gzip;q=0, deflate', 'deflate'],
    ['gzip;q=0', undefined],
    ['br', undefined],
    ['br, deflate;q=0.1', 'deflate'],
    ['*', 'gzip'],
    ['*;q=0.5, gzip;q=0', 'deflate'],
    ['identity', undefined],
    ['identity;q=1, gzip;q=0.5', undefined],
    ['identity;q=0.5, gzip', 'gzip'],
    ['gzip;q=abc, deflate;q=0.2', 'deflate'],
    ['GZIP ; Q=0.9', 'gzip'],
  ])('Accept-Encoding %j → %j', (header, coding) => {
    expect(answerCoding(header)).toBe(coding);
  });
});

describe('deflateBody', () => {
  it.each([
    ['gzip', 'small', 2048, zlib.gunzipSync],
    ['deflate', 'small', 2048, zlib.inflateSync],
    ['gzip', 'large', 1024 * 1024, zlib.gunzipSync],
    ['deflate', 'large', 1024 * 1024, zlib.inflateSync],
  ] as const)('%s, %s: what a client inflates is the body', async (coding, _size, length, inflate) => {
    const body = sample(length);
    const compressed = deflateBody(body, coding);
    // Small answers are compressed on the event loop, at once; large ones on the thread pool.
    expect(compressed instanceof Promise).toBe(length > DEFLATE_ON_LOOP_MAX_BYTES);
    expect(inflate(await compressed).equals(body)).toBe(true);
  });
});
