/**
 * API keys on both doors of a real node, on loopback sockets: every endpoint group refuses a
 * missing and a wrong key and takes the right one; keys limited to one group or one model; the
 * groups open without a key; per key rate and concurrency limits with their Retry-After and
 * pushback; refusals counted by reason and key name. SIMULATED models (sim engine on the CPU
 * card) keep it fast, and a slow copy holds requests in flight.
 */
import { Metadata, type ClientDuplexStream, type ServiceError } from '@grpc/grpc-js';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CARD_TABLE } from '../../adapters/card-table.js';
import { detectCpuCards } from '../../adapters/cpu.js';
import { createEmbeddedNode, type EmbeddedNode } from '../../cli/embedded-node.js';
import { DEFAULT_GRPC_MAX_MESSAGE_BYTES, RETRY_PUSHBACK_TRAILER } from '../../core/kserve-grpc-envelope.js';
import { bundledModelsDir } from '../../core/package-root.js';
import { createDefaultEngineRegistry } from '../../engines/engine-registry.js';
import { startGrpcServer, type GrpcDoor } from '../../gateway/grpc/server.js';
import { poolRoutes } from '../../gateway/http/operator.js';
import { buildHttpServer } from '../../gateway/http/server.js';
import { AccessControl } from '../../service/access-control.js';
import { ENDPOINT_GROUPS, parseAccessTable, sha256, type EndpointGroup } from '../../service/access-table.js';
import { DEFAULT_LIMITS } from '../../service/limits.js';
import { GrpcTestClient } from '../support/grpc-client.js';
import type { FastifyInstance } from 'fastify';

const SLOW_MS = 1_500;
const key = (name: string) => `${name}-secret-key-0123456789`;

/** One key per group, one for everything (given as its digest), one per model, and the limited ones. */
const MAIN_TABLE = {
  keys: [
    { name: 'all', key: `sha256:${sha256(key('all')).toString('hex')}`, groups: ['*'] },
    ...ENDPOINT_GROUPS.map((group) => ({ name: `only-${group}`, key: key(`only-${group}`), groups: [group] })),
    { name: 'echo-only', key: key('echo-only'), groups: ['*'], models: ['sim_echo'] },
    // 0.5/s: the third request within 2 s is refused, however slow the machine.
    ...['http', 'grpc'].map((door) => ({ name: `rate-${door}`, key: key(`rate-${door}`), groups: ['inference'], rate_limit: { requests_per_second: 0.5, burst: 2 } })),
    ...['http', 'grpc'].map((door) => ({ name: `conc-${door}`, key: key(`conc-${door}`), groups: ['inference'], max_concurrent: 2 })),
  ],
};
const ANONYMOUS_TABLE = { keys: [{ name: 'alice', key: key('alice'), groups: ['*'] }], anonymous: { groups: ['health'] } };

interface Doors {
  app: FastifyInstance;
  http: string;
  grpc: GrpcDoor;
  client: GrpcTestClient;
}

let repo: string;
let node: EmbeddedNode;
let main: Doors;
let anonymous: Doors;

async function openDoors(table: object): Promise<Doors> {
  // One access control for both doors, as a process has.
  const access = new AccessControl(parseAccessTable(JSON.stringify(table), 'test'), {
    onRefusal: (reason, name) => node.metrics.authRefusals.inc({ reason, key: name }),
  });
  const app = await buildHttpServer({ service: node.service, limits: DEFAULT_LIMITS, metrics: node.metrics, plugins: [poolRoutes(node.poolsView)], logger: false, access });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const grpc = await startGrpcServer({ service: node.service, host: '127.0.0.1', port: 0, maxMessageBytes: DEFAULT_GRPC_MAX_MESSAGE_BYTES, access });
  return { app, http: `http://127.0.0.1:${(app.server.address() as { port: number }).port}`, grpc, client: new GrpcTestClient(`127.0.0.1:${grpc.port}`) };
}

async function closeDoors(doors: Doors | undefined): Promise<void> {
  doors?.client.close();
  await doors?.grpc.close();
  await doors?.app.close();
}

