/**
 * What a user sees over real sockets, real processes (`infergate serve`, a backend and a gateway):
 * a declared model that no card of the node can run (its instances want a GPU, this machine has
 * none) is listed UNAVAILABLE with the reason in the repository index, and its `ready` answers 503
 * with the reason (gRPC ModelReady: not ready); `/infergate/node` and the metrics say what each
 * instance runs on; onnxruntime's native warnings stay out of the log at the default level.
 */
import { readFileSync, writeFileSync, cpSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import onnxProto from 'onnx-proto';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { clusterTest, freePort, InfergateProcess, waitFor, type Cluster } from '../support/cluster.js';
import { GrpcTestClient } from '../support/grpc-client.js';

const newCluster = clusterTest();
const started: InfergateProcess[] = [];
const clients: GrpcTestClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(started.splice(0).map(async (p) => {
    if (p.running) p.child.kill('SIGKILL');
    await p.exited;
  }));
});

const NO_CARD_REASON = /^not served on this node: no card fits \(instances want gpu, engines onnx; cards: cpu \(cpu\)\)/;

/** Y = X, with an initializer no node uses: onnxruntime warns about it (a native stderr line) at load. */
function noisyModel(): Uint8Array {
  const { onnx } = onnxProto;
  const f = onnx.TensorProto.DataType.FLOAT;
  const v = (name: string) => ({ name, type: { tensorType: { elemType: f, shape: { dim: [{ dimValue: 2 }] } } } });
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'noisy', node: [{ opType: 'Identity', input: ['X'], output: ['Y'], name: 'id' }], input: [v('X')], output: [v('Y')],
      initializer: [{ name: 'UNUSED', dims: [2], dataType: f, floatData: [1, 2] }],
    },
  }).finish();
}

/** identity (CPU), gpu_only (identity wanting a GPU), noisy (warns at load), beside the cluster's sim_echo. */
function addModels(cluster: Cluster): void {
  const dir = cluster.modelsDir;
  const yaml = readFileSync(path.join(dir, 'identity', 'model.yaml'), 'utf8');
  cpSync(path.join(dir, 'identity'), path.join(dir, 'gpu_only'), { recursive: true });
  writeFileSync(path.join(dir, 'gpu_only', 'model.yaml'),
    yaml.replace('name: identity', 'name: gpu_only').replace(/instances:\n(?:\s+-?\s*\w+:.*\n?)+/, 'instances:\n  - kind: gpu\n'));
  mkdirSync(path.join(dir, 'noisy', '1'), { recursive: true });
  writeFileSync(path.join(dir, 'noisy', '1', 'model.onnx'), noisyModel());
  writeFileSync(path.join(dir, 'noisy', 'model.yaml'), `name: noisy
engine: onnx
model_file: model.onnx
inputs: [{name: X, datatype: FP32, dims: [2]}]
outputs: [{name: Y, datatype: FP32, dims: [2]}]
instances: [{kind: cpu}]
`);
}

async function serve(cluster: Cluster, logLevel: string, metricsPort?: number): Promise<InfergateProcess> {
  const p = new InfergateProcess(`serve-${logLevel}`, 'serve', [
    '--http-port', '0', '--grpc-port', '0', '--host', '127.0.0.1', '--models', cluster.modelsDir,
    '--metrics-port', metricsPort === undefined ? 'off' : String(metricsPort), '--log-level', logLevel,
  ], { logTailLines: 2000 });
  started.push(p);
  await p.started();
  return p;
}

async function get(url: string) {
  const r = await request(url);
  return { status: r.statusCode, body: await r.body.json() as any };
}

async function index(url: string): Promise<Array<{ name: string; version: string; state: string; reason: string }>> {
  const r = await request(`${url}/v2/repository/index`, { method: 'POST' });
  expect(r.statusCode).toBe(200);
  return await r.body.json() as any;
}

async function grpcReady(address: string, name: string): Promise<boolean> {
  const client = new GrpcTestClient(address);
  clients.push(client);
  return (await client.call<{ ready: boolean }>('ModelReady', { name, version: '' })).ready;
}

