/**
 * Membership on a real etcd, in process: a node's registrar (node/etcd-registrar.ts) writes its
 * record under a lease, and a gateway's EtcdMembership builds pools from the watch. A real
 * infergate node on loopback answers the metadata requests. Skips, saying why, without etcd.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Etcd3 } from 'etcd3';
import { bundledModelsDir } from '../../core/package-root.js';
import type { LoadReport } from '../../core/load-report.js';
import { withoutLoad } from '../../core/load-header.js';
import { nodeKey, type EtcdSettings } from '../../core/etcd-settings.js';
import { EtcdRegistrar } from '../../node/etcd-registrar.js';
import { EtcdMembership } from '../../scheduler/etcd-membership.js';
import { PoolSet } from '../../scheduler/pool-set.js';
import { createRoutingPolicy } from '../../scheduler/routing-policy.js';
import { RemoteBackend } from '../../transport/remote-backend.js';
import { waitFor } from '../support/cluster.js';
import { ETCD_MISSING, EtcdServer, etcdBinary, makeTlsFiles } from '../support/etcd.js';
import { startEmbeddedServer, type EmbeddedServer } from '../support/embedded-server.js';
import { skipNote } from '../support/skip-reason.js';

const bin = etcdBinary();
if (!bin) console.log(ETCD_MISSING);

let etcd: EtcdServer;
let server: EmbeddedServer;
let url: string;
let modelsDir: string;

beforeAll(async () => {
  if (!bin) return;
  etcd = await EtcdServer.start(bin);
  modelsDir = mkdtempSync(path.join(os.tmpdir(), 'infergate-etcd-membership-'));
  cpSync(path.join(bundledModelsDir(), 'identity'), path.join(modelsDir, 'identity'), { recursive: true });
  server = await startEmbeddedServer({ modelsDir });
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  url = `http://127.0.0.1:${(server.app.server.address() as { port: number }).port}`;
}, 30_000);

afterAll(async () => {
  await server?.close();
  await etcd?.close();
  if (modelsDir) rmSync(modelsDir, { recursive: true, force: true });
});

function record(nodeId: string, state: 'ready' | 'draining' = 'ready'): LoadReport {
  return withoutLoad({
    nodeId, url, state, cards: [{ type: 'cpu-core', count: 2, coefficient: 0.04 }], slots: 2, models: [{ name: 'identity', versions: ['1'] }],
    inFlight: 0, queueDepth: 0, utilization: 0, completedPerSec: 0, errorsPerSec: 0, serviceTimeMs: 0, latencyMs: 0, windowMs: 0, sentAtMs: Date.now(),
  });
}

function gatewaySide(settings: EtcdSettings) {
  const pools = new PoolSet(() => createRoutingPolicy('static', { slowStartWindowMs: 0 }));
  const logs: string[] = [];
  const membership = new EtcdMembership(pools, { settings, clock: Date.now, createBackend: (id, u) => new RemoteBackend(id, u), log: (m) => logs.push(m) });
  const member = (id: string) => pools.get('identity', '1')?.member(id);
  return { pools, membership, member, logs };
}

describe.skipIf(!bin)(`EtcdMembership and EtcdRegistrar (real etcd)${skipNote(bin ? undefined : ETCD_MISSING)}`, () => {
  it('a registered node joins the pools; its drain mark and its leave follow; load from answers survives record updates', async () => {
    const settings: EtcdSettings = { hosts: [etcd.endpoint], prefix: '/unit1/' };
    const { membership, member } = gatewaySide(settings);
    let state: 'ready' | 'draining' = 'ready';
    const registrar = new EtcdRegistrar(settings, 'n1', () => record('n1', state), 2);
    try {
      await membership.start();
      expect(membership.status()).toMatchObject({ source: 'etcd', state: 'live', nodes: 0 });
      await registrar.start();
      expect(registrar.registered).toBe(true);
      await waitFor('n1 in the pool', () => member('n1'));
      expect(member('n1')!.state).toBe('ready');
      expect(member('n1')!.spec.capacity).toBeCloseTo(0.08);

      // Load read off an answer reaches the member's report.
      membership.noteLoad('n1', { inFlight: 2, queueDepth: 1, slots: 2, utilization: 0.75, completedPerSec: 40, errorsPerSec: 0, serviceTimeMs: 9, latencyMs: 12, windowMs: 1000, state: 'ready' });
      expect(member('n1')!.report).toMatchObject({ inFlight: 2, utilization: 0.75, completedPerSec: 40 });

      state = 'draining';
      await registrar.markDraining();
      await waitFor('n1 draining', () => (member('n1')?.state === 'draining' ? true : undefined), { timeoutMs: 2_000 });
      // The record carries no load: the figures from answers stay.
      expect(member('n1')!.report).toMatchObject({ state: 'draining', utilization: 0.75, completedPerSec: 40 });

      await registrar.leave();
      await waitFor('n1 gone', () => (member('n1') ? undefined : true), { timeoutMs: 2_000 });
      expect(membership.nodes()).toHaveLength(0);
    } finally {
      await registrar.leave();
      await membership.close();
    }
  });

  it('ignores a malformed record or one whose id does not match its key, saying why', async () => {
    const settings: EtcdSettings = { hosts: [etcd.endpoint], prefix: '/unit2/' };
    const { membership, logs } = gatewaySide(settings);
    const client = new Etcd3({ hosts: etcd.endpoint });
    try {
      await membership.start();
      await client.put(nodeKey('/unit2/', 'bad')).value('{not json');
      await client.put(nodeKey('/unit2/', 'other')).value(JSON.stringify(record('n9')));
      await client.put(nodeKey('/unit2/', 'n2')).value(JSON.stringify(record('n2')));
      await waitFor('n2 joined', () => (membership.nodes().length === 1 ? true : undefined), { timeoutMs: 3_000 });
      expect(membership.nodes().map((n) => n.nodeId)).toEqual(['n2']);
      expect(logs.some((m) => m.includes('/unit2/nodes/bad ignored'))).toBe(true);
      expect(logs.some((m) => /\/unit2\/nodes\/other ignored: nodeId 'n9' does not match the key/.test(m))).toBe(true);
    } finally {
      client.close();
      await membership.close();
    }
  });

  it('etcd down: the view stays (stale) and routing goes on over it; etcd back: live again', async () => {
    const settings: EtcdSettings = { hosts: [etcd.endpoint], prefix: '/unit3/' };
    const { membership, member } = gatewaySide(settings);
    const registrar = new EtcdRegistrar(settings, 'n3', () => record('n3'), 2);
    try {
      await membership.start();
      await registrar.start();
      await waitFor('n3 in the pool', () => member('n3'));
      await etcd.kill();
      await waitFor('stale', () => (membership.status().state === 'stale' ? true : undefined), { timeoutMs: 5_000 });
      // Static stability: routing goes on over the last view.
      expect(member('n3')!.state).toBe('ready');
      expect(membership.status()).toMatchObject({ state: 'stale', nodes: 1 });
      await etcd.restart();
      await waitFor('live', () => (membership.status().state === 'live' ? true : undefined), { timeoutMs: 8_000 });
      expect(member('n3')).toBeDefined();
    } finally {
      await registrar.leave();
      await membership.close();
      if (!etcd.running) await etcd.restart();
    }
  }, 30_000);

  it('over mutual TLS: a node and a gateway with --etcd-ca/--etcd-cert/--etcd-key; a client without a certificate is refused', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'infergate-etcd-tls-'));
    const tls = makeTlsFiles(dir);
    if (!tls) {
      console.log('openssl missing: etcd TLS test skipped');
      return;
    }
    const secure = await EtcdServer.start(bin!, tls);
    const settings: EtcdSettings = { hosts: [secure.endpoint], prefix: '/tls/', caFile: tls.ca, certFile: tls.clientCert, keyFile: tls.clientKey };
    const { membership, member } = gatewaySide(settings);
    const registrar = new EtcdRegistrar(settings, 'n4', () => record('n4'), 2);
    const { membership: refused } = gatewaySide({ hosts: [secure.endpoint], prefix: '/tls/', caFile: tls.ca });
    try {
      await membership.start();
      await registrar.start();
      expect(registrar.registered).toBe(true);
      await waitFor('n4 in the pool', () => member('n4'));
      await refused.start();
      expect(refused.status()).toMatchObject({ state: 'connecting', detail: expect.stringMatching(/etcd unreachable/) });
    } finally {
      await registrar.leave();
      await Promise.all([membership.close(), refused.close()]);
      await secure.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it('with a user and password (--etcd-user, ETCD_PASSWORD): node and gateway authenticate; a wrong password is refused', async () => {
    const admin = new Etcd3({ hosts: etcd.endpoint });
    const prefix = '/auth/';
    try {
      await admin.role('root').create();
      await admin.user('root').create('root-pw');
      await admin.user('root').addRole('root');
      await admin.auth.authEnable();
      const settings: EtcdSettings = { hosts: [etcd.endpoint], prefix, user: 'root', password: 'root-pw' };
      const { membership, member } = gatewaySide(settings);
      const registrar = new EtcdRegistrar(settings, 'n5', () => record('n5'), 2);
      const { membership: wrong } = gatewaySide({ ...settings, password: 'wrong' });
      try {
        await membership.start();
        await registrar.start();
        await waitFor('n5 in the pool', () => member('n5'));
        await wrong.start();
        expect(wrong.status()).toMatchObject({ state: 'connecting', detail: expect.stringMatching(/authentication failed/) });
      } finally {
        await registrar.leave();
        await Promise.all([membership.close(), wrong.close()]);
      }
    } finally {
      // Leave the shared etcd as it was for the other tests.
      const root = new Etcd3({ hosts: etcd.endpoint, auth: { username: 'root', password: 'root-pw' } });
      await root.auth.authDisable().catch(() => {});
      root.close();
      admin.close();
    }
  }, 30_000);
});
