/**
 * The gateway subset of the hostile-request corpus (cases marked `gateway`) through a real gateway
 * process in front of a real node process, both started with the corpus' limits as flags. The
 * gateway forwards infer bodies undecoded, so a case is answered either by the gateway itself
 * (header size and timing, body size as sent, Content-Type, its own JSON routes) or by the node
 * that decodes the body (depth, strings, UTF-8, shapes, inflating), and passed on unchanged: the
 * client sees the same status and error shape either way. Afterwards both still serve.
 */
import { describe, expect, it } from 'vitest';
import { GrpcTestClient } from '../support/grpc-client.js';
import { REAL_NODE_MODELS, clusterTest, note, waitForNodes } from '../support/cluster.js';
import { HOSTILE_CASES, HOSTILE_FLAGS, expectGrpcCase, expectHttpCase, sendHttpCase, sums16, validBody, type HttpCase } from '../support/hostile-requests.js';

const makeCluster = clusterTest();

/** Bodies only a gateway reads itself: heartbeats from nodes. */
const GATEWAY_ROUTE_CASES: Array<{ name: string; http: HttpCase }> = [
  { name: 'deep JSON heartbeat', http: { path: '/infergate/heartbeat', body: '['.repeat(100_000), status: 400, error: /--max-json-depth/ } },
  { name: 'malformed JSON heartbeat', http: { path: '/infergate/heartbeat', body: '{"node_id":', status: 400, error: /heartbeat/ } },
  { name: 'heartbeat with an id over --max-header-bytes in a header', http: { path: '/infergate/heartbeat', headers: { 'x-request-id': 'r'.repeat(20_000) }, body: '{}', status: 431 } },
];

describe('hostile requests through a gateway in front of a node', () => {
  it('every gateway case gets its exact answer on both doors, and gateway and node keep serving', async () => {
    const cluster = makeCluster({ bundled: REAL_NODE_MODELS });
    const gateway = await cluster.startGateway({ slowStartMs: 0, extraArgs: HOSTILE_FLAGS });
    const node = await cluster.startBackend({ nodeId: 'n1', extraArgs: HOSTILE_FLAGS });
    await waitForNodes(gateway.url, ['n1'], { model: 'add_sub' });
    const { hostname, port } = new URL(gateway.url);
    const client = new GrpcTestClient(await gateway.grpcStarted());
    try {
      // Every gateway worker (one per core) must know the pool before the corpus: eight good answers in a row.
      const normal = { body: JSON.stringify(validBody()), status: 200 };
      const readyBy = Date.now() + 20_000;
      for (let streak = 0; streak < 8;) {
        const answer = await sendHttpCase(hostname, Number(port), normal);
        streak = answer.status === 200 ? streak + 1 : 0;
        if (Date.now() > readyBy) throw new Error(`the gateway did not route add_sub within 20 s: ${answer.body.toString()}`);
      }
      const cases = HOSTILE_CASES.filter((c) => c.gateway);
      const failures: string[] = [];
      const started = performance.now();
      for (const c of [...cases.filter((k) => k.http), ...GATEWAY_ROUTE_CASES]) {
        await expectHttpCase(hostname, Number(port), c.http!).catch((err: Error) => failures.push(`HTTP '${c.name}': ${err.message}`));
      }
      const grpcCases = cases.filter((c) => c.grpc);
      for (const c of grpcCases) {
        await expectGrpcCase(client, c.grpc!).catch((err: Error) => failures.push(`gRPC '${c.name}': ${err.message}`));
      }
      expect(failures).toEqual([]);
      note(`hostile corpus through a gateway: ${cases.filter((c) => c.http).length + GATEWAY_ROUTE_CASES.length} HTTP and ${grpcCases.length} gRPC cases in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      await expectHttpCase(hostname, Number(port), { body: JSON.stringify(validBody()), status: 200 });
      const reply = await client.call('ModelInfer', {
        model_name: 'add_sub', inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'INT32', shape: [1, 16], contents: { int_contents: sums16.map((v) => v / 2) } })),
      });
      expect(reply.outputs.map((o: { name: string }) => o.name).sort()).toEqual(['OUTPUT0', 'OUTPUT1']);
      expect([gateway.running, node.running]).toEqual([true, true]);
    } finally {
      client.close();
    }
  }, 180_000);
});
