/**
 * What infergate adds per request on the identity model (INPUT0 FP32 [1,16] → OUTPUT0), at
 * concurrency 1 and 16, side by side in one run:
 *
 *   ort           onnxruntime-node in this process, the engine's session options: the limit
 *   echo          a bare fastify route parsing the same JSON body (bench/support/echo-server.ts): the
 *                 floor of any Node front door
 *   serve-json    `infergate serve`, KServe v2 JSON
 *   serve-binary  `infergate serve`, binary tensor extension in and out
 *   cluster-json  `infergate gateway` + one `infergate backend`, client → gateway JSON
 *
 * Servers run in their own processes; the load is a closed loop (undici in this process, or wrk
 * when it is on PATH). The targets take turns in rounds, so that a machine whose other load comes
 * and goes weighs on all of them alike. Run from the repository root after the build:
 *
 *   node dist/bench/overhead.js [--duration-s 5] [--rounds 5] [--quick] [--load auto|undici|wrk]
 *
 * Prints a markdown table and writes bench/results/overhead.{json,md}.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { encodeInferRequest, parseBinaryInferResponse } from '../core/infer-binary.js';
import { BINARY_CONTENT_TYPE } from '../core/http-headers.js';
import { inferRequestToJson, parseJsonInferResponse } from '../core/infer-json.js';
import { bundledModelsDir, packageRoot } from '../core/package-root.js';
import type { InferRequest, InferResponse } from '../core/tensor.js';
import {
  combineRuns, findOnPath, relativeSpread, runClosedLoop, UndiciDriver, WrkDriver,
  type HttpDriver, type HttpReply, type HttpRequestSpec, type LoadResult, type LoadRun,
} from './support/load.js';
import {
  BenchChildren, freePort, machineCpu, modelRepositoryWith, reapedChildrenCpuMs, startBackend, startGateway,
  startServe, waitForPool, waitForReady, type BenchChild,
} from './support/processes.js';

const MODEL = 'identity';
const INPUT = 'INPUT0';
const OUTPUT = 'OUTPUT0';
const ELEMENTS = 16;
const HOST = '127.0.0.1';
const CONCURRENCIES = [1, 16] as const;
const ECHO_SERVER = fileURLToPath(new URL('./support/echo-server.js', import.meta.url));
/** Triton's HTTP front door, server side, per request: the reference this bench is read against. */
const TRITON_HTTP_FRONT_DOOR_US = 41;

type TargetId = 'ort' | 'echo' | 'serve-json' | 'serve-binary' | 'cluster-json';

const TARGETS: Record<TargetId, string> = {
  ort: 'ORT in-process (limit)',
  echo: 'fastify echo (floor)',
  'serve-json': 'infergate serve, JSON',
  'serve-binary': 'infergate serve, binary',
  'cluster-json': 'gateway → backend, JSON',
};

interface Settings {
  quick: boolean;
  /** Measured time per target and concurrency, all rounds together. */
  durationMs: number;
  rounds: number;
  roundMs: number;
  warmupMs: number;
  load: 'auto' | 'undici' | 'wrk';
}

function parseSettings(argv: string[]): Omit<Settings, 'rounds' | 'roundMs'> & { rounds?: number } | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      'duration-s': { type: 'string' },
      rounds: { type: 'string' },
      quick: { type: 'boolean', default: false },
      load: { type: 'string', default: 'auto' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log('usage: node dist/bench/overhead.js [--duration-s 5] [--rounds 5] [--quick] [--load auto|undici|wrk]\n\n' +
      '  --duration-s   measured seconds per target and concurrency, all rounds together (default 5; 1 with --quick)\n' +
      '  --rounds       the targets take turns this many times per concurrency (default 5; 2 with --quick)\n' +
      '  --quick        0.5 s warm-ups, 1 s measured (about 20 s in all)\n' +
      '  --load         load generator: undici in this process, or wrk (auto: wrk when on PATH)');
    return undefined;
  }
  const quick = values.quick === true;
  const durationS = Number(values['duration-s'] ?? (quick ? 1 : 5));
  if (!(durationS > 0)) throw new Error(`--duration-s expects a positive number, got '${values['duration-s']}'`);
  const rounds = values.rounds === undefined ? undefined : Number(values.rounds);
  if (rounds !== undefined && !(Number.isInteger(rounds) && rounds >= 1)) throw new Error(`--rounds expects a positive integer, got '${values.rounds}'`);
  const load = values.load as string;
  if (load !== 'auto' && load !== 'undici' && load !== 'wrk') throw new Error(`--load expects auto, undici or wrk, got '${load}'`);
  return { quick, durationMs: durationS * 1000, warmupMs: quick ? 500 : 1000, load, ...(rounds !== undefined ? { rounds } : {}) };
}

