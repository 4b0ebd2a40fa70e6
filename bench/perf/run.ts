/**
 * One `infergate bench` run: reach the server, learn the model, build the requests, then for each
 * step of the sweep warm up, measure, wait for the window's stragglers and read the server's
 * statistics around the window. Results go to the caller step by step (for the table and the
 * progress line) and whole at the end (for the files).
 */
import { InferenceServerError } from '../../client/client-errors.js';
import type { InferResult } from '../../client/http-client.js';
import { packageVersion } from '../../core/package-root.js';
import type { ModelStatistics } from '../../core/model-statistics.js';
import { BenchError } from './bench-errors.js';
import { measureCodec, type CodecTiming } from './codec-timing.js';
import { readInputDataFile } from './input-data.js';
import { planInputs, type InputPlan } from './inputs.js';
import type { Issue, RequestRecord } from './issue.js';
import { runClosedLoop } from './load-closed.js';
import { runOpenLoop } from './load-open.js';
import type { LoadWindow } from './load-window.js';
import type { BenchSettings } from './options.js';
import { classifyError } from './outcome.js';
import { levelText, RESULT_FORMAT, RESULT_TOOL, type BenchResult, type StepResult } from './result.js';
import { seededRandom } from './schedule.js';
import { statisticsDelta, type ServerBreakdown } from './server-stats.js';
import { latencyTimeline, summarize, type StepSummary } from './summary.js';
import type { BenchTarget } from './target.js';
import { grpcTarget } from './target-grpc.js';
import { httpTarget } from './target-http.js';

/** Width of the latency-over-time buckets: about 50 points per window. */
const TIMELINE_BUCKETS = 50;
const MIN_TIMELINE_BUCKET_MS = 20;
export const PROGRESS_INTERVAL_MS = 250;

export interface StepProgress {
  step: number;
  steps: number;
  mode: BenchSettings['mode'];
  level: number;
  phase: 'warmup' | 'measure' | 'drain';
  /** ms into the phase, and the phase's length (0 for drain). */
  elapsedMs: number;
  phaseMs: number;
  ok: number;
  errors: number;
  inFlight: number;
}

export interface BenchIo {
  /** Notes about the run (shapes defaulted, config missing, …), as they come. */
  note?(message: string): void;
  progress?(progress: StepProgress): void;
  step?(step: StepResult, index: number, steps: number): void;
}

