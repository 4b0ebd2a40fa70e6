/**
 * Dynamic batching on a bundled model that batches (default the recognizer `ocr_rec`, input `x` FP32
 * [N,3,48,W], one text-line crop per request; `--model NAME` for another, e.g. tiny_cnn, liveness,
 * dense_native, identity): one row per request, inputs drawn from the model's metadata (seeded),
 * throughput and latency at concurrency 1, 8 and 32, closed loop over HTTP with the binary tensor
 * extension, against three declarations of the same model in a temp repository (a copy of the
 * bundled model directory, so version files and native plugins resolve inside it), each served by
 * its own `infergate serve`:
 * - `unbatched`: max_batch_size 0 (dims [-1,3,48,-1]): every request is its own run, as Triton
 *   runs a model without a batcher;
 * - `take-queued`: max_batch_size 8, no dynamic_batching: a free instance takes the requests of
 *   one shape queued at that moment, up to 8 rows (infergate's default);
 * - `dynamic`: max_batch_size 8 with dynamic_batching (max_queue_delay_us, preferred size 8).
 * The servers run side by side and are measured in interleaved rounds, so that other work on a
 * shared machine lands on each of them alike. Each cell also says how many rows a run took on
 * average (inference_count / execution_count from the statistics extension).
 * Before the servers start, the ceiling any batching can reach: the model's own time per row at
 * batch 1 and at batch 8, in this process (its engine from the default registry, onnx inline,
 * interleaved, medians).
 *
 * Run from the repository root after `npx tsc -p tsconfig.json`:
 *   node dist/bench/batching.js [--model ocr_rec] [--quick] [--width 320] [--delay-us 4000] [--rounds 3] [--seconds 3]
 * `--width` fills every variable dim but the batch (ocr_rec's crop width); fixed-shape models ignore it.
 * Prints a markdown table, the machine's load average before and after.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InferenceHttpClient } from '../client/http-client.js';
import type { Card } from '../adapters/card.js';
import { arrayConstructorFor, type Datatype, type NumericArray } from '../core/datatypes.js';
import type { TensorMetadata } from '../core/model-metadata.js';
import { isPipelineFile, loadDeclaredModel, type DeclaredModel } from '../core/model-repository.js';
import { bundledModelsDir } from '../core/package-root.js';
import type { InferRequest, Tensor } from '../core/tensor.js';
import { createDefaultEngineRegistry } from '../engines/engine-registry.js';
import { combineRuns, runClosedLoop, type LoadResult, type LoadRun } from './support/load.js';
import { BenchChildren, getJson, startServe, type BenchChild } from './support/processes.js';
import { seededRandom } from './support/seeded-random.js';

const QUICK = process.argv.includes('--quick');
function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const value = Number(process.argv[i + 1]);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name}: expected a positive number, got ${process.argv[i + 1]}`);
  return value;
}
/** Crop width: PP-OCR's recognizer takes 48 px high lines, commonly 320 px wide. */
const WIDTH = arg('width', 320);
const DELAY_US = arg('delay-us', 4000);
const ROUNDS = arg('rounds', QUICK ? 1 : 3);
const SECONDS = arg('seconds', QUICK ? 1.5 : 3);
const CONCURRENCIES = [1, 8, 32];
const MAX_BATCH_SIZE = 8;
const MODEL_NAME = stringArg('model', 'ocr_rec');

function stringArg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const value = process.argv[i + 1];
  if (value === undefined || value.startsWith('--')) throw new Error(`--${name}: expected a value`);
  return value;
}

/** The bundled model, refused with the reason when the bench cannot batch it. */
function benchModel(name: string): { dir: string; model: DeclaredModel; bundledYaml: string } {
  const dir = path.join(bundledModelsDir(), name);
  const file = path.join(dir, 'model.yaml');
  if (!/^[A-Za-z0-9_-]+$/.test(name) || !existsSync(file)) throw new Error(`--model: no bundled model '${name}' (expected ${file})`);
  if (isPipelineFile(file)) throw new Error(`--model ${name}: a pipeline, not a model; the bench batches one model (e.g. one of its steps)`);
  const model = loadDeclaredModel(file);
  if (model.declaration.max_batch_size <= 0) {
    throw new Error(`--model ${name}: its declaration does not batch (max_batch_size ${model.declaration.max_batch_size}); pick one with max_batch_size > 0`);
  }
  return { dir, model, bundledYaml: readFileSync(file, 'utf8') };
}

