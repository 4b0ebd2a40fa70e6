/**
 * Figures of one scenario run, per phase: latency percentiles (from scheduled send time), failed,
 * timed-out and refused requests beside throughput, retries, dispatch share against capacity
 * share, how much weights oscillate, and the reaction times (evict, shed, recover). Pure: it reads
 * a ScenarioRun and computes.
 */
import { percentile } from '../support/load.js';
import type { ScenarioRun, PoolSnapshot } from './run-scenario.js';
import { SLOTS_PER_NODE, type FleetNode, type Phase, type Scenario } from './scenarios.js';

export interface LatencyFigures {
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

export interface PhaseFigures extends LatencyFigures {
  phase: string;
  requests: number;
  ok: number;
  failed: number;
  timedOut: number;
  refused: number;
  /** (failed + timed out + refused) / requests. */
  lostShare: number;
  offeredPerSec: number;
  goodputPerSec: number;
  /** Per node: share of the gateway's dispatches in the phase and of the fleet's live capacity. */
  shares: { node: string; dispatch: number; capacity: number }[];
  /** Σ |dispatch − capacity| / 2: the share of requests sent where capacity does not say (0 = exact). */
  shareError: number;
  /** Mean over nodes of the coefficient of variation of each node's weight share across samples. */
  weightShareCv: number;
  /** The same of dispatch shares over 1 s windows: how unevenly traffic arrives, whatever the weights. */
  dispatchShareCv: number;
}

export interface Reactions {
  /** Kill/stop → the last request the gateway sent that node (ms), per event label. */
  lastRequestAfterMs: Record<string, number | null>;
  /** Slowdown → the node's dispatch rate (1 s window) at or below what it can now serve. */
  shedMs: number | null;
  /** Recovery → the node's dispatch share (1 s window) back to 80 % of its capacity share. */
  recoverMs: number | null;
}

export interface RunFigures {
  scenario: string;
  label: string;
  policy: string;
  guard: boolean;
  retries: number;
  phases: PhaseFigures[];
  reactions: Reactions;
}

export function latencyFigures(latenciesMs: number[]): LatencyFigures {
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  return {
    p50Ms: percentile(sorted, 0.5),
    p90Ms: percentile(sorted, 0.9),
    p99Ms: percentile(sorted, 0.99),
    p999Ms: percentile(sorted, 0.999),
    maxMs: sorted.length ? sorted[sorted.length - 1] : NaN,
  };
}

/**
 * Per node, requests dispatched between two times, from the pool samples' `requests` counters. A
 * counter that went down was reset (the node left and joined again as a new member): the new
 * value counts in full.
 */
export function dispatchedBetween(samples: readonly PoolSnapshot[], fromMs: number, toMs: number): Map<string, number> {
  const counts = new Map<string, number>();
  let previous: Map<string, number> | undefined;
  for (const s of samples) {
    const now = new Map(s.nodes.map((n) => [n.id, n.requests]));
    if (previous && s.tMs > fromMs && s.tMs <= toMs) {
      for (const [id, requests] of now) {
        const before = previous.get(id);
        const added = before === undefined || requests < before ? requests : requests - before;
        counts.set(id, (counts.get(id) ?? 0) + added);
      }
    }
    if (s.tMs > toMs) break;
    previous = now;
  }
  return counts;
}

/** Effective speed of each node over time, from the scenario's events: 0 while dead, stopped, drained or absent. */
export function speedTimeline(scenario: Scenario, nodes: readonly FleetNode[], events: ScenarioRun['events']): (tMs: number) => Map<string, number> {
  const sorted = [...events].sort((a, b) => a.atMs - b.atMs);
  return (tMs) => {
    const slowdown = new Map<string, number>();
    const alive = new Map(nodes.map((n) => [n.id, !(scenario.absentAtStart ?? []).includes(n.id)]));
    for (const e of sorted) {
      if (e.atMs > tMs) break;
      const a = e.action;
      if (a.kind === 'slowdown') slowdown.set(e.node, a.factor);
      else if (a.kind === 'start') alive.set(e.node, true);
      else if (a.kind === 'signal') alive.set(e.node, a.signal === 'SIGCONT');
    }
    return new Map(nodes.map((n) => [n.id, alive.get(n.id) ? n.speed / (slowdown.get(n.id) ?? 1) : 0]));
  };
}

/** Time-averaged capacity share of each node over [fromMs, toMs). */
function capacityShares(speedAt: (tMs: number) => Map<string, number>, fromMs: number, toMs: number): Map<string, number> {
  const totals = new Map<string, number>();
  const stepMs = 100;
  let steps = 0;
  for (let t = fromMs; t < toMs; t += stepMs, steps++) {
    const speeds = speedAt(t);
    const sum = [...speeds.values()].reduce((a, b) => a + b, 0);
    for (const [id, s] of speeds) totals.set(id, (totals.get(id) ?? 0) + (sum > 0 ? s / sum : 0));
  }
  return new Map([...totals].map(([id, v]) => [id, steps ? v / steps : 0]));
}

function coefficientOfVariation(values: number[]): number {
  if (values.length < 2) return 0;
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  if (mean === 0) return 0;
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1);
  return Math.sqrt(variance) / mean;
}

