/**
 * `static`: the operator's weight (or the hardware prior), never moved by load. The anchor the
 * adaptive policies are measured against, and the policy for backends that send no reports.
 */
import { usablePrior, type WeightInput, type WeightPolicy } from './weight-policy.js';

export class StaticWeightPolicy implements WeightPolicy {
  readonly name = 'static';

  /** weight = staticWeight ?? capacity (slow start is the wrapper's, see weight-policy-adjusted.ts). */
  update(inputs: readonly WeightInput[], _nowMs: number): Map<string, number> {
    const weights = new Map<string, number>();
    for (const input of inputs) weights.set(input.id, usablePrior(input.staticWeight ?? input.capacity));
    return weights;
  }

  forget(_id: string): void {
    // Stateless.
  }
}
