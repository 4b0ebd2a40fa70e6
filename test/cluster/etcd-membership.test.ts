/**
 * Membership through a real etcd (Debian's etcd-server), real processes: two gateways and three
 * backends that never heartbeat. Both gateways build the same pools from etcd's watch; a node
 * killed with SIGKILL goes from both when its lease expires; a node that drains is out of both at
 * its drain mark; with etcd killed both keep serving on their last view and converge when it
 * returns; and a gateway learns a slowed node's load from response headers alone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LEASE_TTL_S } from '../../core/etcd-settings.js';
import {
  ClosedLoopLoad, PoolSampler, clusterTest, httpJson, note, pct, requestShares, samplePools, sleep, summarize, traceNode, waitFor,
  waitForNodes, type Cluster, type GatewayProcess, type InfergateProcess,
} from '../support/cluster.js';
import { ETCD_MISSING, EtcdServer, etcdBinary } from '../support/etcd.js';
import { skipNote } from '../support/skip-reason.js';

const bin = etcdBinary();
if (!bin) console.log(`[cluster] ${ETCD_MISSING}`);

const newCluster = clusterTest();
let etcd: EtcdServer;

beforeAll(async () => {
  if (bin) etcd = await EtcdServer.start(bin);
});
afterAll(async () => {
  await etcd?.close();
});

interface Membership {
  source: string;
  state: string;
}

async function membershipOf(gateway: GatewayProcess): Promise<Membership> {
  const { body } = await httpJson<{ membership: Membership }>(`${gateway.url}/infergate/pools`);
  return body.membership;
}

/** Two etcd gateways and the given etcd backends, every gateway listing every node ready. */
async function fleet(cluster: Cluster, prefix: string, nodes: string[], gateways = 2): Promise<{ gws: GatewayProcess[]; backends: InfergateProcess[] }> {
  const gatewayArgs = { slowStartMs: 0, workers: 1, etcd: etcd.endpoint, extraArgs: ['--etcd-prefix', prefix] };
  const gws: GatewayProcess[] = [];
  for (let i = 0; i < gateways; i++) gws.push(await cluster.startGateway(gatewayArgs));
  const backends = await Promise.all(nodes.map((nodeId) => cluster.startBackend({
    nodeId, simCards: 'medium:1', etcd: etcd.endpoint, extraArgs: ['--etcd-prefix', prefix, '--calibrate-ms', '0'],
  })));
  await Promise.all(gws.map((g) => waitForNodes(g.url, nodes)));
  return { gws, backends };
}

