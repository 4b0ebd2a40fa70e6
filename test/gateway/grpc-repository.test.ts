/**
 * RepositoryModelLoad and RepositoryModelUnload over a real gRPC socket, on an embedded node in
 * explicit model control mode serving SIMULATED models from a temporary repository; and their
 * refusal on a node in none mode. The same answers as the HTTP door's (http-repository.test.ts).
 */
import { status } from '@grpc/grpc-js';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_GRPC_MAX_MESSAGE_BYTES } from '../../core/kserve-grpc-envelope.js';
import { bundledModelsDir } from '../../core/package-root.js';
import { startGrpcServer, type GrpcDoor } from '../../gateway/grpc/server.js';
import { startEmbeddedServer, type EmbeddedServer, type EmbeddedServerOptions } from '../support/embedded-server.js';
import { failure, GrpcTestClient } from '../support/grpc-client.js';

interface Node {
  server: EmbeddedServer;
  door: GrpcDoor;
  client: GrpcTestClient;
}

let repo: string;
let explicit: Node;
let none: Node;

async function startNode(options: EmbeddedServerOptions): Promise<Node> {
  const server = await startEmbeddedServer(options);
  const door = await startGrpcServer({ service: server.node.service, host: '127.0.0.1', port: 0, maxMessageBytes: DEFAULT_GRPC_MAX_MESSAGE_BYTES });
  return { server, door, client: new GrpcTestClient(`127.0.0.1:${door.port}`) };
}

async function stopNode(node: Node | undefined): Promise<void> {
  node?.client.close();
  await node?.door.close();
  await node?.server.close();
}

beforeAll(async () => {
  repo = mkdtempSync(path.join(os.tmpdir(), 'infergate-grpc-repo-'));
  const source = readFileSync(path.join(bundledModelsDir(), 'sim_echo', 'model.yaml'), 'utf8');
  mkdirSync(path.join(repo, 'sim_echo'));
  writeFileSync(path.join(repo, 'sim_echo', 'model.yaml'), source.replace('service_ms: 20', 'service_ms: 400').replace('count: 2', 'count: 1'));
  explicit = await startNode({ modelsDir: repo, modelControlMode: 'explicit' });
  none = await startNode({ modelsDir: repo });
});

afterAll(async () => {
  await stopNode(explicit);
  await stopNode(none);
  if (repo) rmSync(repo, { recursive: true, force: true });
});


const INFER = { model_name: 'sim_echo', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [2], contents: { fp32_contents: [1, 2] } }] };

describe('explicit model control over gRPC', () => {
  it('nothing loads at start: the index lists sim_echo UNAVAILABLE, unloaded', async () => {
    const { models } = await explicit.client.call('RepositoryIndex', {});
    expect(models).toEqual([{ name: 'sim_echo', version: '1', state: 'UNAVAILABLE', reason: 'unloaded' }]);
    expect((await failure(explicit.client.call('ModelReady', { name: 'sim_echo' }))).code).toBe(status.NOT_FOUND);
  });

  it('RepositoryModelLoad loads the model: READY, and it serves', async () => {
    expect(await explicit.client.call('RepositoryModelLoad', { model_name: 'sim_echo', parameters: { anything: { bool_param: true } } })).toEqual({});
    expect(await explicit.client.call('ModelReady', { name: 'sim_echo' })).toEqual({ ready: true });
    const response = await explicit.client.call('ModelInfer', INFER);
    expect(response.model_name).toBe('sim_echo');
  });

  it('RepositoryModelUnload: a request in flight finishes, new ones get NOT_FOUND, the index says unloaded', async () => {
    const inFlight = explicit.client.call('ModelInfer', INFER);
    await new Promise((r) => setTimeout(r, 100));
    expect(await explicit.client.call('RepositoryModelUnload', { model_name: 'sim_echo' })).toEqual({});
    expect((await failure(explicit.client.call('ModelInfer', INFER))).code).toBe(status.NOT_FOUND);
    const { models } = await explicit.client.call('RepositoryIndex', {});
    expect(models).toEqual([{ name: 'sim_echo', version: '1', state: 'UNAVAILABLE', reason: 'unloaded' }]);
    expect((await explicit.client.call('RepositoryIndex', { ready: true })).models).toEqual([]);
    expect((await inFlight).model_name).toBe('sim_echo');
  });

  it('a reload with a broken declaration is INVALID_ARGUMENT and the old version keeps serving', async () => {
    await explicit.client.call('RepositoryModelLoad', { model_name: 'sim_echo' });
    const file = path.join(repo, 'sim_echo', 'model.yaml');
    const original = readFileSync(file, 'utf8');
    writeFileSync(file, original.replace('engine: sim', 'engine: no_such_engine'));
    try {
      const err = await failure(explicit.client.call('RepositoryModelLoad', { model_name: 'sim_echo' }));
      expect(err.code).toBe(status.INVALID_ARGUMENT);
      expect(err.details).toMatch(/sim_echo.*field 'engine'.*keeps serving/s);
      expect(await explicit.client.call('ModelReady', { name: 'sim_echo' })).toEqual({ ready: true });
      expect((await explicit.client.call('ModelInfer', INFER)).model_name).toBe('sim_echo');
    } finally {
      writeFileSync(file, original);
    }
  });

  it('a model the repository does not have is INVALID_ARGUMENT naming it', async () => {
    const err = await failure(explicit.client.call('RepositoryModelLoad', { model_name: 'no_such_model' }));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/no_such_model/);
  });
});

describe('none model control mode over gRPC', () => {
  it('RepositoryModelLoad and RepositoryModelUnload are refused with the reason; the model keeps serving', async () => {
    for (const method of ['RepositoryModelLoad', 'RepositoryModelUnload']) {
      const err = await failure(none.client.call(method, { model_name: 'sim_echo' }));
      expect(err.code, method).toBe(status.INVALID_ARGUMENT);
      expect(err.details, method).toMatch(/explicit model load \/ unload is not allowed/);
    }
    expect(await none.client.call('ModelReady', { name: 'sim_echo' })).toEqual({ ready: true });
  });
});
