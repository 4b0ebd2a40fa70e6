/**
 * The reference native plugin end to end: a real `infergate serve` process serves the bundled
 * dense_native model (declaration only, no per-model code) and answers a known input over KServe
 * v2 HTTP with exactly what the JS reference computes. Needs `npm run build:native`.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bundledModelsDir, packageRoot } from '../../core/package-root.js';
import { denseForward } from '../../tools/dense-weights.js';
import { denseNativeNetwork } from '../../tools/generate-dense-model.js';
import { nativeMissing } from '../engines/native-fixtures.js';
import { skipNote } from '../support/skip-reason.js';

const CLI = path.join(packageRoot(), 'dist', 'cli', 'infergate.js');
const missing = nativeMissing();

describe.skipIf(missing !== undefined)(`serve: the dense_native model through the native plugin${skipNote(missing)}`, () => {
  const models = mkdtempSync(path.join(os.tmpdir(), 'infergate-native-serve-'));
  cpSync(path.join(bundledModelsDir(), 'dense_native'), path.join(models, 'dense_native'), { recursive: true });
  afterAll(() => rmSync(models, { recursive: true, force: true }));

  it('answers a known input with the reference numbers, single and as a batch of 3 rows', async () => {
    const child = spawn(process.execPath, [CLI, 'serve', '--models', models, '--http-port', '0', '--grpc-port', '0', '--metrics-port', '0', '--host', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const httpUrl = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (chunk) => {
          out += chunk;
          const match = /KServe v2 HTTP on (http:\/\/[^,"\s]+)/.exec(out);
          if (match) resolve(match[1]);
        });
        child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${out}`)));
      });
      const ready = await fetch(`${httpUrl}/v2/models/dense_native/ready`);
      expect(ready.status).toBe(200);
      const meta = (await (await fetch(`${httpUrl}/v2/models/dense_native`)).json()) as { inputs: { shape: number[] }[] };
      expect(meta.inputs[0].shape).toEqual([-1, 64]);

      const net = denseNativeNetwork();
      for (const rows of [1, 3]) {
        const input = Float32Array.from({ length: rows * 64 }, (_, i) => Math.fround(Math.sin(i) * 2));
        const res = await fetch(`${httpUrl}/v2/models/dense_native/infer`, {
          method: 'POST',
          body: JSON.stringify({ inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [rows, 64], data: Array.from(input) }] }),
        });
        expect(res.status).toBe(200);
        const body = (await res.json()) as { outputs: { name: string; datatype: string; shape: number[]; data: number[] }[] };
        expect(body.outputs.map((o) => [o.name, o.datatype, o.shape])).toEqual([['OUTPUT', 'FP32', [rows, 10]]]);
        // JSON carries the float32 values as shortest doubles; back in fp32 they are the reference's bits.
        expect(Array.from(Float32Array.from(body.outputs[0].data))).toEqual(Array.from(denseForward(net, input, rows)));
      }

      const bad = await fetch(`${httpUrl}/v2/models/dense_native/infer`, {
        method: 'POST',
        body: JSON.stringify({ inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [1, 63], data: Array(63).fill(0) }] }),
      });
      expect(bad.status).toBe(400);
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
