/**
 * A TCP relay that adds a one-way delay to every byte it passes, both ways: real added latency on a
 * path where the kernel has no netem (test/support/netns.ts runs it on a host of its own between a
 * gateway and a node). Byte order is kept: each direction is a FIFO of (due time, chunk), so a chunk
 * never overtakes an earlier one even when the delay drops.
 *
 *   node dist/bench/support/delay-relay.js LISTEN_HOST:PORT TARGET_HOST:PORT
 *
 * Control on stdin, one command a line: `delay MS` (applies to chunks read from then on). It prints
 * `relay listening on HOST:PORT` once it accepts, and `delay MS` after each change.
 */
import { createConnection, createServer, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** Delays the chunks of one direction by `delayMs()` each, in order. */
function pipeDelayed(from: Socket, to: Socket, delayMs: () => number): void {
  const queue: { dueMs: number; chunk: Buffer }[] = [];
  let timer: NodeJS.Timeout | undefined;
  let ended = false;
  const flush = () => {
    timer = undefined;
    const now = performance.now();
    while (queue.length && queue[0].dueMs <= now) to.write(queue.shift()!.chunk);
    if (queue.length) timer = setTimeout(flush, queue[0].dueMs - now);
    else if (ended) to.end();
  };
  from.on('data', (chunk: Buffer) => {
    // Never earlier than the chunk before it: order on the wire is the order read.
    const dueMs = Math.max(performance.now() + delayMs(), queue.at(-1)?.dueMs ?? 0);
    queue.push({ dueMs, chunk });
    timer ??= setTimeout(flush, Math.max(0, dueMs - performance.now()));
  });
  from.on('end', () => {
    ended = true;
    timer ??= setTimeout(flush, 0);
  });
}

function hostPort(text: string): { host: string; port: number } {
  const at = text.lastIndexOf(':');
  const port = Number(text.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port) || port < 0 || port > 65_535) throw new Error(`not HOST:PORT: ${text}`);
  return { host: text.slice(0, at), port };
}

export function startDelayRelay(listen: string, target: string): void {
  const from = hostPort(listen);
  const to = hostPort(target);
  let delayMs = 0;
  const server = createServer((client) => {
    const upstream = createConnection(to.port, to.host);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    pipeDelayed(client, upstream, () => delayMs);
    pipeDelayed(upstream, client, () => delayMs);
    // A reset on either side resets the other: the relay hides no failure. A clean end travels
    // through the delay queue (pipeDelayed), so no delayed byte is lost to it.
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  server.listen(from.port, from.host, () => console.log(`relay listening on ${from.host}:${from.port}`));
  createInterface({ input: process.stdin }).on('line', (line) => {
    const match = /^delay\s+(\d+(?:\.\d+)?)$/.exec(line.trim());
    if (!match) return console.log(`unknown command: ${line}`);
    delayMs = Number(match[1]);
    console.log(`delay ${delayMs}`);
  });
  // stdin closed: the test that drives it is gone.
  process.stdin.on('end', () => process.exit(0));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [listen, target] = process.argv.slice(2);
  if (!listen || !target) {
    console.error('usage: delay-relay LISTEN_HOST:PORT TARGET_HOST:PORT');
    process.exit(2);
  }
  startDelayRelay(listen, target);
}