beforeAll(async () => {
  repo = mkdtempSync(path.join(os.tmpdir(), 'infergate-auth-'));
  const source = readFileSync(path.join(bundledModelsDir(), 'sim_echo', 'model.yaml'), 'utf8');
  mkdirSync(path.join(repo, 'sim_echo'));
  writeFileSync(path.join(repo, 'sim_echo', 'model.yaml'), source);
  mkdirSync(path.join(repo, 'sim_slow'));
  writeFileSync(path.join(repo, 'sim_slow', 'model.yaml'), source.replace('name: sim_echo', 'name: sim_slow').replace('service_ms: 20', `service_ms: ${SLOW_MS}`).replace('count: 2', 'count: 4'));
  node = await createEmbeddedNode({
    nodeId: 'auth-test', url: 'in-process', modelsDir: repo, cards: detectCpuCards(DEFAULT_CARD_TABLE, { cores: 2 }),
    engines: createDefaultEngineRegistry(), version: '0.0.0-test', limits: DEFAULT_LIMITS, log: () => {}, logError: () => {},
  });
  main = await openDoors(MAIN_TABLE);
  anonymous = await openDoors(ANONYMOUS_TABLE);
}, 60_000);

afterAll(async () => {
  await closeDoors(main);
  await closeDoors(anonymous);
  await node?.close();
  if (repo) rmSync(repo, { recursive: true, force: true });
});

/** The JSON infer body (the model is in the path). */
const INFER_JSON = JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [2], data: [1, 2] }] });
const INFER_MESSAGE = (model: string) => ({ model_name: model, inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [2], contents: { fp32_contents: [1, 2] } }] });

/** A representative HTTP request of each group. */
const HTTP_CALLS: Record<EndpointGroup, { method: string; path: string; body?: string }> = {
  health: { method: 'GET', path: '/v2/health/ready' },
  metadata: { method: 'GET', path: '/v2/models/sim_echo' },
  inference: { method: 'POST', path: '/v2/models/sim_echo/infer', body: INFER_JSON },
  repository: { method: 'POST', path: '/v2/repository/index' },
  statistics: { method: 'GET', path: '/v2/models/sim_echo/stats' },
  operator: { method: 'GET', path: '/infergate/pools' },
};

/** A representative RPC of each group (the operator view has none on gRPC). */
const GRPC_CALLS: Partial<Record<EndpointGroup, { service: 'inference' | 'health'; method: string; request: object }>> = {
  health: { service: 'inference', method: 'ServerReady', request: {} },
  metadata: { service: 'inference', method: 'ModelMetadata', request: { name: 'sim_echo', version: '' } },
  inference: { service: 'inference', method: 'ModelInfer', request: INFER_MESSAGE('sim_echo') },
  repository: { service: 'inference', method: 'RepositoryIndex', request: {} },
  statistics: { service: 'inference', method: 'ModelStatistics', request: { name: 'sim_echo', version: '' } },
};

type Credential = { bearer: string } | { apiKey: string } | undefined;

async function httpCall(base: string, call: { method: string; path: string; body?: string }, credential: Credential) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (credential && 'bearer' in credential) headers.authorization = `Bearer ${credential.bearer}`;
  if (credential && 'apiKey' in credential) headers['x-api-key'] = credential.apiKey;
  const response = await fetch(`${base}${call.path}`, { method: call.method, headers, body: call.body });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) as Record<string, unknown> : {} };
}

interface GrpcOutcome {
  value?: any;
  error?: ServiceError;
}

function grpcCall(client: GrpcTestClient, service: 'inference' | 'health', method: string, request: object, credential: Credential): Promise<GrpcOutcome> {
  const metadata = new Metadata();
  if (credential && 'bearer' in credential) metadata.set('authorization', `Bearer ${credential.bearer}`);
  if (credential && 'apiKey' in credential) metadata.set('x-api-key', credential.apiKey);
  const target = client[service] as unknown as Record<string, (r: object, m: Metadata, o: object, cb: (e: ServiceError | null, v?: unknown) => void) => void>;
  return new Promise((resolve) => {
    target[method].call(client[service], request, metadata, { deadline: Date.now() + 20_000 }, (error, value) => resolve(error ? { error } : { value }));
  });
}

