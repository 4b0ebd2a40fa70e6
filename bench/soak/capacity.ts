/**
 * The cluster's capacity, measured in the same run as the soak and the overload: a short
 * closed-loop ramp (each step a fixed number of callers, each with one request in flight) through
 * the gateway; capacity is the best goodput of any step. Closed loop cannot overload the cluster,
 * so the ramp finds the plateau without building queues the next phase would inherit.
 */
import { ClosedLoopLoad, SIM_MODEL, summarize } from '../support/cluster-processes.js';

export interface CapacityStep {
  concurrency: number;
  goodputPerS: number;
  p50Ms: number;
  p99Ms: number;
  failed: number;
}

export interface CapacityFigures {
  capacityPerS: number;
  steps: CapacityStep[];
}

/** Time at the start of a step left out of its figures (callers ramping their connections up). */
const STEP_WARMUP_MS = 500;

export async function measureCapacity(gatewayUrl: string, concurrencies: readonly number[], stepMs: number, model = SIM_MODEL): Promise<CapacityFigures> {
  const steps: CapacityStep[] = [];
  for (const concurrency of concurrencies) {
    const run = await new ClosedLoopLoad({ url: gatewayUrl, model, concurrency, durationMs: stepMs, requestTimeoutMs: 30_000 }).start().done;
    const from = run.startedAtMs + Math.min(STEP_WARMUP_MS, stepMs / 4);
    const summary = summarize(run.records, from);
    steps.push({ concurrency, goodputPerS: summary.throughput, p50Ms: summary.p50Ms, p99Ms: summary.p99Ms, failed: summary.failed });
  }
  return { capacityPerS: Math.max(0, ...steps.map((s) => s.goodputPerS)), steps };
}
