/**
 * Calibration: how fast a model really runs on a card, measured once at load. The instances of the
 * model on that card run the same request back to back, all at once (they share the card, so one
 * instance alone would overstate what the card does), for a bounded time. The figure,
 * inferences/s, goes into the load report, where the gateway takes it over the card table's
 * coefficient as a node's capacity for that model.
 */
import type { Card } from '../adapters/card.js';
import { InferError } from '../core/errors.js';
import type { InferRequest } from '../core/tensor.js';
import type { ModelInstance } from '../engines/engine.js';

/** Time spent measuring one (model, card) pair at load; 0 = no calibration. */
export const DEFAULT_CALIBRATE_MS = 300;
/** Each instance runs at least this many executions, even past the budget, so p50 means something. */
export const MIN_CALIBRATION_EXECUTIONS = 3;

export interface CardCalibration {
  card: Card;
  engine: string;
  instances: number;
  /** Rows per execution. */
  batch: number;
  executions: number;
  inferencesPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

/** Runs `request` on every instance of the card until `budgetMs` passed; throws on an engine error. */
export async function calibrateCard(
  card: Card,
  engine: string,
  instances: ModelInstance[],
  request: InferRequest,
  batch: number,
  budgetMs: number,
): Promise<CardCalibration> {
  const latencies: number[] = [];
  const startedAt = performance.now();
  const runOne = async (instance: ModelInstance) => {
    for (let n = 0; n < MIN_CALIBRATION_EXECUTIONS || performance.now() - startedAt < budgetMs; n++) {
      const t0 = performance.now();
      const [result] = await instance.execute([request]);
      if (result instanceof InferError) throw new Error(result.message);
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(instances.map(runOne));
  const elapsedMs = performance.now() - startedAt;
  latencies.sort((a, b) => a - b);
  return {
    card,
    engine,
    instances: instances.length,
    batch,
    executions: latencies.length,
    inferencesPerSec: (latencies.length * batch * 1000) / elapsedMs,
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
  };
}

/** Nearest-rank quantile of sorted values. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}
