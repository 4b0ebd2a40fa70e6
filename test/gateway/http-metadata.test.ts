/**
 * The read-only side of the HTTP front door: health, server and model metadata, model config,
 * the repository index and the operator's pool view, on a node serving the bundled models.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROTOCOL_EXTENSIONS, SERVER_NAME } from '../../service/inference-service.js';
import { startEmbeddedServer, TEST_SERVER_VERSION, type EmbeddedServer } from '../support/embedded-server.js';

const BUNDLED = ['add_sub', 'dense_native', 'identity', 'identity_types', 'liveness', 'ocr_cls', 'ocr_det', 'ocr_rec', 'sim_echo', 'tiny_cnn'];
/** The bundled pipeline: in the index like a model, in no pool (it runs in the service, its steps on the models). */
const WITH_PIPELINES = [...BUNDLED, 'ocr'].sort();

let server: EmbeddedServer;

beforeAll(async () => {
  server = await startEmbeddedServer();
});

afterAll(async () => {
  await server?.close();
});

async function getJson(url: string, method: 'GET' | 'POST' = 'GET'): Promise<{ status: number; body: any; contentType: string | undefined }> {
  const res = await server.app.inject({ method, url });
  return { status: res.statusCode, body: res.json(), contentType: res.headers['content-type'] as string | undefined };
}

describe('health', () => {
  it('GET /v2/health/live is 200 {live: true}', async () => {
    const { status, body, contentType } = await getJson('/v2/health/live');
    expect(status).toBe(200);
    expect(contentType).toMatch(/^application\/json/);
    expect(body).toEqual({ live: true });
  });

  it('GET /v2/health/ready is 200 {ready: true} once every model is loaded', async () => {
    const { status, body, contentType } = await getJson('/v2/health/ready');
    expect(status).toBe(200);
    expect(contentType).toMatch(/^application\/json/);
    expect(body).toEqual({ ready: true });
  });

  it('a trailing slash is the same route', async () => {
    expect((await getJson('/v2/health/live/')).status).toBe(200);
  });
});

describe('server metadata', () => {
  it('GET /v2 names the server, its version and the protocol extensions', async () => {
    const { status, body } = await getJson('/v2');
    expect(status).toBe(200);
    expect(body).toEqual({ name: SERVER_NAME, version: TEST_SERVER_VERSION, extensions: PROTOCOL_EXTENSIONS });
    expect(body.name).toBe('infergate');
    expect(body.extensions).toEqual(expect.arrayContaining(['binary_tensor_data', 'model_repository']));
  });
});

describe('model metadata', () => {
  const identity = {
    name: 'identity',
    versions: ['1'],
    platform: 'onnxruntime_onnx',
    inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [-1, 16] }],
    outputs: [{ name: 'OUTPUT0', datatype: 'FP32', shape: [-1, 16] }],
  };

  it('GET /v2/models/identity: name, versions, platform, tensors with the batch dim as -1', async () => {
    const { status, body } = await getJson('/v2/models/identity');
    expect(status).toBe(200);
    expect(body).toEqual(identity);
  });

  it('GET /v2/models/identity/versions/1 is the same', async () => {
    const { status, body } = await getJson('/v2/models/identity/versions/1');
    expect(status).toBe(200);
    expect(body).toEqual(identity);
  });

  it('a model without batching shows its dims as declared', async () => {
    const { body } = await getJson('/v2/models/identity_types');
    expect(body.inputs).toHaveLength(13);
    expect(body.inputs[0]).toEqual({ name: 'IN_BOOL', datatype: 'BOOL', shape: [-1] });
    expect(body.outputs.find((o: { name: string }) => o.name === 'OUT_BYTES')).toEqual({ name: 'OUT_BYTES', datatype: 'BYTES', shape: [-1] });
  });

  it('package-sourced OCR models and the simulated model report their platform and shapes', async () => {
    expect((await getJson('/v2/models/ocr_rec')).body).toEqual({
      name: 'ocr_rec',
      versions: ['1'],
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3, 48, -1] }],
      outputs: [{ name: 'softmax_11.tmp_0', datatype: 'FP32', shape: [-1, -1, 6625] }],
    });
    expect((await getJson('/v2/models/sim_echo')).body).toMatchObject({ platform: 'infergate_simulated', versions: ['1'] });
  });

  it('GET .../ready is 200 {name, ready: true}, with or without a version', async () => {
    for (const url of ['/v2/models/identity/ready', '/v2/models/identity/versions/1/ready']) {
      const { status, body } = await getJson(url);
      expect(status, url).toBe(200);
      expect(body).toEqual({ name: 'identity', ready: true });
    }
  });
});