/** wrk runs whole seconds: its rounds and warm-ups are at least 1 s, and the rounds fewer. */
function schedule(parsed: NonNullable<ReturnType<typeof parseSettings>>, driver: HttpDriver['name']): Settings {
  const rounds = parsed.rounds ?? (parsed.quick ? 2 : 5);
  if (driver !== 'wrk') return { ...parsed, rounds, roundMs: parsed.durationMs / rounds };
  const roundMs = Math.max(1000, Math.round(parsed.durationMs / rounds / 1000) * 1000);
  const wrkRounds = Math.max(1, Math.round(parsed.durationMs / roundMs));
  return { ...parsed, rounds: wrkRounds, roundMs, durationMs: wrkRounds * roundMs, warmupMs: Math.max(1000, parsed.warmupMs) };
}

// ---------------------------------------------------------------------------------------------------
// Requests

/** 16 floats exact in FP32 and not all integers, so JSON parsing and printing do real work. */
function inputData(): Float32Array {
  return Float32Array.from({ length: ELEMENTS }, (_, i) => (i + 1) * 0.0625 - 0.5);
}

function inferRequest(): InferRequest {
  return { modelName: MODEL, inputs: [{ name: INPUT, datatype: 'FP32', shape: [1, ELEMENTS], data: inputData() }] };
}

function jsonSpec(origin: string): HttpRequestSpec {
  return {
    origin,
    path: `/v2/models/${MODEL}/infer`,
    body: Buffer.from(JSON.stringify(inferRequestToJson(inferRequest()))),
    headers: { 'content-type': 'application/json' },
  };
}

function binarySpec(origin: string): HttpRequestSpec {
  const encoded = encodeInferRequest(inferRequest(), { binaryOutputs: true });
  return {
    origin,
    path: `/v2/models/${MODEL}/infer`,
    body: encoded.body,
    headers: { 'content-type': BINARY_CONTENT_TYPE, 'inference-header-content-length': String(encoded.headerLength) },
  };
}

/** The reply must carry OUTPUT0 equal to the input: a bench of wrong answers measures nothing. */
function checkReply(what: string, reply: HttpReply): void {
  if (reply.status !== 200) throw new Error(`${what}: HTTP ${reply.status}: ${reply.body.toString('utf8', 0, 500)}`);
  const headerLength = reply.headers['inference-header-content-length'];
  const response: InferResponse = headerLength === undefined
    ? parseJsonInferResponse(JSON.parse(reply.body.toString('utf8')))
    : parseBinaryInferResponse(reply.body, Number(headerLength));
  checkOutput(what, response.outputs.find((t) => t.name === OUTPUT)?.data as ArrayLike<number> | undefined);
}

function checkOutput(what: string, data: ArrayLike<number> | undefined): void {
  const expected = inputData();
  if (!data || data.length !== expected.length || expected.some((v, i) => data[i] !== v)) {
    throw new Error(`${what}: ${OUTPUT} is not the input echoed back: ${JSON.stringify(data && Array.from(data))}`);
  }
}

// ---------------------------------------------------------------------------------------------------
// Measuring

/** One target as the rounds see it: how to run it, and whose CPU is its server's and its client's. */
interface Target {
  id: TargetId;
  /** Checks one reply (OUTPUT0 = input) before anything is timed. */
  probe(): Promise<void>;
  run(concurrency: number, durationMs: number): Promise<LoadRun>;
  /** The serving processes; 'self' for ORT in-process. */
  servers: BenchChild[] | 'self';
  /** Where the load generator's CPU shows: this process (undici), or its reaped children (wrk). */
  client: 'self' | 'reaped' | 'none';
}

interface CpuSnapshot {
  machine: ReturnType<typeof machineCpu>;
  selfUs: number;
  reapedMs: number | undefined;
  children: Map<BenchChild, number | undefined>;
}

function cpuSnapshot(children: BenchChildren): CpuSnapshot {
  const usage = process.cpuUsage();
  return {
    machine: machineCpu(),
    selfUs: usage.user + usage.system,
    reapedMs: reapedChildrenCpuMs(),
    children: new Map(children.list().map((c) => [c, c.cpuMs()])),
  };
}

