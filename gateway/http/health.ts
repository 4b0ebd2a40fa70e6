import type { FastifyPluginAsync } from 'fastify';
import type { InferenceService } from '../../service/inference-service.js';

/** Server liveness, readiness and metadata (KServe v2 health and server metadata endpoints). */
export const healthRoutes = (service: InferenceService): FastifyPluginAsync => async (app) => {
  app.get('/v2/health/live', async (_request, reply) => {
    const live = service.isLive();
    return reply.status(live ? 200 : 503).send({ live });
  });
  app.get('/v2/health/ready', async (_request, reply) => {
    const ready = service.isReady();
    return reply.status(ready ? 200 : 503).send({ ready });
  });
  app.get('/v2', async () => service.serverMetadata());
};
