/**
 * A backend's load probe and its SIMULATED fault controls, over real sockets: what the `prequal`
 * policy asks per request, and what the routing bench's scenarios turn on and off.
 */
import { describe, expect, it } from 'vitest';
import { RemoteBackend } from '../../transport/remote-backend.js';
import { clusterTest, httpJson } from '../support/cluster.js';

const newCluster = clusterTest();

describe('load probe and fault controls of a backend (real processes)', () => {
  it('answers a probe, fails requests at the error rate it is given, and refuses a bad rate', async () => {
    const cluster = newCluster();
    await cluster.startGateway({ slowStartMs: 0 });
    const [node] = await cluster.startBackends([{ nodeId: 'b1', simCards: 'medium:1' }]);
    const backend = new RemoteBackend('b1', node.url);
    try {
      expect(await backend.probe()).toEqual({ inFlight: 0, latencyMs: 0 });
      const infer = () => httpJson(`${node.url}/v2/models/sim_echo/infer`, 'POST', { inputs: [{ name: 'INPUT0', shape: [1], datatype: 'FP32', data: [1] }] });
      expect((await infer()).status).toBe(200);
      // After one execution the probe's estimate is that execution's time (20 ms / coefficient 2).
      const probed = await backend.probe();
      expect(probed.inFlight).toBe(0);
      expect(probed.latencyMs).toBeGreaterThanOrEqual(9);

      expect((await httpJson(`${node.url}/infergate/sim`, 'PUT', { error_rate: 1 })).body).toEqual({ slowdown: 1, error_rate: 1 });
      const failed = await infer();
      expect(failed.status).toBe(500);
      expect(JSON.stringify(failed.body)).toContain('SIMULATED');
      expect((await httpJson(`${node.url}/infergate/sim`, 'PUT', { error_rate: 0 })).status).toBe(200);
      expect((await infer()).status).toBe(200);

      for (const bad of [{ error_rate: 2 }, { slowdown: 0 }, {}]) {
        const answer = await httpJson<{ error: string }>(`${node.url}/infergate/sim`, 'PUT', bad);
        expect(answer.status).toBe(400);
        expect(answer.body.error).toMatch(/error_rate/);
      }
    } finally {
      await backend.close();
    }
  });
});
