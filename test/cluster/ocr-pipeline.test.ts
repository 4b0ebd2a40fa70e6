/**
 * The `ocr` pipeline through a gateway, real processes: the gateway runs the pipeline
 * (--pipelines), detection and the direction classifier live on one backend, recognition on
 * another, so every model step is routed to its own pool across processes. The text must come
 * back exactly; the deadline and a client that goes away stop the pipeline at the step it is in.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { OCR_PAGE, OCR_PAGE_TEXT, renderPage } from '../../bench/support/ocr-images.js';
import { parseBinaryInferResponse } from '../../core/infer-binary.js';
import { packageRoot } from '../../core/package-root.js';
import { clusterTest, httpJson, sleep, waitForNodes, type Cluster, type InfergateProcess } from '../support/cluster.js';

const newCluster = clusterTest();
const client = new Agent({ connections: 4 });
const dirs: string[] = [];
afterAll(async () => {
  await client.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function repository(models: string[]): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'infergate-ocr-cluster-'));
  dirs.push(dir);
  for (const m of models) cpSync(path.join(packageRoot(), 'models', m), path.join(dir, m), { recursive: true });
  return dir;
}

interface OcrCluster { cluster: Cluster; gatewayUrl: string; det: InfergateProcess; rec: InfergateProcess }

async function ocrCluster(): Promise<OcrCluster> {
  const cluster = newCluster();
  const gateway = await cluster.startGateway({ slowStartMs: 0, workers: 1, extraArgs: ['--pipelines', repository(['ocr'])] });
  const [det, rec] = await Promise.all([
    cluster.startBackend({ nodeId: 'det', extraArgs: ['--models', repository(['ocr_det', 'ocr_cls']), '--calibrate-ms', '0'] }),
    cluster.startBackend({ nodeId: 'rec', extraArgs: ['--models', repository(['ocr_rec']), '--calibrate-ms', '0'] }),
  ]);
  await waitForNodes(gateway.url, ['det'], { model: 'ocr_det', timeoutMs: 30_000 });
  await waitForNodes(gateway.url, ['det'], { model: 'ocr_cls', timeoutMs: 30_000 });
  await waitForNodes(gateway.url, ['rec'], { model: 'ocr_rec', timeoutMs: 30_000 });
  return { cluster, gatewayUrl: gateway.url, det, rec };
}

function ocr(url: string, image: Buffer, options: { headers?: Record<string, string>; signal?: AbortSignal } = {}) {
  return request(`${url}/v2/models/ocr/infer`, {
    method: 'POST', body: image, dispatcher: client, signal: options.signal,
    headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': '0', ...options.headers },
  }).then(async (r) => ({ status: r.statusCode, headers: r.headers, body: Buffer.from(await r.body.arrayBuffer()) }));
}

/** Requests a node answered for the model (its own statistics). */
async function answered(node: InfergateProcess, model: string): Promise<number> {
  const { status, body } = await httpJson<{ model_stats: Array<{ inference_stats: { success: { count: number }; fail: { count: number } } }> }>(`${node.url}/v2/models/${model}/stats`);
  expect(status).toBe(200);
  const s = body.model_stats[0].inference_stats;
  return s.success.count + s.fail.count;
}

describe('ocr pipeline through a gateway, detection and recognition on separate backends', () => {
  it('reads the page exactly; each step ran on the node that serves its model', async () => {
    const { gatewayUrl, det, rec } = await ocrCluster();
    const page = await renderPage(OCR_PAGE);
    const res = await ocr(gatewayUrl, page);
    expect(res.status, res.body.toString()).toBe(200);
    const decoded = parseBinaryInferResponse(res.body, Number(res.headers['inference-header-content-length']));
    const text = (decoded.outputs.find((o) => o.name === 'text')!.data as Uint8Array[]).map((b) => Buffer.from(b).toString('utf8'));
    expect(text).toEqual(OCR_PAGE_TEXT);
    expect(Array.from(decoded.outputs.find((o) => o.name === 'rotated')!.data as Uint8Array)).toEqual([0, 0, 0, 1]);
    expect([await answered(det, 'ocr_det'), await answered(det, 'ocr_cls'), await answered(rec, 'ocr_rec')]).toEqual([1, 1, 1]);
    // The recognizer's node has no detector, and the detector's node no recognizer.
    expect((await httpJson(`${rec.url}/v2/models/ocr_det`)).status).toBe(404);
    expect((await httpJson(`${det.url}/v2/models/ocr_rec`)).status).toBe(404);
    // The gateway lists the pipeline like a model.
    const index = await httpJson<Array<{ name: string; state: string }>>(`${gatewayUrl}/v2/repository/index`, 'POST');
    expect(index.body.map((e) => `${e.name}:${e.state}`)).toEqual(['ocr:READY', 'ocr_cls:READY', 'ocr_det:READY', 'ocr_rec:READY']);
  }, 60_000);

  it('a short deadline answers 504 and the later steps never reach their nodes; so does a client that goes away', async () => {
    const { gatewayUrl, det, rec } = await ocrCluster();
    const page = await renderPage(OCR_PAGE);
    const late = await ocr(gatewayUrl, page, { headers: { 'infergate-timeout-ms': '20' } });
    expect(late.status).toBe(504);
    expect(JSON.parse(late.body.toString())).toEqual({ error: expect.stringMatching(/deadline/) });

    const abort = new AbortController();
    const abandoned = ocr(gatewayUrl, page, { signal: abort.signal }).then(() => 'answered', (err: Error) => err.name);
    await sleep(30);
    abort.abort();
    expect(await abandoned).toBe('AbortError');
    await sleep(1000); // long enough for the whole pipeline to have run, had it gone on
    expect([await answered(det, 'ocr_cls'), await answered(rec, 'ocr_rec')]).toEqual([0, 0]);
    // Still serving.
    expect((await ocr(gatewayUrl, page)).status).toBe(200);
    expect(await answered(rec, 'ocr_rec')).toBe(1);
  }, 60_000);
});
