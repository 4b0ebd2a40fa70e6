/**
 * The model repository extension's load and unload over HTTP on a node in explicit model control
 * mode, with SIMULATED models in a temporary repository: load, unload (requests in flight finish),
 * reload (a broken declaration keeps the old version serving), and the refusal in none mode.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundledModelsDir } from '../../core/package-root.js';
import { GatewayRepositoryControl } from '../../service/repository-control.js';
import { InferenceService } from '../../service/inference-service.js';
import type { ServingTarget } from '../../service/serving-target.js';
import { startEmbeddedServer, type EmbeddedServer } from '../support/embedded-server.js';

/** A repository of two simulated models: sim_echo (slow, one instance) and sim_fast. */
function simRepository(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'infergate-repo-'));
  const source = readFileSync(path.join(bundledModelsDir(), 'sim_echo', 'model.yaml'), 'utf8');
  writeModel(dir, 'sim_echo', source.replace('service_ms: 20', 'service_ms: 400').replace('count: 2', 'count: 1'));
  writeModel(dir, 'sim_fast', source.replace('name: sim_echo', 'name: sim_fast'));
  writeModel(dir, 'echo_chain', [
    'name: echo_chain',
    'inputs: [{ name: IN, datatype: FP32, dims: [-1] }]',
    'outputs: [{ name: OUT, datatype: FP32, dims: [-1] }]',
    'pipeline:',
    '  steps:',
    '    - model: sim_fast',
    '      inputs: { INPUT0: IN }',
    '      outputs: { OUTPUT0: OUT }',
    '',
  ].join('\n'));
  return dir;
}

function writeModel(dir: string, name: string, yaml: string): void {
  mkdirSync(path.join(dir, name), { recursive: true });
  writeFileSync(path.join(dir, name, 'model.yaml'), yaml);
}

const INFER_BODY = { inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [4], data: [1, 2, 3, 4] }] };

let repo: string;
let server: EmbeddedServer;

beforeAll(async () => {
  repo = simRepository();
  server = await startEmbeddedServer({ modelsDir: repo, modelControlMode: 'explicit', loadModels: ['sim_fast'] });
});

afterAll(async () => {
  await server?.close();
  if (repo) rmSync(repo, { recursive: true, force: true });
});

async function post(url: string, payload?: unknown, app = server.app): Promise<{ status: number; body: any }> {
  const res = await app.inject({
    method: 'POST', url,
    ...(payload === undefined ? {} : { headers: { 'content-type': 'application/json' }, payload: typeof payload === 'string' ? payload : JSON.stringify(payload) }),
  });
  return { status: res.statusCode, body: res.json() };
}

const infer = (model: string) => post(`/v2/models/${model}/infer`, INFER_BODY);
const index = async () => (await post('/v2/repository/index')).body as { name: string; version: string; state: string; reason: string }[];
const entryOf = async (name: string) => (await index()).filter((e) => e.name === name);

