/**
 * Per-call cost of SwrrPicker (kinetic tournament), NaiveSwrrPicker (nginx's scan) and
 * HybridSwrrPicker (the scan up to SWRR_TREE_THRESHOLD members, the tree from there, back to the
 * scan at SWRR_SCAN_THRESHOLD) from 8 to 1M members with weights 1..100: plain picks, and a pick
 * right after a weight change. The sizes from 64 to 512 are where the tree and the scan cross,
 * which is what sets the thresholds (`--sizes 128,136,144,152,160` to look closer).
 * Run from the repository root: `node dist/bench/pick-cost.js [--quick] [--sizes 8,64,1000]`.
 * Prints a markdown table, whether the hybrid kept up with the scan at every size, and writes
 * bench/results/pick-cost.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { arch, cpus, loadavg, platform } from 'node:os';
import { join } from 'node:path';
import { SwrrPicker } from '../scheduler/picker-swrr.js';
import { NaiveSwrrPicker } from '../scheduler/picker-swrr-naive.js';
import { HybridSwrrPicker, SWRR_SCAN_THRESHOLD, SWRR_TREE_THRESHOLD } from '../scheduler/picker-swrr-hybrid.js';
import { seededRandom } from './support/seeded-random.js';

type Picker = SwrrPicker | NaiveSwrrPicker | HybridSwrrPicker;
type Kind = 'SwrrPicker' | 'NaiveSwrrPicker' | 'HybridSwrrPicker';
type Scenario = 'pick' | 'setWeight+pick';

const KINDS: readonly Kind[] = ['SwrrPicker', 'NaiveSwrrPicker', 'HybridSwrrPicker'];

interface Result {
  picker: Kind;
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
const SIZES = sizesFlag() ?? [8, 16, 32, 64, 128, 160, 192, 256, 512, 1_000, 100_000, 1_000_000];
const RUNS = QUICK ? 3 : 5;
const MIN_WEIGHT = 1;
const MAX_WEIGHT = 100;
const RESULTS_DIR = join('bench', 'results');

/**
 * Hybrid within this share of the scan still counts as "no slower": two runs of the very same scan
 * differ by about this much on a shared machine.
 */
const NOISE_TOLERANCE = 0.1;

function sizesFlag(): number[] | undefined {
  const at = process.argv.indexOf('--sizes');
  if (at < 0) return undefined;
  const sizes = (process.argv[at + 1] ?? '').split(',').map(Number);
  if (sizes.length === 0 || sizes.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new Error(`--sizes wants a comma-separated list of member counts, got '${process.argv[at + 1]}'`);
  }
  return sizes;
}

/** Picks per run: enough to time well, few enough for the O(n) scan to stay around a second. */
function opsPerRun(picker: Kind, members: number): number {
  const budget = QUICK ? 0.25 : 1;
  if (picker === 'SwrrPicker' || (picker === 'HybridSwrrPicker' && members > SWRR_SCAN_THRESHOLD)) {
    return Math.round(100_000 * budget);
  }
  // The scan costs a few ns per member per pick.
  return Math.max(10, Math.round(Math.min(100_000, 20_000_000 / members) * budget));
}


function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

let sink = 0;

function makePicker(kind: Kind): Picker {
  if (kind === 'SwrrPicker') return new SwrrPicker();
  if (kind === 'NaiveSwrrPicker') return new NaiveSwrrPicker();
  return new HybridSwrrPicker();
}

/**
 * In the hysteresis band (above SWRR_SCAN_THRESHOLD, below SWRR_TREE_THRESHOLD) the hybrid may run
 * either picker; the scan there is the scan, so the hybrid is measured in its other state, the tree:
 * grown past the threshold, then shrunk to size.
 */
function inBand(kind: Kind, members: number): boolean {
  return kind === 'HybridSwrrPicker' && members > SWRR_SCAN_THRESHOLD && members < SWRR_TREE_THRESHOLD;
}

