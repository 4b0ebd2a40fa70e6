/**
 * What TLS costs on the data path, plain and TLS side by side in one run: `infergate bench`
 * (HTTP, JSON bodies, the identity model) through an `infergate gateway --workers 1` to one
 * `infergate backend`, every server in its own process.
 *
 *   plain       client → gateway http://, gateway → node http://, heartbeats http://
 *   tls-nodes   client → gateway http://, gateway → node https:// with a client certificate
 *               (mutual TLS), heartbeats http:// signed with the node secret
 *   tls         as tls-nodes, and client → gateway https:// too (heartbeats https://)
 *
 * The two set-ups take turns in rounds, so background load weighs on both alike; the figures are
 * medians over rounds. Keep-alive connections: the handshakes happen once, so what is measured is
 * the per-request cost of encryption on two hops. Run from the repository root after the build
 * (needs openssl on PATH):
 *
 *   node dist/bench/tls-cost.js [--duration-s 5] [--rounds 3] [--concurrency 1,16]
 *
 * Prints a markdown table and writes bench/results/tls-cost.{json,md}.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { packageRoot } from '../core/package-root.js';
import { InfergateProcess, cliPath, createSimModelsDir, waitFor } from './support/cluster-processes.js';
import { makeTestCertificates, type TestCertificates } from './support/tls-certificates.js';

type Mode = 'plain' | 'tls-nodes' | 'tls';
const MODES: Mode[] = ['plain', 'tls-nodes', 'tls'];

interface Figures {
  reqPerS: number;
  p50Us: number;
  p99Us: number;
}

interface Setup {
  mode: Mode;
  gatewayUrl: string;
  processes: InfergateProcess[];
}

async function startSetup(mode: Mode, certs: TestCertificates, modelsDir: string, secretFile: string): Promise<Setup> {
  const tls = mode !== 'plain';
  const common = ['--http-port', '0', '--grpc-port', '0', '--metrics-port', 'off', '--host', '127.0.0.1', '--log-level', 'warn'];
  const doors = tls ? ['--tls-cert', certs.serverCert, '--tls-key', certs.serverKey] : [];
  // The gateway's own doors: TLS only when the client leg is measured with it.
  const gateway = new InfergateProcess(`${mode} gateway`, 'gateway', [
    ...common, '--log-level', 'info', '--workers', '1', '--slow-start-ms', '0', ...(mode === 'tls' ? doors : []),
    ...(tls ? ['--backend-ca', certs.ca, '--backend-cert', certs.clientCert, '--backend-key', certs.clientKey, '--node-secret-file', secretFile] : []),
  ]);
  const scheme = mode === 'tls' ? 'https' : 'http';
  const gatewayUrl = (await gateway.started()).replace(/^http:/, `${scheme}:`);
  const backend = new InfergateProcess(`${mode} backend`, 'backend', [
    ...common, '--log-level', 'info', '--gateway', gatewayUrl, '--node-id', `${mode}-node`, '--models', modelsDir, '--calibrate-ms', '0',
    ...(tls ? [...doors, '--tls-client-ca', certs.ca, '--gateway-ca', certs.ca, '--node-secret-file', secretFile] : []),
  ]);
  await backend.started();
  const agent = new Agent({ connect: { ca: certs.pem(certs.ca) } });
  try {
    await waitFor(`${mode}: node in the identity pool`, async () => {
      const response = await request(`${gatewayUrl}/infergate/pools`, { dispatcher: agent });
      const body = (await response.body.json()) as { pools: Array<{ model: string; nodes: Array<{ state: string }> }> };
      return body.pools.some((p) => p.model === 'identity' && p.nodes.some((n) => n.state === 'ready')) ? true : undefined;
    }, { timeoutMs: 30_000 });
  } finally {
    await agent.close();
  }
  return { mode, gatewayUrl, processes: [gateway, backend] };
}

/** One `infergate bench` run (its own process; NODE_EXTRA_CA_CERTS makes it trust the test CA). */
function runBench(setup: Setup, concurrency: number, durationS: number, ca: string, dir: string): Figures {
  const out = path.join(dir, `${setup.mode}-c${concurrency}.json`);
  const result = spawnSync(process.execPath, [
    cliPath(), 'bench', '-u', setup.gatewayUrl, '-m', 'identity', '--concurrency-range', String(concurrency),
    '--warmup-ms', '1000', '--measurement-interval-ms', String(durationS * 1000), '--json', out,
  ], { encoding: 'utf8', env: { ...process.env, NODE_EXTRA_CA_CERTS: ca } });
  if (result.status !== 0) throw new Error(`bench against ${setup.mode} failed (${result.status}): ${result.stderr}${result.stdout}`);
  return figuresOf(JSON.parse(readFileSync(out, 'utf8')));
}

