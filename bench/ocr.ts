/**
 * OCR end to end: images per second through the bundled `ocr` pipeline, and where the time goes.
 *
 *   embedded   `infergate serve` with the four OCR declarations: every step in one process.
 *   split      `infergate gateway --pipelines` runs the pipeline; detection and the direction
 *              classifier on one `infergate backend`, recognition on another: every model step
 *              crosses a process boundary (loopback HTTP) to its own pool.
 *
 * The page is OCR_PAGE (bench/support/ocr-images.ts: 800×400 PNG, four lines, one upside down),
 * rendered here. Each client sends it in a closed loop (binary tensor extension) with the
 * `pipeline_timings` parameter, so every answer carries its steps' times; the split columns are
 * their means. Everything runs on this machine: with 2 cores, the split setup's three processes
 * compete for them, so it measures the cost of the hops, not the gain of more machines.
 *
 *   node dist/bench/ocr.js [--duration-s 10] [--concurrency 1,4] [--only embedded,split]
 *
 * Prints a markdown table and writes bench/results/ocr.{json,md}.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { encodeInferRequest } from '../core/infer-binary.js';
import { packageRoot } from '../core/package-root.js';
import { OCR_PAGE, OCR_PAGE_TEXT, renderPage } from './support/ocr-images.js';
import { quantile } from './support/cluster-processes.js';
import { BenchChildren, modelRepositoryWith, startBackend, startGateway, startServe, waitForPool } from './support/processes.js';

const HOST = '127.0.0.1';

/** Steps by the share of the work they are: pre-processing, the three models, post-processing. */
const PHASES: Record<string, string> = {
  'process:detection_image': 'pre',
  'process:text_crops': 'pre',
  'process:orient_text_lines': 'pre',
  'model:ocr_det': 'det',
  'model:ocr_cls': 'cls',
  'model:ocr_rec': 'rec',
  'process:text_boxes': 'post',
  'process:ctc_greedy_decode': 'post',
};
const PHASE_NAMES = ['pre', 'det', 'cls', 'rec', 'post'] as const;

interface RunResult {
  setup: string;
  concurrency: number;
  images: number;
  imagesPerS: number;
  p50Ms: number;
  p99Ms: number;
  /** Mean ms per image in each phase, and what the steps do not account for (decode/encode, door, queueing between steps). */
  phasesMs: Record<string, number>;
  otherMs: number;
  errors: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'duration-s': { type: 'string', default: '10' },
      concurrency: { type: 'string', default: '1,4' },
      only: { type: 'string', default: 'embedded,split' },
    },
  });
  const durationMs = Number(values['duration-s']) * 1000;
  const levels = String(values.concurrency).split(',').map(Number);
  const setups = String(values.only).split(',');
  const page = await renderPage(OCR_PAGE);
  const encoded = encodeInferRequest({
    modelName: 'ocr', parameters: { pipeline_timings: true },
    inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], data: [page] }], outputs: [{ name: 'text' }],
  }, { binaryOutputs: false });

  const children = new BenchChildren();
  children.installExitHandlers();
  const results: RunResult[] = [];
  try {
    for (const setup of setups) {
      const url = setup === 'embedded' ? await startEmbedded(children) : await startSplit(children);
      for (const c of levels) {
        await drive(url, encoded, 1, 2_000); // warm-up: first runs of each model are slower
        const r = await drive(url, encoded, c, durationMs);
        results.push({ setup, ...r });
        console.error(`${setup} c=${c}: ${r.imagesPerS.toFixed(2)} images/s, p50 ${r.p50Ms.toFixed(0)} ms`);
      }
      await children.stopAll();
    }
  } finally {
    await children.stopAll();
  }
  const md = table(results);
  console.log(md);
  const dir = join(packageRoot(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'ocr.json'), JSON.stringify({ machine: `${os.cpus().length} × ${os.cpus()[0]?.model}`, page: `${OCR_PAGE.width}×${OCR_PAGE.height} PNG, ${OCR_PAGE.lines.length} lines`, results }, null, 2));
  writeFileSync(join(dir, 'ocr.md'), `${md}\n`);
}

