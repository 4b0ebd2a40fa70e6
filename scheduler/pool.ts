/**
 * The backends serving one (model, version), the SWRR picker over them, and the per-member state
 * that routing needs: weight from the pool's policy, in-flight count against the closed-loop cap,
 * drain state and outlier ejection. Every method takes the clock value it acts at.
 */
import type { Backend } from './backend.js';
import type { ModelMetadata } from '../core/model-metadata.js';
import { chooseShortestExpectedDelay, inFlightCap } from './in-flight-guard.js';
import { hardwareCapacity, type LoadReport } from '../core/load-report.js';
import { SwrrPicker } from './picker-swrr.js';
import type { WeightInput, WeightPolicy } from './weight-policy.js';

export const DEFAULT_CONSECUTIVE_FAILURES_TO_EJECT = 5;
export const DEFAULT_BASE_EJECTION_MS = 1_000;
export const DEFAULT_MAX_EJECTION_MS = 30_000;
/** Outlier ejection never takes more than this share of a pool out (Envoy's panic threshold). */
export const MAX_EJECTED_SHARE = 0.5;

export type MemberState = 'ready' | 'draining';

/**
 * How an attempt on a member ended. `cancelled`: its caller stopped waiting (client gone, deadline
 * passed); it says nothing about the node.
 */
export type ReleaseOutcome = 'ok' | 'client_error' | 'server_error' | 'transport_error' | 'cancelled';

export interface PoolOptions {
  consecutiveFailuresToEject: number;
  baseEjectionMs: number;
  maxEjectionMs: number;
  /** Closed-loop guard: a member at this many in-flight requests per execution slot sits out. */
  inFlightPerSlot?: number;
}

export const DEFAULT_POOL_OPTIONS: PoolOptions = {
  consecutiveFailuresToEject: DEFAULT_CONSECUTIVE_FAILURES_TO_EJECT,
  baseEjectionMs: DEFAULT_BASE_EJECTION_MS,
  maxEjectionMs: DEFAULT_MAX_EJECTION_MS,
};

export interface MemberSpec {
  id: string;
  nodeId: string;
  url: string;
  backend: Backend;
  /** Σ card coefficients; for a static backend its declared weight. */
  capacity: number;
  staticWeight?: number;
  /** Executions the node can run at once (for the in-flight cap); unknown = no cap. */
  slots?: number;
}

export class PoolMember {
  state: MemberState = 'ready';
  weight: number;
  report?: LoadReport;
  reportReceivedAtMs = -Infinity;
  inFlight = 0;
  requests = 0;
  failures = 0;
  consecutiveFailures = 0;
  ejections = 0;
  ejectedUntilMs = -Infinity;
  /**
   * Set by a transport failure at this clock value: the node gave no answer, so it stays out until
   * a load report received after that moment shows it alive (a dead node never sends one, and is
   * evicted by heartbeat silence instead of being tried again when a timed ejection ends).
   */
  unreachableSinceMs?: number;
  eligible = true;

  constructor(public spec: MemberSpec, readonly joinedAtMs: number, private readonly inFlightPerSlot?: number) {
    this.weight = spec.staticWeight ?? spec.capacity;
  }

  get id(): string {
    return this.spec.id;
  }

  isEjected(nowMs: number): boolean {
    return nowMs < this.ejectedUntilMs || this.unreachableSinceMs !== undefined;
  }

  get cap(): number {
    const slots = this.report?.slots ?? this.spec.slots;
    return slots ? inFlightCap(slots, { factor: this.inFlightPerSlot }) : Infinity;
  }
}

export interface PoolMemberView {
  id: string;
  url: string;
  state: MemberState | 'ejected';
  weight: number;
  capacity: number;
  in_flight: number;
  requests: number;
  failures: number;
}

export interface PoolView {
  model: string;
  version: string;
  policy: string;
  nodes: PoolMemberView[];
}

export class BackendPool {
  readonly #members = new Map<string, PoolMember>();
  readonly #ejected = new Set<PoolMember>();
  readonly #picker: SwrrPicker;

