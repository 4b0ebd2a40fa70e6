/**
 * HTTP content codings of infer bodies (RFC 9110 §8.4), both ways, as Triton offers them: gzip and
 * deflate (the zlib format, as RFC 9110 defines it), and identity.
 * - A request body is inflated by the node that decodes it; a gateway forwards the compressed bytes
 *   and the header unchanged. The inflated size is bounded by the same limit as the body itself
 *   (--max-body-bytes): zlib stops at the limit (`maxOutputLength`), so a "gzip bomb" costs at most
 *   that many bytes and is answered 413, never inflated whole.
 * - An answer is compressed in the coding the client's Accept-Encoding prefers, by the node that
 *   encodes it, so a gateway passes the compressed bytes on as they came.
 * - Small bodies are (de)compressed on the event loop, large ones with zlib's async API, on libuv's
 *   thread pool, so that a big tensor does not stall every other request.
 */
import { constants as bufferConstants } from 'node:buffer';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { InferError, invalidArg } from './errors.js';
import { CONTENT_ENCODING, headerName } from './http-headers.js';

export type ContentCoding = 'gzip' | 'deflate';

/** In the order of preference when a client accepts both equally. */
export const SUPPORTED_CODINGS: readonly ContentCoding[] = ['gzip', 'deflate'];
const IDENTITY = 'identity';

/** Largest request body by default, before and after inflating (--max-body-bytes): Triton's default input cap. */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024;

/**
 * Answers smaller than this go uncompressed: on a few hundred bytes of JSON, gzip's frame and the
 * CPU time outweigh the bytes saved (Triton compresses any size; a tiny answer gains nothing).
 */
export const MIN_COMPRESSED_ANSWER_BYTES = 1024;

/**
 * Compressed request bodies up to this size are inflated on the event loop: a thread-pool round trip
 * costs more than the work. Deflate's ratio is at most about 1:1030, so this inflates to ~1 MiB at worst.
 */
export const INFLATE_ON_LOOP_MAX_BYTES = 1024;

/** Answers up to this size are compressed on the event loop (well under a millisecond at zlib's default level). */
export const DEFLATE_ON_LOOP_MAX_BYTES = 16 * 1024;

/**
 * zlib's output chunk on the async API, where each chunk is one thread-pool round trip: with zlib's
 * 16 KiB default, inflating 64 MiB took about 8 times longer. Also the most an inflated body may
 * overshoot the limit in memory before zlib stops. (The on-loop calls keep the default: their
 * bodies are small.)
 */
const ASYNC_ZLIB_CHUNK_BYTES = 256 * 1024;

const NO_CODINGS: readonly ContentCoding[] = [];

const unzipAsync = promisify(zlib.unzip);
const gzipAsync = promisify(zlib.gzip);
const deflateAsync = promisify(zlib.deflate);

/**
 * The codings of a request's Content-Encoding, in the order they were applied (identity left out).
 * An unknown coding is the client's error (400), said before any work is done.
 */
export function requestCodings(contentEncoding: string | undefined): readonly ContentCoding[] {
  if (contentEncoding === undefined || contentEncoding === '' || contentEncoding === IDENTITY) return NO_CODINGS;
  const codings: ContentCoding[] = [];
  for (const part of contentEncoding.split(',')) {
    const coding = part.trim().toLowerCase();
    if (coding === IDENTITY || coding === '') continue;
    if (!isSupported(coding)) throw unsupportedCoding(coding);
    codings.push(coding);
  }
  return codings;
}

function isSupported(coding: string): coding is ContentCoding {
  return (SUPPORTED_CODINGS as readonly string[]).includes(coding);
}

function unsupportedCoding(coding: string): InferError {
  return invalidArg(
    `unsupported ${headerName(CONTENT_ENCODING)} '${coding}'; supported: ${[...SUPPORTED_CODINGS, IDENTITY].join(', ')}`,
    'unsupported_encoding',
  );
}

