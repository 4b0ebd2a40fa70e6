/**
 * Scale-out measurements (issue 17), real processes on loopback and a real etcd (Debian's
 * `etcd`): gateways and SIMULATED backends are children of the built CLI, membership through etcd.
 *
 *   1. failover — a node killed (SIGKILL) and a node drained (SIGTERM) under a steady closed-loop
 *      load through every gateway, with 1 and 3 gateways: when each gateway sent the node its last
 *      request (its `requests` counter in /infergate/pools, sampled every 10 ms), when the node
 *      left its view, and failed requests.
 *   2. cpu — gateway CPU per request with membership from etcd (load only from the answers'
 *      `infergate-load` header) vs heartbeats (the same backends also heartbeat to a second
 *      gateway, every 1 s): the same fixed-count load through each, paired runs interleaved, CPU
 *      time of the gateway process from /proc (bench/support/process-cpu.ts).
 *   3. burstiness — arrivals at one node, through 1 gateway and through 3 (same total rate, paced
 *      sends that hit the 3 gateways at the same instants: the case where gateways in lockstep
 *      would herd), read from an arrival tap in front of that node (bench/support/arrival-tap.ts).
 *
 * Run from the repository root after a build: `node dist/bench/scale-out.js [--quick]
 * [--parts failover,cpu,burstiness]`. Prints markdown and writes bench/results/scale-out.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { packageRoot } from '../core/package-root.js';
import { DEFAULT_LEASE_TTL_S } from '../core/etcd-settings.js';
import { burstiness, type Burstiness } from './support/burstiness.js';
import {
  Cluster, ClosedLoopLoad, NodeProcess, PoolSampler, closeOperatorClients, freePort, httpJson, quantile, samplePools, sleep,
  traceNode, waitFor, waitForNodes, type GatewayProcess, type InfergateProcess, type PoolSample, type RequestRecord,
} from './support/cluster-processes.js';
import { EtcdProcess, findEtcd } from './support/etcd-process.js';
import { processCpuMicros } from './support/process-cpu.js';

const PARTS = ['failover', 'cpu', 'burstiness'] as const;
type Part = (typeof PARTS)[number];

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    parts: { type: 'string', default: PARTS.join(',') },
  },
});
const quick = flags.quick === true;
const parts = String(flags.parts).split(',').map((p) => p.trim());
for (const p of parts) if (!(PARTS as readonly string[]).includes(p)) throw new Error(`--parts: unknown part '${p}' (expected some of ${PARTS.join(', ')})`);
const wanted = (p: Part) => parts.includes(p);

/** Repetitions and sizes; --quick shrinks all of them. */
const SIZE = {
  failoverReps: quick ? 2 : 5,
  /** Requests in flight through all gateways together (split evenly over them). */
  failoverConcurrency: 6,
  cpuPairs: quick ? 2 : 5,
  cpuRequests: quick ? 1_000 : 3_000,
  cpuConcurrency: 4,
  burstReps: quick ? 1 : 3,
  burstRunMs: quick ? 5_000 : 12_000,
  /** Requests/s through all gateways together in the burstiness runs. */
  burstRate: 200,
} as const;
/**
 * Policies of the burstiness runs: `static` (fixed, equal weights: what the picker's start phases
 * alone do) and `capacity` (the default: weights that follow the load on the answers).
 */
const BURST_POLICIES = ['static', 'capacity'] as const;
const SAMPLE_INTERVAL_MS = 10;
const WINDOW_MS = 100;
const HOT_FACTOR = 1.5;
const CARDS = 'medium:1';
/** Backends in every part: few, so that the bench's own processes fit a small machine. */
const BACKENDS = 4;

const median = (xs: number[]) => quantile([...xs].sort((a, b) => a - b), 0.5);
const max = (xs: number[]) => Math.max(...xs);
const fmt = (v: number, digits = 0) => (Number.isFinite(v) ? v.toFixed(digits) : '–');

function gatewayArgs(etcd: string, prefix: string) {
  return { slowStartMs: 0, workers: 1, etcd, extraArgs: ['--etcd-prefix', prefix] };
}

function backendArgs(nodeId: string, etcd: string, prefix: string, extra: string[] = []) {
  return { nodeId, simCards: CARDS, etcd, extraArgs: ['--etcd-prefix', prefix, '--calibrate-ms', '0', ...extra] };
}