describe('explicit model control over HTTP', () => {
  it('at start only --load-model models load; the others are listed UNAVAILABLE, unloaded', async () => {
    expect(await index()).toEqual([
      // A pipeline is listed with the models; it is ready because the one model it calls is.
      { name: 'echo_chain', version: '1', state: 'READY', reason: '' },
      { name: 'sim_echo', version: '1', state: 'UNAVAILABLE', reason: 'unloaded' },
      { name: 'sim_fast', version: '1', state: 'READY', reason: '' },
    ]);
    expect((await infer('sim_echo')).status).toBe(404);
    expect((await infer('sim_fast')).status).toBe(200);
  });

  it('load: the model becomes READY and serves', async () => {
    expect(await post('/v2/repository/models/sim_echo/load')).toEqual({ status: 200, body: {} });
    expect(await entryOf('sim_echo')).toEqual([{ name: 'sim_echo', version: '1', state: 'READY', reason: '' }]);
    expect((await server.app.inject({ method: 'GET', url: '/v2/models/sim_echo/ready' })).statusCode).toBe(200);
    const answer = await infer('sim_echo');
    expect(answer.status).toBe(200);
    expect(answer.body.outputs[0].data).toEqual([1, 2, 3, 4]);
  });

  it('unload: new requests get 404 at once, the index says unloaded, a request in flight still finishes', async () => {
    const inFlight = infer('sim_echo');
    await new Promise((r) => setTimeout(r, 100));
    const startedAt = Date.now();
    expect(await post('/v2/repository/models/sim_echo/unload', { parameters: { unload_dependents: false } })).toEqual({ status: 200, body: {} });
    // The answer does not wait for the drain (as Triton's).
    expect(Date.now() - startedAt).toBeLessThan(300);
    const refused = await infer('sim_echo');
    expect(refused.status).toBe(404);
    expect(refused.body.error).toMatch(/sim_echo/);
    expect(await entryOf('sim_echo')).toEqual([{ name: 'sim_echo', version: '1', state: 'UNAVAILABLE', reason: 'unloaded' }]);
    const finished = await inFlight;
    expect(finished.status).toBe(200);
    expect(finished.body.outputs[0].data).toEqual([1, 2, 3, 4]);
  });

  it('unload of a declared model that is not loaded succeeds (as Triton); load after unload serves again', async () => {
    expect((await post('/v2/repository/models/sim_echo/unload')).status).toBe(200);
    expect((await post('/v2/repository/models/sim_echo/load')).status).toBe(200);
    expect((await infer('sim_echo')).status).toBe(200);
  });

  it('reload picks up a changed declaration, swapping the versions', async () => {
    const file = path.join(repo, 'sim_fast', 'model.yaml');
    const original = readFileSync(file, 'utf8');
    writeFileSync(file, original.replace('versions: [1]', 'versions: [1, 2]').replace('version_policy: latest', 'version_policy: all'));
    try {
      expect((await post('/v2/repository/models/sim_fast/load')).status).toBe(200);
      expect((await server.app.inject({ method: 'GET', url: '/v2/models/sim_fast' })).json().versions).toEqual(['1', '2']);
      expect((await entryOf('sim_fast')).map((e) => [e.version, e.state])).toEqual([['1', 'READY'], ['2', 'READY']]);
      expect((await post('/v2/models/sim_fast/versions/2/infer', INFER_BODY)).status).toBe(200);
    } finally {
      writeFileSync(file, original);
    }
    expect((await post('/v2/repository/models/sim_fast/load')).status).toBe(200);
    expect((await entryOf('sim_fast')).map((e) => e.version)).toEqual(['1']);
  });

  it('a reload with a broken declaration answers 400 with the reason, and the old version keeps serving', async () => {
    const file = path.join(repo, 'sim_fast', 'model.yaml');
    const original = readFileSync(file, 'utf8');
    writeFileSync(file, 'name: sim_fast\nengine: [sim\n  inputs: {');
    try {
      const answer = await post('/v2/repository/models/sim_fast/load');
      expect(answer.status).toBe(400);
      expect(answer.body.error).toMatch(/sim_fast.*not valid YAML.*keeps serving/s);
      expect(await entryOf('sim_fast')).toEqual([{ name: 'sim_fast', version: '1', state: 'READY', reason: '' }]);
      expect((await infer('sim_fast')).status).toBe(200);
    } finally {
      writeFileSync(file, original);
    }
  });

  it('a failed first load leaves the model UNAVAILABLE with the reason', async () => {
    writeModel(repo, 'sim_bad', readFileSync(path.join(repo, 'sim_fast', 'model.yaml'), 'utf8').replace('name: sim_fast', 'name: sim_other'));
    const answer = await post('/v2/repository/models/sim_bad/load');
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatch(/sim_bad.*field 'name'/s);
    const [entry] = await entryOf('sim_bad');
    expect(entry).toMatchObject({ name: 'sim_bad', state: 'UNAVAILABLE' });
    expect(entry.reason).toMatch(/failed to load/);
  });

  it('load or unload of a model the repository does not have is 400 naming it', async () => {
    for (const action of ['load', 'unload']) {
      const answer = await post(`/v2/repository/models/no_such_model/${action}`);
      expect(answer.status, action).toBe(400);
      expect(answer.body.error, action).toMatch(new RegExp(`failed to ${action} 'no_such_model': not found in the model repository`));
    }
    expect((await post('/v2/repository/models/..%2Fetc/load')).status).toBe(400);
  });

  it('a pipeline is not loaded or unloaded itself: 400 saying so', async () => {
    const answer = await post('/v2/repository/models/echo_chain/load');
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatch(/'echo_chain' is a pipeline: it is served whenever the models its steps name are/);
  });

  it('a body that is not a JSON object is 400; unknown parameters are ignored', async () => {
    expect((await post('/v2/repository/models/sim_fast/load', 'not json')).status).toBe(400);
    expect((await post('/v2/repository/models/sim_fast/load', { parameters: { config: '{}', whatever: 1 } })).status).toBe(200);
  });
});