function buildPool(kind: Kind, members: number): { picker: Picker; ids: string[]; buildMs: number } {
  const random = seededRandom(members);
  const ids = Array.from({ length: members }, (_, i) => `node-${i}`);
  const start = process.hrtime.bigint();
  const picker = makePicker(kind);
  for (const id of ids) picker.add(id, MIN_WEIGHT + Math.floor(random() * (MAX_WEIGHT - MIN_WEIGHT + 1)));
  if (inBand(kind, members)) {
    for (let i = members; i < SWRR_TREE_THRESHOLD; i++) picker.add(`extra-${i}`, MIN_WEIGHT);
    for (let i = members; i < SWRR_TREE_THRESHOLD; i++) picker.remove(`extra-${i}`);
    if ((picker as HybridSwrrPicker).mode !== 'tree') throw new Error('hybrid in the band should still run the tree');
  }
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

function measure(kind: Kind, members: number): Result[] {
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
  // Throw-away pass so every class is optimised, on both sides of the threshold, before the first
  // measured size.
  for (const kind of KINDS) {
    measure(kind, 64);
    measure(kind, 2 * SWRR_TREE_THRESHOLD);
  }

  const results: Result[] = [];
  for (const members of SIZES) {
    for (const kind of KINDS) {
      results.push(...measure(kind, members));
      if (typeof globalThis.gc === 'function') globalThis.gc();
    }
  }

  const cell = (kind: Kind, members: number, scenario: Scenario): Result =>
    results.find((r) => r.picker === kind && r.members === members && r.scenario === scenario)!;
  const lines = [
    '| members | tree pick | scan pick | hybrid pick | hybrid / scan | hybrid / tree | tree setWeight+pick | scan setWeight+pick | hybrid setWeight+pick | build tree / scan / hybrid |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const slower: string[] = [];
  for (const members of SIZES) {
    const tree = cell('SwrrPicker', members, 'pick');
    const scan = cell('NaiveSwrrPicker', members, 'pick');
    const hybrid = cell('HybridSwrrPicker', members, 'pick');
    const vsScan = hybrid.medianNsPerOp / scan.medianNsPerOp;
    if (vsScan > 1 + NOISE_TOLERANCE) slower.push(`${members} members (${vsScan.toFixed(2)}× the scan)`);
    lines.push(
      `| ${members.toLocaleString('en-US')} | ${formatNs(tree.medianNsPerOp)} | ${formatNs(scan.medianNsPerOp)} | ` +
        `${formatNs(hybrid.medianNsPerOp)} | ${vsScan.toPrecision(3)} | ${(hybrid.medianNsPerOp / tree.medianNsPerOp).toPrecision(3)} | ` +
        `${formatNs(cell('SwrrPicker', members, 'setWeight+pick').medianNsPerOp)} | ` +
        `${formatNs(cell('NaiveSwrrPicker', members, 'setWeight+pick').medianNsPerOp)} | ` +
        `${formatNs(cell('HybridSwrrPicker', members, 'setWeight+pick').medianNsPerOp)} | ` +
        `${tree.buildMs.toFixed(1)} / ${scan.buildMs.toFixed(1)} / ${hybrid.buildMs.toFixed(1)} ms |`,
    );
  }
  const elapsedS = (Date.now() - started) / 1000;
  console.log(
    `SWRR pick cost, weights ${MIN_WEIGHT}..${MAX_WEIGHT}, median of ${RUNS} runs${QUICK ? ' (--quick)' : ''}, ` +
      `hybrid: tree from ${SWRR_TREE_THRESHOLD} members up, scan from ${SWRR_SCAN_THRESHOLD} down ` +
      `(measured in tree mode in between, its slower state there)\n`,
  );
  console.log(lines.join('\n'));
  console.log(
    slower.length === 0
      ? `\nhybrid ≤ scan (within ${NOISE_TOLERANCE * 100}% noise) at every size`
      : `\nhybrid slower than the scan (beyond ${NOISE_TOLERANCE * 100}% noise) at: ${slower.join(', ')}`,
  );
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
  const report = {
    benchmark: 'pick-cost',
    quick: QUICK,
    weights: [MIN_WEIGHT, MAX_WEIGHT],
    treeThreshold: SWRR_TREE_THRESHOLD,
    scanThreshold: SWRR_SCAN_THRESHOLD,
    hybridSlowerThanScanAt: slower,
    environment,
    elapsedS,
    results,
  };
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`wrote ${file}`);
  if (sink === -1) console.log('unreachable');
}

main();
