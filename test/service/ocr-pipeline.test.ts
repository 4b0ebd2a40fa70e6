/**
 * The bundled `ocr` pipeline end to end in one process: the real PP-OCR models (onnxruntime-node)
 * and the declared processing steps, on pages rendered here with sharp from SVG text (DejaVu
 * fonts: Sans, Serif, Mono, four sizes, one line upside down). The text must come back exactly.
 * Also: the pipeline in metadata, index and config like a model; one recognizer request per image;
 * bad images answered 400 while the server keeps serving; a short deadline answers 504 and the
 * later steps never run.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OCR_PAGE, OCR_PAGE_TEXT, pngDeclaring, renderPage } from '../../bench/support/ocr-images.js';
import { parseBinaryInferResponse } from '../../core/infer-binary.js';
import { packageRoot } from '../../core/package-root.js';
import type { InferResponse } from '../../core/tensor.js';
import { DEFAULT_GRPC_MAX_MESSAGE_BYTES } from '../../core/kserve-grpc-envelope.js';
import { startGrpcServer } from '../../gateway/grpc/server.js';
import { sleep } from '../support/cluster.js';
import { GrpcTestClient } from '../support/grpc-client.js';
import { startEmbeddedServer, type EmbeddedServer } from '../support/embedded-server.js';

const OCR_MODELS = ['ocr', 'ocr_det', 'ocr_cls', 'ocr_rec'];
let server: EmbeddedServer;
let modelsDir: string;
let page: Buffer;

beforeAll(async () => {
  modelsDir = mkdtempSync(path.join(tmpdir(), 'infergate-ocr-'));
  for (const m of OCR_MODELS) cpSync(path.join(packageRoot(), 'models', m), path.join(modelsDir, m), { recursive: true });
  server = await startEmbeddedServer({ modelsDir });
  page = await renderPage(OCR_PAGE);
}, 60_000);

afterAll(async () => {
  await server?.close();
  rmSync(modelsDir, { recursive: true, force: true });
});

/** The image as the whole body (binary extension, Inference-Header-Content-Length: 0). */
async function ocrRaw(image: Buffer, headers: Record<string, string> = {}) {
  const res = await server.app.inject({
    method: 'POST', url: '/v2/models/ocr/infer', payload: image,
    headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': '0', ...headers },
  });
  return res;
}

function decode(res: { statusCode: number; body: string; rawPayload: Buffer; headers: Record<string, unknown> }): InferResponse {
  expect(res.statusCode, res.body).toBe(200);
  const hl = res.headers['inference-header-content-length'];
  return parseBinaryInferResponse(res.rawPayload, hl === undefined ? undefined : Number(hl));
}

const texts = (r: InferResponse) => (r.outputs.find((o) => o.name === 'text')!.data as Uint8Array[]).map((b) => Buffer.from(b).toString('utf8'));
const output = (r: InferResponse, name: string) => r.outputs.find((o) => o.name === name)!;

async function stats(model: string): Promise<{ success: number; fail: number }> {
  const res = await server.app.inject({ method: 'GET', url: `/v2/models/${model}/stats` });
  const s = res.json().model_stats[0].inference_stats;
  return { success: s.success.count, fail: s.fail.count };
}