describe('model config (Triton-like)', () => {
  it('GET /v2/models/identity/config', async () => {
    const { status, body } = await getJson('/v2/models/identity/config');
    expect(status).toBe(200);
    expect(body).toEqual({
      name: 'identity',
      platform: 'onnxruntime_onnx',
      backend: 'onnx',
      version_policy: { latest: { num_versions: 1 } },
      max_batch_size: 8,
      input: [{ name: 'INPUT0', data_type: 'TYPE_FP32', dims: [16] }],
      output: [{ name: 'OUTPUT0', data_type: 'TYPE_FP32', dims: [16] }],
      instance_group: [{ kind: 'KIND_CPU', count: 1 }],
      infergate: { engine: ['onnx'], max_queue_size: 256, execution: 'inline' },
    });
  });

  it('the versioned URL answers the same; BYTES shows as TYPE_STRING; auto instances as KIND_AUTO', async () => {
    expect((await getJson('/v2/models/identity/versions/1/config')).body).toEqual((await getJson('/v2/models/identity/config')).body);
    const types = (await getJson('/v2/models/identity_types/config')).body;
    expect(types.max_batch_size).toBe(0);
    expect(types.input.find((t: { name: string }) => t.name === 'IN_BYTES')).toEqual({ name: 'IN_BYTES', data_type: 'TYPE_STRING', dims: [-1] });
    const sim = (await getJson('/v2/models/sim_echo/config')).body;
    expect(sim.instance_group).toEqual([{ kind: 'KIND_AUTO', count: 2 }]);
    expect(sim.infergate).toEqual({ engine: ['sim'], max_queue_size: 256, execution: 'worker', sim: { service_ms: 20 } });
  });
});

describe('repository index', () => {
  it('POST /v2/repository/index lists every bundled model, version 1, READY', async () => {
    const { status, body } = await getJson('/v2/repository/index', 'POST');
    expect(status).toBe(200);
    expect(body).toEqual(WITH_PIPELINES.map((name) => ({ name, version: '1', state: 'READY', reason: '' })));
  });
});

describe('operator view', () => {
  it('GET /infergate/pools lists one pool per model, each with this node and its counters', async () => {
    // One request first, so one pool's counters have moved.
    const infer = await server.app.inject({
      method: 'POST',
      url: '/v2/models/identity/infer',
      payload: { inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 16], data: Array(16).fill(1) }] },
    });
    expect(infer.statusCode).toBe(200);

    const { status, body } = await getJson('/infergate/pools');
    expect(status).toBe(200);
    const pools = body.pools as { model: string; version: string; policy: string; nodes: Record<string, unknown>[] }[];
    expect(pools.map((p) => p.model).sort()).toEqual(BUNDLED);
    for (const pool of pools) {
      expect(pool.version).toBe('1');
      expect(pool.policy).toBe('local');
      expect(pool.nodes).toHaveLength(1);
      const node = pool.nodes[0];
      expect(Object.keys(node).sort()).toEqual(['breaker', 'capacity', 'failures', 'id', 'in_flight', 'requests', 'state', 'url', 'weight']);
      expect(node).toMatchObject({ id: 'test-node', url: 'in-process', state: 'ready', in_flight: 0, failures: 0, breaker: 'closed' });
      expect(node.capacity).toBeGreaterThan(0);
      expect(node.weight).toBeGreaterThan(0);
    }
    const identity = pools.find((p) => p.model === 'identity')!;
    expect(identity.nodes[0].requests).toBeGreaterThanOrEqual(1);
  });
});
