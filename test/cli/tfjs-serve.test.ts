/**
 * The bundled tfjs model served with no code: a real `infergate serve` process loads
 * models/liveness (a TensorFlow.js graph model from @vladmandic/human) and answers over HTTP with
 * the numbers tfjs computes directly from the same files.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundledModelsDir, packageRoot } from '../../core/package-root.js';
import { livenessReference, livenessRequest } from '../engines/tfjs-fixtures.js';

const CLI = path.join(packageRoot(), 'dist', 'cli', 'infergate.js');

describe('serve with the bundled tfjs model', () => {
  const models = mkdtempSync(path.join(os.tmpdir(), 'infergate-tfjs-serve-'));
  cpSync(path.join(bundledModelsDir(), 'liveness'), path.join(models, 'liveness'), { recursive: true });
  afterAll(() => rmSync(models, { recursive: true, force: true }));
  // The reference runs on the backend the server picks here (wasm), so the numbers agree to float32 rounding.
  beforeAll(async () => { expect(await tf.setBackend('wasm')).toBe(true); });

  it('answers KServe v2 infer with tfjs’s own numbers, batch of 3', async () => {
    const child = spawn(process.execPath, [CLI, 'serve', '--models', models, '--http-port', '0', '--grpc-port', '0', '--metrics-port', 'off', '--host', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c) => { stderr += c; });
    try {
      let out = '';
      const httpUrl = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (chunk) => {
          out += chunk;
          const match = /KServe v2 HTTP on (http:\/\/[^"]+)"/.exec(out);
          if (match) resolve(match[1]);
        });
        child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${out} ${stderr}`)));
      });
      const meta = await (await fetch(`${httpUrl}/v2/models/liveness`)).json() as { inputs: { name: string; shape: number[] }[] };
      expect(meta.inputs).toEqual([{ name: 'conv2d_1_input', datatype: 'FP32', shape: [-1, 32, 32, 3] }]);
      const req = livenessRequest(3, 5);
      const input = req.inputs[0];
      const res = await fetch(`${httpUrl}/v2/models/liveness/infer`, {
        method: 'POST',
        body: JSON.stringify({ inputs: [{ name: input.name, datatype: 'FP32', shape: input.shape, data: Array.from(input.data as Float32Array) }] }),
      });
      expect(res.status).toBe(200);
      const body = await res.json() as { outputs: { name: string; datatype: string; shape: number[]; data: number[] }[] };
      const [expected] = await livenessReference(req);
      expect(body.outputs).toHaveLength(1);
      expect(body.outputs[0]).toMatchObject({ name: 'activation_6', datatype: 'FP32', shape: [3, 2] });
      // Same backend, same kernels: equal up to the float32 → JSON round trip.
      body.outputs[0].data.forEach((v, i) => expect(Math.fround(v)).toBe((expected.data as Float32Array)[i]));
      // Each row is a softmax over 2 classes.
      for (let r = 0; r < 3; r++) expect(body.outputs[0].data[2 * r] + body.outputs[0].data[2 * r + 1]).toBeCloseTo(1, 5);
      // The server says in its structured log which backend it runs on and why (no native tfjs here).
      const backendLine = out.split('\n').find((line) => line.includes('tfjs engine: backend'));
      expect(JSON.parse(backendLine ?? '{}').msg).toMatch(/tfjs engine: backend wasm: tfjs-node-gpu unavailable/);
      expect(stderr).not.toMatch(/tfjs engine/);
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  }, 30_000);
});
