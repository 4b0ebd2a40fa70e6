/**
 * Routes outside the KServe protocol: the operator view of the pools and, on a gateway, the
 * intake of backend heartbeats. Bodies are JSON; errors use the protocol's error shape.
 */
import type { FastifyPluginAsync } from 'fastify';
import { invalidArg } from '../../core/errors.js';
import { parseLoadReport } from '../../core/load-report.js';
import type { PoolView } from '../../scheduler/pool.js';
import type { NodeRegistry } from '../../scheduler/registry.js';
import type { MembershipStatus } from '../../scheduler/membership.js';
import { jsonBody } from './server.js';

/**
 * GET /infergate/pools: a gateway's pools, or a node's own models in the same shape. With gateway
 * workers, `view` merges every worker's pools and `?scope=worker` gives the answering worker's own,
 * with its process id.
 */
export const poolRoutes = (
  view: () => PoolView[] | Promise<PoolView[]>,
  localView: () => PoolView[] = view as () => PoolView[],
  /** A gateway's membership source and whether its view is live or stale (etcd down). */
  membership?: () => MembershipStatus,
): FastifyPluginAsync => async (app) => {
  app.get<{ Querystring: { scope?: string } }>('/infergate/pools', async (request) => {
    const scope = request.query.scope;
    if (scope === 'worker') return { worker: process.pid, membership: membership?.(), pools: localView() };
    if (scope !== undefined && scope !== 'gateway') throw invalidArg(`scope must be 'gateway' or 'worker', got '${scope}'`, 'bad_scope');
    return { membership: membership?.(), pools: await view() };
  });
};

/** Heartbeats and leave messages from nodes: into the registry, or into every worker's registry. */
export type HeartbeatIntake = Pick<NodeRegistry, 'heartbeat' | 'leave'>;

export const registryRoutes = (registry: HeartbeatIntake, heartbeatIntervalMs: number): FastifyPluginAsync => async (app) => {
  app.post('/infergate/heartbeat', async (request) => {
    let report;
    try {
      report = parseLoadReport(jsonBody(request.body));
    } catch (err) {
      throw invalidArg(`bad heartbeat: ${(err as Error).message}`, 'bad_heartbeat');
    }
    await registry.heartbeat(report);
    return { ok: true, heartbeat_interval_ms: heartbeatIntervalMs };
  });
  app.post('/infergate/leave', async (request) => {
    let body: { nodeId?: unknown; sentAtMs?: unknown } | undefined;
    try {
      body = jsonBody(request.body);
    } catch (err) {
      throw invalidArg(`bad leave message: ${(err as Error).message}`, 'bad_leave');
    }
    if (typeof body?.nodeId !== 'string') throw invalidArg(`leave expects {"nodeId": "<id>", "sentAtMs": <ms>}`, 'bad_leave');
    registry.leave(body.nodeId, typeof body.sentAtMs === 'number' ? body.sentAtMs : undefined);
    return { ok: true };
  });
};
