/**
 * Prequal (Wydrowski et al., "Load is not what you should balance: Introducing Prequal", NSDI '24;
 * YouTube's balancer): choose by what nodes report about themselves, their requests in flight (RIF,
 * from every client) and the latency they expect, gathered by asynchronous probes.
 *
 * - Probing: every pick sends `probesPerPick` probes (fractional rates round up or down at random)
 *   to distinct random eligible members and does not wait for them; their answers feed later picks.
 * - Probe pool: at most `maxPoolSize` answers, one per member (a newer answer replaces an older
 *   one); when full the oldest goes. An answer older than `maxProbeAgeMs` is dropped. An answer
 *   routes at most `maxReuse` picks, and each use adds one to its RIF, for the call just sent there.
 *   Each pick also removes `removesPerPick` answers, alternately the oldest and the worst (the
 *   hottest, or if none is hot the slowest), so that the pool keeps turning over (the paper's
 *   r_remove).
 * - Selection, hot-cold lexicographic: over the answers of members eligible now, answers with RIF
 *   above the `qRif` quantile of their RIFs are hot; among the cold ones the lowest latency wins; if
 *   all were hot the lowest RIF would. No usable answer: a uniformly random eligible member.
 *
 * Probes that fail, or answer nonsense, are ignored; answers for a member removed meanwhile are
 * dropped. Without a prober in the context nothing is probed, the pool stays empty, and every pick
 * is the uniformly random fallback.
 *
 * Times: answers are stamped on arrival with `clock()`, and ages are measured on the same clock at
 * pick time (not on pick's nowMs), so an age is right whatever clock the caller's nowMs comes from.
 */
import type { CompletedPick, PickMember, PickPolicy, PickPolicyContext, PickResult, ProbeAnswer, Prober } from './picker.js';
import { EMPTY_PICK } from './picker.js';
import { PolicyMembers } from './picker-members.js';
import { ConfigError } from '../core/errors.js';

const NAME = 'prequal';

/** The paper's default probe rate: three probes per query. */
export const DEFAULT_PREQUAL_PROBES_PER_PICK = 3;
/** The paper's default pool size. */
export const DEFAULT_PREQUAL_MAX_POOL_SIZE = 16;
/** The paper's default hot/cold quantile. */
export const DEFAULT_PREQUAL_Q_RIF = 0.84;
/**
 * Ours: an answer a second old says little about a node whose queue turns over in tens of ms,
 * yet with a handful of calls per second it is still the best there is.
 */
export const DEFAULT_PREQUAL_MAX_PROBE_AGE_MS = 1_000;
/**
 * Ours. The paper sizes the reuse budget so that answers are used about as fast as they arrive;
 * at three probes and one removal per pick that is one or two uses, more in small pools where
 * answers are replaced by newer ones anyway. Each reuse also raises the answer's RIF, so a reused
 * node looks busier and is not reused blindly.
 */
export const DEFAULT_PREQUAL_MAX_REUSE = 2;
/** One removal per pick, as the paper's r_remove. */
export const DEFAULT_PREQUAL_REMOVES_PER_PICK = 1;

export interface PrequalOptions {
  probesPerPick?: number;
  maxPoolSize?: number;
  maxProbeAgeMs?: number;
  maxReuse?: number;
  qRif?: number;
  removesPerPick?: number;
  /** Stamps answers and measures their age; default performance.now (monotonic). */
  clock?: () => number;
}

interface Entry {
  readonly member: PickMember;
  readonly pick: CompletedPick;
  /** Bound once, so a probe allocates no closure of its own. */
  readonly receive: (answer: ProbeAnswer) => void;
  eligible: boolean;
  removed: boolean;
  /** Its answer in the pool, if any (one per member). */
  probe: Probe | null;
}

/** One answer in the pool. */
interface Probe {
  readonly entry: Entry;
  /** RIF the node reported, plus one per pick this answer has routed since. */
  rif: number;
  latencyMs: number;
  receivedAtMs: number;
  /** Arrival order, for "oldest" independent of clock resolution. */
  seq: number;
  usesLeft: number;
}

/** What selection reads of an answer. */
export interface ProbeLoad {
  readonly rif: number;
  readonly latencyMs: number;
}

/**
 * Prequal's hot-cold lexicographic rule over `probes[0..count)`: answers with RIF above `threshold`
 * are hot; the cold answer with the lowest latency wins (then the lower RIF); if every answer is hot,
 * the lowest RIF wins (then the lower latency). Ties keep the earlier index. −1 when count is 0.
 */
