/**
 * Statistics through a gateway, real processes: a gateway (one worker: with several, each answers
 * for the traffic it routed itself) in front of one node serving the real identity and add_sub
 * ONNX models. The gateway counts what it forwarded, per (model, version), over HTTP and gRPC
 * alike: successes, the node's error answers as failures, and their end-to-end time; queue,
 * compute, inferences and executions are the node's, zero at the gateway and counted by the node
 * for the same requests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelStatistics } from '../../core/model-statistics.js';
import { clusterTest, gatewayWithRealNode, httpJson, type Cluster, type InfergateProcess } from '../support/cluster.js';
import { GrpcTestClient, bytesOf } from '../support/grpc-client.js';

// One cluster for the whole file (clusterTest's own clusters end with each test); the turn is still taken.
clusterTest();
let cluster: Cluster;
let gatewayUrl: string;
let node: InfergateProcess;
let viaGateway: GrpcTestClient;

beforeAll(async () => {
  let gateway;
  ({ cluster, gateway, node } = await gatewayWithRealNode({ workers: 1 }));
  gatewayUrl = gateway.url;
  viaGateway = new GrpcTestClient(await gateway.grpcStarted());
}, 60_000);
afterAll(async () => {
  viaGateway?.close();
  await cluster?.close();
});

const ints = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));
const ZERO = { count: 0, ns: 0 };

const identity = (rows: number, name = 'INPUT0') => ({ inputs: [{ name, datatype: 'FP32', shape: [rows, 16], data: ints(rows * 16, (i) => i / 2) }] });

async function statsAt(base: string, path: string): Promise<ModelStatistics[]> {
  const { status, body } = await httpJson<{ model_stats: ModelStatistics[] }>(`${base}${path}`);
  expect(status, `${base}${path}`).toBe(200);
  return body.model_stats;
}

describe('statistics through a gateway (real processes)', () => {
  it('the gateway counts what it forwarded (HTTP and gRPC); the node counts the same requests and their executions', async () => {
    const before = Date.now();
    const N = 4;
    const M = 2;
    for (let i = 0; i < N - 1; i++) expect((await httpJson(`${gatewayUrl}/v2/models/identity/infer`, 'POST', identity(2))).status).toBe(200);
    await viaGateway.call('ModelInfer', {
      model_name: 'identity',
      inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 16] }],
      raw_input_contents: [bytesOf(Float32Array.from(ints(16, (i) => i)))],
    });
    for (let i = 0; i < M; i++) expect((await httpJson(`${gatewayUrl}/v2/models/identity/infer`, 'POST', identity(1, 'NOPE'))).status).toBe(400);

    const [atGateway] = await statsAt(gatewayUrl, '/v2/models/identity/stats');
    const [atNode] = await statsAt(node.url, '/v2/models/identity/stats');
    const g = atGateway.inference_stats;
    expect(atGateway).toMatchObject({ name: 'identity', version: '1', inference_count: 0, execution_count: 0, batch_stats: [] });
    expect(g.success.count).toBe(N);
    expect(g.success.ns).toBeGreaterThan(0);
    expect(g.fail.count).toBe(M);
    expect(g.fail.ns).toBeGreaterThan(0);
    for (const key of ['queue', 'compute_input', 'compute_infer', 'compute_output', 'cache_hit', 'cache_miss'] as const) {
      expect(g[key], key).toEqual(ZERO);
    }
    expect(atGateway.last_inference).toBeGreaterThanOrEqual(before);
    expect(atGateway.last_inference).toBeLessThanOrEqual(Date.now());

    // The node ran what the gateway forwarded; the gateway's time holds the node's.
    const n = atNode.inference_stats;
    expect(n.success.count).toBe(N);
    expect(n.fail.count).toBe(M);
    expect(atNode.inference_count).toBe(2 * (N - 1) + 1);
    expect(atNode.execution_count).toBe(N);
    expect(n.compute_infer.count).toBe(N);
    expect(n.compute_infer.ns).toBeGreaterThan(0);
    expect(atNode.batch_stats.map((b) => [b.batch_size, b.compute_infer.count])).toEqual([[1, 1], [2, N - 1]]);
    expect(g.success.ns).toBeGreaterThanOrEqual(n.success.ns);
  });

  it('every model and version at the gateway; gRPC ModelStatistics agrees with HTTP; an unknown model is 404', async () => {
    const all = await statsAt(gatewayUrl, '/v2/models/stats');
    // The cluster's repository always holds sim_echo beside the bundled models it asked for.
    expect(all.map((s) => `${s.name}/${s.version}`)).toEqual(['add_sub/1', 'identity/1', 'sim_echo/1']);
    expect(all[0].inference_stats.success).toEqual(ZERO);
    expect(all[1].inference_stats.success.count).toBeGreaterThan(0);
    expect(await viaGateway.call('ModelStatistics', {})).toEqual({ model_stats: all });
    expect(await viaGateway.call('ModelStatistics', { name: 'identity', version: '1' })).toEqual({ model_stats: [all[1]] });
    expect(await httpJson(`${gatewayUrl}/v2/models/nope/stats`)).toEqual({ status: 404, body: { error: "unknown model: 'nope'" } });
  });
});
