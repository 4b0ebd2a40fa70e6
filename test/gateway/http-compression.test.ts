/**
 * Compressed bodies at the HTTP door, over real sockets (the embedded server on 127.0.0.1:0, the
 * node:http infer entry): gzip and deflate requests, JSON and binary, get the answers plain ones
 * get; an unknown Content-Encoding is a 400 that names it; a gzip bomb is a 413 at once, and the
 * server goes on serving; Accept-Encoding gets a compressed answer that inflates to the plain one.
 */
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import zlib from 'node:zlib';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIN_COMPRESSED_ANSWER_BYTES } from '../../core/content-coding.js';
import { BINARY_CONTENT_TYPE } from '../../core/http-headers.js';
import { encodeInferRequest } from '../../core/infer-binary.js';
import { startEmbeddedServer, type EmbeddedServer } from '../support/embedded-server.js';

const MAX_BODY_BYTES = 16 * 1024 * 1024;
const BOMB_INFLATED_BYTES = 1024 * 1024 * 1024;
/** How long the bomb's 413 may take: inflating up to the 16 MiB limit takes milliseconds. */
const BOMB_ANSWER_MAX_MS = 2_000;

const client = new Agent({ connections: 4 });
let server: EmbeddedServer;
let base: string;
let bomb: Buffer;

/** 1 GiB of zeros through gzip as a stream: about 1 MB, and the test never holds the 1 GiB. */
async function gzipBomb(inflatedBytes: number): Promise<Buffer> {
  const chunk = Buffer.alloc(1024 * 1024);
  function* zeros() {
    for (let sent = 0; sent < inflatedBytes; sent += chunk.length) yield chunk;
  }
  return buffer(Readable.from(zeros()).pipe(zlib.createGzip({ level: zlib.constants.Z_BEST_COMPRESSION })));
}

