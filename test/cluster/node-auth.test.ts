/**
 * Authenticated node registration, real processes: a gateway started with a node secret takes
 * only nodes that sign with it. Heartbeat mode: a backend with the right secret joins; one with a
 * wrong secret or none gets 401 on every heartbeat and never shows in the pool; a heartbeat signed
 * 31 s ago and a captured heartbeat sent again are refused; every refusal is counted by reason.
 * etcd mode (a real etcd): a record written straight into etcd without the secret, or signed with
 * another one, never becomes a member and is logged once; a signed backend joins.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NODE_ID_HEADER, NODE_SIGNATURE_HEADER, NODE_SIGNATURE_MAX_SKEW_MS, signNode, signRecord } from '../../core/node-signature.js';
import { clusterTest, httpJson, poolNodes, sleep, waitFor, waitForNodes, type InfergateProcess } from '../support/cluster.js';
import { ETCD_MISSING, EtcdServer, etcdBinary } from '../support/etcd.js';
import { skipNote } from '../support/skip-reason.js';

const SECRET = 'the-fleet-secret-for-node-auth-tests';
const WRONG_SECRET = 'not-the-fleet-secret-at-all-no-no';
/** How long a refused node is watched for: many of its 200 ms heartbeats. */
const WATCH_MS = 2_500;

