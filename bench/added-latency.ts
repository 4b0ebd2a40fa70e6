/**
 * The gateway's added latency in the form users compare: at a fixed open-loop request rate, the
 * latency percentiles of one node called directly, through nginx (1 worker, keep-alive upstream)
 * and through `infergate gateway --workers 1`, side by side in one run; added = through − direct
 * at each percentile. Open loop (Poisson arrivals, latency from each request's scheduled send time),
 * so a proxy that stalls pays for the queue it causes. Targets take turns in rounds; a target's
 * percentiles are taken over all its rounds' requests.
 *
 *   node dist/bench/added-latency.js [--rate 500] [--duration-s 5] [--rounds 3]
 *
 * Needs nginx. Writes bench/results/added-latency.{md,json}.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { packageRoot } from '../core/package-root.js';
import { startNginx } from './support/nginx.js';
import { percentile } from './support/load.js';
import { runOpenLoop, type OpenLoopRecord, type OpenLoopRequest } from './support/open-loop.js';
import { BenchChildren, modelRepositoryWith, startBackend, startGateway, waitForPool } from './support/processes.js';

const HOST = '127.0.0.1';
const PERCENTILES = [0.5, 0.95, 0.99] as const;

function identityRequest(): OpenLoopRequest {
  const data = Array.from({ length: 16 }, (_, i) => i + 0.5);
  return {
    path: '/v2/models/identity/infer',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 16], data }] }),
  };
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { rate: { type: 'string', default: '500' }, 'duration-s': { type: 'string', default: '5' }, rounds: { type: 'string', default: '3' } },
  });
  const rate = Number(values.rate);
  const durationMs = Number(values['duration-s']) * 1000;
  const rounds = Number(values.rounds);
  const children = new BenchChildren();
  children.installExitHandlers();
  try {
    const models = modelRepositoryWith(children, ['identity']);
    const gateway = await startGateway(children, { host: HOST, extraArgs: ['--workers', '1'] }, 'gateway --workers 1');
    const node = await startBackend(children, gateway.url, { host: HOST, modelsDir: models }, 'backend');
    await waitForPool(gateway, 'identity', 1, [node]);
    const nginx = await startNginx(children, node.url, HOST);
    const targets = [
      { id: 'direct', label: 'node called directly', url: node.url },
      { id: 'nginx', label: 'nginx → node', url: nginx.url },
      { id: 'gateway', label: 'gateway → node', url: gateway.url },
    ];
    const request = identityRequest();
    const latencies = new Map<string, number[]>(targets.map((t) => [t.id, []]));
    const lost = new Map<string, number>(targets.map((t) => [t.id, 0]));
    for (const t of targets) await runOpenLoop({ url: t.url, request, durationMs: 1000, rateAt: () => rate, requestTimeoutMs: 10_000 }); // warm-up
    for (let round = 0; round < rounds; round++) {
      for (const t of targets) {
        const { records } = await runOpenLoop({ url: t.url, request, durationMs, rateAt: () => rate, requestTimeoutMs: 10_000 });
        const ok = records.filter((r: OpenLoopRecord) => r.outcome === 'ok');
        latencies.get(t.id)!.push(...ok.map((r) => r.endMs - r.scheduledMs));
        lost.set(t.id, lost.get(t.id)! + records.length - ok.length);
        process.stderr.write(`round ${round + 1}/${rounds} ${t.label}: ${ok.length} ok, ${records.length - ok.length} lost\n`);
      }
    }
    const figures = targets.map((t) => {
      const sorted = latencies.get(t.id)!.sort((a, b) => a - b);
      return { ...t, requests: sorted.length, lost: lost.get(t.id)!, percentilesMs: PERCENTILES.map((q) => percentile(sorted, q)) };
    });
    const direct = figures[0].percentilesMs;
    const fmt = (v: number) => v.toFixed(3);
    const lines = [
      `# Added latency (${new Date().toISOString()})`,
      '',
      `Command: \`node dist/bench/added-latency.js --rate ${rate} --duration-s ${durationMs / 1000} --rounds ${rounds}\`. ${os.cpus().length}× ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}.`,
      `identity model (FP32 [1,16], JSON) on one \`infergate backend\`; open loop at ${rate} req/s (Poisson), latency from the scheduled send time; ${rounds} rounds × ${durationMs / 1000} s per target, taking turns.`,
      '',
      '| target | requests | lost | p50 ms | p95 ms | p99 ms | added p50 ms | added p95 ms | added p99 ms |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
      ...figures.map((f) => `| ${f.label} | ${f.requests} | ${f.lost} | ${f.percentilesMs.map(fmt).join(' | ')} | ${f.id === 'direct' ? '– | – | –' : f.percentilesMs.map((v, i) => fmt(v - direct[i])).join(' | ')} |`),
      '',
    ];
    const md = lines.join('\n');
    console.log(md);
    const out = join(packageRoot(), 'bench', 'results');
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'added-latency.md'), md);
    writeFileSync(join(out, 'added-latency.json'), JSON.stringify({ at: new Date().toISOString(), rate, durationMs, rounds, figures: figures.map(({ url: _url, ...f }) => f) }, null, 2));
    await nginx.stop();
  } finally {
    await children.stopAll();
  }
}

main(process.argv.slice(2)).catch((err) => {
  console.error(err);
  process.exit(1);
});