  constructor(
    readonly model: string,
    readonly version: string,
    public metadata: ModelMetadata,
    readonly policy: WeightPolicy,
    private readonly options: PoolOptions = DEFAULT_POOL_OPTIONS,
    random: () => number = Math.random,
  ) {
    this.#picker = new SwrrPicker({ random });
  }

  get size(): number {
    return this.#members.size;
  }

  members(): PoolMember[] {
    return [...this.#members.values()];
  }

  member(id: string): PoolMember | undefined {
    return this.#members.get(id);
  }

  /** Adds a member, or refreshes the spec of a known one (its state and counters stay). */
  upsert(spec: MemberSpec, nowMs: number): PoolMember {
    const existing = this.#members.get(spec.id);
    if (existing) {
      existing.spec = spec;
      return existing;
    }
    const member = new PoolMember(spec, nowMs, this.options.inFlightPerSlot);
    this.#members.set(spec.id, member);
    this.#picker.add(spec.id, member.weight);
    this.recomputeWeights(nowMs);
    return member;
  }

  remove(id: string): boolean {
    const member = this.#members.get(id);
    if (!member) return false;
    this.#members.delete(id);
    this.#ejected.delete(member);
    this.#picker.remove(id);
    this.policy.forget(id);
    return true;
  }

  report(id: string, report: LoadReport, nowMs: number): void {
    const member = this.#members.get(id);
    if (!member) return;
    member.report = report;
    member.reportReceivedAtMs = nowMs;
    member.state = report.state;
    if (member.unreachableSinceMs !== undefined && nowMs > member.unreachableSinceMs) member.unreachableSinceMs = undefined;
    this.#refreshEligibility(member, nowMs);
  }

  setState(id: string, state: MemberState, nowMs: number): void {
    const member = this.#members.get(id);
    if (!member) return;
    member.state = state;
    this.#refreshEligibility(member, nowMs);
  }

  /** Asks the pool's policy for new weights; `current` stays continuous in the picker. */
  recomputeWeights(nowMs: number): void {
    const inputs: WeightInput[] = [];
    for (const m of this.#members.values()) {
      inputs.push({
        id: m.id,
        capacity: m.report ? hardwareCapacity(m.report.cards) || m.spec.capacity : m.spec.capacity,
        staticWeight: m.spec.staticWeight,
        report: m.report,
        reportAgeMs: nowMs - m.reportReceivedAtMs,
        joinedAtMs: m.joinedAtMs,
      });
    }
    const weights = this.policy.update(inputs, nowMs);
    for (const [id, weight] of weights) {
      const member = this.#members.get(id);
      if (!member || !(weight >= 0) || !Number.isFinite(weight)) continue;
      member.weight = weight;
      this.#picker.setWeight(id, weight);
    }
    for (const m of this.#members.values()) this.#refreshEligibility(m, nowMs);
  }

  /** Picks a member and counts the request as in flight on it; undefined when none can take it. */
  acquire(nowMs: number, exclude?: ReadonlySet<string>): PoolMember | undefined {
    this.#expireEjections(nowMs);
    let skipped: PoolMember[] | undefined;
    let chosen: PoolMember | undefined;
    // Excluded members (already tried for this request) sit out for this one pick only.
    if (exclude) {
      skipped = [];
      for (const id of exclude) {
        const m = this.#members.get(id);
        if (m?.eligible) {
          this.#picker.setEligible(id, false);
          skipped.push(m);
        }
      }
    }
    const id = this.#picker.pick();
    if (id !== undefined) chosen = this.#members.get(id);
    if (skipped) for (const m of skipped) this.#picker.setEligible(m.id, true);
    chosen ??= this.#leastLoadedAtCap(nowMs, exclude);
    if (!chosen) return undefined;
    chosen.inFlight++;
    chosen.requests++;
    if (chosen.inFlight >= chosen.cap) this.#refreshEligibility(chosen, nowMs);
    return chosen;
  }

  /**
   * Ends a request on a member. Server errors count toward outlier ejection; a transport error
   * ejects at once. A member that left the pool meanwhile is not this pool's to update any more.
   */
  release(member: PoolMember, outcome: ReleaseOutcome, nowMs: number): void {
    if (this.#members.get(member.id) !== member) return;
    member.inFlight = Math.max(0, member.inFlight - 1);
    if (outcome === 'cancelled') {
      // Neither a success nor a failure of the node.
    } else if (outcome === 'ok' || outcome === 'client_error') {
      member.consecutiveFailures = 0;
    } else {
      member.failures++;
      member.consecutiveFailures++;
      if (outcome === 'transport_error') this.eject(member.id, nowMs, { untilReport: member.report !== undefined });
      else if (member.consecutiveFailures >= this.options.consecutiveFailuresToEject) this.eject(member.id, nowMs);
    }
    this.#refreshEligibility(member, nowMs);
  }

  /**
   * Takes a member out for an exponentially growing time, unless that would leave less than half
   * of the pool routable (then traffic keeps flowing to it: a degraded pool beats an empty one).
   */
  eject(id: string, nowMs: number, options: { untilReport?: boolean } = {}): boolean {
    const member = this.#members.get(id);
    if (!member || member.isEjected(nowMs)) return false;
    if (this.#members.size <= 1) return false;
    this.#expireEjections(nowMs);
    const maxEjected = Math.max(1, Math.floor(this.#members.size * MAX_EJECTED_SHARE));
    if (this.#ejected.size + 1 > maxEjected) return false;
    const duration = Math.min(this.options.baseEjectionMs * 2 ** member.ejections, this.options.maxEjectionMs);
    member.ejections++;
    member.ejectedUntilMs = nowMs + duration;
    member.consecutiveFailures = 0;
    if (options.untilReport) member.unreachableSinceMs = nowMs;
    this.#ejected.add(member);
    this.#refreshEligibility(member, nowMs);
    return true;
  }

  /** Whether any member takes traffic now (ready and not ejected); what readiness asks. */
  hasRoutableMember(nowMs: number): boolean {
    for (const m of this.#members.values()) if (m.state === 'ready' && !m.isEjected(nowMs)) return true;
    return false;
  }

  view(nowMs: number): PoolView {
    return {
      model: this.model,
      version: this.version,
      policy: this.policy.name,
      nodes: [...this.#members.values()].map((m) => ({
        id: m.id,
        url: m.spec.url,
        state: m.isEjected(nowMs) ? 'ejected' : m.state,
        weight: m.weight,
        capacity: m.spec.capacity,
        in_flight: m.inFlight,
        requests: m.requests,
        failures: m.failures,
      })),
    };
  }

  /**
   * Every routable member is at its in-flight cap: the pool is overloaded, and shedding the request
   * would lose it. Send it to the member with the shortest expected delay instead (O(n), only then).
   */
  #leastLoadedAtCap(nowMs: number, exclude?: ReadonlySet<string>): PoolMember | undefined {
    const candidates = [...this.#members.values()]
      .filter((m) => m.state === 'ready' && !m.isEjected(nowMs) && m.weight > 0 && !exclude?.has(m.id))
      .map((m) => ({ id: m.id, inFlight: m.inFlight, weight: m.weight }));
    const best = chooseShortestExpectedDelay(candidates);
    return best === undefined ? undefined : this.#members.get(best.id);
  }

  /** Only ejected members are visited, so a pick stays independent of pool size. */
  #expireEjections(nowMs: number): void {
    for (const m of this.#ejected) {
      if (m.isEjected(nowMs)) continue;
      this.#ejected.delete(m);
      this.#refreshEligibility(m, nowMs);
    }
  }

  #refreshEligibility(member: PoolMember, nowMs: number): void {
    const eligible = member.state === 'ready' && !member.isEjected(nowMs) && member.inFlight < member.cap;
    if (eligible !== member.eligible) {
      member.eligible = eligible;
      this.#picker.setEligible(member.id, eligible);
    }
  }
}