const newCluster = clusterTest();
let dir: string;
let secretFile: string;
let wrongSecretFile: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'infergate-node-auth-'));
  secretFile = path.join(dir, 'secret');
  wrongSecretFile = path.join(dir, 'wrong');
  writeFileSync(secretFile, `${SECRET}\n`);
  writeFileSync(wrongSecretFile, `${WRONG_SECRET}\n`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `infergate_node_registration_refused_total{source, reason}` from a metrics text. */
function refusals(metrics: string, source: string, reason: string): number {
  const line = metrics.split('\n').find((l) => l.startsWith('infergate_node_registration_refused_total{') && l.includes(`source="${source}"`) && l.includes(`reason="${reason}"`));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

/** Ids ever seen in the gateway's sim_echo pool while watching for `ms`. */
async function membersSeen(gatewayUrl: string, ms: number): Promise<Set<string>> {
  const seen = new Set<string>();
  const until = performance.now() + ms;
  while (performance.now() < until) {
    for (const n of await poolNodes(gatewayUrl)) seen.add(n.id);
    await sleep(50);
  }
  return seen;
}

async function postSigned(gatewayUrl: string, body: string, nodeId: string, signature?: string) {
  const response = await fetch(`${gatewayUrl}/infergate/heartbeat`, {
    method: 'POST', body,
    headers: { 'content-type': 'application/json', [NODE_ID_HEADER]: nodeId, ...(signature ? { [NODE_SIGNATURE_HEADER]: signature } : {}) },
  });
  return { status: response.status, body: (await response.json()) as { error?: string } };
}

describe('heartbeat mode with a node secret', () => {
  it('takes the node with the secret; one with a wrong secret or none gets 401 and never joins; old and replayed heartbeats are refused', async () => {
    const cluster = newCluster();
    const gateway = await cluster.startGateway({ workers: 1, slowStartMs: 0, metrics: true, extraArgs: ['--node-secret-file', secretFile] });
    const backend = (nodeId: string, extra: string[]) => cluster.startBackend({ nodeId, simCards: 'medium:1', heartbeatMs: 200, extraArgs: ['--calibrate-ms', '0', ...extra] });
    const good = await backend('good', ['--node-secret-file', secretFile]);
    const wrong = await backend('wrong', ['--node-secret-file', wrongSecretFile]);
    const none = await backend('none', []);
    await waitForNodes(gateway.url, ['good']);

    const seen = await membersSeen(gateway.url, WATCH_MS);
    expect([...seen]).toEqual(['good']);
    const refusedBeat = (p: InfergateProcess) => p.messages().find((m) => m.includes('heartbeat to') && m.includes('status 401'));
    expect(refusedBeat(wrong)).toContain('bad node signature');
    expect(refusedBeat(none)).toContain('node registration needs a signature');
    expect(refusedBeat(good)).toBeUndefined();
    // The gateway logs refusals by node and reason, never the secret.
    const gatewayLog = gateway.logs().join('\n');
    expect(gatewayLog).toMatch(/node registration refused \(heartbeat, bad_signature\) from node 'wrong'/);
    expect(gatewayLog).toMatch(/node registration refused \(heartbeat, missing\) from node 'none'/);
    expect(gatewayLog).not.toContain(SECRET);
    expect(gatewayLog).not.toContain(WRONG_SECRET);

    // A real report, signed by someone holding the secret, under a fresh node id.
    const { body: nodeView } = await httpJson<{ report: Record<string, unknown> }>(`${good.url}/infergate/node`);
    const report = JSON.stringify({ ...nodeView.report, nodeId: 'replayer', sentAtMs: Date.now() });
    const secret = Buffer.from(SECRET);
    const old = Date.now() - NODE_SIGNATURE_MAX_SKEW_MS - 1_000;
    const stale = await postSigned(gateway.url, report, 'replayer', signNode(secret, 'replayer', old, report));
    expect(stale).toEqual({ status: 401, body: { error: expect.stringContaining('outside the accepted time window') } });
    const fresh = signNode(secret, 'replayer', Date.now(), report);
    expect((await postSigned(gateway.url, report, 'replayer', fresh)).status).toBe(200);
    const again = await postSigned(gateway.url, report, 'replayer', fresh);
    expect(again).toEqual({ status: 401, body: { error: expect.stringContaining('replayed') } });
    // Signed for one node, claiming to be another.
    const claimed = await postSigned(gateway.url, report, 'good', signNode(secret, 'good', Date.now() + 5_000, report));
    expect(claimed.status).toBe(401);

    const { body: metrics } = await httpJson<string>(`${gateway.metricsUrl}/metrics`);
    expect(refusals(metrics, 'heartbeat', 'bad_signature')).toBeGreaterThanOrEqual(5);
    expect(refusals(metrics, 'heartbeat', 'missing')).toBeGreaterThanOrEqual(5);
    expect(refusals(metrics, 'heartbeat', 'stale')).toBe(1);
    expect(refusals(metrics, 'heartbeat', 'replayed')).toBe(1);
    expect(refusals(metrics, 'heartbeat', 'node_mismatch')).toBe(1);

    // The good node's drain still reaches the gateway: its leave is signed too.
    good.signal('SIGTERM');
    expect((await good.exited).code).toBe(0);
    await waitFor('good gone', async () => ((await poolNodes(gateway.url)).some((n) => n.id === 'good') ? undefined : true), { timeoutMs: 5_000 });
  }, 60_000);
});

const bin = etcdBinary();
if (!bin) console.log(`[cluster] ${ETCD_MISSING}`);

describe.skipIf(!bin)(`etcd mode with a node secret${skipNote(bin ? undefined : ETCD_MISSING)}`, () => {
  let etcd: EtcdServer;
  beforeAll(async () => {
    etcd = await EtcdServer.start(bin!);
  }, 30_000);
  afterAll(async () => {
    await etcd?.close();
  });

  it('an unsigned record or one signed with another secret never joins, and is logged once; a signed backend joins', async () => {
    const cluster = newCluster();
    const prefix = '/auth/';
    const gateway = await cluster.startGateway({
      workers: 1, slowStartMs: 0, metrics: true, etcd: etcd.endpoint, extraArgs: ['--etcd-prefix', prefix, '--node-secret-file', secretFile],
    });
    const signed = await cluster.startBackend({
      nodeId: 'signed', simCards: 'medium:1', etcd: etcd.endpoint, extraArgs: ['--etcd-prefix', prefix, '--calibrate-ms', '0', '--node-secret-file', secretFile],
    });
    await waitForNodes(gateway.url, ['signed']);

    // Another writer with access to etcd, but not to the secret: a well-formed record copied from the real one.
    const client = new Etcd3({ hosts: etcd.endpoint });
    try {
      const record = JSON.parse((await client.get(`${prefix}nodes/signed`).string())!) as Record<string, unknown>;
      expect(record.signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
      delete record.signature;
      const as = (nodeId: string) => JSON.stringify({ ...record, nodeId, url: signed.url, sentAtMs: Date.now() });
      await client.put(`${prefix}nodes/intruder`).value(as('intruder'));
      await client.put(`${prefix}nodes/forger`).value(signRecord(Buffer.from(WRONG_SECRET), 'forger', as('forger'), Date.now()));
      await sleep(300);
      // Written again: counted again, not logged again.
      await client.put(`${prefix}nodes/intruder`).value(as('intruder'));

      const seen = await membersSeen(gateway.url, WATCH_MS);
      expect([...seen]).toEqual(['signed']);
      const messages = gateway.messages();
      expect(messages.filter((m) => m.includes(`etcd record ${prefix}nodes/intruder ignored: not signed`))).toHaveLength(1);
      expect(messages.filter((m) => m.includes(`etcd record ${prefix}nodes/forger ignored: signature refused (bad_signature)`))).toHaveLength(1);
      const { body: metrics } = await httpJson<string>(`${gateway.metricsUrl}/metrics`);
      expect(refusals(metrics, 'etcd', 'missing')).toBe(2);
      expect(refusals(metrics, 'etcd', 'bad_signature')).toBe(1);

      // Overwriting the signed node's own record without the secret takes it out of the pool.
      await client.put(`${prefix}nodes/signed`).value(as('signed'));
      await waitFor('signed out', async () => ((await poolNodes(gateway.url)).length === 0 ? true : undefined), { timeoutMs: 5_000 });
    } finally {
      client.close();
    }
  }, 60_000);
});
