/**
 * The hostile-request corpus (test/support/hostile-requests.ts) against a real embedded node on
 * loopback: its HTTP door on a socket (the raw infer entry and fastify's routes) and its gRPC door.
 * Every case gets its exact answer (a 4xx in the protocol's error shape, or a valid 200), never a
 * 5xx; afterwards the node still answers a normal infer correctly, and its memory has not grown
 * beyond a bound.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGrpcServer, type GrpcDoor } from '../../gateway/grpc/server.js';
import { startEmbeddedServer, type EmbeddedServer } from '../support/embedded-server.js';
import { GrpcTestClient } from '../support/grpc-client.js';
import {
  HOSTILE_CASES, HOSTILE_GRPC_MAX_MESSAGE_BYTES, HOSTILE_LIMITS, INFER, expectGrpcCase, expectHttpCase, sums16, validBody,
} from '../support/hostile-requests.js';

/** Growth of this process's RSS over the corpus: a leak of the bodies (tens of MiB each) would pass it quickly. */
const RSS_GROWTH_BOUND_BYTES = 200 * 1024 * 1024;

let server: EmbeddedServer;
let door: GrpcDoor;
let client: GrpcTestClient;
let port: number;

beforeAll(async () => {
  server = await startEmbeddedServer({ limits: HOSTILE_LIMITS });
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  port = (server.app.server.address() as { port: number }).port;
  door = await startGrpcServer({
    service: server.node.service, host: '127.0.0.1', port: 0, maxMessageBytes: HOSTILE_GRPC_MAX_MESSAGE_BYTES, maxMetadataBytes: HOSTILE_LIMITS.maxHeaderBytes,
  });
  client = new GrpcTestClient(`127.0.0.1:${door.port}`);
}, 60_000);

afterAll(async () => {
  client?.close();
  await door?.close();
  await server?.close();
});

const httpCases = HOSTILE_CASES.filter((c) => c.http);
const grpcCases = HOSTILE_CASES.filter((c) => c.grpc);

describe('hostile requests at an embedded node', () => {
  it('the corpus holds at least 60 distinct HTTP requests and has names that are unique', () => {
    expect(new Set(HOSTILE_CASES.map((c) => c.name)).size).toBe(HOSTILE_CASES.length);
    expect(httpCases.length).toBeGreaterThanOrEqual(60);
    console.log(`[hostile] corpus: ${HOSTILE_CASES.length} cases, ${httpCases.length} HTTP, ${grpcCases.length} gRPC, ${HOSTILE_CASES.filter((c) => c.gateway).length} through a gateway`);
  });

  it('every case gets its exact answer on both doors, the node keeps serving and its RSS stays bounded', async () => {
    const normal = { body: JSON.stringify(validBody()), status: 200 };
    await expectHttpCase('127.0.0.1', port, normal);
    const rssBefore = process.memoryUsage().rss;
    const failures: string[] = [];
    const started = performance.now();
    for (const c of httpCases) {
      await expectHttpCase('127.0.0.1', port, c.http!).catch((err: Error) => failures.push(`HTTP '${c.name}': ${err.message}`));
    }
    const httpMs = performance.now() - started;
    const grpcStarted = performance.now();
    for (const c of grpcCases) {
      await expectGrpcCase(client, c.grpc!).catch((err: Error) => failures.push(`gRPC '${c.name}': ${err.message}`));
    }
    const grpcMs = performance.now() - grpcStarted;
    expect(failures).toEqual([]);
    // Still serving, on both doors, with the right answer.
    await expectHttpCase('127.0.0.1', port, normal);
    const reply = await client.call('ModelInfer', {
      model_name: 'add_sub', inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'INT32', shape: [1, 16], contents: { int_contents: sums16.map((v) => v / 2) } })),
    });
    expect(reply.outputs.map((o: { name: string }) => o.name).sort()).toEqual(['OUTPUT0', 'OUTPUT1']);
    const growth = process.memoryUsage().rss - rssBefore;
    console.log(`[hostile] embedded node: ${httpCases.length} HTTP cases in ${(httpMs / 1000).toFixed(1)} s, ${grpcCases.length} gRPC cases in ${(grpcMs / 1000).toFixed(1)} s, RSS ${growth >= 0 ? '+' : ''}${(growth / 2 ** 20).toFixed(0)} MiB`);
    expect(growth).toBeLessThan(RSS_GROWTH_BOUND_BYTES);
    expect(server.log.filter((line) => /internal|failed:/i.test(line))).toEqual([]);
  }, 240_000);

  it('a deep body reaches neither JSON.parse nor a 500 through the fastify route either (app.inject)', async () => {
    const answer = await server.app.inject({ method: 'POST', url: INFER, headers: { 'content-type': 'application/json' }, payload: `{"inputs":${'['.repeat(100_000)}` });
    expect(answer.statusCode).toBe(400);
    expect(answer.json()).toEqual({ error: `JSON body nests deeper than the configured limit (--max-json-depth = ${HOSTILE_LIMITS.maxJsonDepth})` });
    const typed = await server.app.inject({ method: 'POST', url: INFER, headers: { 'content-type': 'multipart/form-data; boundary=x' }, payload: JSON.stringify(validBody()) });
    expect(typed.statusCode).toBe(415);
  });
});
