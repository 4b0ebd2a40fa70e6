/**
 * What the node does with a request that a gateway forwards untouched, real processes:
 * - compression: a gzip or deflate body and the client's Accept-Encoding go through a gateway as
 *   they came; the node inflates and compresses, and the client gets from the gateway the bytes it
 *   gets straight from the node (status, Content-Type, Content-Encoding, header length, body);
 *   the node's limits and errors (an unknown coding, a gzip bomb) reach the client unchanged.
 * - Triton's request parameters: `timeout` (µs) caps the deadline on the node that decodes the
 *   request (a SIMULATED node with one instance and a 1 s execution), over HTTP and gRPC, straight
 *   and through the gateway, which forwards the node's 504; a bad `timeout` or `priority` is a 400.
 */
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import zlib from 'node:zlib';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BINARY_CONTENT_TYPE } from '../../core/http-headers.js';
import { encodeInferRequest } from '../../core/infer-binary.js';
import { Cluster, clusterTest, gatewayWithRealNode } from '../support/cluster.js';
import { GrpcTestClient } from '../support/grpc-client.js';

// Clusters of this file's own (clusterTest's end with each test); the turn is still taken.
clusterTest();
const client = new Agent({ connections: 8 });
afterAll(() => client.close());

interface Sent {
  path: string;
  body: Buffer;
  headers: Record<string, string>;
}

async function send(base: string, sent: Sent) {
  const r = await request(`${base}${sent.path}`, { method: 'POST', body: sent.body, headers: sent.headers, dispatcher: client });
  const body = Buffer.from(await r.body.arrayBuffer());
  return {
    status: r.statusCode,
    contentType: r.headers['content-type'],
    contentEncoding: r.headers['content-encoding'],
    headerLength: r.headers['inference-header-content-length'],
    body,
  };
}

const ints = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));

function withHeaders(sent: Sent, headers: Record<string, string>, body = sent.body): Sent {
  return { ...sent, headers: { ...sent.headers, ...headers }, body };
}

describe('compression through a gateway (real processes)', () => {
  let cluster: Cluster;
  let gatewayUrl: string;
  let nodeUrl: string;

  beforeAll(async () => {
    let gateway;
    let node;
    ({ cluster, gateway, node } = await gatewayWithRealNode());
    gatewayUrl = gateway.url;
    nodeUrl = node.url;
  }, 60_000);
  afterAll(() => cluster?.close());

  /** identity in JSON with 128 long decimals: an answer of a few KiB, worth compressing. */
  const JSON_REQUEST: Sent = {
    path: '/v2/models/identity/infer',
    headers: { 'content-type': 'application/json' },
    body: Buffer.from(JSON.stringify({ id: 'gz-1', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [8, 16], data: ints(128, (i) => i / 7) }] })),
  };

  function binaryRequest(): Sent {
    const encoded = encodeInferRequest({
      modelName: 'add_sub',
      id: 'gz-2',
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [8, 16], data: Int32Array.from(ints(128, (i) => i * 1000)) },
        { name: 'INPUT1', datatype: 'INT32', shape: [8, 16], data: Int32Array.from(ints(128, (i) => i % 5)) },
      ],
    }, { binaryOutputs: true });
    return {
      path: '/v2/models/add_sub/versions/1/infer',
      headers: { 'content-type': BINARY_CONTENT_TYPE, 'inference-header-content-length': String(encoded.headerLength) },
      body: Buffer.from(encoded.body),
    };
  }

  it('a gzip JSON request: the gateway\'s answer is the node\'s, and the plain request\'s', async () => {
    const sent = withHeaders(JSON_REQUEST, { 'content-encoding': 'gzip' }, zlib.gzipSync(JSON_REQUEST.body));
    const direct = await send(nodeUrl, sent);
    expect(direct.status).toBe(200);
    expect(await send(gatewayUrl, sent)).toEqual(direct);
    expect(direct).toEqual(await send(nodeUrl, JSON_REQUEST));
  });

  it('Accept-Encoding: gzip: the node\'s gzip answer comes through the gateway byte for byte', async () => {
    const sent = withHeaders(JSON_REQUEST, { 'accept-encoding': 'gzip' });
    const direct = await send(nodeUrl, sent);
    expect(direct.contentEncoding).toBe('gzip');
    expect(await send(gatewayUrl, sent)).toEqual(direct);
    expect(zlib.gunzipSync(direct.body).equals((await send(nodeUrl, JSON_REQUEST)).body)).toBe(true);
  });

  it('a deflate binary request with Accept-Encoding: gzip: the same bytes and header length both ways', async () => {
    const plain = binaryRequest();
    const sent = withHeaders(plain, { 'content-encoding': 'deflate', 'accept-encoding': 'gzip' }, zlib.deflateSync(plain.body));
    const direct = await send(nodeUrl, sent);
    expect(direct.status).toBe(200);
    expect(direct.contentEncoding).toBe('gzip');
    expect(await send(gatewayUrl, sent)).toEqual(direct);
    const uncompressed = await send(nodeUrl, plain);
    expect(direct.headerLength).toBe(uncompressed.headerLength);
    expect(zlib.gunzipSync(direct.body).equals(uncompressed.body)).toBe(true);
  });

  it('an unknown Content-Encoding: the node\'s 400 reaches the client unchanged', async () => {
    const sent = withHeaders(JSON_REQUEST, { 'content-encoding': 'br' });
    const direct = await send(nodeUrl, sent);
    expect(direct.status).toBe(400);
    expect(JSON.parse(direct.body.toString())).toEqual({ error: "unsupported Content-Encoding 'br'; supported: gzip, deflate, identity" });
    expect(await send(gatewayUrl, sent)).toEqual(direct);
  });

  it('a gzip bomb past the node\'s --max-body-bytes (64 MiB): the node\'s 413 through the gateway', async () => {
    const chunk = Buffer.alloc(1024 * 1024);
    const bomb = await buffer(Readable.from((function* () {
      for (let i = 0; i < 128; i++) yield chunk;
    })()).pipe(zlib.createGzip({ level: zlib.constants.Z_BEST_COMPRESSION })));
    const answer = await send(gatewayUrl, withHeaders(JSON_REQUEST, { 'content-encoding': 'gzip' }, bomb));
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body.toString()).error).toMatch(/inflates to more than the configured limit \(--max-body-bytes = 67108864\)/);
    expect((await send(gatewayUrl, JSON_REQUEST)).status).toBe(200);
  });
});

