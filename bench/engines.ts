/**
 * Milliseconds per inference for each (bundled model, engine/backend) this machine runs: the
 * liveness tfjs graph model on tfjs-wasm and tfjs-cpu, and ocr_cls (an ONNX model of the same
 * weight size, 0.6 MB) on onnxruntime's CPU provider with 1 thread (wasm is single-threaded, so one
 * thread keeps the comparison fair). Each case runs through the engine's own ModelInstance.execute,
 * as a node would: batch 1 is one request of one row; batch 8 is eight one-row requests in one
 * execute, which the engine concatenates into one run.
 * Cells are the median execute time (other work on a shared machine skews means).
 * Run from the repository root: `node dist/bench/engines.js [--quick]`. Prints a markdown table.
 */
import os from 'node:os';
import path from 'node:path';
import type { Card } from '../adapters/card.js';
import { bundledModelsDir } from '../core/package-root.js';
import { loadDeclaredModel } from '../core/model-repository.js';
import type { InferRequest } from '../core/tensor.js';
import type { Engine, ModelInstance } from '../engines/engine.js';
import { OnnxEngine } from '../engines/onnx.js';
import { TfjsEngine } from '../engines/tfjs.js';
import { seededRandom } from './support/seeded-random.js';

const QUICK = process.argv.includes('--quick');
/** Least time measured per (case, batch), after warmup, so that a ~1 ms model gets hundreds of runs. */
const MEASURE_MS = QUICK ? 300 : 2000;
const WARMUP_RUNS = 5;
const CPU: Card = { id: 'cpu', type: 'cpu-core', kind: 'cpu', coefficient: 1, engineOptions: { intraOpNumThreads: 1 } };

interface Case {
  model: string;
  engine: string;
  create(): Engine;
  /** One row of the model's input. */
  request(random: () => number): InferRequest;
}

function rowRequest(modelName: string, name: string, dims: number[]) {
  return (random: () => number): InferRequest => {
    const n = dims.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = random();
    return { modelName, inputs: [{ name, datatype: 'FP32', shape: [1, ...dims], data }] };
  };
}

const CASES: Case[] = [
  { model: 'liveness', engine: 'tfjs-wasm', create: () => new TfjsEngine({ backends: ['wasm'] }), request: rowRequest('liveness', 'conv2d_1_input', [32, 32, 3]) },
  { model: 'liveness', engine: 'tfjs-cpu', create: () => new TfjsEngine({ backends: ['cpu'] }), request: rowRequest('liveness', 'conv2d_1_input', [32, 32, 3]) },
  { model: 'ocr_cls', engine: 'onnxruntime CPU (1 thread)', create: () => new OnnxEngine({ execution: 'inline' }), request: rowRequest('ocr_cls', 'x', [3, 48, 192]) },
];

/** The median execute time (robust to other work on a shared machine), and how many runs it is over. */
async function timeBatch(instance: ModelInstance, batch: InferRequest[]): Promise<{ msPerExecute: number; runs: number }> {
  for (let i = 0; i < WARMUP_RUNS; i++) await instance.execute(batch);
  const times: number[] = [];
  const start = performance.now();
  while (performance.now() - start < MEASURE_MS || times.length < 10) {
    const t0 = performance.now();
    const results = await instance.execute(batch);
    times.push(performance.now() - t0);
    const failed = results.find((r) => r instanceof Error);
    if (failed) throw new Error(`a run failed: ${String(failed)}`);
  }
  times.sort((a, b) => a - b);
  return { msPerExecute: times[Math.floor(times.length / 2)], runs: times.length };
}

async function main(): Promise<void> {
  const rows: string[] = [];
  for (const c of CASES) {
    const model = loadDeclaredModel(path.join(bundledModelsDir(), c.model, 'model.yaml'));
    const engine = c.create();
    const loaded = await engine.loadModel({
      declaration: { ...model.declaration, execution: 'inline' },
      version: model.versions[0].version,
      modelPath: model.versions[0].modelPath,
      metadata: model.metadata,
    });
    const instance = await loaded.createInstance(CPU, 0);
    const random = seededRandom(7);
    const cells: string[] = [];
    for (const size of [1, 8]) {
      const batch = Array.from({ length: size }, () => c.request(random));
      const { msPerExecute, runs } = await timeBatch(instance, batch);
      cells.push(msPerExecute.toFixed(2), (msPerExecute / size).toFixed(3), String(runs));
    }
    await loaded.unload();
    rows.push(`| ${c.model} | ${c.engine} | ${cells.join(' | ')} |`);
    console.error(`done: ${c.model} on ${c.engine}`);
  }
  console.log(`Engines, ${os.cpus()[0]?.model ?? 'cpu'} × ${os.availableParallelism()}, Node ${process.version}, median of the runs in ${MEASURE_MS} ms per cell after ${WARMUP_RUNS} warmup runs; load average ${os.loadavg()[0].toFixed(1)}.\n`);
  console.log('| model | engine / backend | batch 1 ms | ms / inference | runs | batch 8 ms | ms / inference | runs |');
  console.log('|---|---|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) console.log(r);
}

await main();
