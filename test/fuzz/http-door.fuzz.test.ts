/**
 * The HTTP door end to end (fastify, body limits, content codings, the binary extension's header,
 * the parsers, the engine): random and mutated infer requests with random headers, injected into
 * an embedded node serving the bundled add_sub. Every answer is a 200 or a 4xx in the protocol's
 * error shape (501 for a feature not offered, 504 for a deadline the client set to 0 or 100 ms);
 * never another 5xx.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundledModelsDir } from '../../core/package-root.js';
import { startEmbeddedServer, type EmbeddedServer } from '../support/embedded-server.js';
import { checkProperty } from './fuzz-settings.js';

const VALID = {
  inputs: [
    { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: Array.from({ length: 16 }, (_, i) => i) },
    { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: Array(16).fill(3) },
  ],
};
const VALID_TEXT = JSON.stringify(VALID);

let server: EmbeddedServer;
let repository: string;
beforeAll(async () => {
  repository = mkdtempSync(path.join(os.tmpdir(), 'infergate-fuzz-http-'));
  cpSync(path.join(bundledModelsDir(), 'add_sub'), path.join(repository, 'add_sub'), { recursive: true });
  server = await startEmbeddedServer({ modelsDir: repository, limits: { maxBodyBytes: 64 * 1024 } });
}, 60_000);
afterAll(async () => {
  await server?.close();
  rmSync(repository, { recursive: true, force: true });
});

const body = fc.oneof(
  { weight: 3, arbitrary: fc.record({ at: fc.nat(), cut: fc.nat({ max: 10 }), insert: fc.string({ maxLength: 6 }) })
    .map(({ at, cut, insert }) => { const i = at % VALID_TEXT.length; return Buffer.from(VALID_TEXT.slice(0, i) + insert + VALID_TEXT.slice(i + cut)); }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => Buffer.from(JSON.stringify(v) ?? '')) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)) },
  { weight: 1, arbitrary: fc.constant(Buffer.from(VALID_TEXT)) },
);

const headers = fc.record({
  'content-type': fc.constantFrom('application/json', 'application/octet-stream', 'text/plain', 'multipart/form-data; boundary=x', '', 'application/json; charset=latin1'),
  'content-encoding': fc.constantFrom('gzip', 'deflate', 'br', 'gzip, gzip', 'identity', 'x'),
  'inference-header-content-length': fc.oneof(fc.nat({ max: 400 }).map(String), fc.constantFrom('-1', 'abc', '1e3', '')),
  'infergate-timeout-ms': fc.constantFrom('0', '-5', 'abc', '100', '99999999999999999999'),
  'accept-encoding': fc.constantFrom('gzip', 'deflate', 'br;q=0', '*', 'x'),
}, { requiredKeys: [] });

const path_ = fc.constantFrom('/v2/models/add_sub/infer', '/v2/models/add_sub/versions/1/infer', '/v2/models/add_sub/versions/x/infer', '/v2/models/nope/infer', '/v2/models/%2e%2e/infer');

describe('fuzz: the HTTP door', { timeout: 60_000 }, () => {
  it('an empty Content-Type is a 415 in the error shape, not a 501 (found by this fuzzer)', async () => {
    const response = await server.app.inject({ method: 'POST', url: '/v2/models/add_sub/infer', payload: VALID_TEXT, headers: { 'content-type': '' } });
    expect(response.statusCode).toBe(415);
    expect(JSON.parse(response.body)).toEqual({ error: 'Unsupported Media Type' });
  });

  it('random requests with random headers: 200 or a 4xx in the error shape', async () => {
    const statuses = new Map<number, number>();
    const samples = new Map<number, string>();
    const someHeaders = fc.oneof({ weight: 3, arbitrary: headers }, { weight: 1, arbitrary: fc.constant({ 'content-type': 'application/json' }) });
    const somePath = fc.oneof({ weight: 3, arbitrary: path_ }, { weight: 1, arbitrary: fc.constant('/v2/models/add_sub/infer') });
    await checkProperty('http door: requests with random headers', fc.asyncProperty(body, someHeaders, fc.boolean(), somePath, async (payload, h, compress, url) => {
      const sent = compress && (h as Record<string, string>)['content-encoding'] === 'gzip' ? gzipSync(payload) : payload;
      const response = await server.app.inject({ method: 'POST', url, payload: sent, headers: h as Record<string, string> });
      statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
      if (!samples.has(response.statusCode)) samples.set(response.statusCode, `${JSON.stringify(h)} ${response.body.slice(0, 160)}`);
      const detail = `${response.statusCode} ${response.body.slice(0, 300)}`;
      // A 504 answers a deadline the client set itself (infergate-timeout-ms: 0 expires at once, as documented).
      const ownDeadline = response.statusCode === 504 && Number((h as Record<string, string>)['infergate-timeout-ms']) <= 100;
      expect(response.statusCode === 200 || response.statusCode === 501 || ownDeadline || (response.statusCode >= 400 && response.statusCode < 500), detail).toBe(true);
      if (response.statusCode !== 200 && response.headers['content-type']?.toString().startsWith('application/json')) {
        expect(typeof JSON.parse(response.body).error, detail).toBe('string');
      }
    }), 4000);
    console.log(`[fuzz] http door statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}`);
    for (const [status, sample] of samples) console.log(`[fuzz]   e.g. ${status}: ${sample}`);
    expect(statuses.get(200) ?? 0).toBeGreaterThan(0);
  }, 120_000);
});
