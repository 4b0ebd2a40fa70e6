/**
 * ms per inference of the reference native plugin (the bundled dense_native model: 64 → 256 ReLU
 * → 256 ReLU → 10, fp32, on the CPU) at batch 1 and 8, through the native engine in this process:
 * each execute() crosses the N-API addon and runs on libuv's thread pool. Batch 8 is one execute
 * of 8 one-row requests, which the engine concatenates into one plugin call. For scale, the same
 * network in plain JS (tools/dense-weights.ts, fp32-rounded like the plugin).
 *
 *   node dist/bench/native-engine.js [--iterations 2000] [--warmup 200]
 *
 * Prints a markdown table (median and p99 of the per-execute time, and the median per row).
 * Needs `npm run build:native`.
 */
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Card } from '../adapters/card.js';
import { loadDeclaredModel } from '../core/model-repository.js';
import { bundledModelsDir } from '../core/package-root.js';
import type { InferRequest } from '../core/tensor.js';
import type { ModelInstance } from '../engines/engine.js';
import { NativeEngine } from '../engines/native.js';
import { denseForward } from '../tools/dense-weights.js';
import { denseNativeNetwork } from '../tools/generate-dense-model.js';

const CPU: Card = { id: 'cpu', type: 'cpu-core', kind: 'cpu', coefficient: 1 };

interface Row {
  path: string;
  batch: number;
  medianMs: number;
  p99Ms: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

async function time(iterations: number, warmup: number, run: () => Promise<unknown> | unknown): Promise<{ medianMs: number; p99Ms: number }> {
  for (let i = 0; i < warmup; i++) await run();
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const start = process.hrtime.bigint();
    await run();
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  samples.sort((a, b) => a - b);
  return { medianMs: percentile(samples, 0.5), p99Ms: percentile(samples, 0.99) };
}

function requests(batch: number): InferRequest[] {
  return Array.from({ length: batch }, (_, r) => ({
    modelName: 'dense_native',
    inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [1, 64], data: Float32Array.from({ length: 64 }, (_, i) => Math.sin(r * 64 + i)) }],
  }));
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { iterations: { type: 'string', default: '2000' }, warmup: { type: 'string', default: '200' } } });
  const iterations = Number(values.iterations);
  const warmup = Number(values.warmup);
  const model = loadDeclaredModel(path.join(bundledModelsDir(), 'dense_native', 'model.yaml'));
  const loaded = await new NativeEngine().loadModel({
    declaration: model.declaration, version: model.versions[0].version, modelPath: model.versions[0].modelPath, metadata: model.metadata,
  });
  const instance: ModelInstance = await loaded.createInstance(CPU, 0);
  const net = denseNativeNetwork();
  const rows: Row[] = [];
  for (const batch of [1, 8]) {
    const reqs = requests(batch);
    rows.push({ path: 'native engine (C plugin, thread pool)', batch, ...(await time(iterations, warmup, () => instance.execute(reqs))) });
    const joined = new Float32Array(batch * 64);
    reqs.forEach((r, k) => joined.set(r.inputs[0].data as Float32Array, k * 64));
    rows.push({ path: 'plain JS reference (same math)', batch, ...(await time(Math.max(50, iterations / 10), warmup / 10, () => denseForward(net, joined, batch))) });
  }
  await loaded.unload();
  console.log(`dense_native (64→256→256→10 fp32), ${iterations} executes after ${warmup} warmup; ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.availableParallelism()} CPUs, Node ${process.version}\n`);
  console.log('| path | batch | ms per execute (median) | p99 | ms per inference (median ÷ batch) |');
  console.log('|---|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(`| ${r.path} | ${r.batch} | ${r.medianMs.toFixed(3)} | ${r.p99Ms.toFixed(3)} | ${(r.medianMs / r.batch).toFixed(4)} |`);
  }
}

await main();
