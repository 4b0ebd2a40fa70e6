/**
 * The floor of any Node front door: a bare fastify server with one POST route that parses a KServe
 * v2 JSON infer body the way infergate's front door does (raw Buffer, then JSON.parse) and answers
 * the response infergate gives for the identity model, same fields and same size, with no
 * validation, scheduling or model behind it. Also GET /v2/health/ready, for the bench's readiness
 * poll.
 *
 *   node dist/bench/support/echo-server.js --port P [--host 127.0.0.1]
 */
import Fastify from 'fastify';
import { parseArgs } from 'node:util';

interface JsonTensor {
  name: string;
  datatype: string;
  shape: number[];
  data: unknown[];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } },
  });
  // The same server options as infergate's front door (gateway/http/server.ts), less its request ids.
  const app = Fastify({ logger: false, keepAliveTimeout: 65_000, bodyLimit: 64 * 1024 * 1024 });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  app.get('/v2/health/ready', async (_request, reply) => reply.code(200).send());
  app.post<{ Params: { model: string } }>('/v2/models/:model/infer', async (request, reply) => {
    const body = JSON.parse((request.body as Buffer).toString('utf8')) as { id?: string; inputs: JsonTensor[] };
    const response = {
      ...(body.id !== undefined ? { id: body.id } : {}),
      model_name: request.params.model,
      model_version: '1',
      outputs: body.inputs.map((t, i) => ({ name: `OUTPUT${i}`, datatype: t.datatype, shape: t.shape, data: t.data })),
    };
    return reply.type('application/json').send(JSON.stringify(response));
  });

  await app.listen({ host: values.host, port: Number(values.port) });
  const address = app.server.address() as { port: number };
  console.log(`echo server on http://${values.host}:${address.port}`);
  const stop = () => void app.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err) => {
  console.error(`echo-server: ${(err as Error).message}`);
  process.exit(1);
});
