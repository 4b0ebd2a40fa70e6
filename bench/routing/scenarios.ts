/**
 * The routing scenarios of DESIGN §4/§7 and issue 14, as data: a fleet of SIMULATED nodes with
 * different speeds, a load (a share of the fleet's capacity, piecewise over time), the events that
 * happen to nodes, and the phases the analysis reports separately. Times are in seconds from the
 * start of the load and scale with `timeScale`, so the same scenario runs for minutes as a
 * benchmark and for seconds as a CI smoke test.
 */

/** One node of the fleet: its id and its card's speed (sim card coefficient: service time ÷ speed). */
export interface FleetNode {
  id: string;
  speed: 1 | 2 | 4;
}

/** 8 nodes, speed multipliers 1,1,2,4,1,1,2,4 (issue 14), one card each, 2 execution slots per card. */
export const FLEET: readonly FleetNode[] = [
  { id: 'n1', speed: 1 }, { id: 'n2', speed: 1 }, { id: 'n3', speed: 2 }, { id: 'n4', speed: 4 },
  { id: 'n5', speed: 1 }, { id: 'n6', speed: 1 }, { id: 'n7', speed: 2 }, { id: 'n8', speed: 4 },
];

export const SLOTS_PER_NODE = 2;
/** Base service time of one request on a speed-1 card: long enough that the 2 cores carry only the gateway and the load. */
export const DEFAULT_BASE_SERVICE_MS = 100;

/** Requests/s the fleet (or a subset) serves fully busy. */
export function capacityPerSec(nodes: readonly FleetNode[], baseServiceMs: number, slowdown: ReadonlyMap<string, number> = new Map()): number {
  let total = 0;
  for (const n of nodes) total += (SLOTS_PER_NODE * 1000 * n.speed) / (baseServiceMs * (slowdown.get(n.id) ?? 1));
  return total;
}

export type NodeAction =
  | { kind: 'slowdown'; factor: number }
  | { kind: 'error-rate'; rate: number }
  | { kind: 'signal'; signal: 'SIGKILL' | 'SIGSTOP' | 'SIGCONT' | 'SIGTERM' }
  /** (Re)start the node's process: a node joining, or a killed one coming back. */
  | { kind: 'start' };

export interface ScenarioEvent {
  atS: number;
  node: string;
  action: NodeAction;
  /** Shown on charts as a rule, e.g. "n4 slowed 10×". */
  label: string;
}

/** Offered load from `fromS` to `toS`, as a share of the whole fleet's nominal capacity. */
export interface LoadSegment {
  fromS: number;
  toS: number;
  share: number;
}

export interface Phase {
  name: string;
  fromS: number;
  toS: number;
}

export interface Scenario {
  id: string;
  title: string;
  durationS: number;
  load: LoadSegment[];
  events: ScenarioEvent[];
  /** Reported phases (the first seconds of warm-up belong to none). */
  phases: Phase[];
  /** Nodes absent at the start (they join through a `start` event). */
  absentAtStart?: string[];
}

/** Seconds of load before the first reported phase: reports and measured weights settle. */
const WARMUP_S = 4;

function steady(share: number): Scenario {
  const pct = Math.round(share * 100);
  return {
    id: `S1-${pct}`,
    title: `S1 static heterogeneity at ${pct} % load`,
    durationS: WARMUP_S + 20,
    load: [{ fromS: 0, toS: WARMUP_S + 20, share }],
    events: [],
    phases: [{ name: 'steady', fromS: WARMUP_S, toS: WARMUP_S + 20 }],
  };
}

const S2: Scenario = {
  id: 'S2',
  title: 'S2 the fastest node slows 10× mid-run, then recovers (50 % load)',
  durationS: WARMUP_S + 36,
  load: [{ fromS: 0, toS: WARMUP_S + 36, share: 0.5 }],
  events: [
    { atS: WARMUP_S + 8, node: 'n4', action: { kind: 'slowdown', factor: 10 }, label: 'n4 slowed 10×' },
    { atS: WARMUP_S + 22, node: 'n4', action: { kind: 'slowdown', factor: 1 }, label: 'n4 recovers' },
  ],
  phases: [
    { name: 'before', fromS: WARMUP_S, toS: WARMUP_S + 8 },
    { name: 'slowed', fromS: WARMUP_S + 8, toS: WARMUP_S + 22 },
    { name: 'recovered', fromS: WARMUP_S + 22, toS: WARMUP_S + 36 },
  ],
};

const S3: Scenario = {
  id: 'S3',
  title: 'S3 one node killed (refused connections), later another stopped (blackhole), 50 % load',
  durationS: WARMUP_S + 30,
  load: [{ fromS: 0, toS: WARMUP_S + 30, share: 0.5 }],
  events: [
    { atS: WARMUP_S + 6, node: 'n8', action: { kind: 'signal', signal: 'SIGKILL' }, label: 'n8 killed' },
    { atS: WARMUP_S + 16, node: 'n3', action: { kind: 'signal', signal: 'SIGSTOP' }, label: 'n3 stopped' },
  ],
  phases: [
    { name: 'before', fromS: WARMUP_S, toS: WARMUP_S + 6 },
    { name: 'killed', fromS: WARMUP_S + 6, toS: WARMUP_S + 16 },
    { name: 'stopped', fromS: WARMUP_S + 16, toS: WARMUP_S + 30 },
  ],
};

