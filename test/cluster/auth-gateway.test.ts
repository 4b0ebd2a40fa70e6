/**
 * API keys on a real gateway process in front of a real backend: the gateway started with
 * --api-keys (or INFERGATE_API_KEYS) enforces them on both doors while its node still joins by
 * heartbeat (the intake is no client route); the client library and `infergate bench` pass a key
 * with `apiKey` / `--api-key`; and at debug level (every request logged) no key, right or wrong,
 * appears in the gateway's output nor in the bench's results.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InferenceServerError } from '../../client/client-errors.js';
import { InferenceGrpcClient } from '../../client/grpc-client.js';
import { InferenceHttpClient } from '../../client/http-client.js';
import { sha256 } from '../../service/access-table.js';
import { cliPath, clusterTest, sleep, SIM_MODEL, type GatewayProcess } from '../support/cluster.js';

const OPS_KEY = 'ops-key-for-the-auth-cluster-test-0001';
const CLIENT_KEY = 'client-key-for-the-auth-cluster-test-0002';
const WRONG_KEY = 'wrong-key-for-the-auth-cluster-test-0003';
const KEYS = [OPS_KEY, CLIENT_KEY, WRONG_KEY];

const TABLE = `
keys:
  - name: ops
    key: sha256:${sha256(OPS_KEY).toString('hex')}
    groups: ['*']
  - name: bench-client
    key: ${CLIENT_KEY}
    groups: [metadata, inference, statistics]
    models: [${SIM_MODEL}]
anonymous:
  groups: [health]
`;

const newCluster = clusterTest();
let dir: string;
let keysFile: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'infergate-auth-cluster-'));
  keysFile = path.join(dir, 'keys.yaml');
  writeFileSync(keysFile, TABLE);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function get(url: string, key?: string): Promise<{ status: number; body: any }> {
  const response = await fetch(url, { headers: key ? { authorization: `Bearer ${key}` } : {} });
  return { status: response.status, body: await response.json() };
}

/** Waits until the gateway's sim_echo pool lists `nodeId` ready, reading the operator view with the ops key. */
async function waitForNode(gateway: GatewayProcess, nodeId: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const { body } = await get(`${gateway.url}/infergate/pools`, OPS_KEY);
    const pool = (body.pools as Array<{ model: string; nodes: Array<{ id: string; state: string }> }> | undefined)?.find((p) => p.model === SIM_MODEL);
    if (pool?.nodes.some((n) => n.id === nodeId && n.state === 'ready')) return;
    if (Date.now() > deadline) throw new Error(`node ${nodeId} never joined: ${JSON.stringify(body)}`);
    await sleep(100);
  }
}

const INPUT = [{ name: 'INPUT0', datatype: 'FP32' as const, shape: [4], data: new Float32Array([1, 2, 3, 4]) }];

async function refusedWith(call: Promise<unknown>): Promise<string> {
  try {
    await call;
  } catch (err) {
    expect(err).toBeInstanceOf(InferenceServerError);
    return (err as InferenceServerError).code;
  }
  throw new Error('expected a refusal');
}