/** Dims of one request: one row, and every other variable dim set to --width. */
function requestShape(t: TensorMetadata): number[] {
  return [1, ...t.shape.slice(1).map((d) => (d < 0 ? WIDTH : d))];
}

/** Seeded values for one tensor: [-1, 1) for floats, small non-negative integers otherwise. */
function tensorData(datatype: Datatype, length: number, random: () => number): NumericArray {
  if (datatype === 'BYTES' || datatype === 'FP16' || datatype === 'BF16') throw new Error(`--model ${MODEL_NAME}: the bench does not generate ${datatype} inputs`);
  const data = new (arrayConstructorFor(datatype))(length);
  for (let i = 0; i < length; i++) {
    if (datatype === 'FP32' || datatype === 'FP64') data[i] = random() * 2 - 1;
    else if (datatype === 'INT64' || datatype === 'UINT64') data[i] = BigInt(Math.floor(random() * 100));
    else if (datatype === 'BOOL') data[i] = random() < 0.5 ? 0 : 1;
    else data[i] = Math.floor(random() * 100);
  }
  return data;
}

/** `x [1,3,48,320] FP32`, inputs joined by ` + `. */
function describeInputs(inputs: Tensor[]): string {
  return inputs.map((t) => `${t.name} [${t.shape.join(',')}] ${t.datatype}`).join(' + ');
}

/** Largest |a - b| over two tensors' elements (BigInt elements compared as numbers). */
function maxDiff(a: Tensor, b: Tensor): number {
  const xs = Array.from(a.data as ArrayLike<number | bigint>, Number);
  const ys = Array.from(b.data as ArrayLike<number | bigint>, Number);
  if (xs.length !== ys.length) return Infinity;
  return xs.reduce((m, v, i) => Math.max(m, Math.abs(v - ys[i])), 0);
}

interface Variant {
  name: string;
  describe: string;
  /** The bundled declaration, changed for this variant. */
  yaml(bundled: string): string;
}

/** The bundled declaration without a dynamic_batching block (whatever the bundled one declares). */
function withoutBatching(yaml: string): string {
  return yaml.replace(/^dynamic_batching:\n(?:[ \t]+.*\n)*/m, '').replace(/^max_batch_size: \d+$/m, `max_batch_size: ${MAX_BATCH_SIZE}`);
}

