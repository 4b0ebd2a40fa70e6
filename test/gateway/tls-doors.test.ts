/**
 * TLS on both doors and the metrics port, real sockets on loopback: the identity model's answer
 * over HTTPS and over gRPC with TLS; a plaintext client, a client that does not trust the CA, and
 * (with a client CA) a client with no certificate or one from an untrusted CA are all refused.
 */
import { Client, credentials, type ChannelCredentials } from '@grpc/grpc-js';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODEL_INFER_PATH } from '../../core/kserve-grpc-envelope.js';
import { bundledModelsDir } from '../../core/package-root.js';
import { serverTlsFrom, type ServerTls } from '../../core/tls-files.js';
import { startGrpcServer, type GrpcDoor } from '../../gateway/grpc/server.js';
import { buildHttpServer } from '../../gateway/http/server.js';
import { startMetricsServer } from '../../gateway/metrics-server.js';
import { DEFAULT_LIMITS } from '../../service/limits.js';
import { RemoteBackend } from '../../transport/remote-backend.js';
import { DEFAULT_GRPC_MAX_MESSAGE_BYTES } from '../../core/kserve-grpc-envelope.js';
import { startEmbeddedServer, type EmbeddedServer } from '../support/embedded-server.js';
import { InferenceGrpcClient, InferenceHttpClient } from '../../client/index.js';
import { benchSettingsFrom } from '../../bench/perf/options.js';
import { runBench } from '../../bench/perf/run.js';
import { bytesOf, decodeInferResponseMessage, encodeInferRequestMessage, float32sOf } from '../support/grpc-client.js';
import { OPENSSL_MISSING, makeTestCertificates, opensslAvailable, type TestCertificates } from '../support/tls.js';
import { skipNote } from '../support/skip-reason.js';

const hasOpenssl = opensslAvailable();

const INPUT = Array.from({ length: 16 }, (_, i) => i * 0.5 - 3);
const INFER_BODY = JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 16], data: INPUT }] });
const INFER_MESSAGE = Buffer.from(encodeInferRequestMessage({
  model_name: 'identity', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 16] }], raw_input_contents: [bytesOf(Float32Array.from(INPUT))],
}));

interface Doors {
  httpsUrl: string;
  /** TLS handshakes completed on the HTTP door so far. */
  handshakes(): number;
  grpcAddress: string;
  close(): Promise<void>;
}

async function startDoors(server: EmbeddedServer, tls: ServerTls): Promise<Doors> {
  const http = await buildHttpServer({ service: server.node.service, limits: DEFAULT_LIMITS, logger: false, tls });
  await http.listen({ host: '127.0.0.1', port: 0 });
  let handshakes = 0;
  http.server.on('secureConnection', () => handshakes++);
  const grpc: GrpcDoor = await startGrpcServer({ service: server.node.service, host: '127.0.0.1', port: 0, maxMessageBytes: DEFAULT_GRPC_MAX_MESSAGE_BYTES, tls });
  return {
    httpsUrl: `https://127.0.0.1:${(http.server.address() as { port: number }).port}`,
    grpcAddress: `127.0.0.1:${grpc.port}`,
    handshakes: () => handshakes,
    close: async () => {
      await Promise.all([http.close(), grpc.close()]);
    },
  };
}

/** POST infer through an undici Agent with the given TLS client options; the status and outputs, or the error's code. */
async function httpsInfer(url: string, connect: Record<string, unknown>): Promise<{ status: number; data?: number[] } | { error: string }> {
  const agent = new Agent({ connect: { timeout: 5_000, ...connect } });
  try {
    const response = await request(`${url}/v2/models/identity/infer`, {
      method: 'POST', body: INFER_BODY, headers: { 'content-type': 'application/json' }, dispatcher: agent, headersTimeout: 10_000, bodyTimeout: 10_000,
    });
    const body = (await response.body.json()) as { outputs?: Array<{ data: number[] }> };
    return { status: response.statusCode, data: body.outputs?.[0].data };
  } catch (err) {
    return { error: String((err as { code?: string }).code ?? (err as Error).message) };
  } finally {
    await agent.destroy();
  }
}

/** One ModelInfer over gRPC with these channel credentials: the output, or the status code. */
function grpcInfer(address: string, channel: ChannelCredentials): Promise<{ data: number[] } | { code: number; details: string }> {
  const client = new Client(address, channel);
  return new Promise((resolve) => {
    client.makeUnaryRequest(MODEL_INFER_PATH, (b: Buffer) => b, (b: Buffer) => b, INFER_MESSAGE, { deadline: Date.now() + 10_000 }, (err, response) => {
      client.close();
      if (err) resolve({ code: err.code, details: err.details });
      else resolve({ data: float32sOf(decodeInferResponseMessage(response!).raw_output_contents[0]) });
    });
  });
}

