/**
 * TLS between every pair, real processes: a gateway (two workers) whose doors speak TLS and ask
 * for client certificates, in front of a backend whose doors do the same. The backend heartbeats
 * over HTTPS with its client certificate and the node secret; the gateway reaches the node's
 * https:// HTTP door and grpcs:// gRPC door with its own client certificate. HTTP and gRPC
 * inferences through the gateway get the identity model's right answers.
 */
import { Client, credentials } from '@grpc/grpc-js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODEL_INFER_PATH } from '../../core/kserve-grpc-envelope.js';
import { GatewayProcess, InfergateProcess, clusterTest, createSimModelsDir, waitFor } from '../support/cluster.js';
import { bytesOf, decodeInferResponseMessage, encodeInferRequestMessage, float32sOf } from '../support/grpc-client.js';
import { OPENSSL_MISSING, makeTestCertificates, opensslAvailable, type TestCertificates } from '../support/tls.js';
import { skipNote } from '../support/skip-reason.js';

const hasOpenssl = opensslAvailable();

clusterTest();
const INPUT = Array.from({ length: 16 }, (_, i) => i - 7.25);

let certs: TestCertificates;
let modelsDir: string;
let secretDir: string;
let gateway: GatewayProcess;
let backend: InfergateProcess;
let agent: Agent;
let gatewayUrl: string;

const https = (url: string) => url.replace(/^http:/, 'https:');

async function getJson<T>(url: string): Promise<{ status: number; body: T }> {
  const response = await request(url, { dispatcher: agent, headersTimeout: 5_000, bodyTimeout: 5_000 });
  return { status: response.statusCode, body: (await response.body.json()) as T };
}

describe.skipIf(!hasOpenssl)(`TLS and mutual TLS from client to gateway to node${skipNote(hasOpenssl ? undefined : OPENSSL_MISSING)}`, () => {
  beforeAll(async () => {
    certs = makeTestCertificates();
    modelsDir = createSimModelsDir({ bundled: ['identity'] });
    secretDir = mkdtempSync(path.join(tmpdir(), 'infergate-tls-secret-'));
    const secretFile = path.join(secretDir, 'secret');
    writeFileSync(secretFile, 'tls-test-fleet-secret-0123456789\n');
    const doors = ['--tls-cert', certs.serverCert, '--tls-key', certs.serverKey, '--tls-client-ca', certs.ca];
    gateway = new GatewayProcess('gateway', 'gateway', [
      '--http-port', '0', '--grpc-port', '0', '--metrics-port', 'off', '--host', '127.0.0.1', '--workers', '2', '--slow-start-ms', '0',
      ...doors, '--backend-ca', certs.ca, '--backend-cert', certs.clientCert, '--backend-key', certs.clientKey, '--node-secret-file', secretFile,
    ]);
    gatewayUrl = https(await gateway.started());
    backend = new InfergateProcess('tls-node', 'backend', [
      '--gateway', gatewayUrl, '--gateway-ca', certs.ca, '--gateway-cert', certs.clientCert, '--gateway-key', certs.clientKey,
      '--http-port', '0', '--grpc-port', '0', '--metrics-port', 'off', '--host', '127.0.0.1', '--node-id', 'tls-node', '--models', modelsDir,
      '--heartbeat-ms', '200', '--calibrate-ms', '0', ...doors, '--node-secret-file', secretFile,
    ]);
    await backend.started();
    agent = new Agent({ connect: { ca: certs.pem(certs.ca), cert: certs.pem(certs.clientCert), key: certs.pem(certs.clientKey) } });
    await waitFor('tls-node ready in the identity pool', async () => {
      const { body } = await getJson<{ pools: Array<{ model: string; nodes: Array<{ id: string; state: string }> }> }>(`${gatewayUrl}/infergate/pools`);
      return body.pools.some((p) => p.model === 'identity' && p.nodes.some((n) => n.id === 'tls-node' && n.state === 'ready')) ? true : undefined;
    }, { timeoutMs: 20_000 });
  }, 60_000);

  afterAll(async () => {
    for (const p of [backend, gateway]) {
      if (p?.running) p.child.kill('SIGKILL');
      await p?.exited;
    }
    await agent?.close();
    if (modelsDir) rmSync(modelsDir, { recursive: true, force: true });
    if (secretDir) rmSync(secretDir, { recursive: true, force: true });
    certs?.remove();
  });

  it('the node advertises https:// and grpcs:// and its heartbeats arrive over HTTPS', async () => {
    const { body } = await getJson<{ report: { url: string; grpcUrl: string } }>(`${https(backend.url)}/infergate/node`);
    expect(body.report.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(body.report.grpcUrl).toMatch(/^grpcs:\/\/127\.0\.0\.1:\d+$/);
    expect(backend.messages().filter((m) => m.includes('heartbeat to'))).toEqual([]);
  });

  it('HTTP infer through the gateway reaches the TLS node and answers right', async () => {
    for (let i = 0; i < 5; i++) {
      const response = await request(`${gatewayUrl}/v2/models/identity/infer`, {
        method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 16], data: INPUT.map((x) => x + i) }] }),
      });
      const body = (await response.body.json()) as { outputs: Array<{ data: number[] }> };
      expect(response.statusCode).toBe(200);
      expect(body.outputs[0].data).toEqual(INPUT.map((x) => x + i));
    }
  });

  it('gRPC infer through the gateway\'s TLS door reaches the node\'s grpcs:// door and answers right', async () => {
    const client = new Client(gateway.grpcAddress || await gateway.grpcStarted(), credentials.createSsl(certs.pem(certs.ca), certs.pem(certs.clientKey), certs.pem(certs.clientCert)));
    try {
      for (let i = 0; i < 5; i++) {
        const values = INPUT.map((x) => x * (i + 1));
        const message = Buffer.from(encodeInferRequestMessage({
          model_name: 'identity', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 16] }], raw_input_contents: [bytesOf(Float32Array.from(values))],
        }));
        const answer = await new Promise<Buffer>((resolve, reject) => {
          client.makeUnaryRequest(MODEL_INFER_PATH, (b: Buffer) => b, (b: Buffer) => b, message, { deadline: Date.now() + 10_000 }, (err, r) => (err ? reject(err) : resolve(r!)));
        });
        expect(float32sOf(decodeInferResponseMessage(answer).raw_output_contents[0])).toEqual(values);
      }
    } finally {
      client.close();
    }
  });

  it('a client without a certificate is turned away by the gateway', async () => {
    const bare = new Agent({ connect: { ca: certs.pem(certs.ca) } });
    try {
      await expect(request(`${gatewayUrl}/v2/health/ready`, { dispatcher: bare })).rejects.toThrow();
    } finally {
      await bare.close();
    }
  });
});