export function selectHotCold(probes: readonly ProbeLoad[], count: number, threshold: number): number {
  let cold = -1;
  let coolest = -1;
  for (let i = 0; i < count; i++) {
    const p = probes[i];
    if (p.rif <= threshold) {
      const best = cold < 0 ? undefined : probes[cold];
      if (best === undefined || p.latencyMs < best.latencyMs || (p.latencyMs === best.latencyMs && p.rif < best.rif)) cold = i;
    }
    const least = coolest < 0 ? undefined : probes[coolest];
    if (least === undefined || p.rif < least.rif || (p.rif === least.rif && p.latencyMs < least.latencyMs)) coolest = i;
  }
  return cold >= 0 ? cold : coolest;
}

/**
 * The q-quantile of `values[0..count)`, interpolated linearly between order statistics (numpy's
 * default), so that in a pool of two the busier answer is already above the 0.84 quantile. Sorts
 * that prefix in place (insertion sort: count ≤ the pool size). NaN when count is 0.
 */
export function rifQuantile(values: Float64Array, count: number, q: number): number {
  if (count === 0) return Number.NaN;
  for (let i = 1; i < count; i++) {
    const v = values[i];
    let j = i - 1;
    while (j >= 0 && values[j] > v) {
      values[j + 1] = values[j];
      j--;
    }
    values[j + 1] = v;
  }
  const at = q * (count - 1);
  const lo = Math.floor(at);
  const hi = Math.min(lo + 1, count - 1);
  return values[lo] + (values[hi] - values[lo]) * (at - lo);
}

function ignoreProbeFailure(): void {
  // A failed probe is no information, and the fallback covers a pool without answers.
}

export class PrequalPickPolicy implements PickPolicy {
  readonly name = NAME;
  readonly #random: () => number;
  readonly #probe: Prober | undefined;
  readonly #clock: () => number;
  readonly #probesPerPick: number;
  readonly #maxPoolSize: number;
  readonly #maxProbeAgeMs: number;
  readonly #maxReuse: number;
  readonly #qRif: number;
  readonly #removesPerPick: number;

  readonly #members = new PolicyMembers<Entry>(NAME);
  /** The probe pool, unordered (a removal swaps the last answer into the hole). */
  readonly #pool: Probe[] = [];
  #nextSeq = 0;
  /** Alternates the per-pick removal between the oldest answer and the worst. */
  #removeWorstNext = false;

  // Scratch, reused by every pick.
  readonly #targets: Entry[] = [];
  readonly #candidates: Probe[] = [];
  readonly #rifs: Float64Array;

  constructor(context: PickPolicyContext, options: PrequalOptions = {}) {
    this.#random = context.random;
    this.#probe = context.probe;
    this.#clock = options.clock ?? (() => performance.now());
    this.#probesPerPick = atLeast('probesPerPick', options.probesPerPick ?? DEFAULT_PREQUAL_PROBES_PER_PICK, 0);
    this.#maxPoolSize = integerAtLeast('maxPoolSize', options.maxPoolSize ?? DEFAULT_PREQUAL_MAX_POOL_SIZE, 1);
    this.#maxProbeAgeMs = atLeast('maxProbeAgeMs', options.maxProbeAgeMs ?? DEFAULT_PREQUAL_MAX_PROBE_AGE_MS, 0);
    this.#maxReuse = integerAtLeast('maxReuse', options.maxReuse ?? DEFAULT_PREQUAL_MAX_REUSE, 1);
    this.#removesPerPick = atLeast('removesPerPick', options.removesPerPick ?? DEFAULT_PREQUAL_REMOVES_PER_PICK, 0);
    const qRif = options.qRif ?? DEFAULT_PREQUAL_Q_RIF;
    if (!(qRif >= 0 && qRif <= 1)) throw new ConfigError(`prequal qRif must be in [0, 1], got ${qRif}`);
    this.#qRif = qRif;
    this.#rifs = new Float64Array(this.#maxPoolSize);
  }

