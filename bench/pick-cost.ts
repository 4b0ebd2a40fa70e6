/**
 * Per-call cost of SwrrPicker (kinetic tournament) against NaiveSwrrPicker (nginx's scan) at
 * 8, 1k, 100k and 1M members with weights 1..100: plain picks, and a pick right after a weight
 * change. Run from the repository root: `node dist/bench/pick-cost.js [--quick]`. Prints a markdown
 * table and writes bench/results/pick-cost.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { arch, cpus, loadavg, platform } from 'node:os';
import { join } from 'node:path';
import { SwrrPicker } from '../scheduler/picker-swrr.js';
import { NaiveSwrrPicker } from '../scheduler/picker-swrr-naive.js';

type Picker = SwrrPicker | NaiveSwrrPicker;
type Scenario = 'pick' | 'setWeight+pick';

interface Result {
  picker: 'SwrrPicker' | 'NaiveSwrrPicker';
  members: number;
  scenario: Scenario;
  opsPerRun: number;
  runs: number;
  /** Median over runs of (run time / ops). */
  medianNsPerOp: number;
  /** Fastest run: the least disturbed by whatever else the machine was doing. */
  minNsPerOp: number;
  runsNsPerOp: number[];
  /** Time to add every member and make the first pick (which builds the tree). */
  buildMs: number;
}

const QUICK = process.argv.includes('--quick');
const SIZES = [8, 1_000, 100_000, 1_000_000];
const RUNS = QUICK ? 3 : 5;
const MIN_WEIGHT = 1;
const MAX_WEIGHT = 100;
const RESULTS_DIR = join('bench', 'results');

/** Picks per run: enough to time well, few enough for the O(n) scan to stay around a second. */
function opsPerRun(picker: 'SwrrPicker' | 'NaiveSwrrPicker', members: number): number {
  const budget = QUICK ? 0.25 : 1;
  if (picker === 'SwrrPicker') return Math.round(100_000 * budget);
  // The scan costs a few ns per member per pick.
  return Math.max(10, Math.round(Math.min(100_000, 20_000_000 / members) * budget));
}

/** Weyl sequence through murmur3's finaliser: a seeded source, so every run sees the same pool. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    z ^= z >>> 16;
    return (z >>> 0) / 2 ** 32;
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

let sink = 0;

function buildPool(kind: 'SwrrPicker' | 'NaiveSwrrPicker', members: number): { picker: Picker; ids: string[]; buildMs: number } {
  const random = seededRandom(members);
  const ids = Array.from({ length: members }, (_, i) => `node-${i}`);
  const start = process.hrtime.bigint();
  const picker: Picker = kind === 'SwrrPicker' ? new SwrrPicker() : new NaiveSwrrPicker();
  for (const id of ids) picker.add(id, MIN_WEIGHT + Math.floor(random() * (MAX_WEIGHT - MIN_WEIGHT + 1)));
  sink += picker.pick()!.length;
  const buildMs = Number(process.hrtime.bigint() - start) / 1e6;
  return { picker, ids, buildMs };
}

function timePicks(picker: Picker, ops: number): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < ops; i++) sink += picker.pick()!.length;
  return Number(process.hrtime.bigint() - start) / ops;
}

/** Weight targets drawn before timing, so the timed loop holds only setWeight and pick. */
function timeWeightChangePicks(picker: Picker, ids: string[], ops: number, seed: number): number {
  const random = seededRandom(seed);
  const targets = Array.from({ length: ops }, () => ids[Math.floor(random() * ids.length)]);
  const weights = Array.from({ length: ops }, () => MIN_WEIGHT + Math.floor(random() * (MAX_WEIGHT - MIN_WEIGHT + 1)));
  const start = process.hrtime.bigint();
  for (let i = 0; i < ops; i++) {
    picker.setWeight(targets[i], weights[i]);
    sink += picker.pick()!.length;
  }
  return Number(process.hrtime.bigint() - start) / ops;
}

