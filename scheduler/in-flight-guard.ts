/**
 * The closed loop around open-loop weighted round-robin. Weights change every few seconds; a node
 * that slows down in between keeps receiving its share and its queue grows without bound. Two
 * guards react per request, from the gateway's own in-flight counts (DESIGN §4):
 * - an in-flight cap (nginx `max_conns`): a node at its cap sits out of the picker;
 * - shortest expected delay among the top SWRR candidates: least (inFlight + 1) / weight.
 */
import { ConfigError } from '../core/errors.js';

/** Requests allowed in flight per execution slot: one running plus a short queue behind it. */
export const DEFAULT_IN_FLIGHT_CAP_FACTOR = 4;
/**
 * Cap for a node that reports fewer slots than makes sense (0 while its models load): never 0,
 * or the node would sit out until a report that can only come after it served something.
 */
export const DEFAULT_MIN_IN_FLIGHT_CAP = 4;

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
}

/**
 * Expected delay of one more request on a node, in units of one weight-normalised service time:
 * (inFlight + 1) / weight. A node with weight <= 0 (or not finite) never wins over one with a
 * positive weight.
 */
export function expectedDelay(candidate: DelayCandidate): number {
  const { weight } = candidate;
  if (!(weight > 0) || !Number.isFinite(weight)) return Infinity;
  return (Math.max(candidate.inFlight, 0) + 1) / weight;
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
