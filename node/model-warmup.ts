/**
 * Runs a model's declared warmup samples on one instance before the model reports ready (first
 * executions of an engine pay for allocation, graph optimisation, kernel choice). A sample that
 * fails, or answers any request with an error, fails the load: a model that cannot run its own
 * warmup would fail its first clients the same way.
 */
import { InferError } from '../core/errors.js';
import type { ModelDeclaration } from '../core/model-declaration.js';
import { warmupRequest } from '../core/model-warmup.js';
import type { ModelInstance } from '../engines/engine.js';

export interface WarmupRecord {
  sample: string;
  card: string;
  executions: number;
  totalMs: number;
}

export class WarmupFailed extends Error {}

/** Runs every sample `count` times on the instance, one execution at a time; throws WarmupFailed. */
export async function warmUpInstance(declaration: ModelDeclaration, instance: ModelInstance): Promise<WarmupRecord[]> {
  const records: WarmupRecord[] = [];
  for (const sample of declaration.model_warmup ?? []) {
    const request = warmupRequest(declaration, sample);
    const startedAt = performance.now();
    for (let i = 0; i < sample.count; i++) {
      let results;
      try {
        results = await instance.execute([request]);
      } catch (err) {
        throw new WarmupFailed(`warmup '${sample.name}' failed on card ${instance.card.id}: ${(err as Error).message}`);
      }
      const error = results.find((r): r is InferError => r instanceof InferError);
      if (error) throw new WarmupFailed(`warmup '${sample.name}' failed on card ${instance.card.id}: ${error.message}`);
    }
    records.push({ sample: sample.name, card: instance.card.id, executions: sample.count, totalMs: performance.now() - startedAt });
  }
  return records;
}
