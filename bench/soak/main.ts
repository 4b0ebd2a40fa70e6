/**
 * The soak and overload bench (issue 18): one real cluster on loopback (a gateway and N SIMULATED
 * backends, children of the built CLI), in three phases of one run:
 *   1. capacity — a short closed-loop ramp through the gateway; the best goodput is the capacity;
 *   2. soak     — open loop at a fixed rate (default 60 % of capacity) for --minutes, with node
 *                 churn on a schedule (kill -9 / drain / SIGSTOP, each node restarted), the
 *                 gateway's RSS and heap sampled every second;
 *   3. overload — open loop at --overload-factor × capacity (default 1.2) for --overload-s: goodput,
 *                 shed answers by status and Retry-After, p99 of admitted requests, refusal latency;
 *   4. rate-limit (only when asked for in --parts) — one API key with a rate limit, driven at twice
 *                 its limit: what got through and the 429s (with Retry-After). The gateway then
 *                 starts with --api-keys, every group open to requests without a key.
 * Writes soak.md, soak.json and SVG charts to --out (default bench/results/soak).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Cluster, SIM_MODEL, closeOperatorClients, sleep, waitForNodes, type InfergateProcess } from '../support/cluster-processes.js';
import { smallInferRequest } from '../support/open-loop.js';
import { measureCapacity, type CapacityFigures } from './capacity.js';
import { CHURN_ACTIONS, churnEvents, churnSchedule, runChurn, type ChurnAction, type ChurnOutcome } from './churn.js';
import { FixedRateLoad } from './fixed-rate-load.js';
import { HEAP_PROBE_DIR_ENV, heapProbePath, readTreeMemory } from './process-memory.js';
import {
  capacityTable, churnTable, latencyChart, markdownTable, memoryChart, overloadTable, rateLimitTable, requestsChart, summaryTable, windowTable,
} from './report.js';
import {
  overloadFigures, summarizeSoak, windowFigures, type MemorySample, type OverloadFigures, type SoakSummary, type WindowFigures,
} from './windows.js';

export const SOAK_BENCH_OPTIONS = {
  minutes: { type: 'string', default: '10' },
  rate: { type: 'string' },
  'load-share': { type: 'string', default: '0.6' },
  out: { type: 'string', default: join('bench', 'results', 'soak') },
  nodes: { type: 'string', default: '4' },
  'sim-cards': { type: 'string', default: 'medium:1' },
  'service-ms': { type: 'string', default: '100' },
  instances: { type: 'string', default: '2' },
  'window-s': { type: 'string', default: '10' },
  'churn-min-s': { type: 'string', default: '30' },
  'churn-max-s': { type: 'string', default: '60' },
  'down-min-s': { type: 'string', default: '2' },
  'down-max-s': { type: 'string', default: '5' },
  'churn-actions': { type: 'string', default: CHURN_ACTIONS.join(',') },
  'capacity-step-s': { type: 'string', default: '5' },
  'capacity-concurrency': { type: 'string' },
  'overload-s': { type: 'string', default: '60' },
  'overload-factor': { type: 'string', default: '1.2' },
  'request-timeout-ms': { type: 'string', default: '30000' },
  'memory-interval-ms': { type: 'string', default: '1000' },
  'gateway-flag': { type: 'string', multiple: true },
  'backend-flag': { type: 'string', multiple: true },
  parts: { type: 'string', default: 'soak,overload' },
  'key-rate': { type: 'string' },
  'rate-limit-s': { type: 'string', default: '20' },
  seed: { type: 'string', default: '1' },
  quiet: { type: 'boolean', default: false },
  help: { type: 'boolean', default: false },
} as const;

export const SOAK_BENCH_HELP = `usage: node dist/bench/soak.js [options]

A gateway and N SIMULATED backends on loopback: capacity ramp, then a soak at a fixed open-loop
rate with node churn, then overload at a multiple of capacity. Writes soak.md, soak.json and SVGs.

  --minutes M               soak length (default 10)
  --rate R                  soak rate in req/s (default: --load-share × measured capacity)
  --load-share F            soak rate as a share of capacity when --rate is not given (default 0.6)
  --out DIR                 output directory (default bench/results/soak)
  --nodes N                 backends (default 4)
  --sim-cards SPEC          each backend's simulated cards (default medium:1)
  --service-ms MS           sim_echo's service time before the card's coefficient (default 100)
  --instances N             sim_echo instances per card (default 2)
  --window-s S              figures per window of S seconds (default 10)
  --churn-min-s, --churn-max-s  gap between churn actions, drawn uniformly (default 30, 60)
  --down-min-s, --down-max-s    a node's downtime per action (default 2, 5)
  --churn-actions LIST      some of kill,drain,stop, taken in turn (default all; '' = no churn)
  --capacity-step-s S       length of each closed-loop step of the capacity ramp (default 5)
  --capacity-concurrency L  the ramp's concurrencies, e.g. 8,16,32 (default: slots × 1,2,4)
  --overload-s S            overload length (default 60)
  --overload-factor F       overload rate as a multiple of capacity (default 1.2)
  --request-timeout-ms MS   deadline sent with each request (infergate-timeout-ms; default 30000)
  --memory-interval-ms MS   gateway memory sampling period (default 1000)
  --gateway-flag FLAG       extra gateway flag(s), split on spaces; repeatable
                            (e.g. --gateway-flag='--max-in-flight-per-node 8')
  --backend-flag FLAG       extra backend flag(s), split on spaces; repeatable
  --parts LIST              some of soak,overload,rate-limit (default soak,overload; capacity is
                            always measured)
  --key-rate R              rate-limit part: the key's requests_per_second (default 0.25 × capacity)
  --rate-limit-s S          rate-limit part: length, driven at 2 × --key-rate (default 20)
  --seed N                  arrivals and churn schedule seed (default 1)
  --quiet                   no progress on stderr`;

export interface SoakBenchResult {
  outDir: string;
  files: string[];
  capacity: CapacityFigures;
  soak?: { ratePerS: number; summary: SoakSummary; windows: WindowFigures[]; churn: ChurnOutcome[]; memory: MemorySample[] };
  overload?: OverloadFigures & { memory: MemorySample[] };
  /** The rate-limit part: offered = 2 × the key's limit; 'capacity' there is the key's limit. */
  rateLimit?: OverloadFigures & { keyRatePerS: number };
}

