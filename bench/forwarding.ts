/**
 * The data path, side by side in one run (wrk as the load, every server in its own process):
 *
 *   gateway vs nginx   identity model, c=64, JSON and binary bodies, to one `infergate backend`:
 *                      the node called directly, nginx (keep-alive upstream, 1 worker) in front of
 *                      it, and `infergate gateway` in front of it with --workers 1 and --workers 2.
 *                      Throughput, p99, and the proxy's CPU per forwarded request from /proc (its
 *                      whole process tree: nginx master + worker, gateway primary + workers).
 *                      Beside them the floor of any Node forwarder (bench/support/bare-forwarder.ts).
 *   serve vs echo      `infergate serve` vs a bare fastify route echoing the same JSON body, c=16.
 *   work-dominated     the OCR recognizer, batch 1 (FP32 [1,3,48,320], binary), c=4: the gateway
 *                      in front of the node vs the node called directly.
 *
 * Targets take turns in rounds, so background load weighs on all alike; figures are medians over
 * rounds. Run from the repository root after the build (needs nginx and wrk on PATH):
 *
 *   node dist/bench/forwarding.js [--duration-s 6] [--rounds 3] [--only proxy-json,proxy-binary,embedded,work]
 *
 * Prints a markdown table and writes bench/results/forwarding.{json,md}.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BINARY_CONTENT_TYPE } from '../core/http-headers.js';
import { encodeInferRequest } from '../core/infer-binary.js';
import { packageRoot } from '../core/package-root.js';
import { findOnPath, WrkDriver, type HttpRequestSpec, type LoadRun } from './support/load.js';
import { startNginx } from './support/nginx.js';
import {
  BenchChildren, freePort, modelRepositoryWith, processCpuMs, startBackend, startGateway, startServe,
  waitForPool, waitForReady,
} from './support/processes.js';

const HOST = '127.0.0.1';
const ECHO_SERVER = fileURLToPath(new URL('./support/echo-server.js', import.meta.url));
const BARE_FORWARDER = fileURLToPath(new URL('./support/bare-forwarder.js', import.meta.url));

interface Target {
  id: string;
  group: 'proxy-json' | 'proxy-binary' | 'embedded' | 'work';
  label: string;
  spec: HttpRequestSpec;
  concurrency: number;
  /** The proxy whose CPU is read: the root pid of its process tree. */
  proxyPid?: () => number | undefined;
}

interface RoundResult {
  reqPerS: number;
  p99Us: number;
  p50Us: number;
  errors: number;
  proxyCpuUsPerRequest?: number;
}

// ---------------------------------------------------------------------------------------------------
// Requests

function identityJson(origin: string): HttpRequestSpec {
  const data = Array.from({ length: 16 }, (_, i) => i + 0.5);
  return {
    origin, path: '/v2/models/identity/infer', headers: { 'content-type': 'application/json' },
    body: Buffer.from(JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 16], data }] })),
  };
}

function binarySpec(origin: string, model: string, name: string, shape: number[], binaryOutputs: boolean): HttpRequestSpec {
  const n = shape.reduce((a, b) => a * b, 1);
  const encoded = encodeInferRequest({
    modelName: model,
    inputs: [{ name, datatype: 'FP32', shape, data: Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 0.5 + 0.5) }],
  }, { binaryOutputs });
  return {
    origin, path: `/v2/models/${model}/infer`,
    headers: { 'content-type': BINARY_CONTENT_TYPE, 'inference-header-content-length': String(encoded.headerLength) },
    body: encoded.body,
  };
}

// ---------------------------------------------------------------------------------------------------
// CPU of a process tree (/proc)

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** CPU ms of a process and all its descendants alive now. */
function treeCpuMs(root: number): number {
  let total = 0;
  const stack = [root];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    total += processCpuMs(pid) ?? 0;
    stack.push(...childrenOf(pid));
  }
  return total;
}