export async function runBench(settings: BenchSettings, command: string, io: BenchIo = {}): Promise<BenchResult> {
  const notes: string[] = [];
  const note = (message: string) => {
    notes.push(message);
    io.note?.(message);
  };
  const inputData = settings.inputDataFile !== undefined ? readInputDataFile(settings.inputDataFile) : undefined;
  const target = (settings.protocol === 'grpc' ? grpcTarget : httpTarget)({
    protocol: settings.protocol,
    ...(settings.url !== undefined ? { url: settings.url } : {}),
    model: settings.model,
    ...(settings.version !== undefined ? { version: settings.version } : {}),
    binary: settings.binary,
    connections: settings.connections,
    timeoutMs: settings.timeoutMs,
    ...(settings.apiKey !== undefined ? { apiKey: settings.apiKey } : {}),
    ...(settings.tls ? { tls: settings.tls } : {}),
  });
  try {
    await checkReachable(target);
    const metadata = await modelMetadata(target, settings);
    const maxBatchSize = await target.maxBatchSize();
    const plan = planInputs(metadata, { maxBatchSize, batchSize: settings.batchSize, shapes: settings.shapes, data: inputData, random: seededRandom(settings.seed) });
    plan.notes.forEach(note);
    const codec = await firstRequest(target, settings, plan, note);
    const result: BenchResult = {
      tool: RESULT_TOOL,
      format: RESULT_FORMAT,
      infergateVersion: packageVersion(),
      command,
      ...(settings.label !== undefined ? { label: settings.label } : {}),
      startedAt: new Date().toISOString(),
      target: {
        protocol: settings.protocol,
        address: target.address,
        model: settings.model,
        ...(settings.version !== undefined ? { version: settings.version } : {}),
        encoding: settings.protocol === 'grpc' || settings.binary ? 'binary' : 'json',
      },
      model: {
        maxBatchSize: maxBatchSize ?? null,
        batchSize: plan.batchSize,
        inferencesPerRequest: plan.inferencesPerRequest,
        inputs: plan.inputs,
        distinctRequests: plan.requests.length,
      },
      settings: {
        mode: settings.mode,
        levels: settings.levels,
        ...(settings.mode === 'request_rate' ? { distribution: settings.distribution, maxOutstanding: settings.maxOutstanding } : {}),
        warmupMs: settings.warmupMs,
        measurementMs: settings.measurementMs,
        timeoutMs: settings.timeoutMs,
        connections: settings.connections,
        seed: settings.seed,
      },
      notes,
      steps: [],
    };
    const issue: Issue = async ({ index, signal, timeoutMs }) => {
      await target.infer(plan.requests[index % plan.requests.length], { timeoutMs, signal });
    };
    for (const [i, level] of settings.levels.entries()) {
      const step = await runStep(target, settings, plan, codec, issue, level, i, io);
      result.steps.push(step);
      io.step?.(step, i, settings.levels.length);
      if (settings.protocol === 'http' && step.peakInFlight > settings.connections) {
        // Past the pool, requests wait in the client: that wait is in their latency (and Network+Server).
        note(`${levelText(step.mode, level)}: up to ${step.peakInFlight} requests in flight over ${settings.connections} HTTP connections, so some waited in the client; raise --connections`);
      }
    }
    return result;
  } finally {
    await target.close();
  }
}

async function checkReachable(target: BenchTarget): Promise<void> {
  try {
    await target.isLive();
  } catch (err) {
    const { message } = classifyError(err);
    throw new BenchError('UNREACHABLE', `cannot reach a KServe v2 ${target.protocol === 'grpc' ? 'gRPC' : 'HTTP'} server at ${target.address} (${message}); is it running? (-u/--url, -i/--protocol)`);
  }
}

async function modelMetadata(target: BenchTarget, settings: BenchSettings) {
  try {
    return await target.modelMetadata();
  } catch (err) {
    const model = `'${settings.model}'${settings.version ? ` version ${settings.version}` : ''}`;
    if (err instanceof InferenceServerError && err.status === 404) {
      throw new BenchError('UNKNOWN_MODEL', `model ${model} not found at ${target.address} (${err.message})`);
    }
    if (err instanceof InferenceServerError && err.status >= 400 && err.status < 500 && err.status !== 429) {
      throw new BenchError('BAD_ARGUMENT', `the server refused the metadata request of model ${model}: ${err.message}`);
    }
    throw new BenchError('UNREACHABLE', `no metadata of model ${model} from ${target.address}: ${classifyError(err).message}`);
  }
}

/**
 * One request before the load: a request the server rejects as malformed (4xx) stops the run
 * with the server's message, since every request would fail the same way; its answer is what
 * the client's decoding is timed on.
 */
async function firstRequest(target: BenchTarget, settings: BenchSettings, plan: InputPlan, note: (m: string) => void): Promise<CodecTiming | null> {
  let answer: InferResult;
  try {
    answer = await target.infer(plan.requests[0], { timeoutMs: settings.timeoutMs });
  } catch (err) {
    const shapes = plan.inputs.map((i) => `${i.name} ${i.datatype} [${i.shape.join(',')}]`).join(', ');
    if (err instanceof InferenceServerError && ((err.status >= 400 && err.status < 500 && err.status !== 429) || err.status === 501)) {
      throw new BenchError('REQUEST_REFUSED', `the server refused the bench's request (${shapes}): ${err.message}`);
    }
    note(`the first request failed (${classifyError(err).message}); client send/recv are not measured`);
    return null;
  }
  const wire = settings.protocol === 'grpc' ? { protocol: 'grpc' as const } : { protocol: 'http' as const, binary: settings.binary };
  return measureCodec(wire, settings.model, settings.version, plan.requests[0], answer);
}

