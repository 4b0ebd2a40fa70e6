/**
 * Isolation between models on one node: does a heavy model under load starve a light one? One
 * real `infergate serve` process serves both; a paced client sends the light model one request
 * every --light-period-ms and records its latency, first with the heavy model loaded and idle,
 * then with --heavy-concurrency clients keeping the heavy model busy with large inputs.
 *
 *   node dist/bench/isolation.js [--light tiny_cnn] [--heavy ocr_det] [--heavy-size 320]
 *     [--heavy-concurrency 2] [--window-ms 5000] [--light-period-ms 10] [--label default]
 *     [-- serve flags…]
 *
 * Prints a markdown table (one row per phase). Flags after `--` go to `serve`, so a change (say,
 * the CPU card's threads) is measured by running the bench once per setting with its own --label.
 */
import { parseArgs } from 'node:util';
import { InferenceHttpClient } from '../client/http-client.js';
import type { TensorInput } from '../client/client-tensors.js';
import { BenchChildren, modelRepositoryWith, startServe } from './support/processes.js';

const HOST = '127.0.0.1';

interface Phase {
  phase: string;
  lightP50Ms: number;
  lightP99Ms: number;
  lightMaxMs: number;
  lightRequests: number;
  lightErrors: number;
  heavyPerSec: number;
  heavyP50Ms: number;
}

async function main(argv: string[]): Promise<number> {
  const dash = argv.indexOf('--');
  const serveArgs = dash >= 0 ? argv.slice(dash + 1) : [];
  const { values } = parseArgs({
    args: dash >= 0 ? argv.slice(0, dash) : argv,
    options: {
      light: { type: 'string', default: 'tiny_cnn' },
      heavy: { type: 'string', default: 'ocr_det' },
      'heavy-size': { type: 'string', default: '320' },
      'heavy-concurrency': { type: 'string', default: '2' },
      'window-ms': { type: 'string', default: '5000' },
      'light-period-ms': { type: 'string', default: '10' },
      label: { type: 'string', default: 'default' },
    },
  });
  const windowMs = Number(values['window-ms']);
  const periodMs = Number(values['light-period-ms']);
  const heavySize = Number(values['heavy-size']);
  const heavyConcurrency = Number(values['heavy-concurrency']);
  const light = String(values.light);
  const heavy = String(values.heavy);

  const children = new BenchChildren();
  children.installExitHandlers();
  try {
    const models = modelRepositoryWith(children, [light, heavy]);
    const serve = await startServe(children, { host: HOST, modelsDir: models, logLevel: 'info', extraArgs: serveArgs });
    const client = new InferenceHttpClient(serve.url!, { connections: heavyConcurrency + 2 });
    const lightInputs = await inputsFor(client, light, 16);
    const heavyInputs = await inputsFor(client, heavy, heavySize);
    // Warm both (first runs allocate), then measure.
    await client.infer(light, lightInputs);
    await client.infer(heavy, heavyInputs);

    const phases: Phase[] = [];
    phases.push(await measure('light alone (heavy loaded, idle)', client, light, lightInputs, periodMs, windowMs, 0, heavy, heavyInputs));
    phases.push(await measure(`light + heavy under load (${heavyConcurrency} in flight)`, client, light, lightInputs, periodMs, windowMs, heavyConcurrency, heavy, heavyInputs));
    await client.close();

    console.log(`\nisolation, label '${values.label}': light ${light} every ${periodMs} ms, heavy ${heavy} [3, ${heavySize}, ${heavySize}], ${windowMs} ms per phase, serve ${serveArgs.join(' ') || '(defaults)'}\n`);
    console.log('| phase | light p50 ms | light p99 ms | light max ms | light requests | light errors | heavy inf/s | heavy p50 ms |');
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const p of phases) {
      console.log(`| ${p.phase} | ${fix(p.lightP50Ms)} | ${fix(p.lightP99Ms)} | ${fix(p.lightMaxMs)} | ${p.lightRequests} | ${p.lightErrors} | ${fix(p.heavyPerSec)} | ${fix(p.heavyP50Ms)} |`);
    }
    return 0;
  } finally {
    await children.stopAll();
  }
}

/** Zero inputs shaped from the model's metadata, batch 1, each variable dim `variableDim`. */
async function inputsFor(client: InferenceHttpClient, model: string, variableDim: number): Promise<TensorInput[]> {
  const meta = await client.modelMetadata(model);
  const config = await client.modelConfig(model) as { max_batch_size?: number };
  const batching = (config.max_batch_size ?? 0) > 0;
  return meta.inputs.map((t) => {
    const row = (batching ? t.shape.slice(1) : t.shape).map((d) => (d < 0 ? variableDim : d));
    const shape = batching ? [1, ...row] : row;
    const n = shape.reduce((a, b) => a * b, 1);
    if (t.datatype !== 'FP32') throw new Error(`isolation bench: ${model} input ${t.name} is ${t.datatype}; only FP32 models are supported`);
    return { name: t.name, datatype: 'FP32', shape, data: new Float32Array(n).fill(0.5) };
  });
}

async function measure(
  phase: string, client: InferenceHttpClient, light: string, lightInputs: TensorInput[], periodMs: number, windowMs: number,
  heavyConcurrency: number, heavy: string, heavyInputs: TensorInput[],
): Promise<Phase> {
  const until = performance.now() + windowMs;
  const heavyMs: number[] = [];
  const heavyLoop = async () => {
    while (performance.now() < until) {
      const t0 = performance.now();
      await client.infer(heavy, heavyInputs);
      heavyMs.push(performance.now() - t0);
    }
  };
  const lightMs: number[] = [];
  let lightErrors = 0;
  const lightLoop = async () => {
    while (performance.now() < until) {
      const t0 = performance.now();
      try {
        await client.infer(light, lightInputs);
        lightMs.push(performance.now() - t0);
      } catch {
        lightErrors++;
      }
      const rest = periodMs - (performance.now() - t0);
      if (rest > 0) await new Promise((r) => setTimeout(r, rest));
    }
  };
  const startedAt = performance.now();
  await Promise.all([lightLoop(), ...Array.from({ length: heavyConcurrency }, heavyLoop)]);
  const elapsedS = (performance.now() - startedAt) / 1000;
  lightMs.sort((a, b) => a - b);
  heavyMs.sort((a, b) => a - b);
  return {
    phase,
    lightP50Ms: quantile(lightMs, 0.5),
    lightP99Ms: quantile(lightMs, 0.99),
    lightMaxMs: lightMs[lightMs.length - 1] ?? 0,
    lightRequests: lightMs.length,
    lightErrors,
    heavyPerSec: heavyMs.length / elapsedS,
    heavyP50Ms: quantile(heavyMs, 0.5),
  };
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

function fix(v: number): string {
  return v >= 100 ? v.toFixed(0) : v.toFixed(2);
}

main(process.argv.slice(2)).then((code) => process.exit(code), (err) => {
  console.error(`isolation bench: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
