/** Process logging: pino (fastify's own logger) at the chosen level, one JSON line per event. */
import { pino, type Logger as PinoLogger } from 'pino';

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** Handed to fastify so request logs share the stream and level. */
  fastify: PinoLogger | false;
}

export function createLogger(level: string): Logger {
  const logger = pino({ level: level === 'silent' ? 'silent' : level, base: { pid: process.pid } });
  return {
    info: (m) => logger.info(m),
    warn: (m) => logger.warn(m),
    error: (m) => logger.error(m),
    // Request-per-line logs only at debug: at info a busy gateway would log every inference.
    fastify: level === 'debug' ? logger : false,
  };
}