async function runStep(
  target: BenchTarget,
  settings: BenchSettings,
  plan: InputPlan,
  codec: CodecTiming | null,
  issue: Issue,
  level: number,
  index: number,
  io: BenchIo,
): Promise<StepResult> {
  let before: Promise<ModelStatistics | undefined> = Promise.resolve(undefined);
  let measureStartedAt = Number.NaN;
  let ok = 0;
  let errors = 0;
  let sent = 0;
  let ended = 0;
  const startedAt = performance.now();
  const onRecord = (record: RequestRecord, measured: boolean) => {
    if (record.outcome !== 'dropped') ended++;
    if (!measured) return;
    if (record.outcome === 'ok') ok++;
    else errors++;
  };
  let peakInFlight = 0;
  const counting: Issue = (context) => {
    sent++;
    peakInFlight = Math.max(peakInFlight, sent - ended);
    return issue(context);
  };
  const report = () => {
    const now = performance.now();
    const warm = Number.isNaN(measureStartedAt);
    const measuring = !warm && now - measureStartedAt < settings.measurementMs;
    io.progress?.({
      step: index, steps: settings.levels.length, mode: settings.mode, level,
      phase: warm ? 'warmup' : measuring ? 'measure' : 'drain',
      elapsedMs: warm ? now - startedAt : measuring ? now - measureStartedAt : now - measureStartedAt - settings.measurementMs,
      phaseMs: warm ? settings.warmupMs : measuring ? settings.measurementMs : 0,
      ok, errors, inFlight: sent - ended,
    });
  };
  const ticker = setInterval(report, PROGRESS_INTERVAL_MS);
  report();
  let window: LoadWindow;
  try {
    const common = {
      warmupMs: settings.warmupMs,
      durationMs: settings.measurementMs,
      timeoutMs: settings.timeoutMs,
      issue: counting,
      onMeasureStart: () => {
        measureStartedAt = performance.now();
        before = target.statistics();
      },
      onRecord,
    };
    window = settings.mode === 'concurrency'
      ? await runClosedLoop({ ...common, concurrency: level })
      : await runOpenLoop({ ...common, ratePerSec: level, distribution: settings.distribution, random: seededRandom(settings.seed + index), maxOutstanding: settings.maxOutstanding });
  } finally {
    clearInterval(ticker);
  }
  const server = statisticsDelta(await before, await target.statistics());
  const summary = summarize(window, { inferencesPerRequest: plan.inferencesPerRequest });
  const bucketMs = Math.max(MIN_TIMELINE_BUCKET_MS, Math.ceil(settings.measurementMs / TIMELINE_BUCKETS));
  return {
    mode: settings.mode,
    level,
    summary,
    clientSendUs: codec?.sendUs ?? null,
    clientRecvUs: codec?.recvUs ?? null,
    networkServerUs: networkServerUs(summary, codec, server),
    server,
    peakInFlight,
    timeline: latencyTimeline(window, bucketMs),
  };
}

/** perf_analyzer's rule: the client's wait minus what the server accounts for, floored at 0. */
export function networkServerUs(summary: StepSummary, codec: CodecTiming | null, server: ServerBreakdown | null): number | null {
  if (!server || !summary.latencyUs) return null;
  const wait = summary.latencyUs.meanUs - (codec?.sendUs ?? 0) - (codec?.recvUs ?? 0);
  const accounted = server.queueUs + server.computeInputUs + server.computeInferUs + server.computeOutputUs;
  return Math.max(0, wait - accounted);
}