/** The body with its codings undone, last applied first; 413 when it inflates beyond `maxBytes`. */
export async function inflateBody(body: Buffer, codings: readonly ContentCoding[], maxBytes: number): Promise<Buffer> {
  let inflated = body;
  for (let i = codings.length - 1; i >= 0; i--) inflated = await inflateOne(inflated, codings[i], maxBytes);
  return inflated;
}

async function inflateOne(body: Buffer, coding: ContentCoding, maxBytes: number): Promise<Buffer> {
  // unzip reads the gzip and the zlib header alike, as Triton does (inflateInit2 with automatic header detection).
  const maxOutputLength = Math.min(maxBytes, bufferConstants.MAX_LENGTH);
  try {
    if (body.length <= INFLATE_ON_LOOP_MAX_BYTES) return zlib.unzipSync(body, { maxOutputLength });
    return await unzipAsync(body, { maxOutputLength, chunkSize: ASYNC_ZLIB_CHUNK_BYTES });
  } catch (err) {
    throw inflateError(err as NodeJS.ErrnoException, coding, maxBytes);
  }
}

function inflateError(err: NodeJS.ErrnoException, coding: ContentCoding, maxBytes: number): InferError {
  if (err.code === 'ERR_BUFFER_TOO_LARGE') {
    return new InferError(
      'PAYLOAD_TOO_LARGE',
      `request body (${headerName(CONTENT_ENCODING)}: ${coding}) inflates to more than the configured limit (--max-body-bytes = ${maxBytes})`,
      'body_too_large',
    );
  }
  return invalidArg(`request body is not valid ${coding} data (${headerName(CONTENT_ENCODING)}: ${coding}): ${err.message}`, 'malformed_encoding');
}

/**
 * The coding an answer goes out in, from the client's Accept-Encoding: the supported coding with
 * the highest q-value (a tie goes to gzip; `*` stands for any), none when the client gives identity
 * a higher one or refuses both (q=0). As Triton's choice, with `*` and ties made explicit.
 */
export function answerCoding(acceptEncoding: string | undefined): ContentCoding | undefined {
  if (acceptEncoding === undefined || acceptEncoding === '') return undefined;
  const weights = acceptedWeights(acceptEncoding);
  const any = weights.get('*');
  let best: ContentCoding | undefined;
  let bestWeight = 0;
  for (const coding of SUPPORTED_CODINGS) {
    const weight = weights.get(coding) ?? any ?? 0;
    if (weight > bestWeight) {
      best = coding;
      bestWeight = weight;
    }
  }
  return (weights.get(IDENTITY) ?? 0) > bestWeight ? undefined : best;
}

/** `gzip;q=0.8, deflate` → {gzip: 0.8, deflate: 1}; an entry with an unreadable q-value is left out. */
function acceptedWeights(acceptEncoding: string): Map<string, number> {
  const weights = new Map<string, number>();
  for (const entry of acceptEncoding.split(',')) {
    const [name, ...params] = entry.split(';');
    const coding = name.trim().toLowerCase();
    if (coding === '') continue;
    const weight = qValue(params);
    if (weight !== undefined) weights.set(coding, weight);
  }
  return weights;
}

function qValue(params: string[]): number | undefined {
  for (const param of params) {
    const [key, value] = param.split('=').map((s) => s.trim());
    if (key.toLowerCase() !== 'q') continue;
    const weight = Number(value);
    return value !== undefined && value !== '' && weight >= 0 && weight <= 1 ? weight : undefined;
  }
  return 1;
}

/** The answer body in `coding`: gzip or the zlib format (deflate), at zlib's default level as Triton. */
export function deflateBody(body: Uint8Array, coding: ContentCoding): Buffer | Promise<Buffer> {
  if (body.byteLength <= DEFLATE_ON_LOOP_MAX_BYTES) return coding === 'gzip' ? zlib.gzipSync(body) : zlib.deflateSync(body);
  const options: zlib.ZlibOptions = { chunkSize: ASYNC_ZLIB_CHUNK_BYTES };
  return coding === 'gzip' ? gzipAsync(body, options) : deflateAsync(body, options);
}