// ---------------------------------------------------------------------------------------------------

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function measure(driver: WrkDriver, t: Target, durationMs: number): Promise<RoundResult> {
  const pid = t.proxyPid?.();
  const cpuBefore = pid === undefined ? undefined : treeCpuMs(pid);
  const run: LoadRun = await driver.run(t.spec, t.concurrency, durationMs);
  const cpuAfter = pid === undefined ? undefined : treeCpuMs(pid);
  const served = run.requests;
  return {
    reqPerS: served / run.elapsedS,
    p50Us: run.latency.p50Us,
    p99Us: run.latency.p99Us,
    errors: run.errors,
    proxyCpuUsPerRequest: cpuBefore === undefined || cpuAfter === undefined || served === 0 ? undefined : ((cpuAfter - cpuBefore) * 1000) / served,
  };
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { 'duration-s': { type: 'string', default: '6' }, rounds: { type: 'string', default: '3' }, only: { type: 'string' } },
  });
  const only = values.only?.split(',');
  const durationMs = Number(values['duration-s']) * 1000;
  const rounds = Number(values.rounds);
  const wrk = findOnPath('wrk');
  if (!wrk) throw new Error('wrk is not on PATH (apt-get install wrk)');
  const driver = new WrkDriver(wrk);
  const children = new BenchChildren();
  children.installExitHandlers();
  try {
    const models = modelRepositoryWith(children, ['identity', 'ocr_rec']);
    const gw1 = await startGateway(children, { host: HOST, extraArgs: ['--workers', '1'] }, 'gateway --workers 1');
    const gw2 = await startGateway(children, { host: HOST, extraArgs: ['--workers', '2'] }, 'gateway --workers 2');
    const node = await startBackend(children, `${gw1.url},${gw2.url}`, { host: HOST, modelsDir: models }, 'backend');
    for (const gw of [gw1, gw2]) {
      await waitForPool(gw, 'identity', 1, [node]);
      await waitForPool(gw, 'ocr_rec', 1, [node]);
    }
    const nginx = await startNginx(children, node.url);
    const barePort = await freePort(HOST);
    const bare = children.spawnNode('bare forwarder', BARE_FORWARDER, ['--port', String(barePort), '--host', HOST, '--upstream', node.url], `http://${HOST}:${barePort}`);
    await waitForReady(bare);
    const serve = await startServe(children, { host: HOST, modelsDir: modelRepositoryWith(children, ['identity']) }, 'serve');
    const echoPort = await freePort(HOST);
    const echo = children.spawnNode('fastify echo', ECHO_SERVER, ['--port', String(echoPort), '--host', HOST], `http://${HOST}:${echoPort}`);
    await waitForReady(echo);

    const proxies = [
      { id: 'node', label: 'node directly', url: node.url, pid: undefined },
      { id: 'nginx', label: 'nginx (1 worker) → node', url: nginx.url, pid: nginx.pid },
      { id: 'bare', label: 'bare Node forwarder (floor) → node', url: bare.url, pid: () => bare.child.pid },
      { id: 'gw1', label: 'gateway --workers 1 → node', url: gw1.url, pid: () => gw1.child.pid },
      { id: 'gw2', label: 'gateway --workers 2 → node', url: gw2.url, pid: () => gw2.child.pid },
    ];
    const targets: Target[] = [
      ...proxies.map((p): Target => ({ id: `${p.id}-json`, group: 'proxy-json', label: `${p.label}, JSON`, spec: identityJson(p.url), concurrency: 64, proxyPid: p.pid })),
      ...proxies.map((p): Target => ({ id: `${p.id}-binary`, group: 'proxy-binary', label: `${p.label}, binary`, spec: binarySpec(p.url, 'identity', 'INPUT0', [1, 16], true), concurrency: 64, proxyPid: p.pid })),
      { id: 'serve-json', group: 'embedded', label: 'infergate serve, JSON', spec: identityJson(serve.url), concurrency: 16 },
      { id: 'echo-json', group: 'embedded', label: 'fastify echo of the same body', spec: identityJson(echo.url), concurrency: 16 },
      { id: 'ocr-node', group: 'work', label: 'ocr_rec batch 1, node directly', spec: binarySpec(node.url, 'ocr_rec', 'x', [1, 3, 48, 320], true), concurrency: 4 },
      { id: 'ocr-gw1', group: 'work', label: 'ocr_rec batch 1, gateway --workers 1 → node', spec: binarySpec(gw1.url, 'ocr_rec', 'x', [1, 3, 48, 320], true), concurrency: 4 },
    ];
    if (only) targets.splice(0, targets.length, ...targets.filter((t) => only.includes(t.group)));
    for (const t of targets) {
      const reply = await driver.request(t.spec);
      if (reply.status !== 200) throw new Error(`${t.label}: HTTP ${reply.status} ${reply.body.toString().slice(0, 300)}`);
      await driver.run(t.spec, t.concurrency, 1000); // warm-up: connections, JIT, the model's first runs
    }
    const results = new Map<string, RoundResult[]>(targets.map((t) => [t.id, []]));
    for (let round = 0; round < rounds; round++) {
      for (const t of targets) {
        const r = await measure(driver, t, durationMs);
        results.get(t.id)!.push(r);
        process.stderr.write(`round ${round + 1}/${rounds} ${t.label}: ${r.reqPerS.toFixed(0)} req/s, p99 ${(r.p99Us / 1000).toFixed(2)} ms` +
          `${r.proxyCpuUsPerRequest !== undefined ? `, proxy CPU ${r.proxyCpuUsPerRequest.toFixed(1)} µs/req` : ''}${r.errors ? `, ${r.errors} errors` : ''}\n`);
      }
    }
    const summary = targets.map((t) => {
      const rs = results.get(t.id)!;
      const cpu = rs.map((r) => r.proxyCpuUsPerRequest).filter((v): v is number => v !== undefined);
      return {
        id: t.id, group: t.group, label: t.label, concurrency: t.concurrency,
        reqPerS: median(rs.map((r) => r.reqPerS)),
        p50Ms: median(rs.map((r) => r.p50Us)) / 1000,
        p99Ms: median(rs.map((r) => r.p99Us)) / 1000,
        errors: rs.reduce((a, r) => a + r.errors, 0),
        proxyCpuUsPerRequest: cpu.length ? median(cpu) : undefined,
        rounds: rs.map((r) => Math.round(r.reqPerS)),
      };
    });
    const byId = new Map(summary.map((s) => [s.id, s]));
    const ratio = (a: string, b: string, f: 'reqPerS' | 'p99Ms' | 'proxyCpuUsPerRequest') => {
      const x = byId.get(a)?.[f];
      const y = byId.get(b)?.[f];
      return x === undefined || y === undefined ? undefined : x / y;
    };
    const ratios = {
      'gateway×1 / nginx, JSON: throughput': ratio('gw1-json', 'nginx-json', 'reqPerS'),
      'gateway×1 / nginx, JSON: p99': ratio('gw1-json', 'nginx-json', 'p99Ms'),
      'gateway×1 / nginx, JSON: proxy CPU per request': ratio('gw1-json', 'nginx-json', 'proxyCpuUsPerRequest'),
      'gateway×1 / nginx, binary: throughput': ratio('gw1-binary', 'nginx-binary', 'reqPerS'),
      'gateway×1 / nginx, binary: p99': ratio('gw1-binary', 'nginx-binary', 'p99Ms'),
      'gateway×1 / nginx, binary: proxy CPU per request': ratio('gw1-binary', 'nginx-binary', 'proxyCpuUsPerRequest'),
      'gateway×2 / nginx, JSON: throughput': ratio('gw2-json', 'nginx-json', 'reqPerS'),
      'gateway×2 / nginx, binary: throughput': ratio('gw2-binary', 'nginx-binary', 'reqPerS'),
      'bare Node forwarder / nginx, JSON: throughput': ratio('bare-json', 'nginx-json', 'reqPerS'),
      'gateway×1 / bare Node forwarder, JSON: proxy CPU per request': ratio('gw1-json', 'bare-json', 'proxyCpuUsPerRequest'),
      'gateway×2 / gateway×1, JSON: throughput': ratio('gw2-json', 'gw1-json', 'reqPerS'),
      'gateway×2 / gateway×1, binary: throughput': ratio('gw2-binary', 'gw1-binary', 'reqPerS'),
      'serve / fastify echo, c=16: throughput': ratio('serve-json', 'echo-json', 'reqPerS'),
      'ocr_rec via gateway / direct: throughput': ratio('ocr-gw1', 'ocr-node', 'reqPerS'),
    };
    const fmt = (v: number | undefined, d = 2) => (v === undefined ? '–' : v.toFixed(d));
    const lines = [
      `# Forwarding bench (${new Date().toISOString()})`,
      '',
      `${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), Node ${process.version}; wrk, ${rounds} rounds × ${durationMs / 1000} s per target, medians over rounds.`,
      '',
      '| target | c | req/s | p50 ms | p99 ms | proxy CPU µs/req | errors | req/s per round |',
      '|---|---|---|---|---|---|---|---|',
      ...summary.map((s) => `| ${s.label} | ${s.concurrency} | ${s.reqPerS.toFixed(0)} | ${fmt(s.p50Ms)} | ${fmt(s.p99Ms)} | ${fmt(s.proxyCpuUsPerRequest, 1)} | ${s.errors} | ${s.rounds.join(', ')} |`),
      '',
      '| ratio | value |',
      '|---|---|',
      ...Object.entries(ratios).map(([k, v]) => `| ${k} | ${fmt(v)} |`),
      '',
    ];
    const md = lines.join('\n');
    console.log(md);
    const out = join(packageRoot(), 'bench', 'results');
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'forwarding.md'), md);
    writeFileSync(join(out, 'forwarding.json'), JSON.stringify({ at: new Date().toISOString(), durationMs, rounds, summary, ratios }, null, 2));
    await nginx.stop();
  } finally {
    await driver.close();
    await children.stopAll();
  }
}

main(process.argv.slice(2)).catch((err) => {
  console.error(err);
  process.exit(1);
});