function deltaMs(before: number | undefined, after: number | undefined): number | undefined {
  return before === undefined || after === undefined ? undefined : after - before;
}

function addMs(total: number | undefined, more: number | undefined): number | undefined {
  return total === undefined || more === undefined ? undefined : total + more;
}

/** CPU spent while one target ran at one concurrency, summed over its rounds, ms. */
class CpuTally {
  serverMs: number | undefined = 0;
  readonly byProcessMs = new Map<string, number | undefined>();
  clientMs: number | undefined = 0;
  /** Machine busy time not spent by this bench or its children. */
  otherMs: number | undefined = 0;
  /** Wall time of the rounds as the machine counts it (total CPU time / CPUs). */
  wallMs = 0;

  add(target: Target, before: CpuSnapshot, after: CpuSnapshot, elapsedS: number): void {
    const selfMs = (after.selfUs - before.selfUs) / 1000;
    const reapedMs = deltaMs(before.reapedMs, after.reapedMs);
    let childrenMs: number | undefined = 0;
    for (const [child, start] of before.children) childrenMs = addMs(childrenMs, deltaMs(start, after.children.get(child)));

    if (target.servers === 'self') this.serverMs = addMs(this.serverMs, selfMs);
    else {
      for (const s of target.servers) {
        const d = deltaMs(before.children.get(s), after.children.get(s));
        this.byProcessMs.set(s.name, addMs(this.byProcessMs.get(s.name) ?? 0, d));
        this.serverMs = addMs(this.serverMs, d);
      }
    }
    this.clientMs = addMs(this.clientMs, target.client === 'self' ? selfMs : target.client === 'reaped' ? reapedMs : undefined);
    if (before.machine && after.machine) {
      const busy = after.machine.busyMs - before.machine.busyMs;
      this.otherMs = addMs(this.otherMs, addMs(childrenMs, reapedMs) === undefined ? undefined : Math.max(0, busy - selfMs - reapedMs! - childrenMs!));
      this.wallMs += (after.machine.totalMs - before.machine.totalMs) / os.cpus().length;
    } else {
      this.otherMs = undefined;
      this.wallMs += elapsedS * 1000;
    }
  }
}

interface Measurement extends LoadResult {
  target: TargetId;
  label: string;
  /** CPU of the serving process(es) per request (ORT: this process, which is the server there). */
  serverCpuUsPerReq?: number;
  /** The same, per serving process (gateway and backend apart). */
  serverCpuUsPerReqByProcess?: Record<string, number | undefined>;
  /** CPU of the load generator per request; undefined for ORT (in the same process). */
  clientCpuUsPerReq?: number;
  /** CPUs' worth of work by processes outside this bench while this target ran. */
  otherCores?: number;
  /** Spread of the per-round p50 and req/s: (max − min) / median. */
  p50RoundSpread?: number;
  reqPerSRoundSpread?: number;
}

function assertServersAlive(t: Target, concurrency: number): void {
  const dead = t.servers === 'self' ? undefined : t.servers.find((c) => !c.running);
  if (dead) throw new Error(`${dead.name} exited while ${TARGETS[t.id]} ran at c=${concurrency}; its last output:\n${dead.output()}`);
}

/**
 * Per concurrency: a warm-up of every target, then `rounds` rounds that each run every target for
 * duration / rounds, in alternating order, so that all targets see the same background load and
 * the ratios between them hold better than the absolute figures do.
 */
