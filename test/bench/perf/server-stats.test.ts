import { describe, expect, it } from 'vitest';
import type { ModelStatistics } from '../../../core/model-statistics.js';
import { statisticsDelta, statisticsFromAnswer } from '../../../bench/perf/server-stats.js';

const d = (count: number, ns: number) => ({ count, ns });
function stats(version: string, success: number, successNs: number, queueNs: number, inferNs: number, inputNs = 0): ModelStatistics {
  return {
    name: 'm', version, last_inference: 0, inference_count: success * 2, execution_count: success,
    inference_stats: {
      success: d(success, successNs), fail: d(0, 0), queue: d(success, queueNs), compute_input: d(inputNs ? success : 0, inputNs),
      compute_infer: d(success, inferNs), compute_output: d(0, 0), cache_hit: d(0, 0), cache_miss: d(0, 0),
    },
    batch_stats: [],
  };
}

describe('server statistics over a window', () => {
  it('divides the nanoseconds added by the count added, per figure, in µs', () => {
    const before = stats('1', 100, 50_000_000, 1_000_000, 20_000_000);
    const after = stats('1', 300, 150_000_000, 5_000_000, 60_000_000, 4_000_000);
    expect(statisticsDelta(before, after)).toEqual({
      requests: 200, inferences: 400, executions: 200,
      queueUs: 20, computeInputUs: 4_000_000 / 300 / 1000, computeInferUs: 200, computeOutputUs: 0, serverUs: 500,
    });
  });

  it('has no breakdown without both reads or without a success in between', () => {
    const s = stats('1', 10, 1, 1, 1);
    expect(statisticsDelta(undefined, s)).toBeNull();
    expect(statisticsDelta(s, undefined)).toBeNull();
    expect(statisticsDelta(s, s)).toBeNull();
  });

  it('reads the statistics answer (HTTP JSON or gRPC), one version or all of them summed', () => {
    const answer = { model_stats: [stats('1', 10, 1_000, 100, 200), stats('2', 5, 500, 50, 100)] };
    expect(statisticsFromAnswer(answer, '2')!.inference_stats.success).toEqual(d(5, 500));
    const both = statisticsFromAnswer(answer)!;
    expect(both.inference_stats.success).toEqual(d(15, 1_500));
    expect(both.inference_stats.queue).toEqual(d(15, 150));
    expect(both.inference_count).toBe(30);
    expect(statisticsFromAnswer({ error: 'no' })).toBeUndefined();
    expect(statisticsFromAnswer({ model_stats: [] })).toBeUndefined();
  });
});
