/**
 * Failover of a real cluster on loopback: a gateway and three SIMULATED backends (each one
 * `medium:1` card, 2 instances, 10 ms per request), closed-loop load at concurrency 16 for ~10 s,
 * and at ~3 s one backend is
 *   kill   — SIGKILL'd (a crash),
 *   drain  — SIGTERM'd (graceful drain: announce, finish in-flight work, leave, exit 0),
 *   stop   — SIGSTOP'd (a hung node: sockets open, nothing answers) and SIGCONT'd at ~7 s.
 * Measured from the outside only: the victim's `requests` counter in the gateway's
 * /infergate/pools sampled every 10 ms (the last request the gateway sent it), the client's
 * failures and latencies, `infergate_retries_total` from the gateway's metrics port, and when the
 * pool stopped listing the node.
 *
 * Run from the repository root after a build: `node dist/bench/failover.js [--repeat N]
 * [--concurrency C] [--duration-ms D] [--policy capacity|static|astra] [--heartbeat-ms H]
 * [--evict-after-ms E] [--scenarios kill,drain,stop]`. Prints a markdown table and writes
 * bench/results/failover.json. Targets: kill→last request ≤ 1 s, 0 failed requests.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { arch, cpus, loadavg, platform } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  Cluster,
  ClosedLoopLoad,
  PoolSampler,
  closeOperatorClients,
  describeExit,
  readCounter,
  sleep,
  summarize,
  traceNode,
  waitForNodes,
  type LoadSummary,
} from './support/cluster-processes.js';

type Scenario = 'kill' | 'drain' | 'stop';
const SCENARIOS: Record<Scenario, NodeJS.Signals> = { kill: 'SIGKILL', drain: 'SIGTERM', stop: 'SIGSTOP' };
const RESULTS_DIR = join('bench', 'results');
const VICTIM = 'b1';
const BACKENDS = ['b1', 'b2', 'b3'];
const SAMPLE_INTERVAL_MS = 10;
const TARGET_LAST_REQUEST_MS = 1_000;

const { values: flags } = parseArgs({
  options: {
    repeat: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '16' },
    'duration-ms': { type: 'string', default: '10000' },
    'signal-at-ms': { type: 'string', default: '3000' },
    'resume-at-ms': { type: 'string', default: '7000' },
    policy: { type: 'string', default: 'capacity' },
    'heartbeat-ms': { type: 'string', default: '1000' },
    'evict-after-ms': { type: 'string', default: '2500' },
    'sim-cards': { type: 'string', default: 'medium:1' },
    scenarios: { type: 'string', default: 'kill,drain,stop' },
  },
});

const REPEAT = positive('repeat');
const CONCURRENCY = positive('concurrency');
const DURATION_MS = positive('duration-ms');
const SIGNAL_AT_MS = positive('signal-at-ms');
const RESUME_AT_MS = positive('resume-at-ms');
const HEARTBEAT_MS = positive('heartbeat-ms');
const EVICT_AFTER_MS = positive('evict-after-ms');
const POLICY = String(flags.policy);
const SIM_CARDS = String(flags['sim-cards']);
const RUN_SCENARIOS = String(flags.scenarios).split(',').map((s) => s.trim()) as Scenario[];
for (const s of RUN_SCENARIOS) if (!(s in SCENARIOS)) throw new Error(`unknown scenario '${s}' (known: ${Object.keys(SCENARIOS).join(', ')})`);

function positive(name: string): number {
  const value = Number(flags[name as keyof typeof flags]);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} expects a number > 0`);
  return value;
}

interface RunResult {
  scenario: Scenario;
  run: number;
  signal: NodeJS.Signals;
  /** Last request the gateway sent the victim, after the signal: (lower, upper] bound in ms. */
  lastRequestAfterSignalMs: { lower: number; upper: number } | null;
  /** Requests the gateway sent the victim after the signal (counter increase). */
  victimRequestsAfterSignal: number;
  /** Signal → first pool sample without the victim. */
  goneFromPoolMs: number | null;
  /** Signal → first sample showing the victim draining (drain only). */
  drainingMs: number | null;
  /** Signal → the victim process exited (drain: its own exit; kill: reaped). */
  exitMs: number | null;
  exit: string | null;
  /** stop only: SIGCONT → the node listed ready again. */
  rejoinAfterResumeMs: number | null;
  retries: number;
  /** Requests answered before the signal (from 1 s into the load: connections and JIT warm by then). */
  before: LoadSummary;
  /** Requests in flight at the signal (started before, answered after). */
  spanning: LoadSummary;
  /** Requests started after the signal. */
  after: LoadSummary;
  total: LoadSummary;
}