describe('ocr pipeline (embedded)', () => {
  it('reads every line exactly, in reading order, the upside-down one turned', async () => {
    const recBefore = await stats('ocr_rec');
    const r = decode(await ocrRaw(page));
    expect(texts(r)).toEqual(OCR_PAGE_TEXT);
    expect(Array.from(output(r, 'rotated').data as Uint8Array)).toEqual([0, 0, 0, 1]);
    const confidences = Array.from(output(r, 'confidences').data as Float32Array);
    for (const c of confidences) expect(c).toBeGreaterThan(0.8);
    // Boxes: [4, 4, 2], each around its line: the line's middle (baseline − size/3) inside it.
    const boxes = output(r, 'boxes');
    expect(boxes.shape).toEqual([4, 4, 2]);
    const b = boxes.data as Float32Array;
    OCR_PAGE.lines.slice(0, 3).forEach((line, i) => {
      const [x0, y0, , , x1, y1] = b.slice(i * 8, i * 8 + 8);
      const middle = line.y - line.size / 3;
      expect(y0).toBeLessThan(middle);
      expect(y1).toBeGreaterThan(middle);
      expect(x0).toBeLessThanOrEqual(line.x + 2);
      expect(x1).toBeGreaterThan(line.x + line.text.length * line.size * 0.4);
    });
    // All four crops of the image went to the recognizer as one request.
    expect((await stats('ocr_rec')).success - recBefore.success).toBe(1);
  });

  it('takes a JPEG too, as base64 text in a JSON request, and answers in JSON', async () => {
    const jpeg = await renderPage(OCR_PAGE, 'jpeg');
    const res = await server.app.inject({
      method: 'POST', url: '/v2/models/ocr/infer', headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], data: [jpeg.toString('base64')] }], outputs: [{ name: 'text' }] }),
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ model_name: 'ocr', model_version: '1', outputs: [{ name: 'text', datatype: 'BYTES', shape: [4], data: OCR_PAGE_TEXT }] });
  });

  it('a page without text: empty outputs, and the classifier and recognizer are not called', async () => {
    const blank = await renderPage({ width: 320, height: 160, lines: [] });
    const before = [await stats('ocr_cls'), await stats('ocr_rec')];
    const r = decode(await ocrRaw(blank));
    expect(r.outputs.map((o) => [o.name, o.shape])).toEqual([['text', [0]], ['boxes', [0, 4, 2]], ['confidences', [0]], ['rotated', [0]]]);
    expect([await stats('ocr_cls'), await stats('ocr_rec')]).toEqual(before);
  });

  it('pipeline_timings: each step timed in the answer parameters', async () => {
    const res = await server.app.inject({
      method: 'POST', url: '/v2/models/ocr/infer', headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ parameters: { pipeline_timings: true }, inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], data: [page.toString('base64')] }], outputs: [{ name: 'text' }] }),
    });
    expect(res.statusCode, res.body).toBe(200);
    const timings = JSON.parse(res.json().parameters.pipeline_timings) as Array<{ step: string; ms: number }>;
    expect(timings.map((t) => t.step)).toEqual([
      'process:detection_image', 'model:ocr_det', 'process:text_boxes', 'process:text_crops',
      'model:ocr_cls', 'process:orient_text_lines', 'model:ocr_rec', 'process:ctc_greedy_decode',
    ]);
    for (const t of timings) expect(t.ms).toBeGreaterThanOrEqual(0);
  });

  it.each([
    ['not an image', Buffer.from('hello, not an image'), /^input 'image'.*not a JPEG, PNG or WebP image/],
    ['a truncated PNG', 'truncated', /^input 'image'.*PNG/],
    ['a 0×0 PNG', 'empty', /^input 'image'.*0×0: it has no pixels/],
    ['a 20000×20000 PNG (a decompression bomb)', 'bomb', /^input 'image'.*20000×20000 = 400000000 pixels, over the limit max_image_pixels = 40000000/],
  ])('%s: 400 with a clear error, and the server keeps serving', async (_what, body, message) => {
    let image: Buffer;
    if (body === 'truncated') image = page.subarray(0, Math.floor(page.length / 2));
    else if (body === 'empty') image = pngDeclaring(0, 0);
    else if (body === 'bomb') image = pngDeclaring(20000, 20000);
    else image = body as Buffer;
    const res = await ocrRaw(image);
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatch(message);
    expect(texts(decode(await ocrRaw(page)))).toEqual(OCR_PAGE_TEXT);
  }, 60_000);

  it('a deadline shorter than detection answers 504, and no later step runs', async () => {
    const before = [await stats('ocr_cls'), await stats('ocr_rec')];
    const startedAt = performance.now();
    const res = await ocrRaw(page, { 'infergate-timeout-ms': '15' });
    expect(res.statusCode).toBe(504);
    expect(res.json().error).toMatch(/deadline/);
    expect(performance.now() - startedAt).toBeLessThan(1000);
    await sleep(500); // long enough for detection to end and the later steps to have run, had they started
    expect([await stats('ocr_cls'), await stats('ocr_rec')]).toEqual(before);
  });

  it("Triton's timeout parameter covers the whole pipeline too", async () => {
    const before = [await stats('ocr_cls'), await stats('ocr_rec')];
    const res = await server.app.inject({
      method: 'POST', url: '/v2/models/ocr/infer', headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ parameters: { timeout: 15_000 }, inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], data: [page.toString('base64')] }] }),
    });
    expect(res.statusCode).toBe(504);
    expect(res.json().error).toBe('request did not finish within its timeout parameter (15000 µs)');
    await sleep(500);
    expect([await stats('ocr_cls'), await stats('ocr_rec')]).toEqual(before);
  });

  it('answers through the gRPC door too (ModelInfer, the image as raw contents)', async () => {
    const door = await startGrpcServer({ service: server.node.service, host: '127.0.0.1', port: 0, maxMessageBytes: DEFAULT_GRPC_MAX_MESSAGE_BYTES });
    const client = new GrpcTestClient(`127.0.0.1:${door.port}`);
    try {
      const length = Buffer.alloc(4);
      length.writeUInt32LE(page.length);
      const answer = await client.call('ModelInfer', {
        model_name: 'ocr', inputs: [{ name: 'image', datatype: 'BYTES', shape: [1] }],
        outputs: [{ name: 'text' }], raw_input_contents: [Buffer.concat([length, page])],
      });
      expect(answer.outputs.map((o: { name: string; shape: number[] }) => [o.name, o.shape])).toEqual([['text', [4]]]);
      const raw = answer.raw_output_contents[0] as Buffer;
      const lines: string[] = [];
      for (let at = 0; at < raw.length;) {
        const n = raw.readUInt32LE(at);
        lines.push(raw.subarray(at + 4, at + 4 + n).toString('utf8'));
        at += 4 + n;
      }
      expect(lines).toEqual(OCR_PAGE_TEXT);
    } finally {
      client.close();
      await door.close();
    }
  });

  it('shows in metadata, the repository index and config like any model', async () => {
    const meta = (await server.app.inject({ method: 'GET', url: '/v2/models/ocr' })).json();
    expect(meta).toEqual({
      name: 'ocr', versions: ['1'], platform: 'ensemble',
      inputs: [{ name: 'image', datatype: 'BYTES', shape: [1] }],
      outputs: [
        { name: 'text', datatype: 'BYTES', shape: [-1] }, { name: 'boxes', datatype: 'FP32', shape: [-1, 4, 2] },
        { name: 'confidences', datatype: 'FP32', shape: [-1] }, { name: 'rotated', datatype: 'BOOL', shape: [-1] },
      ],
    });
    const index = (await server.app.inject({ method: 'POST', url: '/v2/repository/index' })).json();
    expect(index.map((e: { name: string; state: string }) => `${e.name}:${e.state}`)).toEqual(['ocr:READY', 'ocr_cls:READY', 'ocr_det:READY', 'ocr_rec:READY']);
    const config = (await server.app.inject({ method: 'GET', url: '/v2/models/ocr/config' })).json();
    expect(config.platform).toBe('ensemble');
    expect(config.ensemble_scheduling.step[1]).toEqual({ model_name: 'ocr_det', model_version: -1, input_map: { x: 'det_input' }, output_map: { 'sigmoid_0.tmp_0': 'text_map' } });
    expect((await server.app.inject({ method: 'GET', url: '/v2/models/ocr/versions/2' })).statusCode).toBe(404);
  });
});
