/**
 * The protocol's wire forms side by side in one run: HTTP JSON, HTTP binary and gRPC, embedded
 * (`infergate serve`) and through a gateway (`gateway --workers 1` → one `backend`), for
 *
 *   small   the identity model, FP32 [1,16], c=16;
 *   4 MB    sim_echo (SIMULATED: echoes INPUT0 after a 0.01 ms sleep, so the wire is what costs),
 *           FP32 [1048576], c=4;
 *
 * and the client library against a raw HTTP client (undici dispatch with a prebuilt body) on the
 * same targets. The load runs in this process (closed loop), the servers in their own; targets take
 * turns in rounds and the figures are medians over rounds. Run from the repository root after the
 * build:
 *
 *   node dist/bench/protocols.js [--duration-s 4] [--rounds 3]
 *
 * Prints a markdown table and writes bench/results/protocols.{json,md}.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { InferenceGrpcClient, InferenceHttpClient, type TensorInput } from '../client/index.js';
import { encodeInferRequest } from '../core/infer-binary.js';
import { BINARY_CONTENT_TYPE, INFERENCE_HEADER_CONTENT_LENGTH } from '../core/http-headers.js';
import { inferRequestToJsonText } from '../core/infer-json.js';
import { packageRoot } from '../core/package-root.js';
import type { InferRequest } from '../core/tensor.js';
import { runClosedLoop, type LoadRun } from './support/load.js';
import { BenchChildren, modelRepositoryWith, startBackend, startGateway, startServe, waitForPool } from './support/processes.js';

const HOST = '127.0.0.1';
const FOUR_MB_ELEMENTS = 1024 * 1024;

interface Workload {
  id: 'small' | '4mb';
  model: string;
  input: TensorInput;
  concurrency: number;
}

type Way = 'http-json raw' | 'http-binary raw' | 'http-json client' | 'http-binary client' | 'grpc client';

interface Target {
  place: 'serve' | 'gateway';
  workload: Workload;
  way: Way;
  issue: () => Promise<unknown>;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** A raw undici POST of a prebuilt body; rejects on a non-200 answer. */
function rawPost(pool: Pool, path: string, body: Buffer | string, headers: Record<string, string>): () => Promise<unknown> {
  return async () => {
    const r = await pool.request({ method: 'POST', path, body, headers });
    const bytes = await r.body.arrayBuffer();
    if (r.statusCode !== 200) throw new Error(`HTTP ${r.statusCode}: ${Buffer.from(bytes).toString().slice(0, 200)}`);
  };
}

