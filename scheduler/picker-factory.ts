/**
 * The built-in pick policies by name (`--policy`). Kept apart from the contract (picker.ts) so the
 * policies import the contract and only this module imports the policies: no import cycle.
 *
 * `static`, `astra` and `capacity` are one policy, SWRR, named after the weight policy whose
 * weights it runs over; the pool provides those weights (weight-policy-factory.ts picks the formula).
 * The others choose by their own rules; those that read weights at all (wlc) get the pool's static
 * weights, the hardware prior.
 */
import { ConfigError } from '../core/errors.js';
import type { PickPolicy, PickPolicyContext } from './picker.js';
import { WeightedLeastConnectionsPickPolicy } from './picker-least-connections.js';
import { PowerOfTwoChoicesPickPolicy } from './picker-p2c.js';
import { PeakEwmaPickPolicy } from './picker-peak-ewma.js';
import { SwrrPickPolicy } from './picker-policy-swrr.js';
import { PrequalPickPolicy } from './picker-prequal.js';
import { RoundRobinPickPolicy } from './picker-round-robin.js';

export const PICK_POLICY_NAMES = ['round-robin', 'static', 'astra', 'capacity', 'wlc', 'p2c', 'peak-ewma', 'prequal'] as const;
export type PickPolicyName = (typeof PICK_POLICY_NAMES)[number];

export function isPickPolicyName(name: string): name is PickPolicyName {
  return (PICK_POLICY_NAMES as readonly string[]).includes(name);
}

/** Builds a policy with its defaults; an unknown name throws ConfigError listing the known ones. */
export function createPickPolicy(name: string, context: PickPolicyContext): PickPolicy {
  switch (name) {
    case 'static':
    case 'astra':
    case 'capacity':
      return new SwrrPickPolicy(name, context);
    case 'round-robin':
      return new RoundRobinPickPolicy(context);
    case 'wlc':
      return new WeightedLeastConnectionsPickPolicy(context);
    case 'p2c':
      return new PowerOfTwoChoicesPickPolicy(context);
    case 'peak-ewma':
      return new PeakEwmaPickPolicy(context);
    case 'prequal':
      return new PrequalPickPolicy(context);
    default:
      throw new ConfigError(`unknown pick policy '${name}' (known: ${PICK_POLICY_NAMES.join(', ')})`);
  }
}
