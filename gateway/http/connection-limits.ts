/**
 * The limits node:http enforces itself, before any handler sees a request, and the answers it gives
 * when one is passed, in the protocol's error shape:
 * - --max-header-bytes: node:http's maxHeaderSize; a larger header section is 431;
 * - --header-timeout-ms and --body-timeout-ms: node:http's headersTimeout and requestTimeout, the
 *   time from a request's first byte until its headers, and until its whole body, are in (a
 *   client trickling bytes, "slowloris"); 408 and the connection closed. They cover the raw infer
 *   entry and every fastify route alike: both read from the same server. The socket goes, and the
 *   chunks read so far with it.
 * Anything else node:http cannot parse is a 400.
 */
import type { ServerOptions } from 'node:http';
import type { Socket } from 'node:net';
import type { FrontDoorLimits } from '../../service/limits.js';

/**
 * How often node:http looks for requests past their time: timeouts fire up to this late. Its own
 * default (30 s) would let a 1 s limit run 31 s; a look at a list of connections costs microseconds.
 */
export function connectionsCheckingIntervalMs(limits: Pick<FrontDoorLimits, 'headerTimeoutMs' | 'bodyTimeoutMs'>): number {
  return Math.max(50, Math.min(1_000, Math.floor(Math.min(limits.headerTimeoutMs, limits.bodyTimeoutMs) / 4)));
}

export function connectionOptions(limits: FrontDoorLimits): ServerOptions {
  return {
    maxHeaderSize: limits.maxHeaderBytes,
    headersTimeout: limits.headerTimeoutMs,
    requestTimeout: limits.bodyTimeoutMs,
    connectionsCheckingInterval: connectionsCheckingIntervalMs(limits),
  };
}

interface ClientError extends Error {
  code?: string;
}

/**
 * Fastify's `clientErrorHandler`: node:http's own refusals, written on the socket as
 * `{"error": "..."}` (fastify's default adds fields of its own), then the connection is closed.
 */
export function clientErrorHandler(limits: FrontDoorLimits): (error: ClientError, socket: Socket) => void {
  return (error, socket) => {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const [status, reason, message] = answerFor(error, limits);
    // An answer already on its way cannot be followed by another on the same connection.
    const pending = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (socket.writable && !pending?.headersSent) {
      const body = JSON.stringify({ error: message });
      socket.write(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    }
    socket.destroy();
  };
}

function answerFor(error: ClientError, limits: FrontDoorLimits): [number, string, string] {
  switch (error.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [408, 'Request Timeout', `the request did not arrive in time: headers within --header-timeout-ms = ${limits.headerTimeoutMs}, the whole request within --body-timeout-ms = ${limits.bodyTimeoutMs}`];
    case 'HPE_HEADER_OVERFLOW':
      return [431, 'Request Header Fields Too Large', `request headers are larger than the configured limit (--max-header-bytes = ${limits.maxHeaderBytes})`];
    default:
      return [400, 'Bad Request', `malformed HTTP request (${error.code ?? error.message})`];
  }
}