/** The one step's throughput and latency percentiles from bench's --json output; a failed request fails the run. */
function figuresOf(json: unknown): Figures {
  const summary = (json as { steps: Array<{ summary: {
    inferencesPerSec: number; latencyUs: { p50Us: number; p99Us: number }; counts: Record<string, number>;
  } }> }).steps[0].summary;
  const { ok, ...others } = summary.counts;
  if (Object.values(others).some((n) => n > 0)) throw new Error(`bench step had failures: ${JSON.stringify(summary.counts)}`);
  if (!(ok > 0)) throw new Error('bench step had no answer');
  return { reqPerS: summary.inferencesPerSec, p50Us: summary.latencyUs.p50Us, p99Us: summary.latencyUs.p99Us };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: {
    'duration-s': { type: 'string', default: '5' }, rounds: { type: 'string', default: '3' }, concurrency: { type: 'string', default: '1,16' },
  } });
  const durationS = Number(values['duration-s']);
  const rounds = Number(values.rounds);
  const levels = String(values.concurrency).split(',').map(Number);
  const certs = makeTestCertificates();
  const modelsDir = createSimModelsDir({ bundled: ['identity'] });
  const work = mkdtempSync(path.join(os.tmpdir(), 'infergate-tls-cost-'));
  const secretFile = path.join(work, 'secret');
  writeFileSync(secretFile, 'bench-fleet-secret-0123456789abcdef\n');
  const setups: Setup[] = [];
  try {
    for (const mode of MODES) setups.push(await startSetup(mode, certs, modelsDir, secretFile));
    const runs = new Map<string, Figures[]>();
    for (let r = 0; r < rounds; r++) {
      for (const concurrency of levels) {
        for (const setup of setups) {
          const figures = runBench(setup, concurrency, durationS, certs.ca, work);
          const key = `${setup.mode}:${concurrency}`;
          runs.set(key, [...(runs.get(key) ?? []), figures]);
          console.error(`round ${r + 1} ${key}: ${figures.reqPerS.toFixed(0)} req/s, p50 ${figures.p50Us} µs, p99 ${figures.p99Us} µs`);
        }
      }
    }
    const rows = [...runs].map(([key, figures]) => {
      const [mode, concurrency] = key.split(':');
      return {
        mode, concurrency: Number(concurrency),
        reqPerS: median(figures.map((f) => f.reqPerS)), p50Us: median(figures.map((f) => f.p50Us)), p99Us: median(figures.map((f) => f.p99Us)),
      };
    });
    const lines = [
      `TLS cost, identity (JSON, FP32[1,16]), client → gateway (--workers 1) → backend, ${rounds} rounds × ${durationS} s, medians; ${os.cpus().length} cores`,
      '',
      '| set-up | concurrency | req/s | p50 µs | p99 µs | req/s vs plain |',
      '|---|---:|---:|---:|---:|---:|',
      ...rows.map((row) => {
        const plain = rows.find((p) => p.mode === 'plain' && p.concurrency === row.concurrency)!;
        return `| ${row.mode} | ${row.concurrency} | ${row.reqPerS.toFixed(0)} | ${row.p50Us.toFixed(0)} | ${row.p99Us.toFixed(0)} | ${((row.reqPerS / plain.reqPerS - 1) * 100).toFixed(1)} % |`;
      }),
    ];
    console.log(lines.join('\n'));
    const resultsDir = path.join(packageRoot(), 'bench', 'results');
    mkdirSync(resultsDir, { recursive: true });
    writeFileSync(path.join(resultsDir, 'tls-cost.json'), `${JSON.stringify({ rounds, durationS, rows }, null, 2)}\n`);
    writeFileSync(path.join(resultsDir, 'tls-cost.md'), `${lines.join('\n')}\n`);
  } finally {
    for (const setup of setups) {
      for (const p of setup.processes) {
        p.signal('SIGKILL');
        await p.exited;
      }
    }
    rmSync(modelsDir, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
    certs.remove();
  }
}

await main();