const VARIANTS: Variant[] = [
  {
    name: 'unbatched',
    describe: 'max_batch_size 0: one request per run',
    // Without a batcher the batch dim is the model's own: declared in front of every input and output.
    yaml: (y) => withoutBatching(y).replace(/^max_batch_size: \d+$/m, 'max_batch_size: 0').replace(/^(\s*dims: \[)/gm, '$1-1, '),
  },
  { name: 'take-queued', describe: `max_batch_size ${MAX_BATCH_SIZE}, no dynamic_batching`, yaml: (y) => withoutBatching(y) },
  {
    name: 'dynamic',
    describe: `max_batch_size ${MAX_BATCH_SIZE}, dynamic_batching {max_queue_delay_us: ${DELAY_US}, preferred_batch_sizes: [${MAX_BATCH_SIZE}]}`,
    yaml: (y) => `${withoutBatching(y)}dynamic_batching:\n  max_queue_delay_us: ${DELAY_US}\n  preferred_batch_sizes: [${MAX_BATCH_SIZE}]\n`,
  },
];

interface Served {
  variant: Variant;
  server: BenchChild;
  client: InferenceHttpClient;
  runs: Map<number, LoadRun[]>;
  executions: Map<number, { executions: number; inferences: number }>;
}

async function counts(url: string): Promise<{ executions: number; inferences: number }> {
  const { json } = await getJson(`${url}/v2/models/${MODEL_NAME}/stats`);
  const s = (json as { model_stats: { execution_count: number; inference_count: number }[] }).model_stats[0];
  return { executions: s.execution_count, inferences: s.inference_count };
}

/** Milliseconds per row of the model at batch 1 and at batch MAX_BATCH_SIZE, run in this process. */
async function modelCeiling(model: DeclaredModel, inputs: Tensor[], threads: number): Promise<{ batch1: number; batched: number }> {
  const registry = createDefaultEngineRegistry({ onnx: { execution: 'inline' } });
  const engineName = model.declaration.engine.find((e) => registry.get(e) !== undefined);
  if (engineName === undefined) {
    throw new Error(`--model ${MODEL_NAME}: none of its engines (${model.declaration.engine.join(', ')}) is available here (registered: ${registry.names().join(', ')}); the native engine needs 'npm run build:native'`);
  }
  const loaded = await registry.get(engineName)!.loadModel({
    declaration: model.declaration, version: model.versions[0].version, modelPath: model.versions[0].modelPath, metadata: model.metadata,
  });
  try {
    const card: Card = { id: 'cpu', type: 'cpu-core', kind: 'cpu', coefficient: 1, engineOptions: { intraOpNumThreads: threads } };
    const instance = await loaded.createInstance(card, 0);
    const request = (rows: number): InferRequest => ({
      modelName: MODEL_NAME,
      inputs: inputs.map((t) => {
        const one = t.data as NumericArray;
        const data = new (one.constructor as new (n: number) => NumericArray)(rows * one.length);
        for (let r = 0; r < rows; r++) data.set(one as never, r * one.length);
        return { name: t.name, datatype: t.datatype, shape: [rows, ...t.shape.slice(1)], data };
      }),
    });
    const one = request(1);
    const many = request(MAX_BATCH_SIZE);
    for (const [label, result] of [['batch 1', await instance.execute([one])], [`batch ${MAX_BATCH_SIZE}`, await instance.execute([many])]] as const) {
      if (!('outputs' in result[0])) throw new Error(`ceiling: ${MODEL_NAME} failed at ${label}: ${(result[0] as Error).message}`);
    }
    const single: number[] = [];
    const batched: number[] = [];
    for (let i = 0; i < (QUICK ? 3 : 7); i++) {
      let t = performance.now();
      for (let k = 0; k < MAX_BATCH_SIZE; k++) await instance.execute([one]);
      single.push((performance.now() - t) / MAX_BATCH_SIZE);
      t = performance.now();
      await instance.execute([many]);
      batched.push((performance.now() - t) / MAX_BATCH_SIZE);
    }
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1];
    return { batch1: median(single), batched: median(batched) };
  } finally {
    await loaded.unload();
  }
}

function fmt(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '–';
}

/** Milliseconds: one decimal, three below 1 ms (the small models' runs take microseconds). */
function fmtMs(ms: number): string {
  return fmt(ms, ms < 1 ? 3 : 1);
}