function targetsFor(place: Target['place'], httpUrl: string, grpcAddress: string, workloads: Workload[], closers: Array<() => unknown>): Target[] {
  const targets: Target[] = [];
  for (const workload of workloads) {
    const http = new InferenceHttpClient(httpUrl, { connections: workload.concurrency });
    const grpc = new InferenceGrpcClient(grpcAddress);
    const pool = new Pool(httpUrl, { connections: workload.concurrency, pipelining: 1 });
    closers.push(() => http.close(), () => grpc.close(), () => pool.close());
    const request: InferRequest = { modelName: workload.model, inputs: [{ ...workload.input, data: workload.input.data as Float32Array }] };
    const binary = encodeInferRequest(request, { binaryOutputs: true });
    const path = `/v2/models/${workload.model}/infer`;
    const ways: Record<Way, () => Promise<unknown>> = {
      'http-json raw': rawPost(pool, path, inferRequestToJsonText(request), { 'content-type': 'application/json' }),
      'http-binary raw': rawPost(pool, path, binary.body, { 'content-type': BINARY_CONTENT_TYPE, [INFERENCE_HEADER_CONTENT_LENGTH]: String(binary.headerLength) }),
      'http-json client': () => http.infer(workload.model, [workload.input], { encoding: 'json' }),
      'http-binary client': () => http.infer(workload.model, [workload.input]),
      'grpc client': () => grpc.infer(workload.model, [workload.input]),
    };
    for (const [way, issue] of Object.entries(ways) as Array<[Way, () => Promise<unknown>]>) {
      // JSON of a 4 MB tensor measures number formatting, not the protocol: left out.
      if (workload.id === '4mb' && way.startsWith('http-json')) continue;
      targets.push({ place, workload, way, issue });
    }
  }
  return targets;
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { 'duration-s': { type: 'string', default: '4' }, rounds: { type: 'string', default: '3' } } });
  const durationMs = Number(values['duration-s']) * 1000;
  const rounds = Number(values.rounds);
  const children = new BenchChildren();
  children.installExitHandlers();
  const closers: Array<() => unknown> = [];
  try {
    const models = modelRepositoryWith(children, ['identity', 'sim_echo']);
    const simDeclaration = join(models, 'sim_echo', 'model.yaml');
    writeFileSync(simDeclaration, readFileSync(simDeclaration, 'utf8').replace(/^(\s*service_ms:\s*)\S+/m, '$10.01'));
    const grpcArgs = ['--grpc-port', '0', '--grpc-max-message-bytes', String(64 * 1024 * 1024)];
    const serve = await startServe(children, { host: HOST, modelsDir: models, extraArgs: grpcArgs }, 'serve');
    const gateway = await startGateway(children, { host: HOST, extraArgs: ['--workers', '1', ...grpcArgs] }, 'gateway');
    const node = await startBackend(children, gateway.url, { host: HOST, modelsDir: models, extraArgs: grpcArgs }, 'backend');
    await waitForPool(gateway, 'identity', 1, [node]);
    await waitForPool(gateway, 'sim_echo', 1, [node]);
    await Promise.all([serve.grpcStarted(), gateway.grpcStarted()]);

    const workloads: Workload[] = [
      { id: 'small', model: 'identity', concurrency: 16, input: { name: 'INPUT0', datatype: 'FP32', shape: [1, 16], data: Float32Array.from({ length: 16 }, (_, i) => i / 3) } },
      { id: '4mb', model: 'sim_echo', concurrency: 4, input: { name: 'INPUT0', datatype: 'FP32', shape: [FOUR_MB_ELEMENTS], data: Float32Array.from({ length: FOUR_MB_ELEMENTS }, (_, i) => Math.sin(i)) } },
    ];
    const targets = [
      ...targetsFor('serve', serve.url, serve.grpcAddress!, workloads, closers),
      ...targetsFor('gateway', gateway.url, gateway.grpcAddress!, workloads, closers),
    ];
    for (const t of targets) await runClosedLoop(t.issue, t.workload.concurrency, 500); // warm-up
    const runs = new Map<Target, LoadRun[]>(targets.map((t) => [t, []]));
    for (let round = 0; round < rounds; round++) {
      for (const t of targets) {
        const run = await runClosedLoop(t.issue, t.workload.concurrency, durationMs);
        runs.get(t)!.push(run);
        process.stderr.write(`round ${round + 1}/${rounds} ${t.place} ${t.workload.id} ${t.way}: ${(run.requests / run.elapsedS).toFixed(0)} req/s, p99 ${(run.latency.p99Us / 1000).toFixed(2)} ms${run.errors ? `, ${run.errors} errors (${run.firstError})` : ''}\n`);
      }
    }
    const rows = targets.map((t) => {
      const rs = runs.get(t)!;
      return {
        place: t.place, workload: t.workload.id, way: t.way, concurrency: t.workload.concurrency,
        reqPerS: median(rs.map((r) => r.requests / r.elapsedS)),
        p50Ms: median(rs.map((r) => r.latency.p50Us)) / 1000,
        p99Ms: median(rs.map((r) => r.latency.p99Us)) / 1000,
        errors: rs.reduce((a, r) => a + r.errors, 0),
      };
    });
    const md = [
      `# Protocols bench (${new Date().toISOString()})`,
      '',
      `${os.cpus().length} CPUs, Node ${process.version}; closed loop in the bench process, ${rounds} rounds × ${durationMs / 1000} s, medians over rounds.`,
      '',
      '| where | workload | how | c | req/s | p50 ms | p99 ms | errors |',
      '|---|---|---|---|---|---|---|---|',
      ...rows.map((r) => `| ${r.place} | ${r.workload} | ${r.way} | ${r.concurrency} | ${r.reqPerS.toFixed(0)} | ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | ${r.errors} |`),
      '',
    ].join('\n');
    console.log(md);
    const out = join(packageRoot(), 'bench', 'results');
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'protocols.md'), md);
    writeFileSync(join(out, 'protocols.json'), JSON.stringify({ at: new Date().toISOString(), durationMs, rounds, rows }, null, 2));
  } finally {
    for (const close of closers) await close();
    await children.stopAll();
  }
}

main(process.argv.slice(2)).catch((err) => {
  console.error(err);
  process.exit(1);
});
