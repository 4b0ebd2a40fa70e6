/**
 * The backends serving one (model, version), the pick policy over them, and the per-member state
 * that routing needs: weight from the pool's weight policy, in-flight count against the closed-loop
 * cap and hard limit, drain state, the node's circuit breaker (circuit-breaker.ts: consecutive
 * failures, transport errors and success-rate outliers open it) and a 503's Retry-After hold-off.
 * The pool decides who may be picked; the pick policy (picker.ts) decides who is. Every method
 * takes the clock value it acts at.
 */
import type { Backend } from './backend.js';
import type { ModelMetadata } from '../core/model-metadata.js';
import { CallLatency, type OutstandingCall } from './call-latency.js';
import { chooseShortestExpectedDelay, DEFAULT_QUEUE_BUDGET, expectedDelay, queueBudget, queueCap, type DelayCandidate } from './in-flight-guard.js';
import { hardwareCapacity, type LoadReport } from '../core/load-report.js';
import { calibratedCapacities, calibratedThroughput } from './calibrated-capacity.js';
import type { PickMember, PickPolicy, ProbeAnswer } from './picker.js';
import type { RoutingPolicy } from './routing-policy.js';
import type { WeightInput } from './weight-policy.js';
import { CircuitBreaker, DEFAULT_BASE_OPEN_MS, DEFAULT_FAILURES_TO_OPEN, DEFAULT_MAX_OPEN_MS, type BreakerState } from './circuit-breaker.js';

/** The circuit breaker's settings (circuit-breaker.ts), under the names the pool has always used. */
export const DEFAULT_CONSECUTIVE_FAILURES_TO_EJECT = DEFAULT_FAILURES_TO_OPEN;
export const DEFAULT_BASE_EJECTION_MS = DEFAULT_BASE_OPEN_MS;
export const DEFAULT_MAX_EJECTION_MS = DEFAULT_MAX_OPEN_MS;
/**
 * Without --max-in-flight-per-node, a node whose slots are known may hold at most this many times
 * its in-flight cap (in-flight-guard.ts queueCap) before the pool refuses a request instead of
 * over-admitting it: the soft cap sits a node out of the picker, this hard limit sheds. The 4×
 * leaves room for the routing bench's bursts (which never reach it) while a sustained overload is
 * refused at once with a Retry-After, not queued until it times out.
 */
export const DEFAULT_HARD_LIMIT_CAP_MULTIPLE = 4;
/**
 * Floor of that default: a 1-slot node's cap is a handful of requests, and a burst of concurrent
 * clients (40 at once, split over gateway workers) is no overload the node's own queue cannot
 * take. Shedding starts once a node holds this many, whatever its cap.
 */
export const MIN_DEFAULT_HARD_LIMIT = 32;
/** Bounds of the Retry-After a saturated pool answers (whole seconds on HTTP, so 1 s at least there). */
export const MIN_SATURATED_RETRY_AFTER_MS = 100;
export const MAX_SATURATED_RETRY_AFTER_MS = 30_000;
/** A node's Retry-After holds it off for at most this long, whatever it asked. */
export const MAX_HOLD_OFF_MS = 30_000;
/** Service time assumed for a member this gateway has no answer from yet (for Retry-After only). */
const UNMEASURED_SERVICE_MS = 100;
/** Outlier ejection never takes more than this share of a pool out (Envoy's panic threshold). */
export const MAX_EJECTED_SHARE = 0.5;
/**
 * Success-rate outlier detection, run once per weight interval: a member that answered at least
 * SUCCESS_RATE_MIN_REQUESTS requests in the interval is ejected when its success rate is more than
 * SUCCESS_RATE_MAX_DEFICIT below that of every other answer of the pool in the interval (at least
 * as many). It catches a node that fails a share of its requests without ever failing five in a
 * row (fast errors: the node looks idle, so every load-aware policy sends it more), while errors
 * that every node gives alike (a bad model, bad inputs) eject no one. Envoy's `success_rate` rule
 * compares with mean − 1.9 σ over at least 5 hosts; a pool whose traffic the delay check sends to
 * two fast nodes has too few measured members for that, hence the comparison with the rest.
 */
export const SUCCESS_RATE_MIN_REQUESTS = 20;
export const SUCCESS_RATE_MAX_DEFICIT = 0.1;

export type MemberState = 'ready' | 'draining';