async function main(): Promise<void> {
  const loadBefore = os.loadavg();
  const children = new BenchChildren();
  children.installExitHandlers();
  const root = mkdtempSync(path.join(os.tmpdir(), 'infergate-bench-batching-'));
  children.onStop(() => rmSync(root, { recursive: true, force: true }));
  const { dir: bundledDir, model, bundledYaml: bundled } = benchModel(MODEL_NAME);
  const served: Served[] = [];
  const random = seededRandom(7);
  const input: Tensor[] = model.metadata.inputs.map((t) => {
    const shape = requestShape(t);
    return { name: t.name, datatype: t.datatype, shape, data: tensorData(t.datatype, shape.reduce((a, b) => a * b, 1), random) };
  });
  const ceiling = await modelCeiling(model, input, Math.min(2, os.cpus().length));
  try {
    for (const variant of VARIANTS) {
      const repo = path.join(root, variant.name);
      // A copy, not links: a native plugin must resolve to a file inside the serving repository.
      cpSync(bundledDir, path.join(repo, MODEL_NAME), { recursive: true });
      writeFileSync(path.join(repo, MODEL_NAME, 'model.yaml'), variant.yaml(bundled));
      const server = await startServe(children, { host: '127.0.0.1', modelsDir: repo }, `serve ${variant.name}`);
      served.push({ variant, server, client: new InferenceHttpClient(server.url, { connections: 40 }), runs: new Map(), executions: new Map() });
    }
    // The same answer from each declaration (batching must not change a number).
    const answers = await Promise.all(served.map((s) => s.client.infer(MODEL_NAME, input)));
    for (const out of model.metadata.outputs) {
      const reference = answers[0].output(out.name);
      for (const [k, a] of answers.entries()) {
        const diff = maxDiff(a.output(out.name), reference);
        if (!(diff <= 1e-4)) throw new Error(`${served[k].variant.name} answers ${out.name} differently from unbatched (max |diff| ${diff})`);
      }
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (const c of CONCURRENCIES) {
        for (const s of served) {
          const issue = () => s.client.infer(MODEL_NAME, input);
          await runClosedLoop(issue, c, 300); // warm the connections and the queue
          const before = await counts(s.server.url);
          const run = await runClosedLoop(issue, c, SECONDS * 1000);
          const after = await counts(s.server.url);
          (s.runs.get(c) ?? s.runs.set(c, []).get(c)!).push(run);
          const e = s.executions.get(c) ?? { executions: 0, inferences: 0 };
          e.executions += after.executions - before.executions;
          e.inferences += after.inferences - before.inferences;
          s.executions.set(c, e);
          process.stderr.write(`round ${round + 1}/${ROUNDS} c=${c} ${s.variant.name}: ${fmt(run.requests / run.elapsedS)} req/s\n`);
        }
      }
    }
    const loadAfter = os.loadavg();
    const lines: string[] = [];
    lines.push(`${MODEL_NAME}, ${describeInputs(input)} per request, HTTP binary tensors, closed loop; ${ROUNDS} round(s) × ${SECONDS} s per cell, rounds interleaved across the three servers.`);
    lines.push(`Machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}); load average before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${loadAfter.map((l) => l.toFixed(2)).join(' ')}.`);
    lines.push(`Ceiling (the model alone, in process, ${Math.min(2, os.cpus().length)} threads): ${fmtMs(ceiling.batch1)} ms per row at batch 1, ${fmtMs(ceiling.batched)} ms per row at batch ${MAX_BATCH_SIZE}: batching can gain at most ${fmt(ceiling.batch1 / ceiling.batched, 2)}× here.`);
    lines.push('');
    lines.push('| concurrency | ' + served.map((s) => `${s.variant.name} req/s | p50 ms | p99 ms | rows/run`).join(' | ') + ' | dynamic ÷ unbatched | dynamic ÷ take-queued |');
    lines.push('|---:|' + served.map(() => '---:|---:|---:|---:').join('|') + '|---:|---:|');
    for (const c of CONCURRENCIES) {
      const results: LoadResult[] = served.map((s) => combineRuns(s.runs.get(c)!));
      const cells = served.map((s, k) => {
        const r = results[k];
        const e = s.executions.get(c)!;
        const errors = r.errors > 0 ? ` (${r.errors} errors: ${r.firstError})` : '';
        return `${fmt(r.reqPerS)}${errors} | ${fmt(r.latency.p50Us / 1000)} | ${fmt(r.latency.p99Us / 1000)} | ${fmt(e.inferences / e.executions, 2)}`;
      });
      const [unbatched, takeQueued, dynamic] = results.map((r) => r.reqPerS);
      lines.push(`| ${c} | ${cells.join(' | ')} | ${fmt(dynamic / unbatched, 2)}× | ${fmt(dynamic / takeQueued, 2)}× |`);
    }
    lines.push('');
    for (const s of served) lines.push(`- \`${s.variant.name}\`: ${s.variant.describe}`);
    console.log(lines.join('\n'));
  } finally {
    await children.stopAll();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
