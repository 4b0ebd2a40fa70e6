/**
 * The routing policies on the simulated bench fleet (bench/routing/simulate.ts): S1 at 50/70/85 %
 * load and S2 (the fastest node slowed 10×), every policy with and without the closed-loop guard,
 * p50 and p99 as the median over seeds. No processes, no sockets: the routing decisions alone, free
 * of the shared machine's noise. `prequal` is left out: its probes need real nodes.
 *
 *   node dist/bench/routing-simulation.js [--seeds N] [--out FILE.md]
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { latencyQuantile, simulateRouting, type SimulationOptions } from './routing/simulate.js';

const POLICIES = ['round-robin', 'static', 'astra', 'capacity', 'wlc', 'p2c', 'peak-ewma'];
const WARMUP_MS = 5_000;
const SLOWED = { fromMs: 15_000, toMs: 29_000 };

interface Case {
  label: string;
  options: Omit<SimulationOptions, 'policy' | 'queueBudget' | 'seed'>;
  fromMs: number;
  toMs: number;
}

const CASES: Case[] = [
  ...[0.5, 0.7, 0.85].map((load) => ({ label: `S1 ${load * 100} %`, options: { load, durationMs: 35_000 }, fromMs: WARMUP_MS, toMs: Infinity })),
  {
    label: 'S2 slowed',
    options: { load: 0.5, durationMs: 35_000, slowdowns: [{ node: 'n4', factor: 10, ...SLOWED }] },
    ...SLOWED,
  },
];

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1];
}

function main(): void {
  const { values } = parseArgs({ options: { seeds: { type: 'string', default: '5' }, out: { type: 'string' } } });
  const seeds = Array.from({ length: Number(values.seeds) }, (_, i) => i + 1);
  const header = `| policy | ${CASES.map((c) => `${c.label} p50 | ${c.label} p99`).join(' | ')} |`;
  const rule = `|---|${CASES.map(() => '---:|---:').join('|')}|`;
  const rows: string[] = [];
  for (const guard of [true, false]) {
    for (const policy of POLICIES) {
      const cells = CASES.map((c) => {
        const runs = seeds.map((seed) => simulateRouting({ ...c.options, policy, seed, queueBudget: guard ? undefined : 0 }));
        const q = (p: number) => median(runs.map((r) => latencyQuantile(r, p, c.fromMs, c.toMs)));
        return `${fmt(q(0.5))} | ${fmt(q(0.99))}`;
      });
      rows.push(`| ${policy}${guard ? '+guard' : ''} | ${cells.join(' | ')} |`);
    }
  }
  const text = [
    '# Routing on the simulated fleet',
    '',
    `- command: \`node dist/bench/routing-simulation.js --seeds ${seeds.length}\``,
    `- date: ${new Date().toISOString()}`,
    '- fleet: speeds 1,1,2,4,1,1,2,4, 2 slots, 100 ms at speed 1, Poisson arrivals, virtual clock (bench/routing/simulate.ts)',
    `- figures: ms, median over ${seeds.length} seeds; S1 after a 5 s warm-up, S2 over the 14 s the node is slowed`,
    '',
    header,
    rule,
    ...rows,
    '',
  ].join('\n');
  process.stdout.write(text);
  if (values.out) writeFileSync(values.out, text);
}

function fmt(ms: number): string {
  return ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : ms.toFixed(0);
}

main();