async function startGateways(cluster: Cluster, n: number, etcd: string, prefix: string): Promise<GatewayProcess[]> {
  const gws: GatewayProcess[] = [];
  for (let i = 0; i < n; i++) gws.push(await cluster.startGateway(gatewayArgs(etcd, prefix)));
  return gws;
}

async function allList(gws: GatewayProcess[], ids: string[]): Promise<void> {
  await Promise.all(gws.map((g) => waitForNodes(g.url, ids, { timeoutMs: 20_000 })));
}

function failures(records: readonly RequestRecord[], fromMs: number, toMs: number): RequestRecord[] {
  return records.filter((r) => r.error && r.startMs >= fromMs && r.startMs < toMs);
}

// ---------------------------------------------------------------------------------------------
// 1. failover

interface FailoverRep {
  gateways: number;
  /** Per gateway, ms from the signal: the last request's send lies in (after, by]. */
  killLastByMs: number[];
  /** Lower bound of the same bracket (the send of the last sample that did not count it yet). */
  killLastAfterMs: number[];
  /** Requests each gateway sent the killed node after the kill (they failed there and were retried elsewhere). */
  killSentAfter: number[];
  killGoneMs: number[];
  drainLastByMs: number[];
  drainLastAfterMs: number[];
  drainSentAfter: number[];
  drainDrainingMs: number[];
  drainGoneMs: number[];
  requests: number;
  failed: number;
  errors: string[];
  drainExit: string;
}

