/**
 * Graceful shutdown of a gateway (real processes): on SIGTERM a gateway turns unready, refuses new
 * requests (connection refused, or 503 on a kept-alive connection), lets the requests in flight
 * finish within --shutdown-timeout-ms and exits 0; a request still running at that deadline is cut
 * and the gateway exits 1. The slow requests are sim_echo on simulated cards, with a long
 * service_ms and enough instances to run them all at once.
 */
import { describe, expect, it } from 'vitest';
import { Client } from 'undici';
import { InfergateProcess, clusterTest, note, sleep, waitForNodes, type GatewayProcess } from '../support/cluster.js';
import { GrpcTestClient } from '../support/grpc-client.js';

const newCluster = clusterTest();
const BODY = JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1], data: [1] }] });

interface Answer { status: number; ms: number; doneAt: number; error?: string }

/** One infer request on its own connection, so that a shutdown closing idle connections spares it. */
async function infer(url: string): Promise<Answer> {
  const client = new Client(url, { headersTimeout: 60_000, bodyTimeout: 60_000 });
  const started = performance.now();
  try {
    const response = await client.request({ method: 'POST', path: '/v2/models/sim_echo/infer', body: BODY, headers: { 'content-type': 'application/json' } });
    await response.body.text();
    return { status: response.statusCode, ms: performance.now() - started, doneAt: performance.now() };
  } catch (err) {
    return { status: 0, ms: performance.now() - started, doneAt: performance.now(), error: (err as Error & { code?: string }).code ?? (err as Error).message };
  } finally {
    await client.destroy();
  }
}

async function ready(url: string): Promise<number | string> {
  const client = new Client(url);
  try {
    const response = await client.request({ method: 'GET', path: '/v2/health/ready' });
    await response.body.text();
    return response.statusCode;
  } catch (err) {
    return (err as Error & { code?: string }).code ?? 'error';
  } finally {
    await client.destroy();
  }
}

/** A gateway (with `args`) in front of one sim node whose requests take `serviceMs`, `inFlight` of them at once. */
async function slowCluster(serviceMs: number, instances: number, args: string[], workers = 1): Promise<GatewayProcess> {
  const cluster = newCluster({ serviceMs, instances });
  const gateway = await cluster.startGateway({ slowStartMs: 0, workers, extraArgs: args });
  await cluster.startBackend({ nodeId: 'n1', simCards: 'medium:1' });
  await waitForNodes(gateway.url, ['n1']);
  return gateway;
}

/** One ModelInfer on the gateway's gRPC door; status 200 for OK, else the gRPC code's negative. */
async function inferGrpc(address: string): Promise<Answer> {
  const client = new GrpcTestClient(address);
  const started = performance.now();
  try {
    await client.call('ModelInfer', { model_name: 'sim_echo', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1], contents: { fp32_contents: [1] } }] });
    return { status: 200, ms: performance.now() - started, doneAt: performance.now() };
  } catch (err) {
    return { status: 0, ms: performance.now() - started, doneAt: performance.now(), error: `grpc ${(err as { code?: number }).code}` };
  } finally {
    client.close();
  }
}

/** Fires `n` slow requests (`grpc` of them on the gRPC door), waits until the node holds them, then SIGTERMs the gateway. */
async function shutdownUnderLoad(gateway: GatewayProcess, n: number, grpc = 0) {
  const inFlight = Array.from({ length: n }, (_, i) => (i < grpc ? inferGrpc(gateway.grpcAddress) : infer(gateway.url)));
  await sleep(600);
  gateway.signal('SIGTERM');
  const signalledAt = gateway.signalledAtMs.get('SIGTERM')!;
  await sleep(150);
  const readyAfter = await ready(gateway.url);
  const late = await infer(gateway.url);
  const answers = await Promise.all(inFlight);
  const exit = await gateway.exited;
  return { answers, late, readyAfter, exit, exitMs: performance.now() - signalledAt };
}

