import Fastify, { type FastifyInstance } from 'fastify';

/** Where a scrape reads from: one process's registry, or the sum over a gateway's workers. */
export interface MetricsSource {
  readonly contentType: string;
  read(): Promise<string>;
}

/** Prometheus scrape endpoint on its own port (Triton's layout: 8002), apart from inference traffic. */
export async function startMetricsServer(source: MetricsSource, host: string, port: number): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  app.get('/metrics', async (_request, reply) => reply.type(source.contentType).send(await source.read()));
  await app.listen({ host, port });
  return app;
}