/**
 * Largest pool where every pick checks the policy's choice against every member's expected delay
 * (an O(n) scan, about 1 ns per member); larger pools rely on the in-flight cap alone.
 */
export const DELAY_CHECK_MAX_MEMBERS = 256;
/** A member sent nothing for this long may be explored (see BackendPool #exploring). */
export const EXPLORE_AFTER_MS = 1_000;
/** Only members whose weight is below this share of their hardware prior are explored. */
export const EXPLORE_BELOW_PRIOR_SHARE = 0.5;
/**
 * The delay check lowers a member's weight to what its answers show (call-latency.ts) only when
 * they show it at least this many times slower than its weight says: a real slowdown, not the
 * noise of one late answer.
 */
export const LATENCY_SLOWDOWN_RATIO = 2;
/**
 * Above this many requests in flight per execution slot of the whole pool, the policy's choice
 * stands wherever it can start the request at once (a free slot, a node running as its cards
 * promise: answers not showing it slow, weight not cut below half its prior). At
 * such load the fast cards queue anyway: moving a request off a slow card that can start it now
 * only lengthens their queues, and every latency drifts up to the slow card's service time. In the
 * simulated fleet at 85 % load (bench/routing/simulate.ts) this took p99 from ~130 to ~106 ms and
 * p50 from ~94 to ~55 ms; below about 75 % load the pool rarely holds this much.
 */
export const BUSY_POOL_IN_FLIGHT_PER_SLOT = 0.8;


import type { ReleaseOutcome } from './pool-outcome.js';

export type { ReleaseOutcome } from './pool-outcome.js';

export interface PoolOptions {
  consecutiveFailuresToEject: number;
  baseEjectionMs: number;
  maxEjectionMs: number;
  /**
   * Closed-loop guard: a member takes another request while its expected delay stays within this
   * many times the pool's median service time of one slot (in-flight-guard.ts queueCap), and the
   * delay check runs. Undefined: DEFAULT_QUEUE_BUDGET; 0: no guard (members take any number in
   * flight, the policy's choice always stands).
   */
  queueBudget?: number;
  /**
   * Hard limit of requests in flight on one node (--max-in-flight-per-node): with every routable
   * member at it, the pool refuses (pool_saturated). Undefined: DEFAULT_HARD_LIMIT_CAP_MULTIPLE ×
   * the member's cap, at least MIN_DEFAULT_HARD_LIMIT (none where the cap is unknown or the guard is off).
   */
  maxInFlightPerNode?: number;
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

/** A member is its own delay candidate, so the delay check on every pick allocates nothing. */
export class PoolMember implements PickMember, DelayCandidate {
  state: MemberState = 'ready';
  weight: number;
  report?: LoadReport;
  reportReceivedAtMs = -Infinity;
  inFlight = 0;
  requests = 0;
  failures = 0;
  /** Answers since the last success-rate check: successes (client errors count as such) and server errors. */
  intervalSuccesses = 0;
  intervalServerErrors = 0;
  /** Closed, open or half-open (circuit-breaker.ts); the pool's outlier ejection opens it too. */
  readonly breaker: CircuitBreaker;
  /** The node answered 503 with a Retry-After: nothing is sent to it before this clock value. */
  holdOffUntilMs = -Infinity;
  /**
   * Set by a transport failure at this clock value: the node gave no answer, so it stays out until
   * a load report received after that moment shows it alive (a dead node never sends one, and is
   * evicted by heartbeat silence instead of being tried again when a timed ejection ends).
   */
  unreachableSinceMs?: number;
  eligible = true;
  /** When it was last picked (for exploration by the delay check). */
  lastPickedAtMs = -Infinity;
  /** This gateway's view of the node's service time, from its calls (for the delay check). */
  readonly latency = new CallLatency();

  /** Requests it may hold (in-flight-guard.ts queueCap); the pool sets it with the weights. */
  cap = Infinity;
  /** Its slots as counted in the pool's total (BackendPool #slotsTotal). */
  countedSlots = 0;

  /** Requests it may hold at all (PoolOptions.maxInFlightPerNode); the pool sets it with the cap. */
  hardLimit = Infinity;

  constructor(public spec: MemberSpec, readonly joinedAtMs: number, options: PoolOptions = DEFAULT_POOL_OPTIONS) {
    this.weight = spec.staticWeight ?? spec.capacity;
    this.breaker = new CircuitBreaker({
      failuresToOpen: options.consecutiveFailuresToEject, baseOpenMs: options.baseEjectionMs, maxOpenMs: options.maxEjectionMs,
    });
  }

