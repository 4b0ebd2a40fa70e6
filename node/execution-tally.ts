/**
 * What one model version's executions did, for the statistics extension: queue and compute time
 * of the requests that succeeded, inferences (batch rows), executions, and compute time per batch
 * size. A few additions per request and one map lookup per execution; an object is made only the
 * first time a batch size is seen.
 */
import { statisticDuration, type ExecutionFigures } from '../core/model-statistics.js';

interface BatchTally {
  executions: number;
  computeMs: number;
}

export class ExecutionTally {
  /** Requests that ran to success: the count behind both queue and compute time. */
  #ran = 0;
  #queueMs = 0;
  #computeMs = 0;
  #inferences = 0;
  #executions = 0;
  readonly #batches = new Map<number, BatchTally>();

  /**
   * A request of `rows` batch rows waited `queueMs` and then ran to success in an execution of
   * `computeMs`. As in Triton, each request of a batch counts the whole execution's time.
   */
  requestRan(rows: number, queueMs: number, computeMs: number): void {
    this.#ran++;
    this.#queueMs += queueMs;
    this.#computeMs += computeMs;
    this.#inferences += rows;
  }

  /**
   * A model run of `rows` batch rows that succeeded, as the engine reports it (or, for an engine
   * that does not report runs, an execute call at least one of whose requests succeeded).
   */
  executed(rows: number, computeMs: number): void {
    this.#executions++;
    let batch = this.#batches.get(rows);
    if (!batch) {
      batch = { executions: 0, computeMs: 0 };
      this.#batches.set(rows, batch);
    }
    batch.executions++;
    batch.computeMs += computeMs;
  }

  figures(): ExecutionFigures {
    return {
      queue: statisticDuration(this.#ran, this.#queueMs),
      compute: statisticDuration(this.#ran, this.#computeMs),
      inferenceCount: this.#inferences,
      executionCount: this.#executions,
      batches: [...this.#batches]
        .sort(([a], [b]) => a - b)
        .map(([batchSize, b]) => ({ batchSize, compute: statisticDuration(b.executions, b.computeMs) })),
    };
  }
}