describe.skipIf(!bin)(`membership on etcd (real etcd, real processes)${skipNote(bin ? undefined : ETCD_MISSING)}`, () => {
  it('two gateways list the same pools, reach every node, drop a killed node within the lease TTL and a draining one at its mark', async () => {
    const cluster = newCluster();
    const { gws, backends } = await fleet(cluster, '/t1/', ['n1', 'n2', 'n3']);
    const [, draining, killed] = backends;

    // The same pools on both: same models, versions and members.
    const shape = async (g: GatewayProcess) => (await httpJson<{ pools: Array<{ model: string; version: string; nodes: Array<{ id: string }> }> }>(`${g.url}/infergate/pools`))
      .body.pools.map((p) => `${p.model}:${p.version}=${p.nodes.map((n) => n.id).sort().join(',')}`).sort();
    expect(await shape(gws[0])).toEqual(await shape(gws[1]));
    expect(await shape(gws[0])).toEqual(['sim_echo:1=n1,n2,n3']);
    for (const g of gws) expect(await membershipOf(g)).toMatchObject({ source: 'etcd', state: 'live' });

    const samplers = gws.map((g) => new PoolSampler(g.url, 10).start());
    const loads = gws.map((g) => new ClosedLoopLoad({ url: g.url, concurrency: 8, durationMs: 9_000 }).start());
    await sleep(1_500);
    const reached = await Promise.all(gws.map((g) => samplePools(g.url)));
    for (const sample of reached) for (const id of ['n1', 'n2', 'n3']) expect(sample.nodes.get(id)!.requests).toBeGreaterThan(0);

    killed.signal('SIGKILL');
    const killedAtMs = killed.signalledAtMs.get('SIGKILL')!;
    await Promise.all(gws.map((g) => waitFor('n3 gone', async () => ((await samplePools(g.url)).nodes.has('n3') ? undefined : true), { timeoutMs: 10_000 })));
    await sleep(300);

    draining.signal('SIGTERM');
    const termAtMs = draining.signalledAtMs.get('SIGTERM')!;
    const exit = await draining.exited;
    const results = await Promise.all(loads.map((l) => l.done));
    const samples = await Promise.all(samplers.map((s) => s.stop()));

    const failed = results.flatMap((r) => summarize(r.records).errors);
    const requests = results.reduce((a, r) => a + r.records.length, 0);
    const gone = samples.map((s) => traceNode(s, 'n3', killedAtMs).goneAtMs! - killedAtMs);
    const drains = samples.map((s) => {
      const trace = traceNode(s, 'n2', termAtMs);
      const atDraining = s.find((x) => x.atMs >= termAtMs && x.nodes.get('n2')?.state === 'draining');
      return {
        drainingAfterMs: trace.drainingAtMs! - termAtMs,
        // The last request to n2 was sent before this (the send of the last sample not yet counting it).
        lastSendAfterTermMs: trace.lastRequestAfterMs - termAtMs,
        requestsAtDraining: atDraining?.nodes.get('n2')?.requests,
        finalRequests: trace.finalRequests,
      };
    });
    note(`etcd fleet: ${requests} requests through 2 gateways, ${failed.length} failed; n3 (SIGKILL) gone after ${gone.map((g) => g.toFixed(0)).join(' / ')} ms ` +
      `(lease TTL ${DEFAULT_LEASE_TTL_S} s); n2 (SIGTERM) draining after ${drains.map((d) => d.drainingAfterMs.toFixed(0)).join(' / ')} ms, ` +
      `last request sent ≤ ${drains.map((d) => d.lastSendAfterTermMs.toFixed(0)).join(' / ')} ms after SIGTERM, exit ${exit.code}`);

    expect(failed).toEqual([]);
    expect(requests).toBeGreaterThan(300);
    for (const g of gone) {
      expect(g).toBeGreaterThan(0);
      // Lease TTL plus etcd's expiry check and the watch: well inside TTL + 2 s.
      expect(g).toBeLessThanOrEqual(DEFAULT_LEASE_TTL_S * 1_000 + 2_000);
    }
    expect(exit).toEqual({ code: 0, signal: null });
    for (const d of drains) {
      // The drain mark reaches both gateways at once through the watch (sampling every 10 ms).
      expect(d.drainingAfterMs).toBeLessThanOrEqual(300);
      // Nothing more is sent once a gateway shows it draining.
      expect(d.requestsAtDraining).toBe(d.finalRequests);
      expect(d.lastSendAfterTermMs).toBeLessThanOrEqual(300);
    }
    // Gone from both once its lease is revoked.
    for (const g of gws) await waitFor('n2 gone', async () => ((await samplePools(g.url)).nodes.has('n2') ? undefined : true), { timeoutMs: 2_000 });
  }, 60_000);

  it('etcd killed mid-run: both gateways keep serving on their last view (a node drains meanwhile), then converge when etcd returns', async () => {
    const cluster = newCluster();
    const { gws, backends } = await fleet(cluster, '/t2/', ['n1', 'n2', 'n3']);
    const loads = gws.map((g) => new ClosedLoopLoad({ url: g.url, concurrency: 8, durationMs: 8_000 }).start());
    await sleep(1_000);

    await etcd.kill();
    const stale = await Promise.all(gws.map((g) => waitFor('membership stale', async () => {
      const m = await membershipOf(g);
      return m.state === 'stale' ? m : undefined;
    }, { timeoutMs: 5_000 })));
    const metrics = await Promise.all(gws.map((g) => httpJson<{ pools: Array<{ nodes: Array<{ id: string; state: string }> }> }>(`${g.url}/infergate/pools`)));
    for (const m of metrics) expect(m.body.pools[0].nodes.map((n) => n.id).sort()).toEqual(['n1', 'n2', 'n3']);
    await sleep(1_000);

    // A node drains while etcd is down: gateways see it on its answers (the load header) and by transport.
    backends[1].signal('SIGTERM');
    const exit = await backends[1].exited;
    await sleep(500);
    const duringOutage = await Promise.all(gws.map((g) => samplePools(g.url)));
    await etcd.restart();
    const restartedAtMs = performance.now();
    // Converged: n2 (whose lease nobody keeps alive) gone, n1 and n3 ready, the view live again.
    await Promise.all(gws.map((g) => waitForNodes(g.url, ['n1', 'n3'], { timeoutMs: DEFAULT_LEASE_TTL_S * 1_000 + 8_000 })));
    const convergedAfterMs = performance.now() - restartedAtMs;
    for (const g of gws) await waitFor('membership live', async () => ((await membershipOf(g)).state === 'live' ? true : undefined), { timeoutMs: 5_000 });
    const results = await Promise.all(loads.map((l) => l.done));
    const failed = results.flatMap((r) => summarize(r.records).errors);
    const requests = results.reduce((a, r) => a + r.records.length, 0);
    note(`etcd outage: ${requests} requests through 2 gateways, ${failed.length} failed; both stale (${stale.map((s) => s.state).join('/')}); ` +
      `n2 drained during the outage (exit ${exit.code}, state ${duringOutage.map((s) => s.nodes.get('n2')?.state ?? 'gone').join('/')}); converged ${convergedAfterMs.toFixed(0)} ms after etcd returned`);

    expect(failed).toEqual([]);
    expect(requests).toBeGreaterThan(300);
    expect(exit).toEqual({ code: 0, signal: null });
    // During the outage the drained node is still listed (the last view) but no longer ready.
    for (const s of duringOutage) expect(s.nodes.get('n2')?.state ?? 'gone').not.toBe('ready');
    expect(gws.some((g) => g.messages().some((m) => /membership: etcd unreachable.*routing on the last view/.test(m)))).toBe(true);
  }, 60_000);

  it('load from response headers: a node slowed 10× loses its share through a gateway it never heartbeats to', async () => {
    const cluster = newCluster();
    const { gws, backends } = await fleet(cluster, '/t3/', ['n1', 'n2'], 1);
    const [gateway] = gws;
    // The backends were given no --gateway: the only load this gateway sees is on the answers.
    for (const b of backends) expect(b.messages().some((m) => /heartbeats every/.test(m))).toBe(false);
    const load = new ClosedLoopLoad({ url: gateway.url, concurrency: 6, durationMs: 9_000 }).start();
    await sleep(2_000);
    const before0 = await samplePools(gateway.url);
    await sleep(1_500);
    const before1 = await samplePools(gateway.url);
    expect((await httpJson(`${backends[1].url}/infergate/sim`, 'PUT', { slowdown: 10 })).status).toBe(200);
    await sleep(2_500);
    const after0 = await samplePools(gateway.url);
    await sleep(2_000);
    const after1 = await samplePools(gateway.url);
    const { records } = await load.done;
    const before = requestShares(before0, before1).get('n2')!.share;
    const after = requestShares(after0, after1).get('n2')!.share;
    // The weights come from the capacity policy's measured capacity, i.e. from load reports: here
    // only those read off the answers. Without them both would stay at the card prior (equal).
    const weight = (id: string) => after1.nodes.get(id)!.weight;
    note(`response-header load: n2's share ${pct(before)} before its 10× slowdown, ${pct(after)} after; weights n1 ${weight('n1').toFixed(2)}, n2 ${weight('n2').toFixed(2)}; ` +
      `${records.length} requests, ${summarize(records).failed} failed`);
    expect(weight('n2')).toBeLessThan(weight('n1') * 0.3);
    expect(summarize(records).errors).toEqual([]);
    expect(before).toBeGreaterThan(0.3);
    // 10× slower: its fair share is ~1/11 (9 %); well below its share before.
    expect(after).toBeLessThan(0.2);
  }, 60_000);
});