beforeAll(async () => {
  server = await startEmbeddedServer({ limits: { maxBodyBytes: MAX_BODY_BYTES } });
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`;
  bomb = await gzipBomb(BOMB_INFLATED_BYTES);
}, 60_000);
afterAll(async () => {
  await client.close();
  await server?.close();
});

interface Sent {
  path: string;
  headers: Record<string, string>;
  body: Buffer;
}

interface Answer {
  status: number;
  contentType?: string;
  contentEncoding?: string;
  headerLength?: string;
  body: Buffer;
}

async function send(sent: Sent): Promise<Answer> {
  const r = await request(`${base}${sent.path}`, { method: 'POST', body: sent.body, headers: sent.headers, dispatcher: client });
  const header = (name: string) => r.headers[name] as string | undefined;
  return {
    status: r.statusCode,
    contentType: header('content-type'),
    contentEncoding: header('content-encoding'),
    headerLength: header('inference-header-content-length'),
    body: Buffer.from(await r.body.arrayBuffer()),
  };
}

const COMPRESS = { gzip: zlib.gzipSync, deflate: zlib.deflateSync } as const;
const INFLATE = { gzip: zlib.gunzipSync, deflate: zlib.inflateSync } as const;

function compressed(sent: Sent, coding: keyof typeof COMPRESS): Sent {
  return { ...sent, headers: { ...sent.headers, 'content-encoding': coding }, body: COMPRESS[coding](sent.body) };
}

function accepting(sent: Sent, acceptEncoding: string): Sent {
  return { ...sent, headers: { ...sent.headers, 'accept-encoding': acceptEncoding } };
}

const ints = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));

/** add_sub in JSON: a small answer (under MIN_COMPRESSED_ANSWER_BYTES). */
const JSON_REQUEST: Sent = {
  path: '/v2/models/add_sub/infer',
  headers: { 'content-type': 'application/json' },
  body: Buffer.from(JSON.stringify({
    inputs: [
      { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: ints(16, (i) => i) },
      { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: ints(16, () => 3) },
    ],
  })),
};

/** identity in JSON with 128 long decimals: an answer of a few KiB. */
const LARGE_JSON_REQUEST: Sent = {
  path: '/v2/models/identity/infer',
  headers: { 'content-type': 'application/json' },
  body: Buffer.from(JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [8, 16], data: ints(128, (i) => i / 7) }] })),
};

/** add_sub with the binary extension both ways: two outputs of 8 × 16 INT32, over MIN_COMPRESSED_ANSWER_BYTES. */
function binaryRequest(): Sent {
  const encoded = encodeInferRequest({
    modelName: 'add_sub',
    inputs: [
      { name: 'INPUT0', datatype: 'INT32', shape: [8, 16], data: Int32Array.from(ints(128, (i) => i * 1000)) },
      { name: 'INPUT1', datatype: 'INT32', shape: [8, 16], data: Int32Array.from(ints(128, (i) => i % 5)) },
    ],
  }, { binaryOutputs: true });
  return {
    path: '/v2/models/add_sub/infer',
    headers: { 'content-type': BINARY_CONTENT_TYPE, 'inference-header-content-length': String(encoded.headerLength) },
    body: Buffer.from(encoded.body),
  };
}

describe('compressed requests (real sockets)', () => {
  it.each(['gzip', 'deflate'] as const)('%s: a JSON request gets the answer the plain one gets', async (coding) => {
    const plain = await send(JSON_REQUEST);
    expect(plain.status).toBe(200);
    expect(JSON.parse(plain.body.toString()).outputs[0].data.slice(0, 3)).toEqual([3, 4, 5]);
    expect(await send(compressed(JSON_REQUEST, coding))).toEqual(plain);
  });

  it.each(['gzip', 'deflate'] as const)('%s: a binary-extension request gets the answer the plain one gets', async (coding) => {
    const sent = binaryRequest();
    const plain = await send(sent);
    expect(plain.status).toBe(200);
    expect(plain.headerLength).toBeDefined();
    expect(await send(compressed(sent, coding))).toEqual(plain);
  });

  it('Content-Encoding: identity is the plain body', async () => {
    expect(await send({ ...JSON_REQUEST, headers: { ...JSON_REQUEST.headers, 'content-encoding': 'identity' } })).toEqual(await send(JSON_REQUEST));
  });

  it.each(['br', 'zstd'])('an unknown Content-Encoding (%s) is a 400 that names it and the supported ones', async (coding) => {
    const answer = await send({ ...JSON_REQUEST, headers: { ...JSON_REQUEST.headers, 'content-encoding': coding } });
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body.toString())).toEqual({ error: `unsupported Content-Encoding '${coding}'; supported: gzip, deflate, identity` });
  });

  it('a body that is not what its Content-Encoding says is a 400 naming the coding, not "malformed JSON"', async () => {
    const answer = await send({ ...JSON_REQUEST, headers: { ...JSON_REQUEST.headers, 'content-encoding': 'gzip' } });
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body.toString()).error).toBe('request body is not valid gzip data (Content-Encoding: gzip): incorrect header check');
  });

  it('a gzip bomb (1 GiB of zeros in ~1 MB) is a 413 at once, and the server goes on serving', async () => {
    expect(bomb.length).toBeLessThan(2 * 1024 * 1024);
    const startedAt = performance.now();
    const answer = await send({ ...LARGE_JSON_REQUEST, headers: { ...LARGE_JSON_REQUEST.headers, 'content-encoding': 'gzip' }, body: bomb });
    const ms = performance.now() - startedAt;
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body.toString())).toEqual({
      error: `request body (Content-Encoding: gzip) inflates to more than the configured limit (--max-body-bytes = ${MAX_BODY_BYTES})`,
    });
    expect(ms).toBeLessThan(BOMB_ANSWER_MAX_MS);
    expect((await send(compressed(JSON_REQUEST, 'gzip'))).status).toBe(200);
  });

  it('through the fastify route too (app.inject)', async () => {
    const sent = compressed(JSON_REQUEST, 'deflate');
    const injected = await server.app.inject({ method: 'POST', url: sent.path, headers: sent.headers, payload: sent.body });
    expect(injected.statusCode).toBe(200);
    expect(injected.rawPayload.equals((await send(JSON_REQUEST)).body)).toBe(true);
  });
});

describe('compressed answers for Accept-Encoding (real sockets)', () => {
  it.each([
    ['gzip', 'gzip'],
    ['deflate', 'deflate'],
    ['gzip, deflate', 'gzip'],
    ['deflate, gzip;q=0.5', 'deflate'],
  ] as const)('Accept-Encoding: %s → a %s answer that inflates to the plain one', async (acceptEncoding, coding) => {
    const plain = await send(LARGE_JSON_REQUEST);
    expect(plain.body.length).toBeGreaterThan(MIN_COMPRESSED_ANSWER_BYTES);
    const answer = await send(accepting(LARGE_JSON_REQUEST, acceptEncoding));
    expect(answer.status).toBe(200);
    expect(answer.contentEncoding).toBe(coding);
    expect(answer.contentType).toBe(plain.contentType);
    expect(answer.body.length).toBeLessThan(plain.body.length);
    expect(INFLATE[coding](answer.body).equals(plain.body)).toBe(true);
  });

  it('a binary answer: the whole body compressed, Inference-Header-Content-Length the uncompressed JSON header\'s (as Triton)', async () => {
    const sent = binaryRequest();
    const plain = await send(sent);
    expect(plain.body.length).toBeGreaterThan(MIN_COMPRESSED_ANSWER_BYTES);
    const answer = await send(accepting(sent, 'gzip'));
    expect(answer.contentEncoding).toBe('gzip');
    expect(answer.headerLength).toBe(plain.headerLength);
    expect(answer.contentType).toBe(BINARY_CONTENT_TYPE);
    expect(zlib.gunzipSync(answer.body).equals(plain.body)).toBe(true);
  });

  it('a compressed request with Accept-Encoding: both ways at once', async () => {
    const plain = await send(LARGE_JSON_REQUEST);
    const answer = await send(accepting(compressed(LARGE_JSON_REQUEST, 'gzip'), 'gzip'));
    expect(answer.contentEncoding).toBe('gzip');
    expect(zlib.gunzipSync(answer.body).equals(plain.body)).toBe(true);
  });

  it.each([
    ['a small answer (under MIN_COMPRESSED_ANSWER_BYTES)', JSON_REQUEST, 'gzip'],
    ['gzip refused (q=0)', LARGE_JSON_REQUEST, 'gzip;q=0'],
    ['only codings the server does not offer', LARGE_JSON_REQUEST, 'br'],
  ])('%s goes uncompressed', async (_name, sent, acceptEncoding) => {
    const answer = await send(accepting(sent, acceptEncoding));
    expect(answer.contentEncoding).toBeUndefined();
    expect(answer).toEqual(await send(sent));
  });

  it('an error answer goes uncompressed', async () => {
    const answer = await send(accepting({ ...LARGE_JSON_REQUEST, path: '/v2/models/nope/infer' }, 'gzip'));
    expect(answer.status).toBe(404);
    expect(answer.contentEncoding).toBeUndefined();
    expect(JSON.parse(answer.body.toString())).toEqual({ error: "unknown model: 'nope'" });
  });
});
