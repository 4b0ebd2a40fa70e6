/**
 * Load on every answer, real processes: a backend's inference answers carry its load figures in
 * the `infergate-load` header (HTTP) and trailing metadata (gRPC), and a gateway's transport hands
 * them on as it reads the answer. After SIGTERM the figures say draining at once, whatever the
 * membership source does.
 */
import { describe, expect, it } from 'vitest';
import { Cancellation } from '../../core/cancellation.js';
import type { InferCall } from '../../core/infer-call.js';
import type { LoadFigures } from '../../core/load-header.js';
import { RemoteBackend } from '../../transport/remote-backend.js';
import { clusterTest } from '../support/cluster.js';
import { encodeInferRequestMessage } from '../support/grpc-client.js';

const newCluster = clusterTest();

const httpCall = (): InferCall => ({
  model: 'sim_echo', requestId: 'h', deadlineMs: Date.now() + 10_000, cancellation: new Cancellation(),
  payload: { format: 'kserve-http', contentType: 'application/json', body: Buffer.from(JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [4], data: [1, 2, 3, 4] }] })) },
});

const grpcCall = (): InferCall => ({
  model: 'sim_echo', version: '1', requestId: 'g', deadlineMs: Date.now() + 10_000, cancellation: new Cancellation(),
  payload: {
    format: 'kserve-grpc',
    body: Buffer.from(encodeInferRequestMessage({
      model_name: 'sim_echo', model_version: '1', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [4], contents: { fp32_contents: [1, 2, 3, 4] } }],
    })),
  },
});

describe('load figures on every answer (real processes)', () => {
  it('arrive with HTTP and gRPC answers, and say draining from SIGTERM on', async () => {
    const cluster = newCluster();
    await cluster.startGateway({ slowStartMs: 0, workers: 1 });
    // A long grace: the node keeps answering (draining) for a while after SIGTERM.
    const [node] = await cluster.startBackends([{ nodeId: 'b1', simCards: 'medium:1', drainGraceMs: 1_500 }]);
    const grpcAddress = await node.grpcStarted();
    const seen: LoadFigures[] = [];
    const backend = new RemoteBackend('b1', node.url, { grpcTarget: () => grpcAddress, onLoad: (load) => seen.push(load) });
    try {
      for (let i = 0; i < 5; i++) expect((await backend.infer(httpCall(), '1')).status).toBe(200);
      expect(seen).toHaveLength(5);
      const last = seen[4];
      expect(last).toMatchObject({ state: 'ready', slots: expect.any(Number) });
      expect(last.slots).toBeGreaterThan(0);
      // The figures describe the node's recent past: the requests just answered are counted.
      expect(last.completedPerSec).toBeGreaterThan(0);
      expect(last.serviceTimeMs).toBeGreaterThan(0);
      expect(last.windowMs).toBeGreaterThan(0);

      expect((await backend.infer(grpcCall(), '1')).status).toBe(200);
      expect(seen).toHaveLength(6);
      expect(seen[5].state).toBe('ready');

      node.signal('SIGTERM');
      await new Promise((r) => setTimeout(r, 200));
      expect((await backend.infer(httpCall(), '1')).status).toBe(200);
      expect((await backend.infer(grpcCall(), '1')).status).toBe(200);
      expect(seen.slice(6).map((l) => l.state)).toEqual(['draining', 'draining']);
      expect(await node.exited).toEqual({ code: 0, signal: null });
    } finally {
      await backend.close();
    }
  }, 30_000);
});
