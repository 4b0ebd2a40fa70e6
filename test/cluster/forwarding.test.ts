/**
 * Forwarding without re-encoding, real processes: a gateway in front of one node serving the real
 * identity and add_sub ONNX models. The same request, JSON or binary, gets byte-identical answers
 * from the gateway and from the node itself (status, protocol headers, body); the node's error
 * answers reach the client with the node's status and message.
 */
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BINARY_CONTENT_TYPE } from '../../core/http-headers.js';
import { encodeInferRequest } from '../../core/infer-binary.js';
import { clusterTest, gatewayWithRealNode, type Cluster } from '../support/cluster.js';

// One cluster for the whole file (clusterTest's own clusters end with each test); the turn is still taken.
clusterTest();
const client = new Agent({ connections: 4 });
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
afterAll(async () => {
  await client.close();
  await cluster?.close();
});

interface Sent {
  path: string;
  body: Buffer | string;
  headers: Record<string, string>;
}

async function send(base: string, sent: Sent) {
  const r = await request(`${base}${sent.path}`, { method: 'POST', body: sent.body, headers: sent.headers, dispatcher: client });
  const body = Buffer.from(await r.body.arrayBuffer());
  return {
    status: r.statusCode,
    contentType: r.headers['content-type'],
    headerLength: r.headers['inference-header-content-length'],
    body,
  };
}

const ints = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));

const JSON_REQUEST: Sent = {
  path: '/v2/models/add_sub/infer',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({
    id: 'fwd-1',
    inputs: [
      { name: 'INPUT0', datatype: 'INT32', shape: [2, 16], data: ints(32, (i) => i) },
      { name: 'INPUT1', datatype: 'INT32', shape: [2, 16], data: ints(32, () => 3) },
    ],
  }),
};

function binaryRequest(): Sent {
  const encoded = encodeInferRequest({
    modelName: 'identity',
    id: 'fwd-2',
    inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [3, 16], data: Float32Array.from(ints(48, (i) => i / 7)) }],
  }, { binaryOutputs: true });
  return {
    path: '/v2/models/identity/versions/1/infer',
    headers: { 'content-type': BINARY_CONTENT_TYPE, 'inference-header-content-length': String(encoded.headerLength) },
    body: encoded.body,
  };
}

describe('forwarding through a gateway (real processes)', () => {
  it('a JSON request: the gateway\'s answer is byte for byte the node\'s', async () => {
    const direct = await send(nodeUrl, JSON_REQUEST);
    const forwarded = await send(gatewayUrl, JSON_REQUEST);
    expect(direct.status).toBe(200);
    expect(JSON.parse(direct.body.toString()).outputs[0].data.slice(0, 3)).toEqual([3, 4, 5]);
    expect(forwarded).toEqual(direct);
  });

  it('a binary request with binary outputs: the same bytes and the same header length', async () => {
    const sent = binaryRequest();
    const direct = await send(nodeUrl, sent);
    const forwarded = await send(gatewayUrl, sent);
    expect(direct.status).toBe(200);
    expect(direct.headerLength).toBeDefined();
    expect(direct.body.length).toBeGreaterThan(Number(direct.headerLength) + 48 * 4 - 1);
    expect(forwarded).toEqual(direct);
  });

  it.each([
    ['an unknown input', { inputs: [{ name: 'NOPE', datatype: 'FP32', shape: [1, 16], data: ints(16, () => 0) }] }, 400],
    ['a batch over max_batch_size', { inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [9, 16], data: ints(144, () => 0) }] }, 400],
    ['a malformed body', '{"inputs": [', 400],
  ])('%s: the node\'s status and message reach the client unchanged', async (_what, body, status) => {
    const sent: Sent = { path: '/v2/models/identity/infer', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) };
    const direct = await send(nodeUrl, sent);
    const forwarded = await send(gatewayUrl, sent);
    expect(direct.status).toBe(status);
    expect(JSON.parse(direct.body.toString())).toEqual({ error: expect.any(String) });
    expect(forwarded).toEqual(direct);
  });

  it('metadata, readiness, config and the index keep working at the gateway, as the node gives them', async () => {
    const get = async (base: string, path: string, method: 'GET' | 'POST' = 'GET') => {
      const r = await request(`${base}${path}`, { method, dispatcher: client });
      return { status: r.statusCode, json: (await r.body.json()) as unknown };
    };
    for (const path of ['/v2/models/identity', '/v2/models/add_sub/versions/1', '/v2/models/identity/ready', '/v2/models/add_sub/config']) {
      const direct = await get(nodeUrl, path);
      expect(direct.status).toBe(200);
      expect(await get(gatewayUrl, path), path).toEqual(direct);
    }
    const index = await get(gatewayUrl, '/v2/repository/index', 'POST');
    expect(index.json).toEqual(expect.arrayContaining([
      { name: 'add_sub', version: '1', state: 'READY', reason: '' },
      { name: 'identity', version: '1', state: 'READY', reason: '' },
    ]));
  });

  it('an unknown model is the gateway\'s own 404, in the protocol\'s error shape', async () => {
    const answer = await send(gatewayUrl, { ...JSON_REQUEST, path: '/v2/models/nope/infer' });
    expect(answer.status).toBe(404);
    expect(JSON.parse(answer.body.toString())).toEqual({ error: "unknown model: 'nope'" });
  });
});