  get id(): string {
    return this.spec.id;
  }

  /** When its breaker's current or last open time ends. */
  get ejectedUntilMs(): number {
    return this.breaker.openUntilMs;
  }

  get ejections(): number {
    return this.breaker.openings;
  }

  /** Out of rotation: breaker open (or half-open with its probe out), or unreachable until a report. */
  isEjected(nowMs: number): boolean {
    return !this.breaker.allows(nowMs) || this.unreachableSinceMs !== undefined;
  }

  /** Whether it takes traffic now or soon (half-open, or held off by a Retry-After): ready, reachable, breaker not open. */
  routable(nowMs: number): boolean {
    return this.state === 'ready' && this.unreachableSinceMs === undefined && this.breaker.state(nowMs) !== 'open';
  }

  /** Executions the node runs at once, by its last report or its spec; undefined when unknown. */
  get slots(): number | undefined {
    return this.report?.slots ?? this.spec.slots;
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
  /** Its circuit breaker (circuit-breaker.ts). */
  breaker: BreakerState;
  /** Set while its Retry-After holds it off: ms left. */
  hold_off_ms?: number;
}

/**
 * One call's hold on a member, from pick to end: `end` releases the member and tells the pick
 * policy how the call went (grpc-js's onCallEnded).
 */
export class PoolAttempt {
  #ended = false;

  constructor(
    private readonly pool: BackendPool,
    readonly member: PoolMember,
    readonly pickedAtMs: number,
    private readonly onCallEnded?: (outcome: ReleaseOutcome, latencyMs: number, nowMs: number) => void,
    private readonly call?: OutstandingCall,
    /** It is the half-open breaker's one probe: its outcome closes or reopens the breaker. */
    readonly probe = false,
  ) {}

  /**
   * Ends the call once; later calls are ignored (a retry loop may reach it twice on an error path).
   * `retryAfterMs`: an `overloaded` answer's Retry-After, which holds the node off that long.
   */
  end(outcome: ReleaseOutcome, nowMs: number, retryAfterMs?: number): void {
    if (this.#ended) return;
    this.#ended = true;
    this.pool.release(this.member, outcome, nowMs, this.call, this.probe, retryAfterMs);
    this.onCallEnded?.(outcome, nowMs - this.pickedAtMs, nowMs);
  }
}

export interface PoolView {
  model: string;
  version: string;
  policy: string;
  nodes: PoolMemberView[];
}

export class BackendPool {
  readonly #members = new Map<string, PoolMember>();
  /** Members whose breaker is not closed or that are unreachable: visited on each pick to expire. */
  readonly #ejected = new Set<PoolMember>();
  /** Members held off by a Retry-After. */
  readonly #heldOff = new Set<PoolMember>();
  readonly #picker: PickPolicy;
  /**
   * The pool's typical service time per slot and weight unit, ms × weight / slots, over the
   * members this gateway has answers from (median, so one slow node does not move it); what turns
   * a member's measured service time into the weight it shows (#delayWeight). Set with the weights.
   */
  #msPerWeightPerSlot: number | undefined;
  /** The pool's delay budget (in-flight-guard.ts queueBudget); set with the weights. */
  #budget: number | undefined;
  /** Σ in flight and Σ slots (unknown counts 1) over members, kept as they change. */
  #inFlightTotal = 0;
  #slotsTotal = 0;

  constructor(
    readonly model: string,
    readonly version: string,
    public metadata: ModelMetadata,
    readonly policy: RoutingPolicy,
    private readonly options: PoolOptions = DEFAULT_POOL_OPTIONS,
    random: () => number = Math.random,
  ) {
    this.#picker = policy.createPicker({ random, probe: (id) => this.#probe(id) });
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
      this.#refreshCap(existing, nowMs);
      return existing;
    }
    const member = new PoolMember(spec, nowMs, this.options);
    this.#members.set(spec.id, member);
    this.#picker.add(member);
    this.recomputeWeights(nowMs);
    return member;
  }

  remove(id: string): boolean {
    const member = this.#members.get(id);
    if (!member) return false;
    this.#members.delete(id);
    this.#ejected.delete(member);
    this.#heldOff.delete(member);
    this.#inFlightTotal -= member.inFlight;
    this.#slotsTotal -= member.countedSlots;
    this.#picker.remove(id);
    this.policy.weights.forget(id);
    return true;
  }

