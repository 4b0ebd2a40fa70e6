/**
 * The server's side of a step, from the statistics extension (Triton's shape: cumulative counts
 * and nanoseconds per model version), read before and after the measurement window: per
 * request, the time in the server's queue and in compute_input / compute_infer / compute_output,
 * each the difference of its nanosecond total divided by the difference of its count (as
 * perf_analyzer does). A server without the extension gives no breakdown (null), not zeros.
 */
import type { InferStatistics, ModelStatistics, StatisticDuration } from '../../core/model-statistics.js';

/** Reads the model's statistics now; undefined when the server has none for it. */
export type StatisticsReader = () => Promise<ModelStatistics | undefined>;

export interface ServerBreakdown {
  /** Requests the server counted as successful during the window. */
  requests: number;
  /** Inferences (batch rows) and model executions it counted. */
  inferences: number;
  executions: number;
  queueUs: number;
  computeInputUs: number;
  computeInferUs: number;
  computeOutputUs: number;
  /** The server's whole time per successful request, decode to encoded answer. */
  serverUs: number;
}

const NS_PER_US = 1000;

const sum = (a: StatisticDuration, b: StatisticDuration): StatisticDuration => ({ count: a.count + b.count, ns: a.ns + b.ns });

/** Several versions' statistics (a request without a version may be answered by any) as one. */
export function sumStatistics(list: readonly ModelStatistics[]): ModelStatistics | undefined {
  if (list.length === 0) return undefined;
  return list.slice(1).reduce<ModelStatistics>((into, s) => {
    const stats = {} as InferStatistics;
    for (const key of Object.keys(into.inference_stats) as Array<keyof InferStatistics>) {
      stats[key] = sum(into.inference_stats[key], s.inference_stats[key] ?? { count: 0, ns: 0 });
    }
    return {
      ...into,
      version: `${into.version},${s.version}`,
      inference_count: into.inference_count + s.inference_count,
      execution_count: into.execution_count + s.execution_count,
      inference_stats: stats,
    };
  }, structuredClone(list[0]));
}

function perCount(before: StatisticDuration | undefined, after: StatisticDuration | undefined): number {
  const count = (after?.count ?? 0) - (before?.count ?? 0);
  const ns = (after?.ns ?? 0) - (before?.ns ?? 0);
  return count > 0 ? ns / count / NS_PER_US : 0;
}

/** The window's breakdown; null when either read is missing or the server counted no success in between. */
export function statisticsDelta(before: ModelStatistics | undefined, after: ModelStatistics | undefined): ServerBreakdown | null {
  if (!before || !after) return null;
  const b = before.inference_stats;
  const a = after.inference_stats;
  const requests = (a.success?.count ?? 0) - (b.success?.count ?? 0);
  if (requests <= 0) return null;
  return {
    requests,
    inferences: after.inference_count - before.inference_count,
    executions: after.execution_count - before.execution_count,
    queueUs: perCount(b.queue, a.queue),
    computeInputUs: perCount(b.compute_input, a.compute_input),
    computeInferUs: perCount(b.compute_infer, a.compute_infer),
    computeOutputUs: perCount(b.compute_output, a.compute_output),
    serverUs: perCount(b.success, a.success),
  };
}

/** Statistics in the JSON or gRPC answer's shape (`{model_stats: [...]}`), numbers made numbers. */
export function statisticsFromAnswer(answer: unknown, version?: string): ModelStatistics | undefined {
  const list = (answer as { model_stats?: unknown } | null)?.model_stats;
  if (!Array.isArray(list)) return undefined;
  const wanted = (list as ModelStatistics[]).filter((s) => !version || String(s.version) === version).map(normalize);
  return sumStatistics(wanted);
}

function normalize(s: ModelStatistics): ModelStatistics {
  const duration = (d: Partial<StatisticDuration> | undefined): StatisticDuration => ({ count: Number(d?.count ?? 0), ns: Number(d?.ns ?? 0) });
  const stats = {} as InferStatistics;
  for (const key of ['success', 'fail', 'queue', 'compute_input', 'compute_infer', 'compute_output', 'cache_hit', 'cache_miss'] as const) {
    stats[key] = duration(s.inference_stats?.[key]);
  }
  return {
    name: s.name,
    version: String(s.version),
    last_inference: Number(s.last_inference ?? 0),
    inference_count: Number(s.inference_count ?? 0),
    execution_count: Number(s.execution_count ?? 0),
    inference_stats: stats,
    batch_stats: [],
  };
}