const bearer = (name: string): Credential => ({ bearer: key(name) });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('HTTP door: every endpoint group', () => {
  for (const group of ENDPOINT_GROUPS) {
    it(`${group}: 401 without a key or with a wrong one, 403 with another group's key, 200 with its own key or x-api-key`, async () => {
      const call = HTTP_CALLS[group];
      const missing = await httpCall(main.http, call, undefined);
      expect(missing.status).toBe(401);
      expect(missing.headers.get('www-authenticate')).toBe('Bearer');
      expect(missing.body.error).toMatch(new RegExp(`the ${group} endpoints need an API key`));
      const wrong = await httpCall(main.http, call, { bearer: 'not-our-key-0123456789' });
      expect([wrong.status, wrong.body.error]).toEqual([401, 'the API key is not valid']);
      expect(wrong.headers.get('www-authenticate')).toBe('Bearer');
      const other = group === 'health' ? 'only-operator' : 'only-health';
      const forbidden = await httpCall(main.http, call, bearer(other));
      expect([forbidden.status, forbidden.body.error]).toEqual([403, `key '${other}' may not use the ${group} endpoints`]);
      expect((await httpCall(main.http, call, bearer(`only-${group}`))).status).toBe(200);
      expect((await httpCall(main.http, call, { apiKey: key(`only-${group}`) })).status).toBe(200);
      expect((await httpCall(main.http, call, bearer('all'))).status).toBe(200);
    });
  }

  it('the fastify infer route (app.inject, no socket entry) checks keys too', async () => {
    const inject = (headers: Record<string, string>) => main.app.inject({ method: 'POST', url: '/v2/models/sim_echo/infer', headers: { 'content-type': 'application/json', ...headers }, payload: INFER_JSON });
    const missing = await inject({});
    expect(missing.statusCode).toBe(401);
    expect(missing.headers['www-authenticate']).toBe('Bearer');
    expect((await inject({ authorization: `Bearer ${key('only-metadata')}` })).statusCode).toBe(403);
    expect((await inject({ authorization: `Bearer ${key('only-inference')}` })).statusCode).toBe(200);
  });

  it('a key limited to one model gets 403 on another, and on lists of every model', async () => {
    const echo = bearer('echo-only');
    expect((await httpCall(main.http, HTTP_CALLS.inference, echo)).status).toBe(200);
    const slow = await httpCall(main.http, { method: 'POST', path: '/v2/models/sim_slow/infer', body: INFER_JSON }, echo);
    expect([slow.status, slow.body.error]).toEqual([403, "key 'echo-only' may not use model 'sim_slow'"]);
    expect((await httpCall(main.http, { method: 'GET', path: '/v2/models/sim_slow/config' }, echo)).status).toBe(403);
    expect((await httpCall(main.http, { method: 'GET', path: '/v2/models/stats' }, echo)).status).toBe(403);
    expect((await httpCall(main.http, HTTP_CALLS.repository, echo)).status).toBe(403);
  });

  it('anonymous groups open without a key; the rest still needs one', async () => {
    expect((await httpCall(anonymous.http, { method: 'GET', path: '/v2/health/live' }, undefined)).status).toBe(200);
    expect((await httpCall(anonymous.http, HTTP_CALLS.health, undefined)).status).toBe(200);
    expect((await httpCall(anonymous.http, HTTP_CALLS.metadata, undefined)).status).toBe(401);
    expect((await httpCall(anonymous.http, HTTP_CALLS.metadata, bearer('alice'))).status).toBe(200);
    // A wrong key is refused even where no key is needed: the client meant to use one.
    expect((await httpCall(anonymous.http, HTTP_CALLS.health, { bearer: 'not-our-key-0123456789' })).status).toBe(401);
  });

  it('over its rate a key gets 429 with Retry-After, and gets in again after that wait', async () => {
    const rate = bearer('rate-http');
    expect((await httpCall(main.http, HTTP_CALLS.inference, rate)).status).toBe(200);
    expect((await httpCall(main.http, HTTP_CALLS.inference, rate)).status).toBe(200);
    const over = await httpCall(main.http, HTTP_CALLS.inference, rate);
    expect(over.status).toBe(429);
    expect(over.body.error).toMatch(/key 'rate-http' is over its rate limit \(0.5 requests\/s, burst 2\)/);
    const retryAfter = Number(over.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(2);
    await sleep(retryAfter * 1000);
    expect((await httpCall(main.http, HTTP_CALLS.inference, rate)).status).toBe(200);
  }, 20_000);

  it('with max_concurrent requests in flight a key gets 429 with Retry-After, and gets in once they end', async () => {
    const conc = bearer('conc-http');
    const slowCall = { method: 'POST', path: '/v2/models/sim_slow/infer', body: INFER_JSON };
    const startedAt = Date.now();
    const slow = [httpCall(main.http, slowCall, conc), httpCall(main.http, slowCall, conc)];
    await sleep(300);
    const over = await httpCall(main.http, HTTP_CALLS.inference, conc);
    expect(Date.now() - startedAt).toBeLessThan(SLOW_MS);
    expect([over.status, over.headers.get('retry-after')]).toEqual([429, '1']);
    expect(over.body.error).toMatch(/key 'conc-http' has 2 requests in flight/);
    expect((await Promise.all(slow)).map((r) => r.status)).toEqual([200, 200]);
    expect((await httpCall(main.http, HTTP_CALLS.inference, conc)).status).toBe(200);
  }, 20_000);
});

describe('gRPC door: every endpoint group', () => {
  for (const group of ENDPOINT_GROUPS) {
    const call = GRPC_CALLS[group];
    if (!call) continue;
    it(`${group}: UNAUTHENTICATED without a key or with a wrong one, PERMISSION_DENIED with another group's key, OK with its own`, async () => {
      const run = (credential: Credential) => grpcCall(main.client, call.service, call.method, call.request, credential);
      const missing = await run(undefined);
      expect([missing.error?.code, missing.error?.details]).toEqual([16, `the ${group} endpoints need an API key (Authorization: Bearer <key>, or x-api-key: <key>)`]);
      expect((await run({ bearer: 'not-our-key-0123456789' })).error?.code).toBe(16);
      const other = group === 'health' ? 'only-operator' : 'only-health';
      const forbidden = await run(bearer(other));
      expect([forbidden.error?.code, forbidden.error?.details]).toEqual([7, `key '${other}' may not use the ${group} endpoints`]);
      expect((await run(bearer(`only-${group}`))).error).toBeUndefined();
      expect((await run({ apiKey: key(`only-${group}`) })).error).toBeUndefined();
      expect((await run(bearer('all'))).error).toBeUndefined();
    });
  }

  it('grpc.health.v1 Check is in the health group', async () => {
    expect((await grpcCall(main.client, 'health', 'Check', { service: '' }, undefined)).error?.code).toBe(16);
    expect((await grpcCall(main.client, 'health', 'Check', { service: '' }, bearer('only-metadata'))).error?.code).toBe(7);
    expect((await grpcCall(main.client, 'health', 'Check', { service: '' }, bearer('only-health'))).value).toEqual({ status: 'SERVING' });
    expect((await grpcCall(anonymous.client, 'health', 'Check', { service: '' }, undefined)).value).toEqual({ status: 'SERVING' });
    expect((await grpcCall(anonymous.client, 'inference', 'ServerLive', {}, undefined)).value).toEqual({ live: true });
    expect((await grpcCall(anonymous.client, 'inference', 'ServerMetadata', {}, undefined)).error?.code).toBe(16);
  });

  it('a key limited to one model gets PERMISSION_DENIED on another', async () => {
    const echo = bearer('echo-only');
    expect((await grpcCall(main.client, 'inference', 'ModelInfer', INFER_MESSAGE('sim_echo'), echo)).error).toBeUndefined();
    const slow = await grpcCall(main.client, 'inference', 'ModelInfer', INFER_MESSAGE('sim_slow'), echo);
    expect([slow.error?.code, slow.error?.details]).toEqual([7, "key 'echo-only' may not use model 'sim_slow'"]);
    expect((await grpcCall(main.client, 'inference', 'ModelConfig', { name: 'sim_slow', version: '' }, echo)).error?.code).toBe(7);
    expect((await grpcCall(main.client, 'inference', 'ModelStatistics', { name: '', version: '' }, echo)).error?.code).toBe(7);
  });

  it('ModelStreamInfer: a wrong key ends the stream UNAUTHENTICATED; a request for a model outside the key answers with error_message and the stream goes on', async () => {
    const open = (credential: Credential) => {
      const metadata = new Metadata();
      if (credential && 'bearer' in credential) metadata.set('authorization', `Bearer ${credential.bearer}`);
      return (main.client.inference as unknown as { ModelStreamInfer(m: Metadata): ClientDuplexStream<object, any> }).ModelStreamInfer(metadata);
    };
    const collect = (call: ClientDuplexStream<object, any>, requests: object[]) => new Promise<{ responses: any[]; error?: ServiceError }>((resolve) => {
      const responses: any[] = [];
      call.on('data', (r) => responses.push(r));
      call.on('error', (error: ServiceError) => resolve({ responses, error }));
      call.on('end', () => resolve({ responses }));
      for (const request of requests) call.write(request);
      call.end();
    });
    const refused = await collect(open({ bearer: 'not-our-key-0123456789' }), [INFER_MESSAGE('sim_echo')]);
    expect(refused.error?.code).toBe(16);
    expect((await collect(open(bearer('only-metadata')), [INFER_MESSAGE('sim_echo')])).error?.code).toBe(7);
    const mixed = await collect(open(bearer('echo-only')), [INFER_MESSAGE('sim_slow'), INFER_MESSAGE('sim_echo')]);
    expect(mixed.error).toBeUndefined();
    expect(mixed.responses[0].error_message).toBe("key 'echo-only' may not use model 'sim_slow'");
    expect(mixed.responses[1].error_message).toBe('');
    expect(mixed.responses[1].infer_response.model_name).toBe('sim_echo');
  });

  it('over its rate a key gets RESOURCE_EXHAUSTED with the pushback trailer, and gets in again after that wait', async () => {
    const rate = bearer('rate-grpc');
    const infer = () => grpcCall(main.client, 'inference', 'ModelInfer', INFER_MESSAGE('sim_echo'), rate);
    expect((await infer()).error).toBeUndefined();
    expect((await infer()).error).toBeUndefined();
    const over = await infer();
    expect(over.error?.code).toBe(8);
    const pushbackMs = Number(over.error!.metadata.get(RETRY_PUSHBACK_TRAILER)[0]);
    expect(pushbackMs).toBeGreaterThan(0);
    expect(pushbackMs).toBeLessThanOrEqual(2_000);
    await sleep(pushbackMs);
    expect((await infer()).error).toBeUndefined();
  }, 20_000);

  it('with max_concurrent requests in flight a key gets RESOURCE_EXHAUSTED, and gets in once they end', async () => {
    const conc = bearer('conc-grpc');
    const slow = [0, 1].map(() => grpcCall(main.client, 'inference', 'ModelInfer', INFER_MESSAGE('sim_slow'), conc));
    await sleep(300);
    const over = await grpcCall(main.client, 'inference', 'ModelInfer', INFER_MESSAGE('sim_echo'), conc);
    expect(over.error?.code).toBe(8);
    expect(over.error?.details).toMatch(/key 'conc-grpc' has 2 requests in flight/);
    expect(over.error!.metadata.get(RETRY_PUSHBACK_TRAILER)[0]).toBe('1000');
    expect((await Promise.all(slow)).map((r) => r.error)).toEqual([undefined, undefined]);
    expect((await grpcCall(main.client, 'inference', 'ModelInfer', INFER_MESSAGE('sim_echo'), conc)).error).toBeUndefined();
  }, 20_000);
});

describe('refusal metrics', () => {
  it('counts refusals by reason and key name, and never shows a key', async () => {
    const text = await node.metrics.registry.getSingleMetricAsString('infergate_auth_refusals_total');
    const count = (reason: string, name: string) => Number(new RegExp(`reason="${reason}",key="${name}"} (\\d+)`).exec(text)?.[1] ?? 0);
    expect(count('missing_key', 'anonymous')).toBeGreaterThanOrEqual(ENDPOINT_GROUPS.length * 2);
    expect(count('wrong_key', 'unknown')).toBeGreaterThanOrEqual(ENDPOINT_GROUPS.length * 2);
    expect(count('forbidden_group', 'only-health')).toBeGreaterThanOrEqual(5);
    expect(count('forbidden_model', 'echo-only')).toBeGreaterThanOrEqual(4);
    expect(count('key_rate_limited', 'rate-http')).toBe(1);
    expect(count('key_rate_limited', 'rate-grpc')).toBe(1);
    expect(count('key_concurrency', 'conc-http')).toBe(1);
    expect(count('key_concurrency', 'conc-grpc')).toBe(1);
    expect(text).not.toMatch(/secret-key/);
  });
});
