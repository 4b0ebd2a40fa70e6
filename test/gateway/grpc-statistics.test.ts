/**
 * ModelStatistics over the gRPC door, on a real socket (an embedded node with the real engines,
 * a grpc-js client generated from the project's .proto): the same figures as the HTTP door's
 * statistics, field for field; requests that came over gRPC are counted like those over HTTP;
 * an unknown model is NOT_FOUND with the HTTP message.
 */
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmbeddedServer } from '../support/embedded-server.js';
import { bytesOf, failure, GrpcTestClient } from '../support/grpc-client.js';
import { startGrpcNode, type GrpcNode } from '../support/grpc-node.js';

let node: GrpcNode;
let server: EmbeddedServer;
let client: GrpcTestClient;

beforeAll(async () => {
  node = await startGrpcNode();
  ({ server, client } = node);
});

afterAll(async () => {
  await node?.close();
});

const ints = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));

function identityRaw(rows: number) {
  return {
    model_name: 'identity',
    inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [rows, 16] }],
    raw_input_contents: [bytesOf(Float32Array.from(ints(rows * 16, (i) => i / 4)))],
  };
}


async function httpStats(url: string): Promise<{ status: number; body: any }> {
  const res = await server.app.inject({ method: 'GET', url });
  return { status: res.statusCode, body: res.json() };
}

describe('ModelStatistics', () => {
  it('counts requests that came over gRPC, and agrees with the HTTP door field for field', async () => {
    await client.call('ModelInfer', identityRaw(1));
    await client.call('ModelInfer', identityRaw(3));
    const bad = await failure(client.call('ModelInfer', { ...identityRaw(1), inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16] }] }));
    expect(bad.code).toBe(status.INVALID_ARGUMENT);

    const grpc = await client.call('ModelStatistics', { name: 'identity' });
    const http = await httpStats('/v2/models/identity/stats');
    expect(http.status).toBe(200);
    expect(grpc).toEqual(http.body);
    const [stats] = grpc.model_stats;
    expect(stats).toMatchObject({ name: 'identity', version: '1', inference_count: 4, execution_count: 2 });
    expect(stats.inference_stats.success.count).toBe(2);
    expect(stats.inference_stats.success.ns).toBeGreaterThan(0);
    expect(stats.inference_stats.fail.count).toBe(1);
    expect(stats.inference_stats.compute_infer.ns).toBeGreaterThan(0);
    expect(stats.batch_stats.map((b: { batch_size: number }) => b.batch_size)).toEqual([1, 3]);
    expect(stats.last_inference).toBeGreaterThan(0);
  });

  it('with a version: that version alone; without a name: every model, as GET /v2/models/stats', async () => {
    expect(await client.call('ModelStatistics', { name: 'identity', version: '1' })).toEqual((await httpStats('/v2/models/identity/versions/1/stats')).body);
    const all = await client.call('ModelStatistics', {});
    expect(all).toEqual((await httpStats('/v2/models/stats')).body);
    expect(all.model_stats.length).toBeGreaterThan(1);
  });

  it('an unknown model or version is NOT_FOUND with the HTTP door\'s message', async () => {
    for (const [request, url] of [[{ name: 'nope' }, '/v2/models/nope/stats'], [{ name: 'identity', version: '9' }, '/v2/models/identity/versions/9/stats']] as const) {
      const err = await failure(client.call('ModelStatistics', request));
      const http = await httpStats(url);
      expect(http.status).toBe(404);
      expect(err.code).toBe(status.NOT_FOUND);
      expect(err.details).toBe(http.body.error);
    }
  });
});
