/**
 * `infergate bench` as a user runs it: the built CLI against a real `infergate serve` process on
 * loopback (identity and sim_echo), over HTTP JSON, HTTP binary and gRPC, with short windows.
 * Assertions are on what the run reports (throughput above 0, no failures, server columns
 * filled, exit codes), never on how fast this machine is.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, InfergateProcess, cliPath, freePort, waitFor } from '../../../bench/support/cluster-processes.js';
import type { BenchResult } from '../../../bench/perf/result.js';

const PERF_ANALYZER_HEADER = 'Concurrency,Inferences/Second,Client Send,Network+Server Send/Recv,Server Queue,Server Compute Input,Server Compute Infer,Server Compute Output,Client Recv,p50 latency,p90 latency,p95 latency,p99 latency';
const SHORT_WINDOW = ['--warmup-ms', '300', '-p', '1500'];

interface Ran {
  /** The exit code, or the signal that ended it. */
  code: number | string | null;
  stdout: string;
  stderr: string;
}

function bench(args: string[], timeoutMs = 60_000): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath(), 'bench', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? signal, stdout, stderr });
    });
  });
}

function serve(models: string): InfergateProcess {
  return new InfergateProcess('serve', 'serve', ['--models', models, '--http-port', '0', '--grpc-port', '0', '--metrics-port', 'off', '--host', '127.0.0.1']);
}