async function startEmbedded(children: BenchChildren): Promise<string> {
  const modelsDir = modelRepositoryWith(children, ['ocr', 'ocr_det', 'ocr_cls', 'ocr_rec']);
  return (await startServe(children, { host: HOST, modelsDir })).url;
}

async function startSplit(children: BenchChildren): Promise<string> {
  const pipelines = modelRepositoryWith(children, ['ocr']);
  const gateway = await startGateway(children, { host: HOST, extraArgs: ['--workers', '1', '--pipelines', pipelines, '--slow-start-ms', '0'] });
  const det = await startBackend(children, gateway.url, { host: HOST, modelsDir: modelRepositoryWith(children, ['ocr_det', 'ocr_cls']), extraArgs: ['--calibrate-ms', '0'] }, 'backend det+cls');
  const rec = await startBackend(children, gateway.url, { host: HOST, modelsDir: modelRepositoryWith(children, ['ocr_rec']), extraArgs: ['--calibrate-ms', '0'] }, 'backend rec');
  for (const model of ['ocr_det', 'ocr_cls']) await waitForPool(gateway, model, 1, [det]);
  await waitForPool(gateway, 'ocr_rec', 1, [rec]);
  return gateway.url;
}

/** `concurrency` clients in a closed loop for durationMs; every answer's text is checked. */
async function drive(url: string, encoded: { body: Buffer; headerLength: number; contentType: string }, concurrency: number, durationMs: number): Promise<Omit<RunResult, 'setup'>> {
  const agent = new Agent({ connections: concurrency });
  const latencies: number[] = [];
  const phaseSums: Record<string, number> = Object.fromEntries(PHASE_NAMES.map((p) => [p, 0]));
  let stepSum = 0;
  let errors = 0;
  const startedAt = performance.now();
  const endAt = startedAt + durationMs;
  const expected = JSON.stringify(OCR_PAGE_TEXT);
  const client = async () => {
    while (performance.now() < endAt) {
      const t0 = performance.now();
      const res = await request(`${url}/v2/models/ocr/infer`, {
        method: 'POST', body: encoded.body, dispatcher: agent,
        headers: { 'content-type': encoded.contentType, 'inference-header-content-length': String(encoded.headerLength) },
      });
      const body = await res.body.text();
      const ms = performance.now() - t0;
      if (res.statusCode !== 200) {
        errors++;
        continue;
      }
      const answer = JSON.parse(body) as { parameters: { pipeline_timings: string }; outputs: Array<{ data: string[] }> };
      if (JSON.stringify(answer.outputs[0].data) !== expected) errors++;
      latencies.push(ms);
      for (const { step, ms: stepMs } of JSON.parse(answer.parameters.pipeline_timings) as Array<{ step: string; ms: number }>) {
        phaseSums[PHASES[step] ?? 'post'] += stepMs;
        stepSum += stepMs;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, client));
  const elapsedS = (performance.now() - startedAt) / 1000;
  await agent.close();
  const n = latencies.length;
  latencies.sort((a, b) => a - b);
  const meanLatency = latencies.reduce((s, v) => s + v, 0) / Math.max(1, n);
  return {
    concurrency,
    images: n,
    imagesPerS: n / elapsedS,
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    phasesMs: Object.fromEntries(PHASE_NAMES.map((p) => [p, phaseSums[p] / Math.max(1, n)])),
    otherMs: meanLatency - stepSum / Math.max(1, n),
    errors,
  };
}

function table(results: RunResult[]): string {
  const f = (v: number) => v.toFixed(1);
  const lines = [
    '| setup | clients | images/s | p50 ms | p99 ms | pre-processing ms | detection ms | direction cls ms | recognition ms | post-processing ms | outside the steps ms | errors |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of results) {
    const p = r.phasesMs;
    lines.push(`| ${r.setup} | ${r.concurrency} | ${r.imagesPerS.toFixed(2)} | ${f(r.p50Ms)} | ${f(r.p99Ms)} | ${f(p.pre)} | ${f(p.det)} | ${f(p.cls)} | ${f(p.rec)} | ${f(p.post)} | ${f(r.otherMs)} | ${r.errors} |`);
  }
  return lines.join('\n');
}

await main();
