/**
 * A pool's routing policy: how weights are computed (a WeightPolicy) and how a member is chosen
 * (a PickPolicy), selected together by one name (`--policy`, `--pool-policy`).
 *
 * - `static`, `astra`, `capacity`: smooth weighted round-robin over that weight policy's weights
 *   (the product's own family: `capacity` is adaptive SWRR);
 * - `round-robin`, `wlc`, `p2c`, `peak-ewma`, `prequal`: the anchors a team would pick instead
 *   (DESIGN §4); those that use weights use the hardware prior (the `static` weight policy).
 *
 * Kept apart from both factories so neither imports the other.
 */
import { ConfigError } from '../core/errors.js';
import { createPickPolicy, isPickPolicyName, PICK_POLICY_NAMES } from './picker-factory.js';
import type { PickPolicy, PickPolicyContext } from './picker.js';
import { createWeightPolicy, isWeightPolicyName, type AnyWeightPolicyOptions } from './weight-policy-factory.js';
import type { WeightPolicy } from './weight-policy.js';

export const ROUTING_POLICY_NAMES = PICK_POLICY_NAMES;

/**
 * The default, chosen from the routing bench (bench/routing.ts, README "Routing policies"):
 * adaptive SWRR over measured capacity, with the in-flight guard.
 */
export const DEFAULT_ROUTING_POLICY_NAME = 'capacity';

export interface RoutingPolicy {
  readonly name: string;
  readonly weights: WeightPolicy;
  createPicker(context: PickPolicyContext): PickPolicy;
}

export function isRoutingPolicyName(name: string): boolean {
  return isPickPolicyName(name);
}

/** Builds the named policy; unknown names and bad options throw ConfigError. */
export function createRoutingPolicy(name: string, options: AnyWeightPolicyOptions = {}): RoutingPolicy {
  if (!isPickPolicyName(name)) {
    throw new ConfigError(`unknown routing policy '${name}' (known: ${ROUTING_POLICY_NAMES.join(', ')})`);
  }
  const weights = createWeightPolicy(isWeightPolicyName(name) ? name : 'static', options);
  return { name, weights, createPicker: (context) => createPickPolicy(name, context) };
}
