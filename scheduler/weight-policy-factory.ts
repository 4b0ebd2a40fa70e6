/**
 * The built-in weight policies by name (a CLI flag), each wrapped in AdjustedWeightPolicy so stale
 * reports are hidden and slow start applied the same way whatever the formula. Kept apart from the
 * contract (weight-policy.ts) so the policies import the contract and only this module imports
 * the policies: no import cycle.
 */
import { AdjustedWeightPolicy, type WeightAdjustmentOptions } from './weight-policy-adjusted.js';
import { AstraWeightPolicy, type AstraWeightPolicyOptions } from './weight-policy-astra.js';
import { CapacityWeightPolicy, type CapacityWeightPolicyOptions } from './weight-policy-capacity.js';
import { StaticWeightPolicy } from './weight-policy-static.js';
import { ConfigError } from '../core/errors.js';
import { type WeightPolicy } from './weight-policy.js';

export const WEIGHT_POLICY_NAMES = ['static', 'astra', 'capacity'] as const;
export type WeightPolicyName = (typeof WEIGHT_POLICY_NAMES)[number];

/**
 * Proposed default: it measures capacity, so its weights do not move with the load they cause
 * (DESIGN §4). Bench has the last word.
 */
export const DEFAULT_WEIGHT_POLICY_NAME: WeightPolicyName = 'capacity';

export function isWeightPolicyName(name: string): name is WeightPolicyName {
  return (WEIGHT_POLICY_NAMES as readonly string[]).includes(name);
}

/** Union of every policy's options and the wrapper's; each reads the ones it knows. */
export type AnyWeightPolicyOptions = WeightAdjustmentOptions & AstraWeightPolicyOptions & CapacityWeightPolicyOptions;

/**
 * Builds a built-in policy by name, with slow start and staleness applied. Unknown names and bad
 * options throw ConfigError.
 */
export function createWeightPolicy(name: string, options: AnyWeightPolicyOptions = {}): WeightPolicy {
  return new AdjustedWeightPolicy(createFormula(name, options), options);
}

/** The bare policy: its formula only. */
function createFormula(name: string, options: AnyWeightPolicyOptions): WeightPolicy {
  switch (name) {
    case 'static':
      return new StaticWeightPolicy();
    case 'astra':
      return new AstraWeightPolicy(options);
    case 'capacity':
      return new CapacityWeightPolicy(options);
    default:
      throw new ConfigError(`unknown weight policy '${name}' (known: ${WEIGHT_POLICY_NAMES.join(', ')})`);
  }
}