async function failover(etcd: string, gateways: number): Promise<FailoverRep[]> {
  const cluster = new Cluster();
  const prefix = `/scale-failover-${gateways}/`;
  const reps: FailoverRep[] = [];
  try {
    const gws = await startGateways(cluster, gateways, etcd, prefix);
    const stable = ['s1', 's2'];
    await Promise.all(stable.map((id) => cluster.startBackend(backendArgs(id, etcd, prefix))));
    const perGateway = Math.max(1, Math.round(SIZE.failoverConcurrency / gateways));
    const loads = gws.map((g) => new ClosedLoopLoad({ url: g.url, concurrency: perGateway }).start());
    for (let r = 0; r < SIZE.failoverReps; r++) {
      const [killed, drained] = await Promise.all([`k${r}`, `d${r}`].map((id) => cluster.startBackend(backendArgs(id, etcd, prefix))));
      await allList(gws, [...stable, killed.name, drained.name]);
      const fromMs = performance.now();
      const samplers = gws.map((g) => new PoolSampler(g.url, SAMPLE_INTERVAL_MS).start());
      await sleep(1_500);

      killed.signal('SIGKILL');
      const killAt = killed.signalledAtMs.get('SIGKILL')!;
      await Promise.all(gws.map((g) => waitFor(`${killed.name} gone`, async () => (
        (await samplePools(g.url)).nodes.has(killed.name) ? undefined : true
      ), { timeoutMs: DEFAULT_LEASE_TTL_S * 1_000 + 5_000 })));
      await sleep(300);

      drained.signal('SIGTERM');
      const termAt = drained.signalledAtMs.get('SIGTERM')!;
      const exit = await drained.exited;
      await Promise.all(gws.map((g) => waitFor(`${drained.name} gone`, async () => (
        (await samplePools(g.url)).nodes.has(drained.name) ? undefined : true
      ), { timeoutMs: 5_000 })));
      await sleep(200);
      const samples = await Promise.all(samplers.map((s) => s.stop()));
      const toMs = performance.now();

      const killTraces = samples.map((s) => traceNode(s, killed.name, killAt));
      const drainTraces = samples.map((s) => traceNode(s, drained.name, termAt));
      const records = loads.flatMap((l) => l.records);
      const failed = failures(records, fromMs, toMs);
      reps.push({
        gateways,
        killLastByMs: killTraces.map((t) => t.lastRequestByMs - killAt),
        killLastAfterMs: killTraces.map((t) => t.lastRequestAfterMs - killAt),
        killSentAfter: samples.map((s, i) => killTraces[i].finalRequests - requestsAt(s, killed.name, killAt)),
        killGoneMs: killTraces.map((t) => (t.goneAtMs ?? NaN) - killAt),
        drainLastByMs: drainTraces.map((t) => t.lastRequestByMs - termAt),
        drainLastAfterMs: drainTraces.map((t) => t.lastRequestAfterMs - termAt),
        drainSentAfter: samples.map((s, i) => drainTraces[i].finalRequests - requestsAt(s, drained.name, termAt)),
        drainDrainingMs: drainTraces.map((t) => (t.drainingAtMs ?? NaN) - termAt),
        drainGoneMs: drainTraces.map((t) => (t.goneAtMs ?? NaN) - termAt),
        requests: records.filter((x) => x.startMs >= fromMs && x.startMs < toMs).length,
        failed: failed.length,
        errors: [...new Set(failed.map((f) => f.error!.slice(0, 100)))],
        drainExit: exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`,
      });
      console.error(`[failover] ${gateways} gw rep ${r + 1}/${SIZE.failoverReps}: kill→last ≤ ${reps.at(-1)!.killLastByMs.map((x) => fmt(x)).join('/')} ms, ` +
        `drain→last ≤ ${reps.at(-1)!.drainLastByMs.map((x) => fmt(x)).join('/')} ms, ${failed.length} failed`);
    }
    await Promise.all(loads.map((l) => l.stop()));
  } finally {
    await cluster.close();
  }
  return reps;
}

/** The node's `requests` counter in the last sample taken before `atMs` (sent before it). */
function requestsAt(samples: readonly PoolSample[], nodeId: string, atMs: number): number {
  let requests = 0;
  for (const s of samples) if (s.atMs <= atMs) requests = s.nodes.get(nodeId)?.requests ?? requests;
  return requests;
}

function failoverTable(reps: FailoverRep[]): string {
  const rows = [1, 3].filter((g) => reps.some((r) => r.gateways === g)).map((g) => {
    const mine = reps.filter((r) => r.gateways === g);
    const all = (f: (r: FailoverRep) => number[]) => mine.flatMap(f);
    const cell = (xs: number[]) => `${fmt(median(xs))} / ${fmt(max(xs))}`;
    // Per gateway and rep, the last send after the signal lies between two samples (after, by]; a
    // gateway that sent the node nothing after the signal counts 0. Shown: median of the upper
    // bounds / their max, and how many (gateway, rep) sent anything after the signal.
    const lastSend = (by: number[], sent: number[]) => {
      const bounded = by.map((b, i) => (sent[i] > 0 ? Math.max(0, b) : 0));
      return `${fmt(median(bounded))} / ${fmt(max(bounded))} (${sent.filter((x) => x > 0).length} of ${sent.length})`;
    };
    const failed = mine.reduce((a, r) => a + r.failed, 0);
    const requests = mine.reduce((a, r) => a + r.requests, 0);
    return `| ${g} | ${mine.length} | ${lastSend(all((r) => r.killLastByMs), all((r) => r.killSentAfter))} | ` +
      `${cell(all((r) => r.killSentAfter))} | ${cell(all((r) => r.killGoneMs))} | ` +
      `${lastSend(all((r) => r.drainLastByMs), all((r) => r.drainSentAfter))} | ${cell(all((r) => r.drainSentAfter))} | ` +
      `${cell(all((r) => r.drainDrainingMs))} | ${cell(all((r) => r.drainGoneMs))} | ` +
      `${requests} | ${failed} | ${[...new Set(mine.map((r) => r.drainExit))].join(', ')} |`;
  });
  const errors = [...new Set(reps.flatMap((r) => r.errors))];
  return [
    '| gateways | reps | kill → last request sent, ms (median / max; gateway·reps that sent any) | requests sent after the kill, per gateway (median / max) | kill → gone from view, ms | SIGTERM → last request sent, ms | requests sent after SIGTERM, per gateway | SIGTERM → shown draining, ms | SIGTERM → gone, ms | requests | failed | drained node exit |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...rows,
    ...(errors.length ? ['', `Failures: ${errors.join('; ')}`] : []),
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// 2. gateway CPU per request: load from answers (etcd) vs heartbeats

interface CpuRun {
  mode: 'etcd' | 'heartbeat';
  requests: number;
  failed: number;
  cpuMicros: number;
  wallMs: number;
}

async function cpuRun(mode: CpuRun['mode'], gw: GatewayProcess): Promise<CpuRun> {
  const load = new ClosedLoopLoad({ url: gw.url, concurrency: SIZE.cpuConcurrency, maxRequests: SIZE.cpuRequests });
  const cpu0 = processCpuMicros(gw.pid);
  const t0 = performance.now();
  const { records } = await load.start().done;
  const wallMs = performance.now() - t0;
  const cpuMicros = processCpuMicros(gw.pid) - cpu0;
  return { mode, requests: records.length, failed: records.filter((r) => r.error).length, cpuMicros, wallMs };
}

async function cpu(etcd: string): Promise<{ runs: CpuRun[]; idle: Record<CpuRun['mode'], number> }> {
  const cluster = new Cluster();
  const prefix = '/scale-cpu/';
  try {
    // The heartbeat gateway takes heartbeats only; the etcd one reads etcd only. The same backends
    // register in etcd and heartbeat to the first: one set of nodes behind both.
    const heartbeat = await cluster.startGateway({ slowStartMs: 0, workers: 1 });
    const [viaEtcd] = await startGateways(cluster, 1, etcd, prefix);
    const ids = Array.from({ length: BACKENDS - 1 }, (_, i) => `c${i + 1}`);
    await Promise.all(ids.map((id) => cluster.startBackend(backendArgs(id, etcd, prefix, ['--gateway', heartbeat.url]))));
    await allList([heartbeat, viaEtcd], ids);
    // Warm both (JIT, connections) before measuring.
    for (const g of [heartbeat, viaEtcd]) await new ClosedLoopLoad({ url: g.url, concurrency: SIZE.cpuConcurrency, maxRequests: 500 }).start().done;
    const idle = { etcd: 0, heartbeat: 0 };
    const idleMs = quick ? 2_000 : 5_000;
    const c0 = { etcd: processCpuMicros(viaEtcd.pid), heartbeat: processCpuMicros(heartbeat.pid) };
    await sleep(idleMs);
    idle.etcd = ((processCpuMicros(viaEtcd.pid) - c0.etcd) * 1_000) / idleMs;
    idle.heartbeat = ((processCpuMicros(heartbeat.pid) - c0.heartbeat) * 1_000) / idleMs;
    const runs: CpuRun[] = [];
    for (let i = 0; i < SIZE.cpuPairs; i++) {
      // Interleaved, the order swapped every pair: drift in the machine's load hits both alike.
      const order: CpuRun['mode'][] = i % 2 === 0 ? ['etcd', 'heartbeat'] : ['heartbeat', 'etcd'];
      for (const mode of order) {
        const run = await cpuRun(mode, mode === 'etcd' ? viaEtcd : heartbeat);
        runs.push(run);
        console.error(`[cpu] pair ${i + 1}/${SIZE.cpuPairs} ${mode}: ${fmt(run.cpuMicros / run.requests, 1)} µs/request, ${run.failed} failed`);
      }
    }
    return { runs, idle };
  } finally {
    await cluster.close();
  }
}

function cpuTable({ runs, idle }: { runs: CpuRun[]; idle: Record<CpuRun['mode'], number> }): string {
  const rows = (['etcd', 'heartbeat'] as const).map((mode) => {
    const mine = runs.filter((r) => r.mode === mode);
    const per = mine.map((r) => r.cpuMicros / r.requests);
    const rate = mine.map((r) => (r.requests * 1_000) / r.wallMs);
    const label = mode === 'etcd' ? 'etcd membership, load from answers only' : 'heartbeats every 1 s (+ load from answers)';
    return `| ${label} | ${mine.length} | ${fmt(median(per), 1)} | ${fmt(Math.min(...per), 1)}–${fmt(max(per), 1)} | ${fmt(median(rate))} | ` +
      `${fmt(idle[mode] / 1_000, 2)} | ${mine.reduce((a, r) => a + r.failed, 0)} |`;
  });
  const byPair = [];
  for (let i = 0; i + 1 < runs.length; i += 2) {
    const e = runs.slice(i, i + 2).find((r) => r.mode === 'etcd')!;
    const h = runs.slice(i, i + 2).find((r) => r.mode === 'heartbeat')!;
    byPair.push(h.cpuMicros / h.requests - e.cpuMicros / e.requests);
  }
  return [
    '| membership / load | runs | gateway CPU per request (µs, median) | range | requests/s | idle CPU (ms per s) | failed |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
    `Paired difference (heartbeat − etcd), µs per request: median ${fmt(median(byPair), 1)}, pairs ${byPair.map((d) => fmt(d, 1)).join(', ')}.`,
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// 3. burstiness of arrivals at one node, 1 vs 3 gateways

/** A node with an arrival tap in front: the node advertises the tap's URL, so all traffic to it passes the tap. */
async function tappedBackend(cluster: Cluster, nodeId: string, etcd: string, prefix: string): Promise<{ node: InfergateProcess; tap: NodeProcess }> {
  const [nodePort, tapPort] = [await freePort(), await freePort()];
  const tapUrl = `http://127.0.0.1:${tapPort}`;
  const script = path.join(packageRoot(), 'dist', 'bench', 'support', 'arrival-tap.js');
  const tap = new NodeProcess('arrival-tap', script, ['--port', String(tapPort), '--target', `http://127.0.0.1:${nodePort}`], { url: tapUrl });
  await waitFor('arrival tap', async () => ((await httpJson(`${tapUrl}/infergate-tap/arrivals`)).status === 200 ? true : undefined), { timeoutMs: 10_000 });
  // The last --http-port wins over the cluster's `--http-port 0`.
  const node = await cluster.startBackend(backendArgs(nodeId, etcd, prefix, ['--http-port', String(nodePort), '--advertise-url', tapUrl]));
  return { node, tap };
}

/**
 * Paced sends: every `tickMs`, one request to each target at the same instant (absolute
 * schedule, so a late tick does not shift the rest). Returns the failures.
 */
/** `sendTimes`: epoch ms of each tick (one per tick, all its sends at once). */
async function pacedLoad(urls: string[], tickMs: number, durationMs: number): Promise<{ sent: number; failed: string[]; sendTimes: number[] }> {
  const pools = urls.map((u) => new Pool(new URL(u).origin, { connections: 64, pipelining: 1 }));
  const body = JSON.stringify({ inputs: [{ name: 'INPUT0', shape: [4], datatype: 'FP32', data: [1, 2, 3, 4] }] });
  const failed: string[] = [];
  const inFlight: Promise<void>[] = [];
  const start = performance.now();
  let sent = 0;
  const sendTimes: number[] = [];
  for (let k = 0; ; k++) {
    const due = start + k * tickMs;
    if (due - start >= durationMs) break;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    sendTimes.push(performance.timeOrigin + performance.now());
    for (const pool of pools) {
      sent++;
      inFlight.push(pool.request({ method: 'POST', path: '/v2/models/sim_echo/infer', headers: { 'content-type': 'application/json' }, body })
        .then(async (r) => {
          await r.body.text();
          if (r.statusCode !== 200) failed.push(`status ${r.statusCode}`);
        }, (err: Error) => {
          failed.push(err.message);
        }));
    }
  }
  await Promise.all(inFlight);
  await Promise.all(pools.map((p) => p.close()));
  return { sent, failed, sendTimes };
}

interface BurstRun {
  policy: string;
  gateways: number;
  stats: Burstiness;
  /**
   * The sender's own ticks (one time per tick, whatever the number of gateways): the burstiness
   * its timing on a busy machine puts in before any gateway (0 for a perfect metronome).
   */
  reference: Burstiness;
  sent: number;
  failed: number;
  errors: string[];
}

async function burstinessRuns(etcd: string, policy: string): Promise<BurstRun[]> {
  const cluster = new Cluster();
  const prefix = `/scale-burst-${policy}/`;
  const runs: BurstRun[] = [];
  try {
    const gws: GatewayProcess[] = [];
    for (let i = 0; i < 3; i++) gws.push(await cluster.startGateway({ ...gatewayArgs(etcd, prefix), policy }));
    const { tap } = await tappedBackend(cluster, 'n1', etcd, prefix);
    const others = Array.from({ length: BACKENDS - 1 }, (_, i) => `n${i + 2}`);
    await Promise.all(others.map((id) => cluster.startBackend(backendArgs(id, etcd, prefix))));
    await allList(gws, ['n1', ...others]);
    try {
      // Warm every gateway (weights settle from the load on answers).
      await pacedLoad(gws.map((g) => g.url), 3_000 / SIZE.burstRate, 2_000);
      for (let r = 0; r < SIZE.burstReps; r++) {
        for (const n of [1, 3]) {
          const targets = gws.slice(0, n).map((g) => g.url);
          await httpJson(`${tap.url}/infergate-tap/arrivals`, 'POST', {});
          // Same total rate: one gateway gets a request every 1/rate; three get one each every 3/rate.
          const { sent, failed, sendTimes } = await pacedLoad(targets, (n * 1_000) / SIZE.burstRate, SIZE.burstRunMs);
          const { body } = await httpJson<{ arrivals: number[] }>(`${tap.url}/infergate-tap/arrivals`);
          const stats = burstiness(body.arrivals, WINDOW_MS, HOT_FACTOR);
          const reference = burstiness(sendTimes, WINDOW_MS, HOT_FACTOR);
          runs.push({ policy, gateways: n, stats, reference, sent, failed: failed.length, errors: [...new Set(failed)].slice(0, 3) });
          console.error(`[burstiness] ${policy}, rep ${r + 1}/${SIZE.burstReps}, ${n} gw: ${stats.arrivals} arrivals at n1, CV ${fmt(stats.cv, 2)}, ` +
            `hot windows ${fmt(stats.hotWindowShare * 100, 1)} %, ${failed.length} failed`);
        }
      }
    } finally {
      tap.child.kill('SIGKILL');
      await tap.exited;
    }
  } finally {
    await cluster.close();
  }
  return runs;
}

function burstTable(runs: BurstRun[]): string {
  const rows = BURST_POLICIES.flatMap((policy) => [1, 3].map((g) => {
    const mine = runs.filter((r) => r.gateways === g && r.policy === policy);
    const m = (f: (s: Burstiness) => number, digits: number, scale = 1) => fmt(median(mine.map((r) => f(r.stats) * scale)), digits);
    return `| ${policy} | ${g} | ${mine.length} | ${m((s) => s.arrivals, 0)} | ${m((s) => s.cv, 2)} | ${m((s) => s.hotWindowShare, 1, 100)} % | ` +
      `${m((s) => s.peakToMean, 2)} | ${fmt(median(mine.map((r) => r.reference.cv)), 2)} | ${mine.reduce((a, r) => a + r.sent, 0)} | ${mine.reduce((a, r) => a + r.failed, 0)} |`;
  }));
  const errors = [...new Set(runs.flatMap((r) => r.errors))];
  return [
    `| policy | gateways | runs | arrivals at n1 per run | inter-arrival CV | ${WINDOW_MS} ms windows above ${HOT_FACTOR}× mean | peak / mean window | sender's tick CV | sent | failed |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    ...(errors.length ? ['', `Failures: ${errors.join('; ')}`] : []),
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const bin = findEtcd();
  if (!bin) throw new Error('etcd not installed (apt-get install -y etcd-server): the scale-out bench needs a real etcd');
  const load0 = loadavg();
  const startedAt = new Date();
  const etcd = await EtcdProcess.start(bin);
  const sections: string[] = [];
  /** Every figure behind the tables, for a second look. */
  const raw: Record<string, unknown> = { quick, startedAt: startedAt.toISOString(), loadavgStart: load0 };
  try {
    if (wanted('failover')) {
      const reps = [...await failover(etcd.endpoint, 1), ...await failover(etcd.endpoint, 3)];
      raw.failover = reps;
      sections.push('## Death and drain → last request, 1 and 3 gateways\n\n' + failoverTable(reps));
    }
    if (wanted('cpu')) {
      const result = await cpu(etcd.endpoint);
      raw.cpu = result;
      sections.push('## Gateway CPU per request: load from answers (etcd) vs heartbeats\n\n' + cpuTable(result));
    }
    if (wanted('burstiness')) {
      const runs: BurstRun[] = [];
      for (const policy of BURST_POLICIES) runs.push(...await burstinessRuns(etcd.endpoint, policy));
      raw.burstiness = runs;
      sections.push('## Arrival burstiness at one node, 1 vs 3 gateways\n\n' + burstTable(runs));
    }
  } finally {
    await etcd.close();
    await closeOperatorClients();
  }
  const load1 = loadavg();
  raw.loadavgEnd = load1;
  const header = [
    '# Scale-out bench (issue 17)',
    '',
    `\`node dist/bench/scale-out.js${quick ? ' --quick' : ''}\`, ${startedAt.toISOString()}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ` +
      `load average ${load0.map((l) => l.toFixed(2)).join(' ')} at the start, ${load1.map((l) => l.toFixed(2)).join(' ')} at the end. ` +
      `Real processes on loopback, real etcd (lease TTL ${DEFAULT_LEASE_TTL_S} s), SIMULATED cards (\`--sim-cards ${CARDS}\`, sim_echo 20 ms, 2 instances), ` +
      `${BACKENDS} backends, one gateway worker each.`,
  ].join('\n');
  const text = [header, ...sections].join('\n\n') + '\n';
  console.log(text);
  const dir = path.join(packageRoot(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `scale-out${quick ? '-quick' : ''}.md`), text);
  writeFileSync(path.join(dir, `scale-out${quick ? '-quick' : ''}.json`), JSON.stringify(raw, null, 1) + '\n');
}

main().then(() => process.exit(0), (err: unknown) => {
  console.error(err);
  process.exit(1);
});