async function measureAll(targets: Target[], settings: Settings, children: BenchChildren): Promise<Measurement[]> {
  const out: Measurement[] = [];
  for (const concurrency of CONCURRENCIES) {
    for (const t of targets) {
      const warm = await t.run(concurrency, settings.warmupMs);
      assertServersAlive(t, concurrency);
      if (warm.requests === 0) throw new Error(`${TARGETS[t.id]} c=${concurrency}: no request succeeded in the warm-up (${warm.firstError ?? 'no error recorded'})`);
    }
    const runs = new Map<TargetId, LoadRun[]>(targets.map((t) => [t.id, []]));
    const cpu = new Map<TargetId, CpuTally>(targets.map((t) => [t.id, new CpuTally()]));
    for (let round = 0; round < settings.rounds; round++) {
      const order = round % 2 === 0 ? targets : [...targets].reverse();
      for (const t of order) {
        const before = cpuSnapshot(children);
        const run = await t.run(concurrency, settings.roundMs);
        const after = cpuSnapshot(children);
        assertServersAlive(t, concurrency);
        runs.get(t.id)!.push(run);
        cpu.get(t.id)!.add(t, before, after, run.elapsedS);
      }
    }
    for (const t of targets) {
      const result = combineRuns(runs.get(t.id)!);
      if (result.requests === 0) throw new Error(`${TARGETS[t.id]} c=${concurrency}: no request succeeded (${result.firstError ?? 'no error recorded'})`);
      const tally = cpu.get(t.id)!;
      const perReqUs = (ms: number | undefined) => (ms === undefined ? undefined : (ms * 1000) / result.requests);
      const m: Measurement = {
        ...result,
        target: t.id,
        label: TARGETS[t.id],
        serverCpuUsPerReq: perReqUs(tally.serverMs),
        ...(t.servers === 'self' ? {} : { serverCpuUsPerReqByProcess: Object.fromEntries([...tally.byProcessMs].map(([name, ms]) => [name, perReqUs(ms)])) }),
        clientCpuUsPerReq: perReqUs(tally.clientMs),
        otherCores: tally.otherMs === undefined ? undefined : tally.otherMs / tally.wallMs,
        p50RoundSpread: relativeSpread(result.rounds.map((r) => r.p50Us)),
        reqPerSRoundSpread: relativeSpread(result.rounds.map((r) => r.reqPerS)),
      };
      if (m.errors > 0) console.error(`  warning: ${m.label} c=${concurrency}: ${m.errors} failed request(s): ${m.firstError}`);
      console.error(`  ${m.label.padEnd(26)} c=${String(concurrency).padEnd(3)} ${fmtRate(m.reqPerS).padStart(7)} req/s  ` +
        `p50 ${fmtUs(m.latency.p50Us).padStart(6)} µs  p99 ${fmtUs(m.latency.p99Us).padStart(6)} µs  other work ${m.otherCores?.toFixed(2) ?? '?'} CPUs`);
      out.push(m);
    }
  }
  return out;
}

/**
 * The session options engines/onnx.ts gives an instance on the CPU card of adapters/cpu.ts
 * (intraOpNumThreads = its cores), run inline on this thread: no worker hop, no queue.
 */
