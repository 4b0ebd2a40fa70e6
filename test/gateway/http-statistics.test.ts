/**
 * The statistics extension over HTTP on a node (the real engines on the bundled models, through
 * app.inject): GET /v2/models/stats, /v2/models/<m>/stats and /v2/models/<m>/versions/<v>/stats
 * in Triton's shape, counting what the node ran: successes and failures with their time, queue
 * and compute time, inferences by batch rows, executions and batch sizes. Unknown models are 404
 * in the protocol's error shape. A model literally named `stats` is served beside the
 * all-models path (what it shadows is documented and pinned here).
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelStatistics, ModelStatisticsResponse } from '../../core/model-statistics.js';
import { bundledModelsDir } from '../../core/package-root.js';
import { startEmbeddedServer, type EmbeddedServer } from '../support/embedded-server.js';

const BUNDLED = ['add_sub', 'dense_native', 'identity', 'identity_types', 'liveness', 'ocr_cls', 'ocr_det', 'ocr_rec', 'sim_echo', 'tiny_cnn'];
const ZERO = { count: 0, ns: 0 };
/** Figures infergate does not measure apart (compute_input/output) or has no source for (no response cache). */
const NEVER_MEASURED = ['compute_input', 'compute_output', 'cache_hit', 'cache_miss'] as const;

let server: EmbeddedServer;

beforeAll(async () => {
  server = await startEmbeddedServer();
});

afterAll(async () => {
  await server?.close();
});

const ints = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));

async function get(url: string, app = server.app): Promise<{ status: number; body: any }> {
  const res = await app.inject({ method: 'GET', url });
  return { status: res.statusCode, body: res.json() };
}

async function infer(model: string, body: unknown, app = server.app): Promise<number> {
  const res = await app.inject({ method: 'POST', url: `/v2/models/${model}/infer`, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });
  return res.statusCode;
}

const identityRows = (rows: number) => ({ inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [rows, 16], data: ints(rows * 16, (i) => i / 8) }] });
const addSub = (datatype = 'INT32') => ({
  inputs: [
    { name: 'INPUT0', datatype, shape: [1, 16], data: ints(16, (i) => i) },
    { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: ints(16, () => 1) },
  ],
});

async function statsOf(model: string): Promise<ModelStatistics> {
  const { status, body } = await get(`/v2/models/${model}/stats`);
  expect(status).toBe(200);
  expect(body.model_stats).toHaveLength(1);
  return body.model_stats[0];
}

describe('GET /v2/models/<m>/stats on a node', () => {
  it('a model with no traffic yet: Triton\'s shape, every figure zero', async () => {
    const stats = await statsOf('tiny_cnn');
    expect(stats).toEqual({
      name: 'tiny_cnn', version: '1', last_inference: 0, inference_count: 0, execution_count: 0,
      inference_stats: {
        success: ZERO, fail: ZERO, queue: ZERO, compute_input: ZERO, compute_infer: ZERO, compute_output: ZERO, cache_hit: ZERO, cache_miss: ZERO,
      },
      batch_stats: [],
    });
  });

  it('identity after 3 single-row requests, one of 4 rows and 2 failed ones: counts, time, inferences by rows, batch sizes', async () => {
    const before = Date.now();
    for (let i = 0; i < 3; i++) expect(await infer('identity', identityRows(1))).toBe(200);
    expect(await infer('identity', identityRows(4))).toBe(200);
    expect(await infer('identity', { inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: ints(16, () => 1) }] })).toBe(400);
    expect(await infer('identity', { inputs: [{ name: 'NOPE', datatype: 'FP32', shape: [1, 16], data: ints(16, () => 1) }] })).toBe(400);

    const stats = await statsOf('identity');
    const s = stats.inference_stats;
    expect(s.success.count).toBe(4);
    expect(s.success.ns).toBeGreaterThan(0);
    expect(s.fail.count).toBe(2);
    expect(s.fail.ns).toBeGreaterThan(0);
    // Queue and compute: the successful requests only.
    expect(s.queue.count).toBe(4);
    expect(s.queue.ns).toBeGreaterThanOrEqual(0);
    expect(s.compute_infer.count).toBe(4);
    expect(s.compute_infer.ns).toBeGreaterThan(0);
    expect(s.compute_infer.ns).toBeLessThanOrEqual(s.success.ns);
    for (const key of NEVER_MEASURED) expect(s[key], key).toEqual(ZERO);
    // Triton's rule: a request of 4 rows is 4 inferences; one at a time, each request ran alone.
    expect(stats.inference_count).toBe(7);
    expect(stats.execution_count).toBe(4);
    expect(stats.batch_stats.map((b) => [b.batch_size, b.compute_infer.count])).toEqual([[1, 3], [4, 1]]);
    for (const b of stats.batch_stats) {
      expect(b.compute_infer.ns).toBeGreaterThan(0);
      expect(b.compute_input).toEqual(ZERO);
      expect(b.compute_output).toEqual(ZERO);
    }
    expect(stats.last_inference).toBeGreaterThanOrEqual(before);
    expect(stats.last_inference).toBeLessThanOrEqual(Date.now());
  });

  it('add_sub: N successes and M failures, over the version form too', async () => {
    const N = 5;
    const M = 3;
    for (let i = 0; i < N; i++) expect(await infer('add_sub', addSub())).toBe(200);
    for (let i = 0; i < M; i++) expect(await infer('add_sub', addSub('FP32'))).toBe(400);
    const stats = await statsOf('add_sub');
    expect(stats.inference_stats.success.count).toBe(N);
    expect(stats.inference_stats.fail.count).toBe(M);
    expect(stats.inference_count).toBe(N);
    expect(stats.execution_count).toBe(N);
    const { body } = await get('/v2/models/add_sub/versions/1/stats');
    expect(body).toEqual({ model_stats: [stats] });
  });

  it('a request to a version the node does not serve counts nowhere', async () => {
    const before = await statsOf('add_sub');
    expect(await infer('add_sub/versions/9', addSub())).toBe(404);
    expect(await statsOf('add_sub')).toEqual(before);
  });
});