describe.skipIf(!hasOpenssl)(`TLS doors${skipNote(hasOpenssl ? undefined : OPENSSL_MISSING)}`, () => {
  let certs: TestCertificates;
  let modelsDir: string;
  let server: EmbeddedServer;
  let tlsDoors: Doors;
  let mutualDoors: Doors;

  beforeAll(async () => {
    certs = makeTestCertificates();
    modelsDir = mkdtempSync(path.join(tmpdir(), 'infergate-tls-models-'));
    cpSync(path.join(bundledModelsDir(), 'identity'), path.join(modelsDir, 'identity'), { recursive: true });
    server = await startEmbeddedServer({ modelsDir });
    tlsDoors = await startDoors(server, serverTlsFrom({ 'tls-cert': certs.serverCert, 'tls-key': certs.serverKey })!);
    mutualDoors = await startDoors(server, serverTlsFrom({ 'tls-cert': certs.serverCert, 'tls-key': certs.serverKey, 'tls-client-ca': certs.ca })!);
  }, 60_000);

  afterAll(async () => {
    await tlsDoors?.close();
    await mutualDoors?.close();
    await server?.close();
    if (modelsDir) rmSync(modelsDir, { recursive: true, force: true });
    certs?.remove();
  });

  it('HTTPS answers infer to a client trusting the CA, by IP and by name', async () => {
    const ca = certs.pem(certs.ca);
    expect(await httpsInfer(tlsDoors.httpsUrl, { ca })).toEqual({ status: 200, data: INPUT });
    expect(await httpsInfer(tlsDoors.httpsUrl.replace('127.0.0.1', 'localhost'), { ca })).toEqual({ status: 200, data: INPUT });
  });

  it('HTTPS refuses a plain-HTTP client and a client that does not trust the CA', async () => {
    const plain = await httpsInfer(tlsDoors.httpsUrl.replace('https:', 'http:'), {});
    expect(plain).toHaveProperty('error');
    expect(await httpsInfer(tlsDoors.httpsUrl, {})).toEqual({ error: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    expect(await httpsInfer(tlsDoors.httpsUrl, { ca: certs.pem(certs.strangerCa) })).toEqual({ error: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
  });

  it('gRPC with TLS answers ModelInfer to a client with SSL credentials; a plaintext client gets UNAVAILABLE', async () => {
    expect(await grpcInfer(tlsDoors.grpcAddress, credentials.createSsl(certs.pem(certs.ca)))).toEqual({ data: INPUT });
    expect(await grpcInfer(tlsDoors.grpcAddress, credentials.createInsecure())).toMatchObject({ code: 14 });
  });

  it('mutual TLS: the client certificate signed by the CA is let in, none or a stranger\'s is refused (HTTP)', async () => {
    const ca = certs.pem(certs.ca);
    expect(await httpsInfer(mutualDoors.httpsUrl, { ca, cert: certs.pem(certs.clientCert), key: certs.pem(certs.clientKey) })).toEqual({ status: 200, data: INPUT });
    expect(await httpsInfer(mutualDoors.httpsUrl, { ca })).toHaveProperty('error');
    expect(await httpsInfer(mutualDoors.httpsUrl, { ca, cert: certs.pem(certs.strangerCert), key: certs.pem(certs.strangerKey) })).toHaveProperty('error');
  });

  it('mutual TLS: the same on the gRPC door', async () => {
    const ca = certs.pem(certs.ca);
    expect(await grpcInfer(mutualDoors.grpcAddress, credentials.createSsl(ca, certs.pem(certs.clientKey), certs.pem(certs.clientCert)))).toEqual({ data: INPUT });
    expect(await grpcInfer(mutualDoors.grpcAddress, credentials.createSsl(ca))).toMatchObject({ code: 14 });
    expect(await grpcInfer(mutualDoors.grpcAddress, credentials.createSsl(ca, certs.pem(certs.strangerKey), certs.pem(certs.strangerCert)))).toMatchObject({ code: 14 });
  });

  it('a gateway\'s RemoteBackend reaches an https:// node with its client certificate, one handshake for many requests (keep-alive)', async () => {
    const tls = { ca: certs.pem(certs.ca), cert: certs.pem(certs.clientCert), key: certs.pem(certs.clientKey) };
    const backend = new RemoteBackend('tls-node', mutualDoors.httpsUrl, { connections: 1, tls });
    const before = mutualDoors.handshakes();
    try {
      for (let i = 0; i < 50; i++) expect((await backend.getJson<{ name: string }>('/v2/models/identity')).name).toBe('identity');
    } finally {
      await backend.close();
    }
    expect(mutualDoors.handshakes() - before).toBe(1);
    const untrusted = new RemoteBackend('tls-node', mutualDoors.httpsUrl, { connections: 1, tls: { ca: tls.ca } });
    try {
      // No client certificate: the node cuts the handshake; a transport failure, retried elsewhere by the router.
      await expect(untrusted.getJson('/v2/models/identity')).rejects.toMatchObject({ name: 'TransportError' });
    } finally {
      await untrusted.close();
    }
  });

  it('the client library (HTTP and gRPC) reaches a mutual-TLS door with its `tls` option, and is refused without a certificate', async () => {
    const ca = certs.pem(certs.ca);
    const tls = { ca, cert: certs.pem(certs.clientCert), key: certs.pem(certs.clientKey) };
    const input = { name: 'INPUT0', datatype: 'FP32' as const, shape: [1, 16], data: INPUT };
    const http = new InferenceHttpClient(mutualDoors.httpsUrl, { tls, timeoutMs: 10_000 });
    const grpc = new InferenceGrpcClient(mutualDoors.grpcAddress, { tls, timeoutMs: 10_000 });
    const httpNoCert = new InferenceHttpClient(mutualDoors.httpsUrl, { tls: { ca }, timeoutMs: 10_000 });
    const grpcNoCert = new InferenceGrpcClient(mutualDoors.grpcAddress, { tls: { ca }, timeoutMs: 10_000 });
    try {
      expect(Array.from((await http.infer('identity', [input])).outputs[0].data as Float32Array)).toEqual(INPUT);
      expect(Array.from((await grpc.infer('identity', [input])).outputs[0].data as Float32Array)).toEqual(INPUT);
      await expect(httpNoCert.isLive()).rejects.toThrow();
      await expect(grpcNoCert.isLive()).rejects.toThrow();
    } finally {
      await Promise.all([http.close(), httpNoCert.close()]);
      grpc.close();
      grpcNoCert.close();
    }
  });

  it('infergate bench reaches the mutual-TLS doors with --tls-ca/--tls-cert/--tls-key, on HTTP and gRPC', async () => {
    for (const [protocol, url] of [['http', mutualDoors.httpsUrl], ['grpc', mutualDoors.grpcAddress]] as const) {
      const settings = benchSettingsFrom({
        model: 'identity', protocol, url, 'warmup-ms': '100', 'measurement-interval-ms': '400',
        'tls-ca': certs.ca, 'tls-cert': certs.clientCert, 'tls-key': certs.clientKey,
      });
      const result = await runBench(settings, 'infergate bench (test)');
      expect(result.steps[0].summary.successRate, protocol).toBe(1);
      expect(result.steps[0].summary.counts.ok, protocol).toBeGreaterThan(0);
    }
    expect(() => benchSettingsFrom({ model: 'identity', 'tls-cert': certs.clientCert })).toThrow('--tls-cert and --tls-key go together');
  });

  it('the metrics port speaks TLS too, with the same client CA', async () => {
    const tls = serverTlsFrom({ 'tls-cert': certs.serverCert, 'tls-key': certs.serverKey, 'tls-client-ca': certs.ca })!;
    const metrics = await startMetricsServer({ contentType: 'text/plain', read: async () => 'infergate_up 1\n' }, '127.0.0.1', 0, tls);
    try {
      const url = `https://127.0.0.1:${(metrics.server.address() as { port: number }).port}/metrics`;
      const scrape = async (connect: Record<string, unknown>) => {
        const agent = new Agent({ connect });
        try {
          const response = await request(url, { dispatcher: agent });
          return await response.body.text();
        } catch (err) {
          return `refused: ${(err as { code?: string }).code ?? (err as Error).message}`;
        } finally {
          await agent.destroy();
        }
      };
      expect(await scrape({ ca: certs.pem(certs.ca), cert: certs.pem(certs.clientCert), key: certs.pem(certs.clientKey) })).toBe('infergate_up 1\n');
      expect(await scrape({ ca: certs.pem(certs.ca) })).toMatch(/^refused/);
    } finally {
      await metrics.close();
    }
  });
});
