/**
 * Declared pre-processing over real sockets: a real `infergate serve` on a temporary repository
 * holding the generated tiny_cnn twice, once as it is (FP32 [1,8,8]) and once declared to take a
 * grey image (resize 8×8, nearest, v/255) with labels. A PNG sent as BYTES, in JSON (base64), in
 * the binary tensor extension, as a raw binary request and over gRPC, gets exactly the answer the plain model
 * gives for the preprocessed tensor; classification answers Triton's strings; bad images get 400
 * with a clear error and the server keeps serving.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundledModelsDir, packageRoot } from '../../core/package-root.js';
import { DEFAULT_MAX_IMAGE_PIXELS } from '../../processing/image-decode.js';
import { GrpcTestClient, failure, float32sOf } from '../support/grpc-client.js';
import { IMAGE_MODEL_LABELS as LABELS, PATTERN_TENSOR, patternPng, writeImageModel } from '../support/image-model.js';
import { blackPng1Bit, bombPng, pngWith } from '../support/png-bytes.js';

const CLI = path.join(packageRoot(), 'dist', 'cli', 'infergate.js');

describe('serve: images straight to a model with declared pre-processing', () => {
  const models = mkdtempSync(path.join(os.tmpdir(), 'infergate-image-serve-'));
  let child: ChildProcess;
  let url = '';
  let grpcAddress = '';
  let png8: Buffer;
  let png16: Buffer;

  beforeAll(async () => {
    cpSync(path.join(bundledModelsDir(), 'tiny_cnn'), path.join(models, 'tiny_cnn'), { recursive: true });
    writeImageModel(models);
    png8 = await patternPng();
    png16 = await patternPng(true);
    child = spawn(process.execPath, [CLI, 'serve', '--models', models, '--http-port', '0', '--grpc-port', '0', '--metrics-port', 'off', '--host', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    url = await new Promise<string>((resolve, reject) => {
      child.stdout!.on('data', (chunk) => {
        out += chunk;
        const match = /KServe v2 HTTP on (http:\/\/[^"]+)"/.exec(out);
        const grpc = /KServe v2 gRPC on ([^,"]+)/.exec(out);
        if (match && grpc) {
          grpcAddress = grpc[1];
          resolve(match[1]);
        }
      });
      child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${out}`)));
    });
  }, 30_000);

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(models, { recursive: true, force: true });
  });

  async function infer(model: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<{ status: number; json: any; raw: Buffer; headers: Headers }> {
    const res = await fetch(`${url}/v2/models/${model}/infer`, { method: 'POST', body: typeof body === 'string' ? body : new Uint8Array(body), headers });
    const raw = Buffer.from(await res.arrayBuffer());
    const headerLength = res.headers.get('inference-header-content-length');
    const json = JSON.parse(raw.subarray(0, headerLength === null ? raw.length : Number(headerLength)).toString('utf8'));
    return { status: res.status, json, raw, headers: res.headers };
  }

  /** The plain model on the preprocessed tensor: pixels / 255, batch of `rows` copies. */
  async function reference(rows = 1): Promise<number[]> {
    const data = Array.from({ length: rows }, () => PATTERN_TENSOR).flat();
    const { status, json } = await infer('tiny_cnn', JSON.stringify({ inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [rows, 1, 8, 8], data }] }));
    expect(status).toBe(200);
    return json.outputs[0].data as number[];
  }

  const jsonImages = (...images: Buffer[]) => JSON.stringify({ inputs: [{ name: 'INPUT', datatype: 'BYTES', shape: [images.length, 1], data: images.map((b) => b.toString('base64')) }] });

  it('metadata shows the image input as BYTES [-1,1]', async () => {
    const meta = await (await fetch(`${url}/v2/models/tiny_cnn_image`)).json() as { inputs: unknown[]; outputs: unknown[] };
    expect(meta.inputs).toEqual([{ name: 'INPUT', datatype: 'BYTES', shape: [-1, 1] }]);
    expect(meta.outputs).toEqual([{ name: 'PROBS', datatype: 'FP32', shape: [-1, 3] }]);
    const server = await (await fetch(`${url}/v2`)).json() as { extensions: string[] };
    expect(server.extensions).toContain('classification');
  });

  it('JSON (base64 PNG, 8×8 and 16×16 resized): the same numbers as the preprocessed tensor', async () => {
    const expected = await reference(2);
    const { status, json } = await infer('tiny_cnn_image', jsonImages(png8, png16));
    expect(status).toBe(200);
    expect(json.outputs[0]).toMatchObject({ name: 'PROBS', datatype: 'FP32', shape: [2, 3] });
    expect(json.outputs[0].data).toEqual(expected);
  });

  it('binary tensor extension: a BYTES element holding the PNG file', async () => {
    const expected = await reference();
    const element = Buffer.concat([Buffer.alloc(4), png16]);
    element.writeUInt32LE(png16.length, 0);
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'INPUT', datatype: 'BYTES', shape: [1, 1], parameters: { binary_data_size: element.length } }] }));
    const { status, json } = await infer('tiny_cnn_image', Buffer.concat([header, element]), { 'Inference-Header-Content-Length': String(header.length), 'Content-Type': 'application/octet-stream' });
    expect(status).toBe(200);
    expect(json.outputs[0].data).toEqual(expected);
  });

  it('raw binary request (Inference-Header-Content-Length: 0): the body is the PNG', async () => {
    const expected = await reference();
    const { status, json, raw, headers } = await infer('tiny_cnn_image', png8, { 'Inference-Header-Content-Length': '0', 'Content-Type': 'application/octet-stream' });
    expect(status).toBe(200);
    expect(json.outputs[0]).toMatchObject({ name: 'PROBS', datatype: 'FP32', shape: [1, 3], parameters: { binary_data_size: 12 } });
    const at = Number(headers.get('inference-header-content-length'));
    const probs = Array.from(new Float32Array(raw.buffer.slice(raw.byteOffset + at, raw.byteOffset + at + 12)));
    expect(probs).toEqual(expected.map(Math.fround));
  });

  it('gRPC: the PNG in bytes_contents; a bad one is INVALID_ARGUMENT', async () => {
    const expected = await reference();
    const client = new GrpcTestClient(grpcAddress);
    try {
      const input = { name: 'INPUT', datatype: 'BYTES', shape: [1, 1], contents: { bytes_contents: [png16] } };
      const res = await client.call('ModelInfer', { model_name: 'tiny_cnn_image', inputs: [input] });
      expect(res.outputs[0]).toMatchObject({ name: 'PROBS', datatype: 'FP32', shape: [1, 3] });
      expect(float32sOf(res.raw_output_contents[0])).toEqual(expected.map(Math.fround));
      const bad = { ...input, contents: { bytes_contents: [bombPng(100000, 100000)] } };
      const err = await failure(client.call('ModelInfer', { model_name: 'tiny_cnn_image', inputs: [bad] }));
      expect(err.code).toBe(3);
      expect(err.details).toContain('100000×100000 = 10000000000 pixels');
    } finally {
      client.close();
    }
  });

  it('classification: 2 → BYTES [1,2] of "<value>:<index>:<label>", highest first', async () => {
    const expected = await reference();
    const body = JSON.parse(jsonImages(png8));
    body.outputs = [{ name: 'PROBS', parameters: { classification: 2 } }];
    const { status, json } = await infer('tiny_cnn_image', JSON.stringify(body));
    expect(status).toBe(200);
    const order = [0, 1, 2].sort((a, b) => expected[b] - expected[a] || a - b);
    expect(json.outputs[0]).toEqual({
      name: 'PROBS', datatype: 'BYTES', shape: [1, 2],
      data: order.slice(0, 2).map((i) => `${Math.fround(expected[i]).toFixed(6)}:${i}:${LABELS[i]}`),
    });
    // The plain model has no labels: "<value>:<index>".
    const plain = await infer('tiny_cnn', JSON.stringify({
      inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [1, 1, 8, 8], data: PATTERN_TENSOR }],
      outputs: [{ name: 'PROBS', parameters: { classification: 1 } }],
    }));
    expect(plain.json.outputs[0].data).toEqual([`${Math.fround(expected[order[0]]).toFixed(6)}:${order[0]}`]);
  });

  it('bad images get 400 with a clear error, and the server keeps serving', async () => {
    const truncated = png16.subarray(0, png16.length - 20);
    const cases: [string, Buffer, string[]][] = [
      ['truncated', truncated, ['PNG image could not be decoded', 'truncated or corrupt']],
      ['not an image', Buffer.from('this is not an image at all'), ['not a JPEG, PNG or WebP image']],
      ['0×0', pngWith(0, 0, zlib.deflateSync(Buffer.alloc(0))), ['0×0: it has no pixels']],
      ['20000×20000', blackPng1Bit(20000, 20000), ['20000×20000 = 400000000 pixels', `max_image_pixels = ${DEFAULT_MAX_IMAGE_PIXELS}`]],
      ['decompression bomb', bombPng(100000, 100000), ['100000×100000 = 10000000000 pixels', 'max_image_pixels']],
    ];
    for (const [name, bytes, substrings] of cases) {
      for (const body of [jsonImages(bytes), bytes]) {
        const headers: Record<string, string> = typeof body === 'string' ? {} : { 'Inference-Header-Content-Length': '0' };
        const { status, json } = await infer('tiny_cnn_image', body, headers);
        expect({ name, status }).toEqual({ name, status: 400 });
        expect(json.error.startsWith("input 'INPUT': ")).toBe(true);
        for (const s of substrings) expect(json.error).toContain(s);
      }
    }
    // One bad row fails its request, not the server; a good request right after answers as before.
    const mixed = await infer('tiny_cnn_image', jsonImages(png8, truncated));
    expect(mixed.status).toBe(400);
    expect(mixed.json.error).toMatch(/^input 'INPUT' element 1: /);
    const expected = await reference();
    const again = await infer('tiny_cnn_image', jsonImages(png8));
    expect(again.status).toBe(200);
    expect(again.json.outputs[0].data).toEqual(expected);
    expect(child.exitCode).toBeNull();
  }, 30_000);
});