  report(id: string, report: LoadReport, nowMs: number): void {
    const member = this.#members.get(id);
    if (!member) return;
    member.report = report;
    member.reportReceivedAtMs = nowMs;
    member.state = report.state;
    if (member.unreachableSinceMs !== undefined && nowMs > member.unreachableSinceMs) member.unreachableSinceMs = undefined;
    this.#refreshCap(member, nowMs); // its slots may have changed
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
    // The card table's prior, replaced per model by what nodes measured at load where they did.
    const capacities = calibratedCapacities([...this.#members.values()].map((m) => ({
      prior: m.report ? hardwareCapacity(m.report.cards) || m.spec.capacity : m.spec.capacity,
      measured: calibratedThroughput(m.report, this.model, this.version),
    })));
    for (const m of this.#members.values()) {
      inputs.push({
        id: m.id,
        capacity: capacities[inputs.length],
        staticWeight: m.spec.staticWeight,
        report: m.report,
        reportAgeMs: nowMs - m.reportReceivedAtMs,
        joinedAtMs: m.joinedAtMs,
      });
    }
    const weights = this.policy.weights.update(inputs, nowMs);
    for (const [id, weight] of weights) {
      const member = this.#members.get(id);
      if (!member || !(weight >= 0) || !Number.isFinite(weight)) continue;
      member.weight = weight;
      this.#picker.setWeight(id, weight);
    }
    this.#budget = this.#guarded ? queueBudget(this.#members.values(), this.options.queueBudget ?? DEFAULT_QUEUE_BUDGET) : undefined;
    for (const m of this.#members.values()) this.#refreshCap(m, nowMs);
    this.#msPerWeightPerSlot = this.#typicalServiceScale();
  }

  /**
   * Success-rate outlier detection over the answers since the last call (see
   * SUCCESS_RATE_MIN_REQUESTS); the gateway calls it once per weight interval. Returns the ids it
   * ejected.
   */
  detectOutliers(nowMs: number): string[] {
    let successes = 0;
    let answered = 0;
    for (const m of this.#members.values()) {
      successes += m.intervalSuccesses;
      answered += m.intervalSuccesses + m.intervalServerErrors;
    }
    const outliers: PoolMember[] = [];
    for (const m of this.#members.values()) {
      const own = m.intervalSuccesses + m.intervalServerErrors;
      const others = answered - own;
      if (own < SUCCESS_RATE_MIN_REQUESTS || others < SUCCESS_RATE_MIN_REQUESTS) continue;
      const rate = m.intervalSuccesses / own;
      const othersRate = (successes - m.intervalSuccesses) / others;
      if (rate < othersRate - SUCCESS_RATE_MAX_DEFICIT) outliers.push(m);
    }
    for (const m of this.#members.values()) {
      m.intervalSuccesses = 0;
      m.intervalServerErrors = 0;
    }
    return outliers.filter((m) => this.eject(m.id, nowMs)).map((m) => m.id);
  }

  /** Picks a member and counts the request as in flight on it; undefined when none can take it. */
  acquire(nowMs: number, exclude?: ReadonlySet<string>): PoolMember | undefined {
    return this.attempt(nowMs, exclude)?.member;
  }

  /**
   * Picks a member for one call and counts it in flight; the call ends with `attempt.end(outcome)`.
   * Undefined when no member can take it. `exclude`: members already tried for this call.
   */
  attempt(nowMs: number, exclude?: ReadonlySet<string>): PoolAttempt | undefined {
    this.#expireEjections(nowMs);
    let skipped: PoolMember[] | undefined;
    let chosen: PoolMember | undefined;
    let onCallEnded: ((outcome: ReleaseOutcome, latencyMs: number, nowMs: number) => void) | undefined;
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
    const pick = this.#picker.pick(nowMs);
    if (pick.kind === 'complete') {
      chosen = this.#members.get(pick.memberId);
      onCallEnded = pick.onCallEnded;
    }
    if (skipped) for (const m of skipped) this.#picker.setEligible(m.id, true);
    if (
      chosen && this.#guarded && this.#members.size <= DELAY_CHECK_MAX_MEMBERS &&
      !this.#exploring(chosen, nowMs) && !this.#startsAtOnceInBusyPool(chosen, nowMs)
    ) {
      const sooner = this.#soonerThan(chosen, nowMs, exclude);
      if (sooner) {
        chosen = sooner;
        onCallEnded = undefined; // the policy's feedback is about the member it chose
      }
    }
    chosen ??= this.#leastLoadedAtCap(nowMs, exclude);
    if (!chosen) return undefined;
    const call = chosen.latency.begin(nowMs, chosen.inFlight, chosen.slots);
    chosen.inFlight++;
    this.#inFlightTotal++;
    chosen.requests++;
    chosen.lastPickedAtMs = nowMs;
    const probe = chosen.breaker.sent(nowMs);
    if (probe || chosen.inFlight >= chosen.cap || chosen.inFlight >= chosen.hardLimit) this.#refreshEligibility(chosen, nowMs);
    return new PoolAttempt(this, chosen, nowMs, onCallEnded, call, probe);
  }