describe('GET /v2/models/stats', () => {
  it('lists every model and version, sorted, each as its own route answers it', async () => {
    const { status, body } = await get('/v2/models/stats');
    expect(status).toBe(200);
    const all = (body as ModelStatisticsResponse).model_stats;
    // The bundled `ocr` pipeline counts its own requests beside the models.
    expect(all.map((s) => `${s.name}/${s.version}`)).toEqual([...BUNDLED, 'ocr'].sort().map((m) => `${m}/1`));
    expect(all.find((s) => s.name === 'identity')).toEqual(await statsOf('identity'));
    expect(all.find((s) => s.name === 'sim_echo')?.inference_stats.success).toEqual(ZERO);
  });

  it('a trailing slash is the same route', async () => {
    expect((await get('/v2/models/stats/')).status).toBe(200);
  });
});

describe('unknown models and versions', () => {
  it('are 404 in the protocol\'s error shape, as the other model routes', async () => {
    expect(await get('/v2/models/nope/stats')).toEqual({ status: 404, body: { error: "unknown model: 'nope'" } });
    expect(await get('/v2/models/identity/versions/9/stats')).toEqual({ status: 404, body: { error: "unknown version '9' of model 'identity'" } });
    expect((await get('/v2/models/nope')).body).toEqual({ error: "unknown model: 'nope'" });
  });
});

describe('a model named `stats`', () => {
  let withStats: EmbeddedServer;
  let modelsDir: string;

  beforeAll(async () => {
    // identity under the name `stats`, beside identity itself.
    modelsDir = mkdtempSync(path.join(os.tmpdir(), 'infergate-stats-model-'));
    for (const name of ['identity', 'stats']) {
      mkdirSync(path.join(modelsDir, name, '1'), { recursive: true });
      cpSync(path.join(bundledModelsDir(), 'identity', '1', 'model.onnx'), path.join(modelsDir, name, '1', 'model.onnx'));
      const yaml = readFileSync(path.join(bundledModelsDir(), 'identity', 'model.yaml'), 'utf8');
      writeFileSync(path.join(modelsDir, name, 'model.yaml'), yaml.replace(/^name: identity$/m, `name: ${name}`));
    }
    withStats = await startEmbeddedServer({ modelsDir });
  });

  afterAll(async () => {
    await withStats?.close();
    rmSync(modelsDir, { recursive: true, force: true });
  });

  it('GET /v2/models/stats is every model\'s statistics: the static path wins over the model\'s metadata', async () => {
    const { status, body } = await get('/v2/models/stats', withStats.app);
    expect(status).toBe(200);
    expect(body.model_stats.map((s: ModelStatistics) => s.name)).toEqual(['identity', 'stats']);
  });

  it('its metadata stays reachable with a version; its statistics, readiness, config and infer are its own', async () => {
    expect(await infer('stats', identityRows(2), withStats.app)).toBe(200);
    const meta = await get('/v2/models/stats/versions/1', withStats.app);
    expect(meta).toMatchObject({ status: 200, body: { name: 'stats', versions: ['1'] } });
    const own = await get('/v2/models/stats/stats', withStats.app);
    expect(own.status).toBe(200);
    expect(own.body.model_stats).toHaveLength(1);
    expect(own.body.model_stats[0]).toMatchObject({ name: 'stats', version: '1', inference_count: 2, execution_count: 1 });
    expect((await get('/v2/models/stats/versions/1/stats', withStats.app)).body).toEqual(own.body);
    expect(await get('/v2/models/stats/ready', withStats.app)).toEqual({ status: 200, body: { name: 'stats', ready: true } });
    expect((await get('/v2/models/stats/config', withStats.app)).body).toMatchObject({ name: 'stats' });
  });
});
