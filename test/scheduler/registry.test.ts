/**
 * Membership through the registry, in process: a real infergate node listening on loopback serves
 * as the remote backend (RemoteBackend over undici, binary tensors), both as a static `--backend`
 * probed through its repository index and as a heartbeating node.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cancellation } from '../../core/cancellation.js';
import { RemoteBackend } from '../../transport/remote-backend.js';
import { bundledModelsDir } from '../../core/package-root.js';
import type { InferCall } from '../../core/infer-call.js';
import type { LoadReport } from '../../core/load-report.js';
import { PoolSet } from '../../scheduler/pool-set.js';
import { NodeRegistry } from '../../scheduler/registry.js';
import { Router } from '../../scheduler/router.js';
import { StaticBackendProber, parseStaticBackend } from '../../scheduler/static-backends.js';
import { createRoutingPolicy } from '../../scheduler/routing-policy.js';
import { startEmbeddedServer, type EmbeddedServer } from '../support/embedded-server.js';

let server: EmbeddedServer;
let url: string;
let modelsDir: string;

beforeAll(async () => {
  modelsDir = mkdtempSync(path.join(os.tmpdir(), 'infergate-registry-'));
  cpSync(path.join(bundledModelsDir(), 'identity'), path.join(modelsDir, 'identity'), { recursive: true });
  server = await startEmbeddedServer({ modelsDir });
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  url = `http://127.0.0.1:${(server.app.server.address() as { port: number }).port}`;
});

afterAll(async () => {
  await server?.close();
  rmSync(modelsDir, { recursive: true, force: true });
});

function setup(clock = () => Date.now()) {
  const pools = new PoolSet(() => createRoutingPolicy('static', { slowStartWindowMs: 0 }));
  const backends: RemoteBackend[] = [];
  const registry = new NodeRegistry(pools, {
    evictAfterMs: 2_500,
    clock,
    createBackend: (id, u) => {
      const b = new RemoteBackend(id, u);
      backends.push(b);
      return b;
    },
  });
  return { pools, registry, backends, router: new Router(pools) };
}

const DATA = Array.from({ length: 16 }, (_, i) => i * 0.5);
const call = (): InferCall => ({
  model: 'identity', requestId: 'r', deadlineMs: Date.now() + 10_000, cancellation: new Cancellation(),
  payload: { format: 'kserve-http', contentType: 'application/json', body: Buffer.from(JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 16], data: DATA }] })) },
});

function report(sentAtMs: number, state: 'ready' | 'draining' = 'ready'): LoadReport {
  return {
    nodeId: 'n1', url, state, cards: [{ type: 'cpu-core', count: 1, coefficient: 0.04 }], inFlight: 0, queueDepth: 0, slots: 1,
    utilization: 0, completedPerSec: 0, errorsPerSec: 0, serviceTimeMs: 0, latencyMs: 0, windowMs: 1000,
    models: [{ name: 'identity', versions: ['1'] }], sentAtMs,
  };
}

describe('parseStaticBackend', () => {
  it.each([
    ['http://10.0.0.5:8000', { url: 'http://10.0.0.5:8000', weight: 1 }],
    ['http://triton:8000=3', { url: 'http://triton:8000', weight: 3 }],
    ['https://h/=0.5', { url: 'https://h', weight: 0.5 }],
  ])('%s', (spec, expected) => expect(parseStaticBackend(spec)).toEqual(expected));

  it.each(['triton:8000', 'http://h:1=0', 'http://h:1=x'])('rejects %s', (spec) => {
    expect(() => parseStaticBackend(spec)).toThrow(/--backend/);
  });
});

describe('static backend (any KServe v2 server), probed', () => {
  it('joins the pools of its READY models with its declared weight and forwards requests to it unchanged', async () => {
    const { pools, registry, router } = setup();
    const prober = new StaticBackendProber([{ url, weight: 3 }], registry, (id, u) => new RemoteBackend(id, u));
    await prober.probeAll();
    const view = pools.view(Date.now());
    expect(view).toHaveLength(1);
    expect(view[0]).toMatchObject({ model: 'identity', version: '1', nodes: [{ id: url, url, state: 'ready', weight: 3, capacity: 3 }] });
    // Metadata came from the node, max_batch_size from its config endpoint.
    expect(pools.get('identity', '1')!.metadata).toMatchObject({ maxBatchSize: 8, inputs: [{ name: 'INPUT0', shape: [-1, 16] }] });
    const answer = await router.infer(call());
    expect(answer.status).toBe(200);
    const body = JSON.parse(Buffer.from(answer.body).toString()) as { model_version: string; outputs: { data: number[] }[] };
    expect(body.model_version).toBe('1');
    expect(body.outputs[0].data).toEqual(DATA);
    await prober.close();
    await registry.close();
  });
});

describe('NodeRegistry', () => {
  it('follows reported state, ignores a report older than one already seen, and drops heartbeats that trail a leave', async () => {
    const { pools, registry } = setup();
    await registry.heartbeat(report(1_000));
    expect(pools.view(Date.now())[0].nodes[0].state).toBe('ready');
    await registry.heartbeat(report(2_000, 'draining'));
    expect(pools.view(Date.now())[0].nodes[0].state).toBe('draining');
    // A ready report sent before the drain but arriving after it must not undo the drain.
    await registry.heartbeat(report(1_500, 'ready'));
    expect(pools.view(Date.now())[0].nodes[0].state).toBe('draining');
    registry.leave('n1', 3_000);
    expect(pools.view(Date.now())).toEqual([]);
    await registry.heartbeat(report(2_500, 'draining'));
    expect(pools.view(Date.now())).toEqual([]);
    // The same node restarted later (newer clock) is welcome back.
    await registry.heartbeat(report(4_000));
    expect(pools.view(Date.now())[0].nodes.map((n) => n.id)).toEqual(['n1']);
    await registry.close();
  });

  it('evicts a node whose heartbeats stopped for evictAfterMs, not before', async () => {
    let now = 0;
    const { pools, registry } = setup(() => now);
    await registry.heartbeat(report(1));
    now = 2_500;
    registry.sweep();
    expect(pools.pools()).toHaveLength(1);
    now = 2_501;
    registry.sweep();
    expect(pools.pools()).toHaveLength(0);
    expect(registry.nodes()).toHaveLength(0);
    await registry.close();
  });
});
