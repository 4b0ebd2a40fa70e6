/**
 * `static`: the operator's weight (or the hardware prior), never moved by load. The anchor the
 * adaptive policies are measured against, and the policy for backends that send no reports.
 */
import { resolveSlowStart, slowStartFactor, type SlowStart } from './slow-start.js';
import { usablePrior, type WeightInput, type WeightPolicy, type WeightPolicyOptions } from './weight-policy.js';

export class StaticWeightPolicy implements WeightPolicy {
  readonly name = 'static';
  readonly #slowStart: SlowStart;

  constructor(options: WeightPolicyOptions = {}) {
    this.#slowStart = resolveSlowStart(options.slowStartWindowMs, options.slowStartFloor);
  }

  /** weight = (staticWeight ?? capacity) × slowStartFactor. */
  update(inputs: readonly WeightInput[], nowMs: number): Map<string, number> {
    const weights = new Map<string, number>();
    for (const input of inputs) {
      const base = usablePrior(input.staticWeight ?? input.capacity);
      weights.set(input.id, base * slowStartFactor(input.joinedAtMs, nowMs, this.#slowStart));
    }
    return weights;
  }

  forget(_id: string): void {
    // Stateless.
  }
}
