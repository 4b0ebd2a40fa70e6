import Fastify, { type FastifyInstance } from 'fastify';
import type { Metrics } from '../service/metrics.js';

/** Prometheus scrape endpoint on its own port (Triton's layout: 8002), apart from inference traffic. */
export async function startMetricsServer(metrics: Metrics, host: string, port: number): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  app.get('/metrics', async (_request, reply) => {
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  await app.listen({ host, port });
  return app;
}