const S3C: Scenario = {
  id: 'S3c',
  title: 'S3c one node drained with SIGTERM (50 % load)',
  durationS: WARMUP_S + 18,
  load: [{ fromS: 0, toS: WARMUP_S + 18, share: 0.5 }],
  events: [{ atS: WARMUP_S + 6, node: 'n4', action: { kind: 'signal', signal: 'SIGTERM' }, label: 'n4 drained' }],
  phases: [
    { name: 'before', fromS: WARMUP_S, toS: WARMUP_S + 6 },
    { name: 'drained', fromS: WARMUP_S + 6, toS: WARMUP_S + 18 },
  ],
};

/** Every 5 s a node leaves (SIGTERM) and one that left earlier joins, at 50 % load. */
const S4: Scenario = {
  id: 'S4',
  title: 'S4 churn: nodes leave (SIGTERM) and join every few seconds (50 % load)',
  durationS: WARMUP_S + 30,
  load: [{ fromS: 0, toS: WARMUP_S + 30, share: 0.5 }],
  absentAtStart: ['n8'],
  events: [
    { atS: WARMUP_S + 3, node: 'n8', action: { kind: 'start' }, label: 'n8 joins' },
    { atS: WARMUP_S + 6, node: 'n4', action: { kind: 'signal', signal: 'SIGTERM' }, label: 'n4 leaves' },
    { atS: WARMUP_S + 11, node: 'n4', action: { kind: 'start' }, label: 'n4 joins' },
    { atS: WARMUP_S + 14, node: 'n3', action: { kind: 'signal', signal: 'SIGTERM' }, label: 'n3 leaves' },
    { atS: WARMUP_S + 17, node: 'n1', action: { kind: 'signal', signal: 'SIGTERM' }, label: 'n1 leaves' },
    { atS: WARMUP_S + 21, node: 'n3', action: { kind: 'start' }, label: 'n3 joins' },
    { atS: WARMUP_S + 24, node: 'n1', action: { kind: 'start' }, label: 'n1 joins' },
  ],
  phases: [{ name: 'churn', fromS: WARMUP_S, toS: WARMUP_S + 30 }],
};

const S5: Scenario = {
  id: 'S5',
  title: 'S5 the fastest node answers 20 % of requests with fast errors (50 % load)',
  durationS: WARMUP_S + 28,
  load: [{ fromS: 0, toS: WARMUP_S + 28, share: 0.5 }],
  events: [
    { atS: WARMUP_S + 6, node: 'n8', action: { kind: 'error-rate', rate: 0.2 }, label: 'n8 fails 20 %' },
    { atS: WARMUP_S + 20, node: 'n8', action: { kind: 'error-rate', rate: 0 }, label: 'n8 healthy' },
  ],
  phases: [
    { name: 'before', fromS: WARMUP_S, toS: WARMUP_S + 6 },
    { name: 'errors', fromS: WARMUP_S + 6, toS: WARMUP_S + 20 },
    { name: 'healed', fromS: WARMUP_S + 20, toS: WARMUP_S + 28 },
  ],
};

/** 40 % base load with 2 s bursts at 110 % every 6 s. */
const S6: Scenario = (() => {
  const load: LoadSegment[] = [];
  const durationS = WARMUP_S + 24;
  let t = 0;
  while (t < durationS) {
    const quiet = Math.min(t + 4, durationS);
    load.push({ fromS: t, toS: quiet, share: 0.4 });
    if (quiet < durationS) load.push({ fromS: quiet, toS: Math.min(quiet + 2, durationS), share: 1.1 });
    t = quiet + 2;
  }
  return {
    id: 'S6',
    title: 'S6 bursts: 40 % load with 2 s bursts at 110 % every 6 s',
    durationS,
    load,
    events: [],
    phases: [{ name: 'bursts', fromS: WARMUP_S, toS: durationS }],
  };
})();

const S7: Scenario = {
  id: 'S7',
  title: 'S7 overload at 120 % of capacity',
  durationS: WARMUP_S + 16,
  load: [{ fromS: 0, toS: WARMUP_S, share: 0.5 }, { fromS: WARMUP_S, toS: WARMUP_S + 16, share: 1.2 }],
  events: [],
  phases: [{ name: 'overload', fromS: WARMUP_S, toS: WARMUP_S + 16 }],
};

export const SCENARIOS: readonly Scenario[] = [steady(0.5), steady(0.7), steady(0.85), S2, S3, S3C, S4, S5, S6, S7];

export function scenarioById(id: string): Scenario {
  const found = SCENARIOS.find((s) => s.id.toLowerCase() === id.toLowerCase());
  if (!found) throw new Error(`unknown scenario '${id}' (known: ${SCENARIOS.map((s) => s.id).join(', ')})`);
  return found;
}

/** The scenario with every time multiplied by `factor` (< 1 for a smoke run). */
export function scaleScenario(scenario: Scenario, factor: number): Scenario {
  const t = (s: number) => s * factor;
  return {
    ...scenario,
    durationS: t(scenario.durationS),
    load: scenario.load.map((l) => ({ ...l, fromS: t(l.fromS), toS: t(l.toS) })),
    events: scenario.events.map((e) => ({ ...e, atS: t(e.atS) })),
    phases: scenario.phases.map((p) => ({ ...p, fromS: t(p.fromS), toS: t(p.toS) })),
  };
}

/** Offered share of capacity at time t (0 outside every segment). */
export function loadShareAt(scenario: Scenario, tS: number): number {
  for (const l of scenario.load) if (tS >= l.fromS && tS < l.toS) return l.share;
  return 0;
}
