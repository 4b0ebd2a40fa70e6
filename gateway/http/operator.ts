/**
 * Routes outside the KServe protocol: the operator view of the pools and, on a gateway, the
 * intake of backend heartbeats. Bodies are JSON; errors use the protocol's error shape.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { invalidArg } from '../../core/errors.js';
import { parseLoadReport } from '../../core/load-report.js';
import {
  NODE_ID_HEADER, NODE_SIGNATURE_HEADER, ReplayGuard, verifyNode, type SignatureRefusal,
} from '../../core/node-signature.js';
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

/** A gateway started with a node secret: every heartbeat and leave must be signed with it. */
export interface NodeAuthentication {
  secret: Buffer;
  /** Told of each refused message (to count and log it); the secret is not passed on. */
  onRefused: (reason: SignatureRefusal, nodeId: string | undefined, path: string) => void;
  clock?: () => number;
}

export const registryRoutes = (
  registry: HeartbeatIntake, heartbeatIntervalMs: number, auth?: NodeAuthentication,
): FastifyPluginAsync => async (app) => {
  const check = auth ? signatureCheck(auth) : undefined;
  app.post('/infergate/heartbeat', async (request, reply) => {
    const signedBy = check?.(request.headers, request.body, request.url);
    if (signedBy?.refused) return refuse(reply, signedBy.refused);
    let report;
    try {
      report = parseLoadReport(jsonBody(request.body));
    } catch (err) {
      throw invalidArg(`bad heartbeat: ${(err as Error).message}`, 'bad_heartbeat');
    }
    const late = signedBy?.accept(report.nodeId);
    if (late) return refuse(reply, late);
    await registry.heartbeat(report);
    return { ok: true, heartbeat_interval_ms: heartbeatIntervalMs };
  });
  app.post('/infergate/leave', async (request, reply) => {
    const signedBy = check?.(request.headers, request.body, request.url);
    if (signedBy?.refused) return refuse(reply, signedBy.refused);
    let body: { nodeId?: unknown; sentAtMs?: unknown } | undefined;
    try {
      body = jsonBody(request.body);
    } catch (err) {
      throw invalidArg(`bad leave message: ${(err as Error).message}`, 'bad_leave');
    }
    if (typeof body?.nodeId !== 'string') throw invalidArg(`leave expects {"nodeId": "<id>", "sentAtMs": <ms>}`, 'bad_leave');
    const late = signedBy?.accept(body.nodeId);
    if (late) return refuse(reply, late);
    registry.leave(body.nodeId, typeof body.sentAtMs === 'number' ? body.sentAtMs : undefined);
    return { ok: true };
  });
};

/** What a refusal tells the node: enough to fix its configuration, nothing about the secret. */
const REFUSAL_MESSAGES: Record<SignatureRefusal, string> = {
  missing: `node registration needs a signature: start the backend with the gateway's node secret (--node-secret-file or INFERGATE_NODE_SECRET)`,
  malformed: `malformed ${NODE_SIGNATURE_HEADER} header`,
  bad_signature: 'bad node signature: the backend\'s node secret is not this gateway\'s',
  stale: 'node signature outside the accepted time window (clocks apart, or a replayed message)',
  replayed: 'node signature already used (a replayed message)',
  node_mismatch: `the body's node id is not the one in ${NODE_ID_HEADER}`,
};

function refuse(reply: FastifyReply, reason: SignatureRefusal) {
  return reply.code(401).send({ error: REFUSAL_MESSAGES[reason] });
}

interface SignedBy {
  /** Set when the signature itself was refused. */
  refused?: SignatureRefusal;
  /** Once the body names its node: undefined when the message is accepted, else why not. */
  accept(bodyNodeId: string): SignatureRefusal | undefined;
}

/**
 * Checks the signature over the raw body before anything is parsed, then (once the body names its
 * node) that the body speaks for the node that signed and that the signed time is new. The replay
 * guard learns a time only from a message accepted whole.
 */
function signatureCheck(auth: NodeAuthentication) {
  const replay = new ReplayGuard();
  const clock = auth.clock ?? Date.now;
  return (headers: FastifyRequest['headers'], body: unknown, path: string): SignedBy => {
    const nodeId = headers[NODE_ID_HEADER];
    const signature = headers[NODE_SIGNATURE_HEADER];
    const now = clock();
    const refused = (reason: SignatureRefusal, id: string | undefined): SignatureRefusal => {
      auth.onRefused(reason, id, path);
      return reason;
    };
    if (typeof nodeId !== 'string' || typeof signature !== 'string') {
      const reason = signature === undefined || nodeId === undefined ? 'missing' : 'malformed';
      return { refused: refused(reason, typeof nodeId === 'string' ? nodeId : claimedNodeId(body)), accept: () => reason };
    }
    const raw = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : '');
    const result = verifyNode(auth.secret, nodeId, signature, raw, now);
    if (!result.ok) return { refused: refused(result.reason, nodeId), accept: () => result.reason };
    return {
      accept: (bodyNodeId) => {
        if (bodyNodeId !== nodeId) return refused('node_mismatch', nodeId);
        if (!replay.accept(nodeId, result.timestampMs, now)) return refused('replayed', nodeId);
        return undefined;
      },
    };
  };
}

/** The node id an unsigned message claims, for the log line only: it proves nothing. */
function claimedNodeId(body: unknown): string | undefined {
  try {
    const nodeId = (jsonBody<{ nodeId?: unknown }>(body) ?? {}).nodeId;
    return typeof nodeId === 'string' ? nodeId.slice(0, 200) : undefined;
  } catch {
    return undefined;
  }
}