  /**
   * When no member can take a request although some are routable (every one at its hard limit or
   * held off by its Retry-After): how long until one likely can, in ms, for the Retry-After of a
   * pool_saturated refusal. Undefined when no member is routable at all (that is no_backend).
   * The least over members of max(hold-off left, expected delay of one more request there).
   */
  saturatedRetryAfterMs(nowMs: number): number | undefined {
    let best: number | undefined;
    for (const m of this.#members.values()) {
      if (!m.routable(nowMs) || !(m.weight > 0)) continue;
      const serviceMs = m.latency.estimateMs(nowMs) ?? UNMEASURED_SERVICE_MS;
      const slots = m.slots !== undefined && m.slots >= 1 ? m.slots : 1;
      // expectedDelay is in units of one service time per slot / weight: scale it to this member's ms.
      const delayMs = (expectedDelay(m) * m.weight * serviceMs) / slots;
      const wait = Math.max(m.holdOffUntilMs - nowMs, delayMs);
      if (best === undefined || wait < best) best = wait;
    }
    if (best === undefined) return undefined;
    return Math.round(Math.min(Math.max(best, MIN_SATURATED_RETRY_AFTER_MS), MAX_SATURATED_RETRY_AFTER_MS));
  }

  /**
   * Ends a request on a member. Server errors count toward outlier ejection; a transport error
   * ejects at once. A member that left the pool meanwhile is not this pool's to update any more.
   * `call`: the attempt's outstanding call; only an `ok` answer counts as a latency sample (an
   * error is often fast, and would make a failing node look quick).
   */
  release(member: PoolMember, outcome: ReleaseOutcome, nowMs: number, call?: OutstandingCall, probe = false, retryAfterMs?: number): void {
    if (this.#members.get(member.id) !== member) return;
    if (call) member.latency.end(call, nowMs, outcome === 'ok');
    if (member.inFlight > 0) {
      member.inFlight--;
      this.#inFlightTotal = Math.max(0, this.#inFlightTotal - 1);
    }
    const breaker = member.breaker;
    if (outcome === 'cancelled' || outcome === 'overloaded') {
      // Neither a success nor a failure of the node; an overloaded node asked for time, and gets it.
      breaker.neutral(probe);
      if (outcome === 'overloaded' && retryAfterMs !== undefined && retryAfterMs > 0) this.#holdOff(member, nowMs, retryAfterMs);
    } else if (outcome === 'ok' || outcome === 'client_error') {
      breaker.succeeded(nowMs, probe);
      member.intervalSuccesses++;
    } else {
      if (outcome === 'server_error') member.intervalServerErrors++;
      member.failures++;
      const wantsOpen = breaker.failed(probe);
      if (outcome === 'transport_error') this.eject(member.id, nowMs, { untilReport: member.report !== undefined });
      else if (probe) this.#open(member, nowMs); // it was out already: no share to check
      else if (wantsOpen && !this.eject(member.id, nowMs)) breaker.forgive();
    }
    this.#refreshEligibility(member, nowMs);
  }

  /**
   * Takes a member out for an exponentially growing time, unless that would leave less than half
   * of the pool routable (then traffic keeps flowing to it: a degraded pool beats an empty one).
   */
  eject(id: string, nowMs: number, options: { untilReport?: boolean } = {}): boolean {
    const member = this.#members.get(id);
    if (!member || member.unreachableSinceMs !== undefined || member.breaker.state(nowMs) === 'open') return false;
    if (this.#members.size <= 1) return false;
    this.#expireEjections(nowMs);
    // A half-open member is already counted out: opening it again takes no one more out.
    if (!this.#ejected.has(member)) {
      const maxEjected = Math.max(1, Math.floor(this.#members.size * MAX_EJECTED_SHARE));
      if (this.#ejected.size + 1 > maxEjected) return false;
    }
    if (options.untilReport) member.unreachableSinceMs = nowMs;
    this.#open(member, nowMs);
    return true;
  }

  /** Whether any member takes traffic now or after a probe (ready, breaker not open); what readiness asks. */
  hasRoutableMember(nowMs: number): boolean {
    for (const m of this.#members.values()) if (m.routable(nowMs)) return true;
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
        breaker: m.breaker.state(nowMs),
        ...(m.holdOffUntilMs > nowMs ? { hold_off_ms: Math.ceil(m.holdOffUntilMs - nowMs) } : {}),
      })),
    };
  }

  /** A load probe of a member's node, for probing pick policies; rejects when it cannot be probed. */
  async #probe(id: string): Promise<ProbeAnswer> {
    const backend = this.#members.get(id)?.spec.backend;
    if (!backend?.probe) throw new Error(`member '${id}' cannot be probed`);
    return backend.probe();
  }

  /**
   * Whether the policy's choice of a member whose weight was cut far below its hardware prior
   * stands without the delay check, because it has been sent nothing for EXPLORE_AFTER_MS: without
   * this the check would never send such a node anything (its low weight makes it look slow), so it
   * could never show that it recovered. One request per interval at most; a node at its prior (a
   * slow card, correctly weighted) is never explored.
   */
  #exploring(chosen: PoolMember, nowMs: number): boolean {
    if (chosen.inFlight > 0 || nowMs - chosen.lastPickedAtMs < EXPLORE_AFTER_MS) return false;
    return chosen.weight < chosen.spec.capacity * EXPLORE_BELOW_PRIOR_SHARE ||
      this.#delayWeight(chosen, nowMs) < chosen.weight;
  }

