/**
 * Per-model statistics in the shape of Triton's statistics extension, one shape for both doors:
 * the JSON of GET /v2/models[/<m>[/versions/<v>]]/stats and the ModelStatisticsResponse message
 * (snake_case field names, as grpc_service.proto spells them). Durations are cumulative
 * nanoseconds; counts and times only ever grow while the process runs.
 *
 * Counting is the hot path's, turning counts into this shape is the reader's: the tallies below
 * hold plain numbers (milliseconds on the performance.now() clock) and build objects only when
 * asked.
 */

export const NS_PER_MS = 1_000_000;

/** A count and the summed time of what was counted. */
export interface StatisticDuration {
  count: number;
  ns: number;
}

export interface InferStatistics {
  success: StatisticDuration;
  fail: StatisticDuration;
  queue: StatisticDuration;
  compute_input: StatisticDuration;
  compute_infer: StatisticDuration;
  compute_output: StatisticDuration;
  cache_hit: StatisticDuration;
  cache_miss: StatisticDuration;
}

export interface InferBatchStatistics {
  batch_size: number;
  compute_input: StatisticDuration;
  compute_infer: StatisticDuration;
  compute_output: StatisticDuration;
}

export interface ModelStatistics {
  name: string;
  version: string;
  /** Milliseconds since the epoch of the last request's end; 0 before the first. */
  last_inference: number;
  /** Inferences that succeeded, a request of n batch rows counting n (Triton's rule). */
  inference_count: number;
  /** Model runs that succeeded (a batched run counts once; an execute the engine split counts each run). */
  execution_count: number;
  inference_stats: InferStatistics;
  batch_stats: InferBatchStatistics[];
}

export interface ModelStatisticsResponse {
  model_stats: ModelStatistics[];
}

/** A count and a sum of milliseconds, in the wire's whole nanoseconds. */
export function statisticDuration(count: number, totalMs: number): StatisticDuration {
  return { count, ns: Math.round(totalMs * NS_PER_MS) };
}

const none = (): StatisticDuration => ({ count: 0, ns: 0 });

/**
 * The requests of one model version that a server answered: how many succeeded and failed, their
 * summed durations, and when the last one ended. A node and a gateway count the same way; only
 * where the clock starts differs (the node's own handling, or the whole forwarding).
 */
export class RequestTally {
  #successCount = 0;
  #successMs = 0;
  #failCount = 0;
  #failMs = 0;
  /** performance.now() when the last request ended; 0: none yet. */
  #lastEndedAt = 0;

  /** A request that started at `startedAt` (performance.now()) succeeded just now. */
  succeeded(startedAt: number): void {
    const now = performance.now();
    this.#successCount++;
    this.#successMs += now - startedAt;
    this.#lastEndedAt = now;
  }

  failed(startedAt: number): void {
    const now = performance.now();
    this.#failCount++;
    this.#failMs += now - startedAt;
    this.#lastEndedAt = now;
  }

  get successCount(): number {
    return this.#successCount;
  }

  get failCount(): number {
    return this.#failCount;
  }

  /** Milliseconds since the epoch; 0 before the first request. */
  get lastInferenceMs(): number {
    return this.#lastEndedAt === 0 ? 0 : Math.round(performance.timeOrigin + this.#lastEndedAt);
  }

  success(): StatisticDuration {
    return statisticDuration(this.#successCount, this.#successMs);
  }

  fail(): StatisticDuration {
    return statisticDuration(this.#failCount, this.#failMs);
  }
}

/** What a model's executions add to its requests' figures (only a server that runs models has them). */
export interface ExecutionFigures {
  queue: StatisticDuration;
  /** The whole execution: infergate does not time input preparation and output copying apart. */
  compute: StatisticDuration;
  inferenceCount: number;
  executionCount: number;
  /** Per batch size, lowest first: executions of that size and their summed compute time. */
  batches: Array<{ batchSize: number; compute: StatisticDuration }>;
}

/**
 * One model version's statistics. Without execution figures (a gateway: the executions are its
 * nodes') queue, compute and the counts are zero. infergate times a model execution as a whole,
 * so that time is compute_infer and compute_input/compute_output stay zero; there is no response
 * cache, so cache_hit/cache_miss stay zero.
 */
export function toModelStatistics(name: string, version: string, requests: RequestTally, executions?: ExecutionFigures): ModelStatistics {
  return {
    name,
    version,
    last_inference: requests.lastInferenceMs,
    inference_count: executions?.inferenceCount ?? 0,
    execution_count: executions?.executionCount ?? 0,
    inference_stats: {
      success: requests.success(),
      fail: requests.fail(),
      queue: executions?.queue ?? none(),
      compute_input: none(),
      compute_infer: executions?.compute ?? none(),
      compute_output: none(),
      cache_hit: none(),
      cache_miss: none(),
    },
    batch_stats: (executions?.batches ?? []).map((b) => ({
      batch_size: b.batchSize,
      compute_input: none(),
      compute_infer: b.compute,
      compute_output: none(),
    })),
  };
}

/** By model name, then version as a number (as the repository index sorts). */
export function byModelAndVersion(a: { name: string; version: string }, b: { name: string; version: string }): number {
  return a.name.localeCompare(b.name) || Number(a.version) - Number(b.version) || a.version.localeCompare(b.version);
}

/**
 * One set of figures from several gateway workers' (each counts the traffic it routed): counts and
 * nanoseconds add up per (model, version) and per batch size, the last inference is the latest.
 */
export function mergeModelStatistics(parts: readonly ModelStatistics[][]): ModelStatistics[] {
  const merged = new Map<string, ModelStatistics>();
  const add = (into: StatisticDuration, from: StatisticDuration) => {
    into.count += from.count;
    into.ns += from.ns;
  };
  for (const part of parts) {
    for (const s of part) {
      const key = `${s.name}\0${s.version}`;
      const m = merged.get(key);
      if (!m) {
        merged.set(key, structuredClone(s));
        continue;
      }
      m.last_inference = Math.max(m.last_inference, s.last_inference);
      m.inference_count += s.inference_count;
      m.execution_count += s.execution_count;
      for (const k of Object.keys(m.inference_stats) as Array<keyof InferStatistics>) add(m.inference_stats[k], s.inference_stats[k]);
      for (const b of s.batch_stats) {
        const mb = m.batch_stats.find((x) => x.batch_size === b.batch_size);
        if (!mb) m.batch_stats.push(structuredClone(b));
        else for (const k of ['compute_input', 'compute_infer', 'compute_output'] as const) add(mb[k], b[k]);
      }
      m.batch_stats.sort((a, b) => a.batch_size - b.batch_size);
    }
  }
  return [...merged.values()].sort(byModelAndVersion);
}
