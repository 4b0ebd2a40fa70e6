/**
 * The floor of a Node forwarder: node:http in, undici dispatch() out to one fixed upstream, the
 * answer written back. No routing, validation, deadlines, cancellation or metrics: what any Node
 * gateway pays on this machine before doing anything of its own. For bench/forwarding.ts.
 *
 *   node dist/bench/support/bare-forwarder.js --port P --upstream http://127.0.0.1:N [--host H]
 */
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

const { values } = parseArgs({
  options: { port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' }, upstream: { type: 'string' } },
});
if (!values.upstream) throw new Error('--upstream URL is required');
const upstream = new Pool(values.upstream, { connections: 64, pipelining: 1 });

createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const headers: string[] = [];
    for (const name of ['content-type', 'inference-header-content-length']) {
      const value = req.headers[name];
      if (typeof value === 'string') headers.push(name, value);
    }
    let status = 0;
    const answerHeaders: Record<string, string> = {};
    const out: Buffer[] = [];
    upstream.dispatch({ method: req.method ?? 'GET', path: req.url ?? '/', headers, body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks) }, {
      onConnect() {},
      onHeaders(statusCode, raw) {
        status = statusCode;
        for (let i = 0; i < raw.length; i += 2) {
          const name = raw[i].toString('latin1').toLowerCase();
          if (name === 'content-type' || name === 'inference-header-content-length') answerHeaders[name] = raw[i + 1].toString('latin1');
        }
        return true;
      },
      onData(chunk) {
        out.push(chunk);
        return true;
      },
      onComplete() {
        const body = out.length === 1 ? out[0] : Buffer.concat(out);
        res.writeHead(status, { ...answerHeaders, 'content-length': body.length });
        res.end(body);
      },
      onError() {
        res.writeHead(502);
        res.end();
      },
    });
  });
}).listen(Number(values.port), values.host);