  /** The answers in the pool now, for tests and views (a copy). */
  probes(): { memberId: string; rif: number; latencyMs: number; receivedAtMs: number; usesLeft: number }[] {
    return this.#pool.map((p) => ({
      memberId: p.entry.member.id,
      rif: p.rif,
      latencyMs: p.latencyMs,
      receivedAtMs: p.receivedAtMs,
      usesLeft: p.usesLeft,
    }));
  }

  add(member: PickMember): void {
    const entry: Entry = {
      member,
      pick: Object.freeze({ kind: 'complete', memberId: member.id }),
      receive: (answer) => {
        try {
          this.#receive(entry, answer);
        } catch {
          // Runs in a promise reaction: a throw here would be an unhandled rejection. An answer
          // that cannot be taken in is a failed probe.
        }
      },
      eligible: true,
      removed: false,
      probe: null,
    };
    this.#members.add(entry);
  }

  remove(id: string): void {
    const entry = this.#members.remove(id);
    entry.removed = true;
    if (entry.probe !== null) this.#drop(entry.probe);
  }

  setWeight(id: string, _weight: number): void {
    this.#members.entry(id);
  }

  /** An ineligible member's answer stays in the pool (it may be eligible again soon) but is not used. */
  setEligible(id: string, eligible: boolean): void {
    this.#members.setEligible(id, eligible).eligible = eligible;
  }

  pick(_nowMs: number): PickResult {
    if (this.#members.eligible.size === 0) return EMPTY_PICK;
    this.#expire(this.#clock());

    const candidates = this.#candidates;
    const rifs = this.#rifs;
    let count = 0;
    for (const p of this.#pool) {
      if (!p.entry.eligible) continue;
      candidates[count] = p;
      rifs[count] = p.rif;
      count++;
    }
    const threshold = rifQuantile(rifs, count, this.#qRif);
    const chosenAt = selectHotCold(candidates, count, threshold);
    let chosen: Entry;
    if (chosenAt >= 0) {
      const probe = candidates[chosenAt];
      chosen = probe.entry;
      probe.rif += 1;
      if (--probe.usesLeft === 0) this.#drop(probe);
    } else {
      chosen = this.#members.eligible.random(this.#random)!;
    }

    this.#sendProbes();
    for (let r = this.#howMany(this.#removesPerPick); r > 0 && this.#pool.length > 0; r--) {
      this.#drop(this.#removeWorstNext ? this.#worst(threshold) : this.#oldest());
      this.#removeWorstNext = !this.#removeWorstNext;
    }
    return chosen.pick;
  }

  #sendProbes(): void {
    const probe = this.#probe;
    if (probe === undefined) return;
    const targets = this.#targets;
    const k = this.#members.eligible.sample(this.#howMany(this.#probesPerPick), this.#random, targets);
    for (let i = 0; i < k; i++) {
      const entry = targets[i];
      let answer: Promise<ProbeAnswer>;
      try {
        answer = probe(entry.member.id);
      } catch {
        continue;
      }
      // Both handlers at once: a rejection is handled the moment it happens, never left dangling.
      Promise.resolve(answer).then(entry.receive, ignoreProbeFailure);
    }
  }

  /** A rate per pick as a whole number: its floor, plus one with probability its fraction. */
  #howMany(rate: number): number {
    const whole = Math.floor(rate);
    const fraction = rate - whole;
    return fraction > 0 && this.#random() < fraction ? whole + 1 : whole;
  }

  #receive(entry: Entry, answer: ProbeAnswer): void {
    if (entry.removed) return;
    const rif = answer?.inFlight;
    const latencyMs = answer?.latencyMs;
    if (typeof rif !== 'number' || !(rif >= 0) || !Number.isFinite(rif)) return;
    if (typeof latencyMs !== 'number' || !(latencyMs >= 0) || !Number.isFinite(latencyMs)) return;
    let probe = entry.probe;
    if (probe === null) {
      if (this.#pool.length >= this.#maxPoolSize) this.#drop(this.#oldest());
      probe = { entry, rif, latencyMs, receivedAtMs: 0, seq: 0, usesLeft: 0 };
      entry.probe = probe;
      this.#pool.push(probe);
    }
    probe.rif = rif;
    probe.latencyMs = latencyMs;
    probe.receivedAtMs = this.#clock();
    probe.seq = this.#nextSeq++;
    probe.usesLeft = this.#maxReuse;
  }

  #expire(nowMs: number): void {
    const pool = this.#pool;
    for (let i = pool.length - 1; i >= 0; i--) {
      if (nowMs - pool[i].receivedAtMs > this.#maxProbeAgeMs) this.#drop(pool[i]);
    }
  }

  #oldest(): Probe {
    let oldest = this.#pool[0];
    for (const p of this.#pool) if (p.seq < oldest.seq) oldest = p;
    return oldest;
  }

  /** The hottest answer (highest RIF above the threshold), or if none is hot the slowest. */
  #worst(threshold: number): Probe {
    let hottest: Probe | undefined;
    let slowest = this.#pool[0];
    for (const p of this.#pool) {
      if (p.rif > threshold && (hottest === undefined || p.rif > hottest.rif)) hottest = p;
      if (p.latencyMs > slowest.latencyMs) slowest = p;
    }
    return hottest ?? slowest;
  }

  #drop(probe: Probe): void {
    const pool = this.#pool;
    const at = pool.indexOf(probe);
    if (at < 0) return;
    const last = pool.pop()!;
    if (last !== probe) pool[at] = last;
    probe.entry.probe = null;
  }

}

function atLeast(name: string, value: number, min: number): number {
  if (!(value >= min) || !Number.isFinite(value)) throw new ConfigError(`prequal ${name} must be a finite number ≥ ${min}, got ${value}`);
  return value;
}

function integerAtLeast(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) throw new ConfigError(`prequal ${name} must be an integer ≥ ${min}, got ${value}`);
  return value;
}
