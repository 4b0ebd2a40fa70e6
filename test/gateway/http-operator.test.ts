/**
 * The routes outside the protocol on a gateway: heartbeat and leave intake answer bad bodies with
 * 400 in the protocol's error shape, and the operator view's scope parameter.
 */
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { installErrorHandling } from '../../gateway/http/errors.js';
import { poolRoutes, registryRoutes, type HeartbeatIntake } from '../../gateway/http/operator.js';

async function app(intake: HeartbeatIntake) {
  const server = Fastify({ logger: false });
  server.removeAllContentTypeParsers();
  server.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  installErrorHandling(server);
  await server.register(registryRoutes(intake, 1000));
  await server.register(poolRoutes(() => [], () => []));
  return server;
}

describe('gateway operator routes', () => {
  it('a malformed leave or heartbeat is 400 with {error}, a good leave reaches the registry', async () => {
    const left: string[] = [];
    const server = await app({ heartbeat: async () => {}, leave: (nodeId) => { left.push(nodeId); } });
    for (const url of ['/infergate/leave', '/infergate/heartbeat']) {
      const res = await server.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: '{"nodeId": ' });
      expect(res.statusCode, url).toBe(400);
      expect(Object.keys(res.json())).toEqual(['error']);
    }
    const noId = await server.inject({ method: 'POST', url: '/infergate/leave', headers: { 'content-type': 'application/json' }, payload: '{}' });
    expect(noId.statusCode).toBe(400);
    const ok = await server.inject({ method: 'POST', url: '/infergate/leave', headers: { 'content-type': 'application/json' }, payload: '{"nodeId": "n1", "sentAtMs": 5}' });
    expect(ok.statusCode).toBe(200);
    expect(left).toEqual(['n1']);
  });

  it('the operator view answers ?scope=worker with this process, and refuses an unknown scope', async () => {
    const server = await app({ heartbeat: async () => {}, leave: () => {} });
    expect((await server.inject({ url: '/infergate/pools?scope=worker' })).json()).toEqual({ worker: process.pid, pools: [] });
    expect((await server.inject({ url: '/infergate/pools' })).json()).toEqual({ pools: [] });
    expect((await server.inject({ url: '/infergate/pools?scope=everything' })).statusCode).toBe(400);
  });
});