/** The rate-limit part's key (in clear: the bench's own throwaway table). */
const BENCH_KEY = 'soak-bench-rate-limited-key';
/** A rate-limited key is driven at this multiple of its limit. */
const KEY_OVERDRIVE = 2;

/** An --api-keys table: one rate-limited key, and every group open without a key so the other parts run as before. */
function writeKeyTable(dir: string, keyRatePerS: number): string {
  const file = join(dir, 'api-keys.yaml');
  const burst = Math.max(1, Math.round(keyRatePerS));
  writeFileSync(file, [
    'keys:',
    '  - name: soak-bench',
    `    key: ${BENCH_KEY}`,
    '    groups: [health, metadata, inference]',
    `    rate_limit: { requests_per_second: ${keyRatePerS}, burst: ${burst} }`,
    'anonymous:',
    '  groups: [health, metadata, inference, repository, statistics, operator]',
    '',
  ].join('\n'));
  return file;
}

function positive(values: Record<string, unknown>, name: string, allowZero = false): number {
  const v = Number(values[name]);
  if (!Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) throw new Error(`--${name} expects a number ${allowZero ? '≥' : '>'} 0, got '${String(values[name])}'`);
  return v;
}

const flagTokens = (values: string[] | undefined) => (values ?? []).flatMap((v) => v.split(/\s+/).filter(Boolean));

/** Samples the gateway's memory every `intervalMs` until stopped; times relative to `originMs`. */
class MemorySampler {
  readonly samples: MemorySample[] = [];
  #timer?: NodeJS.Timeout;

  constructor(private readonly pid: number, private readonly probeDir: string | undefined, private readonly originMs: number, intervalMs: number) {
    this.#read();
    this.#timer = setInterval(() => this.#read(), intervalMs);
  }