async function runOnce(scenario: Scenario, run: number): Promise<RunResult> {
  const signal = SCENARIOS[scenario];
  const cluster = new Cluster();
  try {
    const gateway = await cluster.startGateway({ policy: POLICY, evictAfterMs: EVICT_AFTER_MS, slowStartMs: 0, metrics: true });
    const backends = await cluster.startBackends(BACKENDS.map((nodeId) => ({ nodeId, simCards: SIM_CARDS, heartbeatMs: HEARTBEAT_MS })));
    const victim = backends[BACKENDS.indexOf(VICTIM)];
    const retriesBefore = await readCounter(gateway.metricsUrl!, 'infergate_retries_total');

    const sampler = new PoolSampler(gateway.url, SAMPLE_INTERVAL_MS).start();
    const load = new ClosedLoopLoad({ url: gateway.url, concurrency: CONCURRENCY, durationMs: DURATION_MS }).start();
    const loadStartMs = performance.now();
    await sleep(SIGNAL_AT_MS);
    const victimExit = victim.exited.then(() => performance.now());
    victim.signal(signal);
    const signalAtMs = victim.signalledAtMs.get(signal)!;
    let resumeAtMs: number | undefined;
    if (scenario === 'stop') {
      await sleep(Math.max(0, loadStartMs + RESUME_AT_MS - performance.now()));
      victim.signal('SIGCONT');
      resumeAtMs = victim.signalledAtMs.get('SIGCONT')!;
    }
    const result = await load.done;
    // Give a resumed node time to rejoin, then stop sampling.
    let rejoinAfterResumeMs: number | null = null;
    if (resumeAtMs !== undefined) {
      await waitForNodes(gateway.url, BACKENDS, { timeoutMs: 10_000 }).catch(() => undefined);
      await sleep(3 * SAMPLE_INTERVAL_MS);
    }
    const samples = await sampler.stop();
    const retries = (await readCounter(gateway.metricsUrl!, 'infergate_retries_total')) - retriesBefore;

    const beforeSignal = samples.filter((s) => s.atMs < signalAtMs);
    const victimAtSignal = beforeSignal.at(-1)?.nodes.get(VICTIM)?.requests ?? 0;
    // The victim's first membership only: a stopped node that rejoins starts new counters.
    const firstLifetime = samples.filter((s) => resumeAtMs === undefined || s.sentMs < resumeAtMs);
    const trace = traceNode(firstLifetime, VICTIM, signalAtMs);
    const lastRequestAfterSignalMs = trace.finalRequests > victimAtSignal
      ? { lower: Math.max(0, trace.lastRequestAfterMs - signalAtMs), upper: trace.lastRequestByMs - signalAtMs }
      : null;
    if (resumeAtMs !== undefined) {
      const back = samples.find((s) => s.atMs > resumeAtMs! && s.nodes.get(VICTIM)?.state === 'ready');
      rejoinAfterResumeMs = back ? back.atMs - resumeAtMs : null;
    }
    const exitAtMs = victim.running ? undefined : await victimExit;
    return {
      scenario,
      run,
      signal,
      lastRequestAfterSignalMs,
      victimRequestsAfterSignal: trace.finalRequests - victimAtSignal,
      goneFromPoolMs: trace.goneAtMs === undefined ? null : trace.goneAtMs - signalAtMs,
      drainingMs: trace.drainingAtMs === undefined ? null : trace.drainingAtMs - signalAtMs,
      exitMs: exitAtMs === undefined ? null : exitAtMs - signalAtMs,
      exit: victim.exit ? describeExit(victim.exit) : null,
      rejoinAfterResumeMs,
      retries,
      before: summarize(result.records.filter((r) => r.startMs >= loadStartMs + 1_000 && r.endMs < signalAtMs)),
      spanning: summarize(result.records.filter((r) => r.startMs < signalAtMs && r.endMs >= signalAtMs)),
      after: summarize(result.records, signalAtMs),
      total: summarize(result.records),
    };
  } finally {
    await cluster.close();
  }
}