/** Mean over nodes of the CV of their share across the given series of share maps. */
function meanShareCv(series: Map<string, number>[]): number {
  const ids = new Set(series.flatMap((m) => [...m.keys()]));
  const cvs = [...ids].map((id) => coefficientOfVariation(series.map((m) => m.get(id) ?? 0)));
  return cvs.length ? cvs.reduce((a, b) => a + b, 0) / cvs.length : 0;
}

function weightShares(sample: PoolSnapshot): Map<string, number> {
  const ready = sample.nodes.filter((n) => n.state === 'ready');
  const total = ready.reduce((a, n) => a + n.weight, 0);
  return new Map(ready.map((n) => [n.id, total > 0 ? n.weight / total : 0]));
}

function sharesOf(counts: Map<string, number>): Map<string, number> {
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  return new Map([...counts].map(([id, c]) => [id, total > 0 ? c / total : 0]));
}

export function phaseFigures(run: ScenarioRun, nodes: readonly FleetNode[], phase: Phase): PhaseFigures {
  const fromMs = phase.fromS * 1000;
  const toMs = phase.toS * 1000;
  const inPhase = run.records.filter((r) => r.scheduledMs >= fromMs && r.scheduledMs < toMs);
  const ok = inPhase.filter((r) => r.outcome === 'ok');
  const count = (o: string) => inPhase.filter((r) => r.outcome === o).length;
  const failed = count('failed');
  const timedOut = count('timed_out');
  const refused = count('refused');
  const seconds = (toMs - fromMs) / 1000;

  const dispatch = sharesOf(dispatchedBetween(run.samples, fromMs, toMs));
  const capacity = capacityShares(speedTimeline(run.scenario, nodes, run.events), fromMs, toMs);
  const shares = nodes.map((n) => ({ node: n.id, dispatch: dispatch.get(n.id) ?? 0, capacity: capacity.get(n.id) ?? 0 }));
  const shareError = shares.reduce((a, s) => a + Math.abs(s.dispatch - s.capacity), 0) / 2;

  const phaseSamples = run.samples.filter((s) => s.tMs >= fromMs && s.tMs < toMs);
  const windows: Map<string, number>[] = [];
  for (let t = fromMs; t + 1000 <= toMs; t += 1000) windows.push(sharesOf(dispatchedBetween(run.samples, t, t + 1000)));

  return {
    phase: phase.name,
    requests: inPhase.length,
    ok: ok.length,
    failed,
    timedOut,
    refused,
    lostShare: inPhase.length ? (failed + timedOut + refused) / inPhase.length : 0,
    offeredPerSec: inPhase.length / seconds,
    goodputPerSec: ok.length / seconds,
    ...latencyFigures(ok.map((r) => r.endMs - r.scheduledMs)),
    shares,
    shareError,
    weightShareCv: meanShareCv(phaseSamples.map(weightShares)),
    dispatchShareCv: meanShareCv(windows),
  };
}