async function ortTarget(): Promise<{ target: Target; release(): Promise<void> }> {
  const session = await ort.InferenceSession.create(join(bundledModelsDir(), MODEL, '1', 'model.onnx'), {
    executionProviders: ['cpu'],
    intraOpNumThreads: os.availableParallelism(),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const data = inputData();
  const fetches = [OUTPUT];
  // A tensor per call, as the engine builds one per request.
  const run = () => session.run({ [INPUT]: new ort.Tensor('float32', data, [1, ELEMENTS]) }, fetches);
  return {
    target: {
      id: 'ort',
      probe: async () => checkOutput(TARGETS.ort, (await run())[OUTPUT].data as Float32Array),
      run: (concurrency, ms) => runClosedLoop(run, concurrency, ms),
      servers: 'self',
      client: 'none',
    },
    release: () => session.release(),
  };
}

function httpTarget(id: TargetId, driver: HttpDriver, spec: HttpRequestSpec, servers: BenchChild[]): Target {
  return {
    id,
    probe: async () => checkReply(TARGETS[id], await driver.request(spec)),
    run: (concurrency, ms) => driver.run(spec, concurrency, ms),
    servers,
    client: driver.name === 'wrk' ? 'reaped' : 'self',
  };
}

// ---------------------------------------------------------------------------------------------------
// Report

function fmtUs(us: number | undefined): string {
  if (us === undefined || !Number.isFinite(us)) return '–';
  return us >= 100 ? us.toFixed(0) : us.toFixed(1);
}

function fmtRate(perS: number): string {
  return perS >= 100 ? perS.toFixed(0) : perS.toFixed(1);
}

function fmtRatio(r: number | undefined): string {
  if (r === undefined || !Number.isFinite(r)) return '–';
  return r >= 10 ? `${r.toFixed(0)}×` : r >= 0.1 ? `${r.toFixed(2)}×` : `${r.toFixed(3)}×`;
}

function fmtSpread(s: number | undefined): string {
  return s === undefined ? '–' : `±${((s / 2) * 100).toFixed(0)} %`;
}

interface Derived {
  /** p50(target) − p50(reference) at c=1, µs. */
  c1P50DeltaUs: {
    serveJsonVsOrt?: number;
    serveJsonVsEcho?: number;
    serveBinaryVsOrt?: number;
    serveBinaryVsEcho?: number;
    clusterVsServeJson?: number;
    clusterVsOrt?: number;
  };
  /** Server-process CPU per request minus the echo server's, µs: infergate's own code, by concurrency. */
  serverCpuOverEchoUs: Record<string, {
    serveJson?: number;
    serveBinary?: number;
    /** Gateway + backend together. */
    cluster?: number;
  }>;
}

function derive(results: Measurement[]): Derived {
  const at = (t: TargetId, c = 1) => results.find((m) => m.target === t && m.concurrency === c);
  const p50 = (t: TargetId) => at(t)?.latency.p50Us;
  const cpu = (t: TargetId, c: number) => at(t, c)?.serverCpuUsPerReq;
  const minus = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? undefined : a - b);
  return {
    c1P50DeltaUs: {
      serveJsonVsOrt: minus(p50('serve-json'), p50('ort')),
      serveJsonVsEcho: minus(p50('serve-json'), p50('echo')),
      serveBinaryVsOrt: minus(p50('serve-binary'), p50('ort')),
      serveBinaryVsEcho: minus(p50('serve-binary'), p50('echo')),
      clusterVsServeJson: minus(p50('cluster-json'), p50('serve-json')),
      clusterVsOrt: minus(p50('cluster-json'), p50('ort')),
    },
    serverCpuOverEchoUs: Object.fromEntries(CONCURRENCIES.map((c) => [`c${c}`, {
      serveJson: minus(cpu('serve-json', c), cpu('echo', c)),
      serveBinary: minus(cpu('serve-binary', c), cpu('echo', c)),
      cluster: minus(cpu('cluster-json', c), cpu('echo', c)),
    }])),
  };
}

function markdownReport(results: Measurement[], derived: Derived, conditions: string[], idleOtherCores: number | undefined): string {
  const ref = (t: TargetId, c: number) => results.find((m) => m.target === t && m.concurrency === c);
  const main = [
    '| target | c | req/s | p50 µs | p90 µs | p99 µs | p50 ÷ ORT | req/s ÷ ORT | p50 ÷ echo | req/s ÷ echo |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const cpu = [
    '| target | c | server CPU µs/req | client CPU µs/req | other work (cores) | p50 across rounds | req/s across rounds | errors |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const m of results) {
    const o = ref('ort', m.concurrency);
    const e = ref('echo', m.concurrency);
    const ratio = (a: number, b: number | undefined) => (b === undefined ? undefined : a / b);
    main.push(`| ${m.label} | ${m.concurrency} | ${fmtRate(m.reqPerS)} | ${fmtUs(m.latency.p50Us)} | ${fmtUs(m.latency.p90Us)} | ${fmtUs(m.latency.p99Us)} | ` +
      `${fmtRatio(ratio(m.latency.p50Us, o?.latency.p50Us))} | ${fmtRatio(ratio(m.reqPerS, o?.reqPerS))} | ` +
      `${fmtRatio(ratio(m.latency.p50Us, e?.latency.p50Us))} | ${fmtRatio(ratio(m.reqPerS, e?.reqPerS))} |`);
    const parts = Object.entries(m.serverCpuUsPerReqByProcess ?? {});
    const split = parts.length > 1 ? ` (${parts.map(([name, v]) => `${name.replace(/^infergate /, '')} ${fmtUs(v)}`).join(' + ')})` : '';
    cpu.push(`| ${m.label} | ${m.concurrency} | ${fmtUs(m.serverCpuUsPerReq)}${split} | ${m.target === 'ort' ? '(same process)' : fmtUs(m.clientCpuUsPerReq)} | ` +
      `${m.otherCores?.toFixed(2) ?? '–'} | ${fmtSpread(m.p50RoundSpread)} | ${fmtSpread(m.reqPerSRoundSpread)} | ${m.errors} |`);
  }
  const d = derived.c1P50DeltaUs;
  const c = derived.serverCpuOverEchoUs.c1 ?? {};
  const c16 = derived.serverCpuOverEchoUs.c16 ?? {};
  const us = (v: number | undefined) => (v === undefined ? '–' : `${v >= 0 ? '' : '−'}${fmtUs(Math.abs(v))} µs`);
  const lines = [
    '# infergate overhead on the identity model',
    '',
    ...conditions.map((l) => `- ${l}`),
    '',
    main.join('\n'),
    '',
    'CPU per request and steadiness (server CPU from /proc: the serving processes only; ORT: the whole bench process. ' +
      '"other work": CPUs busy with processes outside this bench while it measured. Spread across rounds: ±(max − min) / 2 of the per-round figures, relative to their median):',
    '',
    cpu.join('\n'),
    '',
    '## Derived, at c=1',
    '',
    `- infergate serve, JSON: p50 − p50(ORT in-process) = **${us(d.serveJsonVsOrt)}** per request; − p50(fastify echo) = **${us(d.serveJsonVsEcho)}**; ` +
      `server CPU per request above the echo server's: ${us(c.serveJson)} (at c=16: ${us(c16.serveJson)}).`,
    `- infergate serve, binary: p50 − p50(ORT) = **${us(d.serveBinaryVsOrt)}**; − p50(echo) = **${us(d.serveBinaryVsEcho)}**; ` +
      `server CPU above the echo server's: ${us(c.serveBinary)} (at c=16: ${us(c16.serveBinary)}).`,
    `- gateway → backend hop: p50 − p50(serve JSON) = **${us(d.clusterVsServeJson)}**; − p50(ORT) = ${us(d.clusterVsOrt)}; ` +
      `gateway + backend CPU above the echo server's: ${us(c.cluster)} (at c=16: ${us(c16.cluster)}).`,
    `- Reference: Triton's HTTP front door adds about ${TRITON_HTTP_FRONT_DOOR_US} µs per request server-side. The p50 differences above are ` +
      'end-to-end (they hold the loopback round trip and the client, which the echo subtraction removes, plus the scheduling of ' +
      'two processes on shared CPUs); the CPU figure above the echo server is the closer analogue of a server-side cost.',
    '',
    '## Caveats',
    '',
    `- Client and servers share the machine's ${os.cpus().length} CPU(s): the load generator takes CPU the server would use ` +
      '(see client CPU µs/req), so c=16 throughput is a shared-CPU figure, not a server-only one.',
    `- Other work on the machine: ${idleOtherCores === undefined ? 'unknown' : `${idleOtherCores.toFixed(2)} CPUs busy before the bench started`}; ` +
      'per-row figures in the "other work" column. Latencies move with it; compare rows of one run, not runs of different days.',
    '- ORT in-process runs the session inline on the calling thread (onnxruntime-node blocks it for the run): at c=16 its 16 callers ' +
      'queue on one session, so its p50 there is mostly waiting; its req/s is the limit. infergate runs each instance\'s session on a ' +
      'worker thread, a message hop ORT in-process does not pay.',
    '- At c=1 the server CPU per request includes waking an idle process (and its worker thread) for every request; at c=16 that ' +
      'cost is shared, so the c=16 CPU figures are the steadier measure of work per request.',
    '- infergate batches compatible queued requests (identity declares max_batch_size 8): at c=16 a run may serve several requests, ' +
      'which ORT in-process, one call per request, does not do.',
  ];
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------------

async function idleOtherCores(ms: number): Promise<number | undefined> {
  const a = machineCpu();
  const selfA = process.cpuUsage();
  await new Promise((r) => setTimeout(r, ms));
  const b = machineCpu();
  const selfB = process.cpuUsage();
  if (!a || !b) return undefined;
  const selfMs = (selfB.user + selfB.system - selfA.user - selfA.system) / 1000;
  return Math.max(0, b.busyMs - a.busyMs - selfMs) / ((b.totalMs - a.totalMs) / os.cpus().length);
}

async function main(argv: string[]): Promise<void> {
  const parsed = parseSettings(argv);
  if (!parsed) return;
  const started = Date.now();
  const children = new BenchChildren();
  children.installExitHandlers();

  const wrkPath = parsed.load === 'undici' ? undefined : findOnPath('wrk');
  if (parsed.load === 'wrk' && !wrkPath) throw new Error('--load wrk: wrk is not on PATH');
  const driver: HttpDriver = wrkPath ? new WrkDriver(wrkPath) : new UndiciDriver();
  const settings = schedule(parsed, driver.name);

  const idle = await idleOtherCores(settings.quick ? 500 : 1000);
  console.error(`other work on the machine before start: ${idle?.toFixed(2) ?? '?'} CPUs busy; ` +
    `load generator ${driver.name}${wrkPath ? ` (${wrkPath})` : ''}; per concurrency ${settings.warmupMs / 1000} s warm-up per target, ` +
    `then ${settings.rounds} round(s) of ${settings.roundMs / 1000} s per target`);

  let results: Measurement[];
  let inProcess: Awaited<ReturnType<typeof ortTarget>> | undefined;
  try {
    // All servers start together (start-up is the slow part) and stay up: the targets take turns.
    const modelsDir = modelRepositoryWith(children, [MODEL]);
    const startEcho = async () => {
      const port = await freePort(HOST);
      const echo = children.spawnNode('fastify echo', ECHO_SERVER, ['--port', String(port), '--host', HOST], `http://${HOST}:${port}`);
      await waitForReady(echo);
      return echo;
    };
    const startCluster = async () => {
      const gateway = await startGateway(children, { host: HOST });
      const backend = await startBackend(children, gateway.url, { host: HOST, modelsDir });
      await waitForPool(gateway, MODEL, 1, [backend]);
      return { gateway, backend };
    };
    const [echo, serve, cluster] = await Promise.all([startEcho(), startServe(children, { host: HOST, modelsDir }), startCluster()]);
    inProcess = await ortTarget();
    console.error(`servers ready after ${((Date.now() - started) / 1000).toFixed(1)} s`);

    const targets: Target[] = [
      inProcess.target,
      httpTarget('echo', driver, jsonSpec(echo.url), [echo]),
      httpTarget('serve-json', driver, jsonSpec(serve.url), [serve]),
      httpTarget('serve-binary', driver, binarySpec(serve.url), [serve]),
      httpTarget('cluster-json', driver, jsonSpec(cluster.gateway.url), [cluster.gateway, cluster.backend]),
    ];
    for (const t of targets) await t.probe();
    results = await measureAll(targets, settings, children);
  } finally {
    await inProcess?.release();
    await driver.close();
    await children.stopAll();
  }

  const elapsedS = (Date.now() - started) / 1000;
  const cpu = os.cpus();
  const environment = {
    node: process.version, platform: os.platform(), arch: os.arch(), cpus: cpu.length, cpuModel: cpu[0]?.model, loadavg: os.loadavg(),
  };
  const conditions = [
    `${MODEL} model, ${INPUT} FP32 [1,${ELEMENTS}]; closed loop at c = ${CONCURRENCIES.join(' and ')}. Per concurrency: a ${settings.warmupMs / 1000} s warm-up of each target, ` +
      `then ${settings.rounds} round(s) in which every target runs ${settings.roundMs / 1000} s, order alternating: ${settings.durationMs / 1000} s measured per row${settings.quick ? ' (--quick)' : ''}.`,
    `Load generator: ${driver.name === 'wrk' ? 'wrk (its own process); latency percentiles are the median over rounds of wrk\'s per-round percentiles' : 'undici Pool in the bench process, one keep-alive connection per caller; percentiles over every request'}. ` +
      'Each server in its own process; ORT in the bench process with the engine\'s session options.',
    `Machine: ${cpu.length}× ${cpu[0]?.model ?? 'unknown CPU'}, node ${process.version}; client and servers share these CPUs.`,
    `Total ${elapsedS.toFixed(1)} s.`,
  ];
  const derived = derive(results);
  const markdown = markdownReport(results, derived, conditions, idle);
  console.log(`\n${markdown}`);

  const resultsDir = join(packageRoot(), 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const report = {
    benchmark: 'overhead',
    quick: settings.quick,
    durationS: settings.durationMs / 1000,
    rounds: settings.rounds,
    warmupS: settings.warmupMs / 1000,
    driver: driver.name,
    model: MODEL,
    concurrencies: CONCURRENCIES,
    environment,
    idleOtherCores: idle,
    elapsedS,
    reference: { tritonHttpFrontDoorUsPerRequest: TRITON_HTTP_FRONT_DOOR_US },
    derived,
    results,
  };
  writeFileSync(join(resultsDir, 'overhead.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(resultsDir, 'overhead.md'), markdown);
  console.log(`wrote ${join('bench', 'results', 'overhead.json')} and ${join('bench', 'results', 'overhead.md')}`);
}

main(process.argv.slice(2)).catch((err) => {
  console.error(`overhead: ${(err as Error).stack ?? (err as Error).message}`);
  process.exitCode = 1;
});
