import Fastify, { type FastifyInstance } from 'fastify';
import type { ServerTls } from '../core/tls-files.js';

/** Where a scrape reads from: one process's registry, or the sum over a gateway's workers. */
export interface MetricsSource {
  readonly contentType: string;
  read(): Promise<string>;
}

/**
 * Prometheus scrape endpoint on its own port (Triton's layout: 8002), apart from inference traffic.
 * `tls`: HTTPS with the doors' certificate, and their client CA (a scraper then needs a certificate too).
 */
export async function startMetricsServer(source: MetricsSource, host: string, port: number, tls?: ServerTls): Promise<FastifyInstance> {
  const https = tls && { cert: tls.cert, key: tls.key, ca: tls.clientCa, requestCert: tls.clientCa !== undefined, rejectUnauthorized: tls.clientCa !== undefined };
  // An HTTPS fastify has the same surface; its type only differs in the server's class.
  const app = (https ? Fastify({ logger: false, https }) : Fastify({ logger: false })) as unknown as FastifyInstance;
  app.get('/metrics', async (_request, reply) => reply.type(source.contentType).send(await source.read()));
  await app.listen({ host, port });
  return app;
}