describe('unservable models are visible (real processes, real sockets)', () => {
  it('serve: listed UNAVAILABLE with the reason, ready 503 with it; /infergate/node and metrics say what each instance runs on; no native warnings at info', async () => {
    const cluster = newCluster({ bundled: ['identity'] });
    addModels(cluster);
    const metricsPort = await freePort();
    const node = await serve(cluster, 'info', metricsPort);

    const entries = await index(node.url);
    const gpuOnly = entries.find((e) => e.name === 'gpu_only');
    expect(gpuOnly).toMatchObject({ version: '1', state: 'UNAVAILABLE' });
    expect(gpuOnly!.reason).toMatch(NO_CARD_REASON);
    expect(entries.find((e) => e.name === 'identity')).toEqual({ name: 'identity', version: '1', state: 'READY', reason: '' });

    const ready = await get(`${node.url}/v2/models/gpu_only/ready`);
    expect(ready.status).toBe(503);
    expect(ready.body.error).toMatch(/^model 'gpu_only' is not ready: not served on this node: no card fits/);
    expect((await get(`${node.url}/v2/models/identity/ready`)).status).toBe(200);
    expect((await get(`${node.url}/v2/models/never_declared/ready`)).status).toBe(404);
    const grpcAddress = await node.grpcStarted();
    expect(await grpcReady(grpcAddress, 'gpu_only')).toBe(false);
    expect(await grpcReady(grpcAddress, 'identity')).toBe(true);

    const view = await get(`${node.url}/infergate/node`);
    expect(view.status).toBe(200);
    expect(view.body.instances).toContainEqual({ model: 'identity', version: '1', card: 'cpu', provider: 'cpu', providers: ['cpu'], degraded: false });
    expect(view.body.unavailable).toContainEqual({ name: 'gpu_only', version: '1', reason: gpuOnly!.reason });
    const metrics = await (await request(`http://127.0.0.1:${metricsPort}/metrics`)).body.text();
    expect(metrics).toContain('infergate_instance_info{model="identity",version="1",card="cpu",provider="cpu",degraded="false"} 1');

    // noisy loaded (onnxruntime warned about its unused initializer) but, at info, said nothing.
    expect(entries.find((e) => e.name === 'noisy')?.state).toBe('READY');
    expect(node.logs().filter((l) => /onnxruntime|Removing initializer/.test(l) && !l.startsWith('{'))).toEqual([]);
  });

  it('serve at --log-level debug lets onnxruntime\'s warnings through', async () => {
    const cluster = newCluster({ bundled: ['identity'] });
    addModels(cluster);
    const node = await serve(cluster, 'debug');
    await waitFor('the noisy model ready', async () => ((await index(node.url)).find((e) => e.name === 'noisy')?.state === 'READY' ? true : undefined));
    expect(node.logs().some((l) => l.includes("Removing initializer 'UNUSED'"))).toBe(true);
  });

  it('through a gateway: listed UNAVAILABLE with the node\'s reason, ready 503 with it, gRPC not ready', async () => {
    const cluster = newCluster({ bundled: ['identity'] });
    addModels(cluster);
    const gateway = await cluster.startGateway({ slowStartMs: 0, workers: 2 });
    await cluster.startBackend({ nodeId: 'b1', heartbeatMs: 200 });
    const entry = await waitFor('gpu_only listed by the gateway', async () => (await index(gateway.url)).find((e) => e.name === 'gpu_only'));
    expect(entry).toMatchObject({ name: 'gpu_only', version: '1', state: 'UNAVAILABLE' });
    expect(entry.reason).toMatch(/^node b1: not served on this node: no card fits/);
    await waitFor('identity ready at the gateway', async () => ((await get(`${gateway.url}/v2/models/identity/ready`)).status === 200 ? true : undefined));

    const ready = await get(`${gateway.url}/v2/models/gpu_only/ready`);
    expect(ready.status).toBe(503);
    expect(ready.body.error).toMatch(/^model 'gpu_only' is not ready: node b1: not served on this node: no card fits/);
    expect(await grpcReady(await gateway.grpcStarted(), 'gpu_only')).toBe(false);
    expect((await get(`${gateway.url}/v2/models/never_declared/ready`)).status).toBe(404);
  });
});