describe('SIGTERM to a gateway with slow requests in flight (real processes)', () => {
  it('answers every request in flight (HTTP and gRPC), refuses new ones, exits 0 within the deadline', async () => {
    const serviceMs = 2_500;
    const n = 8;
    const gateway = await slowCluster(serviceMs, n, ['--shutdown-timeout-ms', '15000']);
    const { answers, late, readyAfter, exit, exitMs } = await shutdownUnderLoad(gateway, n, 2);
    const lastAnswerMs = Math.max(...answers.map((a) => a.doneAt)) - gateway.signalledAtMs.get('SIGTERM')!;
    note(`gateway shutdown: ${n} requests (2 on gRPC, service_ms ${serviceMs}) in flight, all ${answers.filter((a) => a.status === 200).length} answered 200 (slowest ${Math.max(...answers.map((a) => a.ms)).toFixed(0)} ms); ` +
      `after SIGTERM ready → ${readyAfter}, a new request → ${late.status || late.error}; last answer ${lastAnswerMs.toFixed(0)} ms after SIGTERM, exit ${exit.code} after ${exitMs.toFixed(0)} ms`);

    expect(answers.map((a) => a.status)).toEqual(Array(n).fill(200));
    expect(late.status === 503 || late.error === 'ECONNREFUSED').toBe(true);
    expect(readyAfter === 503 || readyAfter === 'ECONNREFUSED').toBe(true);
    expect(exit).toEqual({ code: 0, signal: null });
    // It exited once the last answer was out, and well before the deadline (simulated cards run
    // sim_echo faster or slower than service_ms: the answers' own times are the reference).
    expect(lastAnswerMs).toBeGreaterThan(0);
    expect(exitMs).toBeGreaterThanOrEqual(lastAnswerMs);
    expect(exitMs).toBeLessThan(lastAnswerMs + 3_000);
    expect(gateway.messages().some((m) => /^gateway: stopped after \d+ ms, every request answered/.test(m))).toBe(true);
  }, 60_000);

  it('cuts a request slower than --shutdown-timeout-ms and exits 1 at the deadline', async () => {
    const deadlineMs = 1_000;
    const gateway = await slowCluster(6_000, 2, ['--shutdown-timeout-ms', String(deadlineMs)]);
    const { answers, exit, exitMs } = await shutdownUnderLoad(gateway, 2);
    note(`gateway shutdown past the deadline: ${answers.map((a) => a.status || a.error).join(', ')} after ${answers.map((a) => a.ms.toFixed(0)).join(', ')} ms; exit ${exit.code} after ${exitMs.toFixed(0)} ms`);

    expect(answers.every((a) => a.status === 0)).toBe(true);
    expect(exit.code).toBe(1);
    expect(exitMs).toBeGreaterThanOrEqual(deadlineMs - 50);
    expect(exitMs).toBeLessThan(deadlineMs + 3_000);
    expect(gateway.logs().some((l) => l.includes('2 request(s) still in flight at the shutdown deadline (--shutdown-timeout-ms = 1000) were cut'))).toBe(true);
  }, 60_000);

  it('with --workers 2, every worker drains: every request in flight answered, exit 0', async () => {
    const n = 6;
    const gateway = await slowCluster(2_500, n, ['--shutdown-timeout-ms', '15000'], 2);
    const { answers, late, exit, exitMs } = await shutdownUnderLoad(gateway, n);
    note(`gateway (2 workers) shutdown: ${n} in flight → ${answers.map((a) => a.status || a.error).join(', ')}; a new request → ${late.status || late.error}; exit ${exit.code} after ${exitMs.toFixed(0)} ms`);

    expect(answers.map((a) => a.status)).toEqual(Array(n).fill(200));
    expect(late.status === 503 || late.error === 'ECONNREFUSED').toBe(true);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(exitMs).toBeLessThan(Math.max(...answers.map((a) => a.doneAt)) - gateway.signalledAtMs.get('SIGTERM')! + 3_000);
  }, 60_000);

  it('serve (the embedded default) drains the same way: every request in flight answered, exit 0; one past its deadline cut, exit 1', async () => {
    for (const [serviceMs, n, deadlineMs, expectCut] of [[2_500, 6, 15_000, false], [6_000, 2, 1_000, true]] as const) {
      const cluster = newCluster({ serviceMs, instances: n });
      const serve = new InfergateProcess('serve', 'serve', [
        '--models', cluster.modelsDir, '--sim-cards', 'medium:1', '--http-port', '0', '--grpc-port', '0', '--metrics-port', 'off',
        '--host', '127.0.0.1', '--shutdown-timeout-ms', String(deadlineMs),
      ]);
      try {
        await serve.started();
        await serve.grpcStarted();
        const { answers, late, readyAfter, exit, exitMs } = await shutdownUnderLoad(serve as GatewayProcess, n, expectCut ? 0 : 1);
        note(`serve shutdown (deadline ${deadlineMs} ms): ${n} in flight → ${answers.map((a) => a.status || a.error).join(', ')}; ready → ${readyAfter}, a new request → ${late.status || late.error}; exit ${exit.code} after ${exitMs.toFixed(0)} ms`);
        if (expectCut) {
          expect(answers.every((a) => a.status === 0)).toBe(true);
          expect(exit.code).toBe(1);
          expect(exitMs).toBeGreaterThanOrEqual(deadlineMs - 50);
          expect(exitMs).toBeLessThan(deadlineMs + 3_000);
        } else {
          expect(answers.map((a) => a.status)).toEqual(Array(n).fill(200));
          expect(late.status === 503 || late.error === 'ECONNREFUSED').toBe(true);
          expect(readyAfter === 503 || readyAfter === 'ECONNREFUSED').toBe(true);
          expect(exit).toEqual({ code: 0, signal: null });
          expect(exitMs).toBeLessThan(Math.max(...answers.map((a) => a.doneAt)) - serve.signalledAtMs.get('SIGTERM')! + 3_000);
        }
      } finally {
        if (serve.running) serve.signal('SIGKILL');
        await serve.exited;
      }
    }
  }, 90_000);
});
