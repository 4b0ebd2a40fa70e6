/**
 * The closed loop around open-loop weighted round-robin. Weights change every few seconds; a node
 * that slows down in between keeps receiving its share and its queue grows without bound. Two
 * guards react per request, from the gateway's own in-flight counts (DESIGN §4):
 * - an in-flight cap (nginx `max_conns`): a node at its cap sits out of the picker;
 * - a shortest-expected-delay check: the policy's choice is kept unless another node would answer
 *   sooner, by max(slots, inFlight + 1) / weight (see expectedDelay).
 *
 * Why the second: in a pool of unequal cards the tail is set by the share of requests that land on
 * the slowest card, whatever the weights say: a capacity-proportional policy sends a speed-1 card
 * 1/16 of the traffic of a 16-unit pool, so p99 can never fall below that card's service time. The
 * delay check sends a request to a slow card only when every faster one would make it wait longer,
 * which at moderate load is almost never (bench/routing, README "Routing policies").
 */
import { ConfigError } from '../core/errors.js';

/** Requests allowed in flight per execution slot: one running plus a short queue behind it. */
export const DEFAULT_IN_FLIGHT_CAP_FACTOR = 2;
/**
 * Cap for a node that reports fewer slots than makes sense (0 while its models load): never 0,
 * or the node would sit out until a report that can only come after it served something.
 */
export const DEFAULT_MIN_IN_FLIGHT_CAP = 2;

export interface InFlightCapOptions {
  /** See DEFAULT_IN_FLIGHT_CAP_FACTOR; > 0. */
  factor?: number;
  /** See DEFAULT_MIN_IN_FLIGHT_CAP; >= 1. */
  min?: number;
}

/**
 * A node's in-flight cap: max(min, ceil(slots × factor)). `slots` undefined (a static backend that
 * reports nothing) means unknown capacity: no cap, Infinity.
 */
export function inFlightCap(slots: number | undefined, options: InFlightCapOptions = {}): number {
  const factor = options.factor ?? DEFAULT_IN_FLIGHT_CAP_FACTOR;
  const min = options.min ?? DEFAULT_MIN_IN_FLIGHT_CAP;
  if (!(factor > 0) || !Number.isFinite(factor)) throw new ConfigError(`in-flight cap factor must be > 0, got ${factor}`);
  if (!(min >= 1) || !Number.isFinite(min)) throw new ConfigError(`in-flight min cap must be >= 1, got ${min}`);
  if (slots === undefined) return Infinity;
  const bySlots = slots > 0 ? Math.ceil(slots * factor) : 0;
  return Math.max(min, bySlots);
}

/** Whether a node sits out of the picker: at or above its cap. */
export function isAtInFlightCap(inFlight: number, cap: number): boolean {
  return inFlight >= cap;
}

export interface DelayCandidate {
  readonly id: string;
  /** Requests this gateway has sent the node and not yet seen answered. */
  readonly inFlight: number;
  readonly weight: number;
  /** Executions the node runs at once; unknown counts as 1. */
  readonly slots?: number;
}

/**
 * Expected delay of one more request on a node, in units of 1 / weight (the weight is the node's
 * throughput in card units): max(slots, inFlight + 1) / weight. With a free slot the request waits
 * for nothing and takes one slot's service time, slots / weight; otherwise the inFlight + 1 − slots
 * requests ahead of it drain at the node's rate, then it runs. A node with weight <= 0 (or not
 * finite) never wins over one with a positive weight.
 */
export function expectedDelay(candidate: DelayCandidate): number {
  const { weight } = candidate;
  if (!(weight > 0) || !Number.isFinite(weight)) return Infinity;
  const slots = candidate.slots !== undefined && candidate.slots >= 1 ? candidate.slots : 1;
  return Math.max(slots, Math.max(candidate.inFlight, 0) + 1) / weight;
}

/**
 * The candidate with the least expected delay; ties go to the earliest, so callers pass the SWRR
 * order and an even tie keeps round-robin's choice. Undefined only for an empty list; if no
 * candidate has a usable weight, the first.
 */
export function chooseShortestExpectedDelay<C extends DelayCandidate>(candidates: readonly C[]): C | undefined {
  let best: C | undefined;
  let bestDelay = Infinity;
  for (const candidate of candidates) {
    const delay = expectedDelay(candidate);
    if (best === undefined || delay < bestDelay) {
      best = candidate;
      bestDelay = delay;
    }
  }
  return best;
}
