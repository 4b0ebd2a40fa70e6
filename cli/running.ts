import type { FastifyInstance } from 'fastify';

/** A started server process: where it listens and how to stop it cleanly. */
export interface RunningGateway {
  http: FastifyInstance;
  url: string;
  stop(): Promise<void>;
}