describe('none model control mode', () => {
  it('every declared model loads at start; load and unload are refused with the reason', async () => {
    const none = await startEmbeddedServer({ modelsDir: repo });
    try {
      expect((await post('/v2/repository/index', undefined, none.app)).body.map((e: { state: string }) => e.state)).toContain('READY');
      for (const action of ['load', 'unload']) {
        const answer = await post(`/v2/repository/models/sim_fast/${action}`, undefined, none.app);
        expect(answer.status, action).toBe(400);
        expect(answer.body.error, action).toMatch(/explicit model load \/ unload is not allowed.*--model-control-mode explicit/);
      }
      expect((await post('/v2/models/sim_fast/infer', INFER_BODY, none.app)).status).toBe(200);
    } finally {
      await none.close();
    }
  });

  it('--load-model without explicit mode, or naming a model not in the repository, is refused at start', async () => {
    await expect(startEmbeddedServer({ modelsDir: repo, loadModels: ['sim_fast'] })).rejects.toThrow(/--load-model needs --model-control-mode explicit/);
    await expect(startEmbeddedServer({ modelsDir: repo, modelControlMode: 'explicit', loadModels: ['nope'] })).rejects.toThrow(/--load-model nope/);
  });
});

describe('on a gateway (GatewayRepositoryControl over scripted nodes; real processes: test/cluster/repository.test.ts)', () => {
  const node = (nodeId: string, models: string[], answer: (path: string) => Promise<void>) => {
    const sent: string[] = [];
    return { nodeId, models, sent, backend: { postJson: (path: string) => { sent.push(path); return answer(path); } } };
  };
  const refuse = (message: string) => () => Promise.reject(new Error(message));

  it('a load goes to every node and succeeds when one loaded it; the nodes\' messages make the error', async () => {
    const a = node('a', [], refuse('not found in the model repository'));
    const b = node('b', [], async () => {});
    await new GatewayRepositoryControl(() => [a, b]).load('m');
    expect([...a.sent, ...b.sent]).toEqual(['/v2/repository/models/m/load', '/v2/repository/models/m/load']);
    const none = new GatewayRepositoryControl(() => [a]);
    await expect(none.load('m')).rejects.toMatchObject({ code: 'INVALID_ARG', message: expect.stringContaining('node a: not found in the model repository') });
    await expect(new GatewayRepositoryControl(() => []).load('m')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });

  it('an unload goes to the nodes serving the model and succeeds when all of them unloaded it', async () => {
    const a = node('a', ['m'], async () => {});
    const b = node('b', ['other'], async () => {});
    await new GatewayRepositoryControl(() => [a, b]).unload('m');
    expect(a.sent).toEqual(['/v2/repository/models/m/unload']);
    expect(b.sent).toEqual([]);
    await expect(new GatewayRepositoryControl(() => [b]).unload('m')).rejects.toMatchObject({ code: 'INVALID_ARG', message: expect.stringContaining('no node of this gateway serves it') });
  });

  it('a service without repository control refuses load and unload, saying so', async () => {
    const bare = new InferenceService({ target: {} as ServingTarget, version: '0', requestTimeoutMs: 1000, started: () => true });
    await expect(bare.loadModel('m')).rejects.toMatchObject({ code: 'UNSUPPORTED', message: expect.stringMatching(/not available/) });
  });
});

describe('poll model control', () => {
  it('loads a model added to the repository, reloads a changed one, keeps it on a broken change, unloads a removed one', async () => {
    const dir = simRepository();
    const polled = await startEmbeddedServer({ modelsDir: dir, modelControlMode: 'poll' });
    const inferOn = (model: string) => post(`/v2/models/${model}/infer`, INFER_BODY, polled.app);
    try {
      expect((await inferOn('sim_fast')).status).toBe(200);
      const refused = await post('/v2/repository/models/sim_fast/load', undefined, polled.app);
      expect(refused.status).toBe(400);
      expect(refused.body.error).toMatch(/--model-control-mode poll/);
      expect(await polled.node.pollRepository()).toEqual({ loaded: [], reloaded: [], unloaded: [], failed: [] });

      const source = readFileSync(path.join(dir, 'sim_fast', 'model.yaml'), 'utf8');
      writeModel(dir, 'sim_new', source.replace('name: sim_fast', 'name: sim_new'));
      expect(await polled.node.pollRepository()).toMatchObject({ loaded: ['sim_new'] });
      expect((await inferOn('sim_new')).status).toBe(200);

      // A later mtime and another size: the poll sees a change.
      writeModel(dir, 'sim_new', source.replace('name: sim_fast', 'name: sim_new').replace('service_ms: 20', 'service_ms: 5'));
      expect(await polled.node.pollRepository()).toMatchObject({ reloaded: ['sim_new'] });

      writeModel(dir, 'sim_new', 'name: sim_new\nengine: [');
      const broken = await polled.node.pollRepository();
      expect(broken.failed).toEqual([expect.stringMatching(/^sim_new: /)]);
      expect((await inferOn('sim_new')).status).toBe(200); // the version loaded before keeps serving

      rmSync(path.join(dir, 'sim_new'), { recursive: true });
      expect(await polled.node.pollRepository()).toMatchObject({ unloaded: ['sim_new'] });
      expect((await inferOn('sim_new')).status).toBe(404);
    } finally {
      await polled.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