describe('request parameters timeout and priority (real processes, SIMULATED node)', () => {
  const SERVICE_MS = 1_000;
  const TIMEOUT_US = 1_000;
  let cluster: Cluster;
  let gatewayUrl: string;
  let nodeUrl: string;
  let nodeGrpc: GrpcTestClient;
  let gatewayGrpc: GrpcTestClient;

  beforeAll(async () => {
    cluster = new Cluster({ serviceMs: SERVICE_MS, instances: 1 });
    const gateway = await cluster.startGateway({ slowStartMs: 0 });
    const [node] = await cluster.startBackends([{ nodeId: 'n1', simCards: 'slow:1' }]);
    gatewayUrl = gateway.url;
    nodeUrl = node.url;
    nodeGrpc = new GrpcTestClient(node.grpcAddress);
    gatewayGrpc = new GrpcTestClient(gateway.grpcAddress);
  }, 60_000);
  afterAll(async () => {
    nodeGrpc?.close();
    gatewayGrpc?.close();
    await cluster?.close();
  });

  function simRequest(parameters: Record<string, unknown>): Sent {
    return {
      path: '/v2/models/sim_echo/infer',
      headers: { 'content-type': 'application/json' },
      body: Buffer.from(JSON.stringify({ parameters, inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [2], data: [1, 2] }] })),
    };
  }

  async function timed(base: string, sent: Sent) {
    const startedAt = performance.now();
    const answer = await send(base, sent);
    return { ...answer, ms: performance.now() - startedAt };
  }

  it.each([['straight to the node', () => nodeUrl], ['through the gateway', () => gatewayUrl]])(
    'HTTP, %s: timeout of 1000 µs on a 1 s model is a 504 at once',
    async (_where, base) => {
      const answer = await timed(base(), simRequest({ timeout: TIMEOUT_US }));
      expect(answer.status).toBe(504);
      expect(JSON.parse(answer.body.toString())).toEqual({ error: `request did not finish within its timeout parameter (${TIMEOUT_US} µs)` });
      expect(answer.ms).toBeLessThan(SERVICE_MS / 2);
    },
  );

  it('a timeout longer than the run does not cut it; priority is accepted', async () => {
    const answer = await send(gatewayUrl, simRequest({ timeout: 20 * SERVICE_MS * 1000, priority: 2 }));
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body.toString()).outputs[0].data).toEqual([1, 2]);
  });

  it.each([
    [{ timeout: 'abc' }, `request: parameter 'timeout' must be a non-negative integer (microseconds), got string "abc"`],
    [{ timeout: -5 }, `request: parameter 'timeout' must be a non-negative integer (microseconds), got number -5`],
    [{ priority: 1.5 }, `request: parameter 'priority' must be a non-negative integer, got number 1.5`],
  ])('%j: a 400 naming the parameter, straight and through the gateway', async (parameters, message) => {
    const direct = await send(nodeUrl, simRequest(parameters));
    expect(direct.status).toBe(400);
    expect(JSON.parse(direct.body.toString())).toEqual({ error: message });
    expect(await send(gatewayUrl, simRequest(parameters))).toEqual(direct);
  });

  it.each([['straight to the node', () => nodeGrpc], ['through the gateway', () => gatewayGrpc]])(
    'gRPC, %s: the timeout in the parameters map is DEADLINE_EXCEEDED at once; a string is INVALID_ARGUMENT',
    async (_where, grpc) => {
      const message = (parameters: object) => ({
        model_name: 'sim_echo', parameters, inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [2], contents: { fp32_contents: [1, 2] } }],
      });
      const startedAt = performance.now();
      await expect(grpc().call('ModelInfer', message({ timeout: { int64_param: TIMEOUT_US } }))).rejects.toMatchObject({
        code: GrpcStatus.DEADLINE_EXCEEDED, details: `request did not finish within its timeout parameter (${TIMEOUT_US} µs)`,
      });
      expect(performance.now() - startedAt).toBeLessThan(SERVICE_MS / 2);
      await expect(grpc().call('ModelInfer', message({ timeout: { string_param: 'abc' } }))).rejects.toMatchObject({
        code: GrpcStatus.INVALID_ARGUMENT, details: expect.stringContaining("parameter 'timeout'"),
      });
    },
  );
});
