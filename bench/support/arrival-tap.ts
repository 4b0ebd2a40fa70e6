/**
 * An arrival tap: a plain HTTP pass-through put in front of one node, that notes when each infer
 * request arrives. The node advertises the tap's URL (`--advertise-url`), so every gateway sends
 * its traffic for that node through here, and the bench reads the arrival times back:
 *
 *   node dist/bench/support/arrival-tap.js --port P --target http://127.0.0.1:NODE_PORT
 *   GET /infergate-tap/arrivals        → {"arrivals": [epoch ms, …]}  (infer POSTs, in order)
 *   POST /infergate-tap/arrivals       → clears them
 *
 * Everything else (metadata, health, probes) is forwarded unchanged, answers and headers (the
 * `infergate-load` header among them) included. A run of its own process, so that the bench's
 * load generator never delays a timestamp. It keeps at most MAX_ARRIVALS times.
 */
import http from 'node:http';
import { parseArgs } from 'node:util';

/** Arrivals kept; the bench clears them between runs, far below this. */
export const MAX_ARRIVALS = 1_000_000;
const TAP_PATH = '/infergate-tap/arrivals';

const { values } = parseArgs({ options: { port: { type: 'string' }, target: { type: 'string' }, host: { type: 'string', default: '127.0.0.1' } } });
if (!values.port || !values.target) {
  console.error('usage: arrival-tap --port P --target http://host:port');
  process.exit(2);
}
const target = new URL(values.target);
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
let arrivals: number[] = [];

const server = http.createServer((req, res) => {
  if (req.url === TAP_PATH) {
    if (req.method === 'POST') arrivals = [];
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(req.method === 'POST' ? '{}' : JSON.stringify({ arrivals }));
    return;
  }
  // Epoch ms with sub-ms precision, taken before anything else is done with the request.
  if (req.method === 'POST' && req.url?.endsWith('/infer') && arrivals.length < MAX_ARRIVALS) arrivals.push(performance.timeOrigin + performance.now());
  const upstream = http.request({
    host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent,
  }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  upstream.once('error', (err) => {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(`arrival tap: ${err.message}`);
  });
  req.pipe(upstream);
});
server.keepAliveTimeout = 60_000;
server.listen(Number(values.port), values.host, () => console.log(`arrival tap on http://${values.host}:${values.port} → ${target.origin}`));
process.once('SIGTERM', () => server.close(() => process.exit(0)));
