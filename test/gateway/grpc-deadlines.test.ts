/**
 * gRPC deadlines and cancellation at a node: a SIMULATED model with one instance and a long
 * service time, so a second request waits in the queue. A gRPC deadline that passes while it
 * waits, or a client that cancels the call, calls the request off: it leaves the queue and never
 * runs (the node's execution count says so), and the failure is counted under its reason.
 */
import { rmSync } from 'node:fs';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { counterTotal, createSimModelsDir, sleep, waitFor } from '../../bench/support/cluster-processes.js';
import type { EmbeddedServer } from '../support/embedded-server.js';
import { bytesOf, failure, float32sOf, GrpcTestClient } from '../support/grpc-client.js';
import { startGrpcNode, type GrpcNode } from '../support/grpc-node.js';

/** Long enough that the second request surely waits behind the first. */
const SIM_SERVICE_MS = 800;

let modelsDir: string;
let node: GrpcNode;
let server: EmbeddedServer;
let client: GrpcTestClient;

beforeAll(async () => {
  modelsDir = createSimModelsDir({ serviceMs: SIM_SERVICE_MS, instances: 1 });
  node = await startGrpcNode({ modelsDir });
  ({ server, client } = node);
});

afterAll(async () => {
  await node?.close();
  if (modelsDir) rmSync(modelsDir, { recursive: true, force: true });
});

function simRequest(id: string, values = [1, 2, 3, 4]) {
  return { model_name: 'sim_echo', id, inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [values.length] }], raw_input_contents: [bytesOf(Float32Array.from(values))] };
}

async function metric(family: string, reason?: string): Promise<number> {
  const text = await server.node.metrics.registry.metrics();
  if (reason === undefined) return counterTotal(text, family);
  return counterTotal(text.split('\n').filter((line) => !line.startsWith(family) || line.includes(`reason="${reason}"`)).join('\n'), family);
}


/** Starts a request that holds the model's only instance; resolves once it runs, with its answer to come. */
async function occupyInstance(id: string): Promise<{ answer: Promise<{ raw_output_contents: Buffer[] }> }> {
  const answer = client.call('ModelInfer', simRequest(id, [7, 8]));
  await waitFor('the first request to run', () => (server.node.host.meter.inFlight === 1 && server.node.host.meter.queueDepth === 0 ? true : undefined), { timeoutMs: 5_000, intervalMs: 5 });
  return { answer };
}

describe('gRPC deadlines and cancellation at a node', () => {
  it('a deadline that passes while the request is queued: DEADLINE_EXCEEDED at once, and the request never runs', async () => {
    const executionsBefore = await metric('infergate_execution_count_total');
    const endedBefore = await metric('infergate_request_failure_total', 'timeout') + await metric('infergate_request_failure_total', 'client_closed');
    const first = await occupyInstance('occupies');
    const sentAt = performance.now();
    const err = await failure(client.call('ModelInfer', simRequest('expires'), { deadline: Date.now() + 200 }));
    expect(err.code).toBe(status.DEADLINE_EXCEEDED);
    expect(performance.now() - sentAt).toBeLessThan(SIM_SERVICE_MS - 200);
    await waitFor('the expired request to leave the queue', () => (server.node.host.meter.queueDepth === 0 && server.node.host.meter.inFlight === 1 ? true : undefined), { timeoutMs: 2_000, intervalMs: 5 });
    expect(float32sOf((await first.answer).raw_output_contents[0])).toEqual([7, 8]);
    // Had the expired request stayed queued, it would be running now.
    await sleep(50);
    expect(server.node.host.meter.inFlight).toBe(0);
    expect(await metric('infergate_execution_count_total') - executionsBefore).toBe(1);
    // Counted once: as 'timeout' when the server's own timer fired first, as 'client_closed' when
    // grpc-js ended the call at the client's deadline first (on a busy machine either can win).
    const ended = await metric('infergate_request_failure_total', 'timeout') + await metric('infergate_request_failure_total', 'client_closed');
    expect(ended - endedBefore).toBe(1);
  });

  it('a call the client cancels while queued: the request leaves the queue and never runs', async () => {
    const executionsBefore = await metric('infergate_execution_count_total');
    const closedBefore = await metric('infergate_request_failure_total', 'client_closed');
    const first = await occupyInstance('occupies-again');
    let cancel!: () => void;
    const cancelled = failure(client.call('ModelInfer', simRequest('cancelled'), { onCall: (call) => (cancel = () => call.cancel()) }));
    await waitFor('the second request to be queued', () => (server.node.host.meter.queueDepth === 1 ? true : undefined), { timeoutMs: 2_000, intervalMs: 5 });
    cancel();
    expect((await cancelled).code).toBe(status.CANCELLED);
    await waitFor('the cancelled request to leave the queue', () => (server.node.host.meter.queueDepth === 0 ? true : undefined), { timeoutMs: 2_000, intervalMs: 5 });
    await first.answer;
    await sleep(50);
    expect(server.node.host.meter.inFlight).toBe(0);
    expect(await metric('infergate_execution_count_total') - executionsBefore).toBe(1);
    expect(await metric('infergate_request_failure_total', 'client_closed') - closedBefore).toBe(1);
  });

  it('a deadline longer than the work: the answer comes', async () => {
    const res = await client.call('ModelInfer', simRequest('in-time', [5]), { deadline: Date.now() + 10 * SIM_SERVICE_MS });
    expect(float32sOf(res.raw_output_contents[0])).toEqual([5]);
  });
});