describe('infergate bench against infergate serve', () => {
  // Cluster only for its temp repository (sim_echo plus identity) and its cleanup.
  const repository = new Cluster({ bundled: ['identity'] });
  const out = mkdtempSync(path.join(tmpdir(), 'infergate-bench-'));
  let server: InfergateProcess;
  let grpcAddress: string;

  beforeAll(async () => {
    server = serve(repository.modelsDir);
    await server.started();
    grpcAddress = await server.grpcStarted();
  });
  afterAll(async () => {
    if (server?.running) server.child.kill('SIGKILL');
    await server?.exited;
    await repository.close();
    rmSync(out, { recursive: true, force: true });
  });

  it.each([
    ['HTTP JSON', () => ['-u', server.url]],
    ['HTTP binary', () => ['-u', server.url, '--binary']],
    ['gRPC', () => ['-i', 'grpc', '-u', grpcAddress]],
  ])('measures identity over %s: throughput, no failures, server queue and compute filled', async (name, target) => {
    const csv = path.join(out, `${name}.csv`);
    const json = path.join(out, `${name}.json`);
    const ran = await bench(['-m', 'identity', ...target(), '--concurrency-range', '1:2', ...SHORT_WINDOW, '-f', csv, '--json', json, '--label', name]);
    expect(ran.code, ran.stderr).toBe(0);
    const result = JSON.parse(readFileSync(json, 'utf8')) as BenchResult;
    expect(result.command).toMatch(/^infergate bench -m identity /);
    expect(result.label).toBe(name);
    expect(result.target.encoding).toBe(name === 'HTTP JSON' ? 'json' : 'binary');
    expect(result.model).toMatchObject({ maxBatchSize: 8, batchSize: 1, inferencesPerRequest: 1, inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 16] }] });
    expect(result.steps.map((s) => s.level)).toEqual([1, 2]);
    for (const step of result.steps) {
      expect(step.summary.inferencesPerSec).toBeGreaterThan(0);
      expect(step.summary.counts).toMatchObject({ failed: 0, timedOut: 0, refused: 0, dropped: 0 });
      expect(step.summary.successRate).toBe(1);
      expect(step.server).not.toBeNull();
      expect(step.server!.requests).toBeGreaterThan(0);
      expect(step.server!.computeInferUs).toBeGreaterThan(0);
      expect(step.server!.queueUs).toBeGreaterThanOrEqual(0);
      expect(step.clientSendUs).toBeGreaterThan(0);
      expect(step.clientRecvUs).toBeGreaterThan(0);
      expect(step.networkServerUs).toBeGreaterThanOrEqual(0);
    }
    const lines = readFileSync(csv, 'utf8').trim().split('\n');
    expect(lines[0]).toBe(`${PERF_ANALYZER_HEADER},Failed,Timed out,Refused,Dropped by client,p99.9 latency,Success rate,Label`);
    expect(lines).toHaveLength(3);
    const cells = lines[1].split(',');
    expect(cells[0]).toBe('1');
    expect(Number(cells[1])).toBeGreaterThan(0);
    // Server Queue, Compute Input, Compute Infer, Compute Output: filled from the statistics extension.
    for (const i of [4, 5, 6, 7]) expect(cells[i]).toMatch(/^\d+$/);
    expect(cells.slice(13, 17)).toEqual(['0', '0', '0', '0']);
    expect(ran.stdout).toMatch(/Concurrency +Infer\/s +Success/);
    expect(ran.stdout.trim().split('\n')).toHaveLength(5); // heading, two header lines, two steps
    expect(ran.stderr).toMatch(/\[2\/2\] concurrency 2: [\d.]+ infer\/s/);
  }, 60_000);

  it('sweeps request rates open loop on sim_echo, defaulting its variable dim with a note', async () => {
    const json = path.join(out, 'rate.json');
    const ran = await bench(['-m', 'sim_echo', '-u', server.url, '--request-rate-range', '25', '--request-distribution', 'constant', '--warmup-ms', '200', '-p', '1000', '--json', json]);
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stderr).toMatch(/note: input 'INPUT0': variable dims \[-1\] set to \[1\]/);
    const step = (JSON.parse(readFileSync(json, 'utf8')) as BenchResult).steps[0];
    // Constant arrivals: exactly 25 requests fall in a 1 s window, whatever the machine.
    expect(step.summary.requests).toBe(25);
    expect(step.summary.counts.ok).toBe(25);
    expect(step.summary.latencyUs!.p50Us).toBeGreaterThanOrEqual(15_000); // sim_echo sleeps 20 ms
    expect(step.server!.computeInferUs).toBeGreaterThan(15_000);
    expect(ran.stdout).toMatch(/Rate req\/s/);
  }, 60_000);

  it('exits 2 with a one-line message for a model the server does not have', async () => {
    const ran = await bench(['-m', 'no_such_model', '-u', server.url]);
    expect(ran.code).toBe(2);
    expect(ran.stderr.trim().split('\n')).toHaveLength(1);
    expect(ran.stderr).toMatch(/^infergate bench: model 'no_such_model' not found at http:\/\/127\.0\.0\.1:\d+/);
    const grpc = await bench(['-m', 'no_such_model', '-i', 'grpc', '-u', grpcAddress]);
    expect(grpc.code).toBe(2);
    expect(grpc.stderr).toMatch(/model 'no_such_model' not found/);
  }, 60_000);

  it('exits 2 for a shape that does not fit and for a bad input file', async () => {
    const shape = await bench(['-m', 'identity', '-u', server.url, '--shape', 'INPUT0:1,16']);
    expect(shape.code).toBe(2);
    expect(shape.stderr).toMatch(/--shape INPUT0:1,16 does not fit input 'INPUT0' of dims \[16\]/);
    const file = await bench(['-m', 'identity', '-u', server.url, '--input-data', path.join(out, 'missing.json')]);
    expect(file.code).toBe(2);
    expect(file.stderr).toMatch(/--input-data .*missing\.json: cannot read it \(ENOENT\)/);
  }, 60_000);

  it('exits 2 on bad arguments and 1 when no server answers', async () => {
    const args = await bench(['-m', 'identity', '--concurrency-range', '0:4']);
    expect(args.code).toBe(2);
    expect(args.stderr).toMatch(/--concurrency-range expects start\[:end\[:step\]\]/);
    const port = await freePort();
    const down = await bench(['-m', 'identity', '-u', `127.0.0.1:${port}`]);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/cannot reach a KServe v2 HTTP server at http:\/\/127\.0\.0\.1:\d+ \(.*ECONNREFUSED/);
  }, 60_000);

  it('counts requests as refused when the server goes down mid-run, and still completes', async () => {
    const doomed = serve(repository.modelsDir);
    try {
      const url = await doomed.started();
      const json = path.join(out, 'down.json');
      const running = bench(['-m', 'identity', '-u', url, '--request-rate-range', '50', '--request-distribution', 'constant', '--warmup-ms', '0', '-p', '3000', '--json', json]);
      // Kill it once the load is flowing (the server has counted some of the bench's inferences).
      await waitFor('the bench\'s load on the server', async () => {
        const answer = await fetch(`${url}/v2/models/identity/stats`);
        const body = (await answer.json()) as { model_stats: Array<{ inference_count: number }> };
        return body.model_stats[0].inference_count >= 20 ? true : undefined;
      }, { timeoutMs: 30_000, intervalMs: 50 });
      doomed.child.kill('SIGKILL');
      const ran = await running;
      expect(ran.code, ran.stderr).toBe(0);
      const step = (JSON.parse(readFileSync(json, 'utf8')) as BenchResult).steps[0];
      expect(step.summary.counts.ok).toBeGreaterThan(0);
      expect(step.summary.counts.refused).toBeGreaterThan(0);
      expect(step.summary.successRate).toBeLessThan(1);
      expect(step.server).toBeNull(); // no statistics after the window: the server is gone
    } finally {
      if (doomed.running) doomed.child.kill('SIGKILL');
      await doomed.exited;
    }
  }, 60_000);

  it('merges earlier --json results by label into one table and a report', async () => {
    const [a, b] = ['card-a', 'card-b'].map((n) => path.join(out, `${n}.json`));
    for (const [file, label, target] of [[a, 'card-a', ['-u', server.url]], [b, 'card-b', ['-i', 'grpc', '-u', grpcAddress]]] as const) {
      const ran = await bench(['-m', 'identity', ...target, '--concurrency-range', '1:2', '--warmup-ms', '100', '-p', '500', '--label', label, '--json', file]);
      expect(ran.code, ran.stderr).toBe(0);
    }
    const report = path.join(out, 'report');
    const ran = await bench(['--compare', a, '--compare', b, '--report', report]);
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stdout).toMatch(/Label +Load +Infer\/s/);
    expect(ran.stdout).toMatch(/card-a +concurrency 1 .* identity http\/json/);
    expect(ran.stdout).toMatch(/card-b +concurrency 2 .* identity grpc/);
    const html = readFileSync(path.join(report, 'bench.html'), 'utf8');
    expect(html).toMatch(/Comparison by label/);
    expect(html).toMatch(/<svg/);
  }, 60_000);
});