function measure(kind: 'SwrrPicker' | 'NaiveSwrrPicker', members: number): Result[] {
  const { picker, ids, buildMs } = buildPool(kind, members);
  const ops = opsPerRun(kind, members);
  // Warm-up: JIT, and for the tree the first rounds of certificate failures after the all-zero start.
  timePicks(picker, ops);
  timeWeightChangePicks(picker, ids, Math.max(1, ops >> 2), 1);
  const out: Result[] = [];
  for (const scenario of ['pick', 'setWeight+pick'] as const) {
    const runsNsPerOp: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      runsNsPerOp.push(scenario === 'pick' ? timePicks(picker, ops) : timeWeightChangePicks(picker, ids, ops, run + 2));
    }
    out.push({
      picker: kind,
      members,
      scenario,
      opsPerRun: ops,
      runs: RUNS,
      medianNsPerOp: median(runsNsPerOp),
      minNsPerOp: Math.min(...runsNsPerOp),
      runsNsPerOp,
      buildMs,
    });
  }
  return out;
}

function formatNs(ns: number): string {
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(2)} µs`;
  return `${ns.toFixed(0)} ns`;
}

function main(): void {
  const started = Date.now();
  // The bench shares its machine: the load average says how much to trust the figures.
  const loadBefore = loadavg()[0];
  // Throw-away pass so both classes are optimised before the first measured size.
  measure('SwrrPicker', 64);
  measure('NaiveSwrrPicker', 64);

  const results: Result[] = [];
  for (const members of SIZES) {
    for (const kind of ['SwrrPicker', 'NaiveSwrrPicker'] as const) {
      results.push(...measure(kind, members));
      if (typeof globalThis.gc === 'function') globalThis.gc();
    }
  }

  const cell = (kind: string, members: number, scenario: Scenario): Result =>
    results.find((r) => r.picker === kind && r.members === members && r.scenario === scenario)!;
  const lines = [
    '| members | SwrrPicker pick | NaiveSwrrPicker pick | speed-up | SwrrPicker setWeight+pick | NaiveSwrrPicker setWeight+pick | build tree / naive |',
    '|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const members of SIZES) {
    const tree = cell('SwrrPicker', members, 'pick');
    const scan = cell('NaiveSwrrPicker', members, 'pick');
    lines.push(
      `| ${members.toLocaleString('en-US')} | ${formatNs(tree.medianNsPerOp)} | ${formatNs(scan.medianNsPerOp)} | ` +
        `${(scan.medianNsPerOp / tree.medianNsPerOp).toFixed(1)}× | ` +
        `${formatNs(cell('SwrrPicker', members, 'setWeight+pick').medianNsPerOp)} | ` +
        `${formatNs(cell('NaiveSwrrPicker', members, 'setWeight+pick').medianNsPerOp)} | ` +
        `${tree.buildMs.toFixed(1)} ms / ${scan.buildMs.toFixed(1)} ms |`,
    );
  }
  const elapsedS = (Date.now() - started) / 1000;
  console.log(`SWRR pick cost, weights ${MIN_WEIGHT}..${MAX_WEIGHT}, median of ${RUNS} runs${QUICK ? ' (--quick)' : ''}\n`);
  console.log(lines.join('\n'));
  const loadAfter = loadavg()[0];
  console.log(
    `\ntotal ${elapsedS.toFixed(1)} s on ${cpus().length}× ${cpus()[0]?.model ?? 'unknown CPU'}, node ${process.version}, ` +
      `load average ${loadBefore.toFixed(2)} → ${loadAfter.toFixed(2)}`,
  );

  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, 'pick-cost.json');
  const environment = {
    node: process.version,
    platform: platform(),
    arch: arch(),
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    loadAverage1m: [loadBefore, loadAfter],
  };
  const report = { benchmark: 'pick-cost', quick: QUICK, weights: [MIN_WEIGHT, MAX_WEIGHT], environment, elapsedS, results };
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`wrote ${file}`);
  if (sink === -1) console.log('unreachable');
}

main();
