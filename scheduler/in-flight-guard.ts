/**
 * The closed loop around open-loop weighted round-robin. Weights change every few seconds; a node
 * that slows down in between keeps receiving its share and its queue grows without bound. Two
 * guards react per request, from the gateway's own in-flight counts (DESIGN §4):
 * - an in-flight cap (nginx `max_conns`), set by time: a node holding as much work as the pool's
 *   queue budget allows sits out of the picker (queueCap);
 * - a shortest-expected-delay check: the policy's choice is kept unless another node would answer
 *   sooner, by the expected delay of one more request there (see expectedDelay), with each node's
 *   weight lowered where its answers since the last weight update show it slower (call-latency.ts).
 *
 * Why the second: in a pool of unequal cards the tail is set by the share of requests that land on
 * the slowest card, whatever the weights say: a capacity-proportional policy sends a speed-1 card
 * 1/16 of the traffic of a 16-unit pool, so p99 can never fall below that card's service time. The
 * delay check sends a request to a slow card only when every faster one would make it wait longer,
 * which at moderate load is almost never (bench/routing, README "Routing policies").
 */
import { ConfigError } from '../core/errors.js';

/**
 * How much queueing a node may take, as a share of the pool's typical service time: a node takes
 * one more request while that request's expected delay there (expectedDelay) stays within
 * DEFAULT_QUEUE_BUDGET × the median over the pool of one slot's service time. See queueCap.
 */
export const DEFAULT_QUEUE_BUDGET = 2;
/**
 * Cap for a node that reports fewer slots than makes sense (0 while its models load): never 0,
 * or the node would sit out until a report that can only come after it served something.
 */
export const MIN_QUEUE_CAP = 2;
/** Bounds one node's cap (and the search for it) whatever its weight. */
export const MAX_QUEUE_CAP = 4_096;

/**
 * The pool's delay budget in expectedDelay's units (1 / weight): `factor` × the median over
 * members with a positive weight of one slot's service time, slots / weight. Undefined for a pool
 * without such a member. The median, so that one very slow or very fast card sets nobody's budget.
 */
export function queueBudget(
  members: Iterable<{ readonly weight: number; readonly slots?: number }>,
  factor = DEFAULT_QUEUE_BUDGET,
): number | undefined {
  if (!(factor > 0) || !Number.isFinite(factor)) throw new ConfigError(`queue budget must be a number > 0, got ${factor}`);
  const services: number[] = [];
  for (const m of members) {
    if (!(m.weight > 0) || !Number.isFinite(m.weight)) continue;
    services.push(slotsOrOne(m.slots) / m.weight);
  }
  if (services.length === 0) return undefined;
  services.sort((x, y) => x - y);
  const mid = services.length >> 1;
  return factor * (services.length % 2 === 1 ? services[mid] : (services[mid - 1] + services[mid]) / 2);
}

/**
 * How many requests a node may hold (nginx's `max_conns`, set per node by time rather than by
 * count): its slots, plus queued requests while the expected delay of one more stays within
 * `budget`. A fast card thus queues deeper than a slow one: each holds about the same time's
 * worth of work, so a node that slows down between two weight updates strands about that much,
 * and at high load a slow card runs what it can start at once instead of queueing behind itself
 * while fast cards sit at a count cap. `slots` undefined (a static backend that reports nothing):
 * capacity unknown, no cap. Never below MIN_QUEUE_CAP, never above MAX_QUEUE_CAP.
 */
export function queueCap(slots: number | undefined, weight: number, budget: number | undefined): number {
  if (slots === undefined) return Infinity;
  const s = slots >= 1 ? Math.floor(slots) : 0;
  if (s === 0 || budget === undefined || !(weight > 0) || !Number.isFinite(weight)) return Math.max(s, MIN_QUEUE_CAP);
  let cap = s;
  while (cap < MAX_QUEUE_CAP && expectedDelay({ id: '', inFlight: cap, slots: s, weight }) <= budget) cap++;
  return Math.min(Math.max(cap, MIN_QUEUE_CAP), MAX_QUEUE_CAP);
}

function slotsOrOne(slots: number | undefined): number {
  return slots !== undefined && slots >= 1 ? slots : 1;
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
 * throughput in card units). One request takes one slot for a service time of slots / weight.
 * With a free slot that is all it waits. Otherwise it starts once `ahead` = inFlight + 1 − slots
 * calls have finished; the running calls are partly done, so (uniform residual times) the j-th of
 * them ends on average after j / (slots + 1) of a service time, and after those every service time
 * frees `slots` more. Counting a running call as a full service time instead would rank a fast
 * card with a short queue behind an idle slow one that answers later, and send the slow card
 * traffic the fast cards could take. A node with weight <= 0 (or not finite) never wins over one
 * with a positive weight.
 *
 * `weight`: the weight the check uses for the node, by default its own; the pool lowers it for a
 * node its answers show slower than its weight says (call-latency.ts).
 */
export function expectedDelay(candidate: DelayCandidate, weight = candidate.weight): number {
  if (!(weight > 0) || !Number.isFinite(weight)) return Infinity;
  const slots = slotsOrOne(candidate.slots);
  const service = slots / weight;
  const ahead = Math.max(candidate.inFlight, 0) + 1 - slots;
  if (ahead <= 0) return service;
  const wait = ahead <= slots
    ? (service * ahead) / (slots + 1)
    : (service * slots) / (slots + 1) + ((ahead - slots) * service) / slots;
  return service + wait;
}

/**
 * The candidate with the least expected delay; ties go to the earliest, so callers pass the SWRR
 * order and an even tie keeps round-robin's choice. Undefined only for an empty list; if no
 * candidate has a usable weight, the first. `weightOf`: as expectedDelay's `weight`.
 */
export function chooseShortestExpectedDelay<C extends DelayCandidate>(
  candidates: readonly C[],
  weightOf: (candidate: C) => number = (candidate) => candidate.weight,
): C | undefined {
  let best: C | undefined;
  let bestDelay = Infinity;
  for (const candidate of candidates) {
    const delay = expectedDelay(candidate, weightOf(candidate));
    if (best === undefined || delay < bestDelay) {
      best = candidate;
      bestDelay = delay;
    }
  }
  return best;
}