/** Dispatch rate (requests/s) of one node in the 1 s window ending at each sample after `fromMs`. */
function rollingRates(samples: readonly PoolSnapshot[], nodeId: string, fromMs: number, windowMs = 1000): { tMs: number; rate: number; share: number }[] {
  const out: { tMs: number; rate: number; share: number }[] = [];
  for (const s of samples) {
    if (s.tMs < fromMs + windowMs) continue;
    const counts = dispatchedBetween(samples, s.tMs - windowMs, s.tMs);
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    const mine = counts.get(nodeId) ?? 0;
    out.push({ tMs: s.tMs, rate: (mine * 1000) / windowMs, share: total > 0 ? mine / total : 0 });
  }
  return out;
}

export function reactions(run: ScenarioRun, nodes: readonly FleetNode[], baseServiceMs: number): Reactions {
  const lastRequestAfterMs: Record<string, number | null> = {};
  for (const e of run.events) {
    if (e.action.kind !== 'signal' || e.action.signal === 'SIGCONT') continue;
    // The last sample in which the node's counter grew, minus the event time.
    let last: number | null = null;
    let previous: number | undefined;
    for (const s of run.samples) {
      const n = s.nodes.find((m) => m.id === e.node);
      if (!n) continue;
      if (previous !== undefined && n.requests > previous && s.tMs > e.atMs) last = s.tMs - e.atMs;
      previous = n.requests;
    }
    lastRequestAfterMs[e.label] = last ?? 0;
  }
  let shedMs: number | null = null;
  let recoverMs: number | null = null;
  const slow = run.events.find((e) => e.action.kind === 'slowdown' && e.action.factor > 1);
  const recover = run.events.find((e) => e.action.kind === 'slowdown' && e.action.factor === 1);
  if (slow && slow.action.kind === 'slowdown') {
    const spec = nodes.find((n) => n.id === slow.node)!;
    const canServe = (SLOTS_PER_NODE * 1000 * spec.speed) / (baseServiceMs * slow.action.factor);
    const until = recover?.atMs ?? Infinity;
    const hit = rollingRates(run.samples, slow.node, slow.atMs).find((r) => r.tMs < until && r.rate <= canServe);
    shedMs = hit ? hit.tMs - slow.atMs : null;
  }
  if (recover) {
    const spec = nodes.find((n) => n.id === recover.node)!;
    const fullShare = spec.speed / nodes.reduce((a, n) => a + n.speed, 0);
    const hit = rollingRates(run.samples, recover.node, recover.atMs).find((r) => r.share >= 0.8 * fullShare);
    recoverMs = hit ? hit.tMs - recover.atMs : null;
  }
  return { lastRequestAfterMs, shedMs, recoverMs };
}

export function analyzeRun(run: ScenarioRun, nodes: readonly FleetNode[], baseServiceMs: number): RunFigures {
  return {
    scenario: run.scenario.id,
    label: run.label,
    policy: run.config.policy,
    guard: run.config.guard,
    retries: run.retries,
    phases: run.scenario.phases.map((p) => phaseFigures(run, nodes, p)),
    reactions: reactions(run, nodes, baseServiceMs),
  };
}

/** Latency percentiles of successful requests in 1 s buckets of scheduled time: the over-time chart's data. */
export function latencyOverTime(run: ScenarioRun, bucketMs = 1000): { tS: number; p50Ms: number; p99Ms: number }[] {
  const buckets = new Map<number, number[]>();
  for (const r of run.records) {
    if (r.outcome !== 'ok') continue;
    const b = Math.floor(r.scheduledMs / bucketMs);
    let list = buckets.get(b);
    if (!list) buckets.set(b, (list = []));
    list.push(r.endMs - r.scheduledMs);
  }
  return [...buckets.entries()].sort((a, b) => a[0] - b[0]).map(([b, list]) => {
    const f = latencyFigures(list);
    return { tS: ((b + 0.5) * bucketMs) / 1000, p50Ms: f.p50Ms, p99Ms: f.p99Ms };
  });
}

/** Weight share of every node per sample, thinned to at most one point per `stepMs`. */
export function weightsOverTime(run: ScenarioRun, stepMs = 250): { tS: number; node: string; share: number }[] {
  const out: { tS: number; node: string; share: number }[] = [];
  let nextMs = -Infinity;
  for (const s of run.samples) {
    if (s.tMs < nextMs) continue;
    nextMs = s.tMs + stepMs;
    for (const [node, share] of weightShares(s)) out.push({ tS: s.tMs / 1000, node, share });
  }
  return out;
}