  /** See BUSY_POOL_IN_FLIGHT_PER_SLOT. */
  #startsAtOnceInBusyPool(chosen: PoolMember, nowMs: number): boolean {
    if (this.#inFlightTotal <= BUSY_POOL_IN_FLIGHT_PER_SLOT * this.#slotsTotal) return false;
    const slots = chosen.slots !== undefined && chosen.slots >= 1 ? chosen.slots : 1;
    if (chosen.inFlight >= slots) return false;
    // Only a node running as its cards promise: not one its answers show slower than its weight,
    // nor one whose weight was cut below half its hardware prior (a card that slowed down).
    return this.#delayWeight(chosen, nowMs) === chosen.weight &&
      chosen.weight >= chosen.spec.capacity * EXPLORE_BELOW_PRIOR_SHARE;
  }

  /**
   * The weight the delay check uses for a member: its weight, unless its answers since show it at
   * least LATENCY_SLOWDOWN_RATIO times slower; then the weight its measured service time shows,
   * slots × (pool's typical ms × weight / slot) / its ms. That is how a node that slowed down
   * between two weight updates stops taking traffic on its first late answer, not at the update.
   */
  #delayWeight(member: PoolMember, nowMs: number): number {
    const scale = this.#msPerWeightPerSlot;
    if (scale === undefined) return member.weight;
    const serviceMs = member.latency.estimateMs(nowMs);
    if (serviceMs === undefined || !(serviceMs > 0)) return member.weight;
    const slots = member.slots !== undefined && member.slots >= 1 ? member.slots : 1;
    const shown = (slots * scale) / serviceMs;
    return member.weight > LATENCY_SLOWDOWN_RATIO * shown ? shown : member.weight;
  }