describe('a gateway with API keys', () => {
  it('enforces them on both doors in front of its node; clients and the bench pass keys; no key is ever logged', async () => {
    const cluster = newCluster();
    const gateway = await cluster.startGateway({ slowStartMs: 0, workers: 1, extraArgs: ['--api-keys', keysFile, '--log-level', 'debug'] });
    await cluster.startBackend({ nodeId: 'n1', simCards: 'fast:1' });
    await waitForNode(gateway, 'n1');

    // The operator view and health: a key, and none for the anonymous group.
    expect((await get(`${gateway.url}/infergate/pools`)).status).toBe(401);
    expect((await get(`${gateway.url}/infergate/pools`, CLIENT_KEY)).status).toBe(403);
    expect((await get(`${gateway.url}/v2/health/ready`)).status).toBe(200);
    expect((await get(`${gateway.url}/v2/health/ready`, WRONG_KEY)).status).toBe(401);

    const http = new InferenceHttpClient(gateway.url, { apiKey: CLIENT_KEY });
    const httpWrong = new InferenceHttpClient(gateway.url, { apiKey: WRONG_KEY });
    const httpNone = new InferenceHttpClient(gateway.url);
    const grpc = new InferenceGrpcClient(gateway.grpcAddress, { apiKey: CLIENT_KEY });
    const grpcWrong = new InferenceGrpcClient(gateway.grpcAddress, { apiKey: WRONG_KEY });
    const grpcNone = new InferenceGrpcClient(gateway.grpcAddress);
    try {
      expect(Array.from((await http.infer(SIM_MODEL, INPUT)).output('OUTPUT0').data as Float32Array)).toEqual([1, 2, 3, 4]);
      expect(Array.from((await grpc.infer(SIM_MODEL, INPUT)).output('OUTPUT0').data as Float32Array)).toEqual([1, 2, 3, 4]);
      expect((await http.modelMetadata(SIM_MODEL)).name).toBe(SIM_MODEL);
      expect(await refusedWith(httpNone.infer(SIM_MODEL, INPUT))).toBe('UNAUTHENTICATED');
      expect(await refusedWith(httpWrong.infer(SIM_MODEL, INPUT))).toBe('UNAUTHENTICATED');
      expect(await refusedWith(grpcNone.infer(SIM_MODEL, INPUT))).toBe('UNAUTHENTICATED');
      expect(await refusedWith(grpcWrong.infer(SIM_MODEL, INPUT))).toBe('UNAUTHENTICATED');
      // bench-client may not use the repository nor another model.
      expect(await refusedWith(http.repositoryIndex())).toBe('PERMISSION_DENIED');
      expect(await refusedWith(grpc.modelMetadata('identity'))).toBe('PERMISSION_DENIED');
      expect(await grpcNone.isLive()).toBe(true);
    } finally {
      await Promise.all([http.close(), httpWrong.close(), httpNone.close()]);
      for (const client of [grpc, grpcWrong, grpcNone]) client.close();
    }

    // At debug level every request is logged (by route), never with a key. The log keeps its last
    // lines only: read now, before the bench's requests push these out, and again after them.
    const checkLogs = () => {
      const logs = gateway.logs().join('\n');
      expect(logs).toMatch(/"msg":"incoming request"/);
      for (const key of KEYS) {
        expect(logs).not.toContain(key);
        expect(logs).not.toContain(sha256(key).toString('hex'));
      }
      return logs;
    };
    expect(checkLogs()).toMatch(/API keys from .*keys\.yaml: 2 key\(s\) \(ops, bench-client\); open without a key: health/);

    // The bench: a short run with the key; its results carry the command without the key.
    const resultFile = path.join(dir, 'bench.json');
    const bench = spawnSync(process.execPath, [
      cliPath(), 'bench', '-m', SIM_MODEL, '-u', gateway.url, '--api-key', CLIENT_KEY, '--shape', 'INPUT0:4',
      '--concurrency-range', '2', '--warmup-ms', '200', '--measurement-interval-ms', '800', '--json', resultFile,
    ], { encoding: 'utf8', timeout: 30_000 });
    expect(bench.status, bench.stderr).toBe(0);
    const result = JSON.parse(readFileSync(resultFile, 'utf8')) as { command: string; steps: Array<{ summary: { successRate: number | null; requestsPerSec: number } }> };
    expect(result.steps[0].summary.successRate).toBe(1);
    expect(result.steps[0].summary.requestsPerSec).toBeGreaterThan(0);
    expect(result.command).toContain("--api-key '***'");
    const written = `${bench.stdout}${bench.stderr}${readFileSync(resultFile, 'utf8')}`;
    for (const key of KEYS) expect(written).not.toContain(key);
    const benchNoKey = spawnSync(process.execPath, [cliPath(), 'bench', '-m', SIM_MODEL, '-u', gateway.url, '--concurrency-range', '1', '--warmup-ms', '100', '--measurement-interval-ms', '200'], { encoding: 'utf8', timeout: 30_000 });
    expect(benchNoKey.status).not.toBe(0);
    expect(benchNoKey.stderr).toMatch(/API key/);

    await sleep(200);
    checkLogs();
  }, 90_000);

  it('reads the keys from INFERGATE_API_KEYS when no --api-keys is given', async () => {
    const cluster = newCluster();
    const gateway = await cluster.startGateway({ slowStartMs: 0, workers: 1, env: { INFERGATE_API_KEYS: TABLE } });
    expect((await get(`${gateway.url}/infergate/pools`)).status).toBe(401);
    expect((await get(`${gateway.url}/infergate/pools`, OPS_KEY)).status).toBe(200);
    expect((await get(`${gateway.url}/v2/health/live`)).status).toBe(200);
  }, 60_000);

  it('a node started with --api-keys serves the gateway that presents its key (--backend-api-key-file / INFERGATE_BACKEND_API_KEY), on HTTP and gRPC, and a gateway without it never gets the node into a pool', async () => {
    const GATEWAY_KEY = 'gateway-to-node-key-for-the-auth-test-0004';
    const nodeTable = `
keys:
  - name: gateways
    key: sha256:${sha256(GATEWAY_KEY).toString('hex')}
    groups: [metadata, inference]
`;
    const nodeKeys = path.join(dir, 'node-keys.yaml');
    writeFileSync(nodeKeys, nodeTable);
    const gatewayKeyFile = path.join(dir, 'gateway-key');
    writeFileSync(gatewayKeyFile, `${GATEWAY_KEY}\n`);
    const cluster = newCluster();
    const gateway = await cluster.startGateway({ slowStartMs: 0, workers: 1, extraArgs: ['--backend-api-key-file', gatewayKeyFile] });
    await cluster.startBackends([{ nodeId: 'keyed', simCards: 'fast:1', extraArgs: ['--api-keys', nodeKeys] }]);
    const http = new InferenceHttpClient(gateway.url);
    const grpc = new InferenceGrpcClient(gateway.grpcAddress);
    try {
      expect(Array.from((await http.infer(SIM_MODEL, INPUT)).output('OUTPUT0').data as Float32Array)).toEqual([1, 2, 3, 4]);
      expect(Array.from((await grpc.infer(SIM_MODEL, INPUT)).output('OUTPUT0').data as Float32Array)).toEqual([1, 2, 3, 4]);
      // A config read goes to the node with the key too.
      expect((await get(`${gateway.url}/v2/models/${SIM_MODEL}/config`)).status).toBe(200);
    } finally {
      await http.close();
      grpc.close();
    }
    // The same kind of node behind a gateway without the key (the cluster's gateway from now on):
    // the gateway cannot even read the node's model metadata, so the node never becomes a routable
    // member and no request reaches it.
    const keyless = await cluster.startGateway({ slowStartMs: 0, workers: 1 });
    await cluster.startBackend({ nodeId: 'keyed-2', simCards: 'fast:1', extraArgs: ['--api-keys', nodeKeys] });
    await sleep(3_000);
    const { body } = await get(`${keyless.url}/infergate/pools`);
    const members = (body.pools as Array<{ nodes: Array<{ id: string; state: string }> }>).flatMap((p) => p.nodes);
    expect(members.filter((n) => n.id === 'keyed-2' && n.state === 'ready')).toEqual([]);
    const response = await fetch(`${keyless.url}/v2/models/${SIM_MODEL}/infer`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [4], data: [1, 2, 3, 4] }] }),
    });
    expect(response.status).not.toBe(200);
    await response.arrayBuffer();
  }, 90_000);
});