  stop(): MemorySample[] {
    clearInterval(this.#timer);
    this.#read();
    return this.samples;
  }

  #read(): void {
    const reading = readTreeMemory(this.pid, this.probeDir);
    if (reading) this.samples.push({ atMs: performance.now() - this.originMs, ...reading });
  }
}

export async function runSoakBench(argv: string[]): Promise<SoakBenchResult | undefined> {
  const { values } = parseArgs({ args: argv, options: SOAK_BENCH_OPTIONS, strict: true, allowPositionals: false });
  if (values.help) {
    process.stdout.write(`${SOAK_BENCH_HELP}\n`);
    return undefined;
  }
  const log = (line: string) => {
    if (!values.quiet) process.stderr.write(`[soak] ${line}\n`);
  };
  const soakMs = positive(values, 'minutes') * 60_000;
  const nodes = Array.from({ length: Math.round(positive(values, 'nodes')) }, (_, i) => `b${i + 1}`);
  const simCards = String(values['sim-cards']);
  const serviceMs = positive(values, 'service-ms');
  const instances = Math.round(positive(values, 'instances'));
  const windowMs = positive(values, 'window-s') * 1000;
  const overloadMs = positive(values, 'overload-s') * 1000;
  const overloadFactor = positive(values, 'overload-factor');
  const requestTimeoutMs = positive(values, 'request-timeout-ms');
  const memoryIntervalMs = positive(values, 'memory-interval-ms');
  const stepMs = positive(values, 'capacity-step-s') * 1000;
  const seed = Math.round(positive(values, 'seed', true));
  const parts = String(values.parts).split(',').map((p) => p.trim()).filter(Boolean);
  for (const p of parts) if (!['soak', 'overload', 'rate-limit'].includes(p)) throw new Error(`--parts: unknown part '${p}' (soak, overload, rate-limit)`);
  const actions = String(values['churn-actions']).split(',').map((a) => a.trim()).filter(Boolean) as ChurnAction[];
  for (const a of actions) if (!(CHURN_ACTIONS as readonly string[]).includes(a)) throw new Error(`--churn-actions: unknown action '${a}' (${CHURN_ACTIONS.join(', ')})`);
  const gatewayFlags = flagTokens(values['gateway-flag']);
  const backendFlags = flagTokens(values['backend-flag']);
  const slots = nodes.length * instances * simCards.split(',').reduce((n, c) => n + Number(c.split(':')[1] ?? 1), 0);
  const concurrencies = values['capacity-concurrency']
    ? String(values['capacity-concurrency']).split(',').map((c) => Math.round(Number(c)))
    : [slots, 2 * slots, 4 * slots];
  if (concurrencies.some((c) => !(c > 0))) throw new Error('--capacity-concurrency expects positive integers');
  const outDir = String(values.out);
  const request = smallInferRequest(SIM_MODEL);
  const started = new Date();
  const loadBefore = loadavg()[0];

  const cluster = new Cluster({ serviceMs, instances });
  const probeDir = mkdtempSync(join(tmpdir(), 'infergate-heap-probe-'));
  const probe = heapProbePath();
  const running = new Map<string, InfergateProcess>();
  const startNode = async (nodeId: string) => {
    const p = await cluster.startBackend({ nodeId, simCards, extraArgs: backendFlags });
    running.set(nodeId, p);
    return p;
  };
  const result: SoakBenchResult = { outDir, files: [], capacity: { capacityPerS: 0, steps: [] } };
  try {
    const nodeOptions = [process.env.NODE_OPTIONS, probe ? `--import ${pathToFileURL(probe).href}` : ''].filter(Boolean).join(' ');
    // The key's limit is known only after the capacity ramp, but the table is read at boot: with a
    // rate-limit part and no --key-rate, the gateway is started on a nominal capacity (every slot
    // busy for one service time on the slowest card: coefficient 1).
    const nominalCapacity = (slots * 1000) / serviceMs;
    const keyRatePerS = values['key-rate'] !== undefined ? positive(values, 'key-rate') : Math.max(1, Math.round(0.25 * nominalCapacity));
    const keyArgs = parts.includes('rate-limit') ? ['--api-keys', writeKeyTable(probeDir, keyRatePerS)] : [];
    const gateway = await cluster.startGateway({
      workers: 1,
      extraArgs: [...keyArgs, ...gatewayFlags],
      env: probe ? { NODE_OPTIONS: nodeOptions, [HEAP_PROBE_DIR_ENV]: probeDir } : {},
    });
    await Promise.all(nodes.map(startNode));
    await waitForNodes(gateway.url, nodes, { timeoutMs: 30_000 });
    log(`cluster up: gateway pid ${gateway.pid}, ${nodes.length} backends (${simCards}, sim_echo ${serviceMs} ms × ${instances} instances)${probe ? '' : '; no heap probe (build first)'}`);

    result.capacity = await measureCapacity(gateway.url, concurrencies, stepMs);
    const capacity = result.capacity.capacityPerS;
    if (!(capacity > 0)) throw new Error(`capacity ramp served nothing: ${JSON.stringify(result.capacity.steps)}`);
    log(`capacity ${capacity.toFixed(1)} req/s (${result.capacity.steps.map((c) => `c=${c.concurrency}: ${c.goodputPerS.toFixed(1)}`).join(', ')})`);

    if (parts.includes('soak')) {
      const ratePerS = values.rate !== undefined ? positive(values, 'rate') : positive(values, 'load-share') * capacity;
      const steps = churnSchedule({
        durationMs: soakMs, nodes, actions, seed,
        minGapMs: positive(values, 'churn-min-s') * 1000, maxGapMs: positive(values, 'churn-max-s') * 1000,
        minDownMs: positive(values, 'down-min-s', true) * 1000, maxDownMs: positive(values, 'down-max-s', true) * 1000,
      });
      log(`soak: ${ratePerS.toFixed(1)} req/s for ${(soakMs / 1000).toFixed(0)} s, ${steps.length} churn actions`);
      const load = new FixedRateLoad({ url: gateway.url, path: request.path, body: String(request.body), ratePerS, durationMs: soakMs, requestTimeoutMs, seed });
      const memory = new MemorySampler(gateway.pid, probe ? probeDir : undefined, load.startedAt, memoryIntervalMs);
      const now = () => performance.now() - load.startedAt;
      let loadDone = false;
      const churn = runChurn(steps, {
        gatewayUrl: gateway.url,
        nodes,
        process: (node) => running.get(node)!,
        restart: startNode,
      }, now, () => loadDone).then((outcomes) => {
        for (const o of outcomes) log(`  ${(o.signalledAtMs / 1000).toFixed(1)} s: ${o.action} ${o.node}${o.error ? ` (${o.error})` : ''}`);
        return outcomes;
      });
      const { records } = await load.done;
      loadDone = true;
      const outcomes = await churn;
      const samples = memory.stop();
      const events = churnEvents(outcomes);
      const windows = windowFigures(records, samples, events, soakMs, windowMs);
      const summary = summarizeSoak(records, samples, windows, soakMs);
      result.soak = { ratePerS, summary, windows, churn: outcomes, memory: samples };
      log(`soak: ${summary.served} served, ${summary.failed} failed (${(summary.failureRate * 100).toFixed(2)} %), p99 ${summary.p99Ms.toFixed(1)} ms, RSS ${summary.rssFirstMb.toFixed(1)} → ${summary.rssLastMb.toFixed(1)} MB`);
    }

    if (parts.includes('overload')) {
      await waitForNodes(gateway.url, nodes, { timeoutMs: 30_000 });
      const offered = overloadFactor * capacity;
      log(`overload: ${offered.toFixed(1)} req/s for ${(overloadMs / 1000).toFixed(0)} s`);
      const load = new FixedRateLoad({ url: gateway.url, path: request.path, body: String(request.body), ratePerS: offered, durationMs: overloadMs, requestTimeoutMs, seed: seed + 1 });
      const memory = new MemorySampler(gateway.pid, probe ? probeDir : undefined, load.startedAt, memoryIntervalMs);
      const { records } = await load.done;
      result.overload = { ...overloadFigures(records, overloadMs, offered, capacity), memory: memory.stop() };
      const o = result.overload;
      log(`overload: goodput ${o.goodputPerS.toFixed(1)}/s, shed ${(o.shedRate * 100).toFixed(1)} %, admitted p99 ${o.admittedP99Ms.toFixed(0)} ms`);
    }

    if (parts.includes('rate-limit')) {
      const offered = KEY_OVERDRIVE * keyRatePerS;
      const durationMs = positive(values, 'rate-limit-s') * 1000;
      log(`rate-limit: key limited to ${keyRatePerS} req/s, driven at ${offered} req/s for ${(durationMs / 1000).toFixed(0)} s`);
      const load = new FixedRateLoad({
        url: gateway.url, path: request.path, body: String(request.body), ratePerS: offered, durationMs, requestTimeoutMs, seed: seed + 2,
        headers: { authorization: `Bearer ${BENCH_KEY}` },
      });
      const { records } = await load.done;
      result.rateLimit = { ...overloadFigures(records, durationMs, offered, keyRatePerS), keyRatePerS };
      log(`rate-limit: ${result.rateLimit.goodputPerS.toFixed(1)} req/s through, ${(result.rateLimit.shedRate * 100).toFixed(1)} % refused`);
    }
  } finally {
    await cluster.close();
    await closeOperatorClients();
    rmSync(probeDir, { recursive: true, force: true });
  }

  const settings = {
    command: `node dist/bench/soak.js ${argv.join(' ')}`.trim(),
    started: started.toISOString(),
    nodes: nodes.length, simCards, serviceMs, instances, windowS: windowMs / 1000, soakS: soakMs / 1000, overloadS: overloadMs / 1000,
    overloadFactor, requestTimeoutMs, gatewayFlags, backendFlags, seed,
    environment: { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model, loadAverage1m: [loadBefore, loadavg()[0]] },
  };
  mkdirSync(outDir, { recursive: true });
  const write = (name: string, text: string) => {
    writeFileSync(join(outDir, name), text);
    result.files.push(join(outDir, name));
  };
  const md: string[] = [
    `# ${[
      parts.includes('soak') ? `Soak (${(soakMs / 60_000).toFixed(soakMs % 60_000 === 0 ? 0 : 2)} min)` : '',
      parts.includes('overload') ? `overload (${(overloadMs / 1000).toFixed(0)} s)` : '',
      parts.includes('rate-limit') ? 'per-key rate limit' : '',
    ].filter(Boolean).join(', ').replace(/^./, (c) => c.toUpperCase()) || 'Capacity'}`,
    '',
    `\`${settings.command}\` — ${settings.started}, ${nodes.length} backends (${simCards}, SIMULATED, sim_echo ${serviceMs} ms × ${instances} instances), ` +
      `one gateway process (--workers 1${gatewayFlags.length ? ` ${gatewayFlags.join(' ')}` : ''})${backendFlags.length ? `, backend flags ${backendFlags.join(' ')}` : ''}; ` +
      `${settings.environment.cpus}× ${settings.environment.cpuModel ?? 'CPU'}, Node ${process.version}, load average ${loadBefore.toFixed(2)} → ${loadavg()[0].toFixed(2)}.`,
    '',
    markdownTable(capacityTable(result.capacity)),
  ];
  if (result.soak) {
    const { summary, windows, churn, memory, ratePerS } = result.soak;
    const events = churnEvents(churn);
    write('soak-latency.svg', await latencyChart(windows, events, windowMs / 1000));
    write('soak-memory.svg', await memoryChart(memory, events));
    write('soak-requests.svg', await requestsChart(windows, events, windowMs / 1000));
    md.push(
      markdownTable(summaryTable(summary, ratePerS)),
      '![latency per window](soak-latency.svg)',
      '',
      '![gateway memory](soak-memory.svg)',
      '',
      '![requests per window](soak-requests.svg)',
      '',
      markdownTable(churnTable(churn)),
      markdownTable(windowTable(windows, windowMs / 1000)),
    );
  }
  if (result.overload) md.push(markdownTable(overloadTable(result.overload)));
  if (result.rateLimit) md.push(markdownTable(rateLimitTable(result.rateLimit)));
  write('soak.md', md.join('\n'));
  write('soak.json', `${JSON.stringify({ settings, ...result, files: undefined }, null, 1)}\n`);
  log(`wrote ${result.files.join(', ')}`);
  return result;
}