  /** See #msPerWeightPerSlot; undefined until some member with a weight has answered. */
  #typicalServiceScale(): number | undefined {
    const scales: number[] = [];
    for (const m of this.#members.values()) {
      const ms = m.latency.sampledMs;
      if (ms === undefined || !(ms > 0) || !(m.weight > 0)) continue;
      const slots = m.slots !== undefined && m.slots >= 1 ? m.slots : 1;
      scales.push((ms * m.weight) / slots);
    }
    if (scales.length === 0) return undefined;
    scales.sort((a, b) => a - b);
    const mid = scales.length >> 1;
    return scales.length % 2 === 1 ? scales[mid] : (scales[mid - 1] + scales[mid]) / 2;
  }

  /** Whether the closed-loop guard (in-flight cap and delay check) is on. */
  get #guarded(): boolean {
    return this.options.queueBudget !== 0;
  }

  /** Sets a member's cap from its slots, its weight and the pool's budget, then its eligibility. */
  #refreshCap(member: PoolMember, nowMs: number): void {
    const slots = member.slots !== undefined && member.slots >= 1 ? member.slots : 1;
    this.#slotsTotal += slots - member.countedSlots;
    member.countedSlots = slots;
    member.cap = this.#guarded ? queueCap(member.slots, member.weight, this.#budget) : Infinity;
    member.hardLimit = this.options.maxInFlightPerNode ?? Math.max(DEFAULT_HARD_LIMIT_CAP_MULTIPLE * member.cap, MIN_DEFAULT_HARD_LIMIT);
    this.#refreshEligibility(member, nowMs);
  }

  /**
   * The routable member with the shortest expected delay, if it is strictly shorter than that of
   * `chosen`; undefined when the policy's choice is as good as any (then it stands, and the
   * policy's order breaks ties between equal nodes). O(n): only for pools up to
   * DELAY_CHECK_MAX_MEMBERS.
   */
  #soonerThan(chosen: PoolMember, nowMs: number, exclude?: ReadonlySet<string>): PoolMember | undefined {
    let best: PoolMember | undefined;
    let bestDelay = expectedDelay(chosen, this.#delayWeight(chosen, nowMs));
    for (const m of this.#members.values()) {
      if (m === chosen || !m.eligible || exclude?.has(m.id)) continue;
      const delay = expectedDelay(m, this.#delayWeight(m, nowMs));
      if (delay < bestDelay) {
        best = m;
        bestDelay = delay;
      }
    }
    return best;
  }

  /**
   * Every routable member is at its in-flight cap: the pool is overloaded, and shedding the request
   * would lose it. Send it to the member with the shortest expected delay instead (O(n), only then).
   */
  #leastLoadedAtCap(nowMs: number, exclude?: ReadonlySet<string>): PoolMember | undefined {
    // Up to each member's hard limit: past it the pool refuses (saturatedRetryAfterMs), never queues.
    const candidates = [...this.#members.values()]
      .filter((m) => m.state === 'ready' && !m.isEjected(nowMs) && m.weight > 0 && !exclude?.has(m.id) &&
        m.inFlight < m.hardLimit && !(m.holdOffUntilMs > nowMs));
    return chooseShortestExpectedDelay(candidates, (m) => this.#delayWeight(m, nowMs));
  }

  /** Opens a member's breaker and counts it out of rotation. */
  #open(member: PoolMember, nowMs: number): void {
    member.breaker.trip(nowMs);
    this.#ejected.add(member);
    this.#refreshEligibility(member, nowMs);
  }

  #holdOff(member: PoolMember, nowMs: number, retryAfterMs: number): void {
    member.holdOffUntilMs = Math.max(member.holdOffUntilMs, nowMs + Math.min(retryAfterMs, MAX_HOLD_OFF_MS));
    this.#heldOff.add(member);
  }

  /**
   * Only members out of rotation are visited, so a pick stays independent of pool size: an open
   * breaker that turned half-open makes its member eligible for the probe; a closed one and a
   * reachable member leave the set.
   */
  #expireEjections(nowMs: number): void {
    for (const m of this.#ejected) {
      if (m.breaker.state(nowMs) === 'closed' && m.unreachableSinceMs === undefined) this.#ejected.delete(m);
      this.#refreshEligibility(m, nowMs);
    }
    for (const m of this.#heldOff) {
      if (m.holdOffUntilMs > nowMs) continue;
      this.#heldOff.delete(m);
      this.#refreshEligibility(m, nowMs);
    }
  }

  #refreshEligibility(member: PoolMember, nowMs: number): void {
    const eligible = member.state === 'ready' && !member.isEjected(nowMs) && !(member.holdOffUntilMs > nowMs) &&
      member.inFlight < member.cap && member.inFlight < member.hardLimit;
    if (eligible !== member.eligible) {
      member.eligible = eligible;
      this.#picker.setEligible(member.id, eligible);
    }
  }
}