const ms = (v: number | null | undefined, digits = 0) => (v === null || v === undefined || Number.isNaN(v) ? '–' : `${v.toFixed(digits)} ms`);

function tableRow(r: RunResult): string {
  const last = r.lastRequestAfterSignalMs;
  const lastText = last ? `${last.upper.toFixed(0)} ms (> ${last.lower.toFixed(0)})` : 'none after signal';
  return [
    `${r.scenario} (${r.signal})`,
    String(r.run),
    lastText,
    String(r.victimRequestsAfterSignal),
    `${r.total.failed} / ${r.total.requests}`,
    String(r.retries),
    `${ms(r.before.p50Ms, 1)} / ${ms(r.before.p99Ms)}`,
    `${r.spanning.requests} / ${ms(r.spanning.maxMs)}`,
    `${ms(r.after.p50Ms, 1)} / ${ms(r.after.p99Ms)} / ${ms(r.after.maxMs)}`,
    ms(r.goneFromPoolMs),
    r.scenario === 'drain' ? `draining after ${ms(r.drainingMs)}; ${r.exit ?? 'no exit'} at ${ms(r.exitMs)}` : r.scenario === 'stop' ? `rejoined ${ms(r.rejoinAfterResumeMs)} after SIGCONT` : '',
  ].join(' | ');
}

async function main(): Promise<void> {
  const started = Date.now();
  const loadBefore = loadavg()[0];
  const results: RunResult[] = [];
  for (const scenario of RUN_SCENARIOS) {
    for (let run = 1; run <= REPEAT; run++) {
      const r = await runOnce(scenario, run);
      results.push(r);
      console.error(`${scenario} run ${run}: last request ${r.lastRequestAfterSignalMs ? r.lastRequestAfterSignalMs.upper.toFixed(0) : '–'} ms after ${r.signal}, ${r.total.failed} failed of ${r.total.requests}, ${r.retries} retries`);
      for (const [error, count] of r.total.errors) console.error(`  ${count}× ${error}`);
    }
  }
  await closeOperatorClients();
  const loadAfter = loadavg()[0];

  const lines = [
    `Failover: gateway + 3 backends (${SIM_CARDS} each, SIMULATED), policy ${POLICY}, concurrency ${CONCURRENCY}, ` +
      `${DURATION_MS / 1000} s of load, victim signalled at ${SIGNAL_AT_MS / 1000} s, heartbeat ${HEARTBEAT_MS} ms, evict after ${EVICT_AFTER_MS} ms\n`,
    '| scenario | run | signal → last request to victim (upper, lower bound) | victim requests after signal | failed / requests | retries | p50 / p99 before | in flight at signal: n / max latency | p50 / p99 / max after | signal → gone from pool | notes |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    ...results.map((r) => `| ${tableRow(r)} |`),
  ];
  const elapsedS = (Date.now() - started) / 1000;
  console.log(lines.join('\n'));
  const met = results.every((r) => r.total.failed === 0 && (r.lastRequestAfterSignalMs?.upper ?? 0) <= TARGET_LAST_REQUEST_MS);
  console.log(`\ntargets (last request ≤ ${TARGET_LAST_REQUEST_MS} ms after the signal, 0 failed): ${met ? 'met' : 'NOT met'}`);
  console.log(
    `total ${elapsedS.toFixed(1)} s on ${cpus().length}× ${cpus()[0]?.model ?? 'unknown CPU'}, node ${process.version}, ` +
      `load average ${loadBefore.toFixed(2)} → ${loadAfter.toFixed(2)}`,
  );

  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, 'failover.json');
  const report = {
    benchmark: 'failover',
    settings: {
      backends: BACKENDS.length, simCards: SIM_CARDS, victim: VICTIM, policy: POLICY, concurrency: CONCURRENCY,
      durationMs: DURATION_MS, signalAtMs: SIGNAL_AT_MS, resumeAtMs: RESUME_AT_MS, heartbeatMs: HEARTBEAT_MS,
      evictAfterMs: EVICT_AFTER_MS, slowStartMs: 0, sampleIntervalMs: SAMPLE_INTERVAL_MS, repeat: REPEAT,
    },
    environment: { node: process.version, platform: platform(), arch: arch(), cpus: cpus().length, cpuModel: cpus()[0]?.model, loadAverage1m: [loadBefore, loadAfter] },
    elapsedS,
    targetsMet: met,
    results,
  };
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`wrote ${file}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
