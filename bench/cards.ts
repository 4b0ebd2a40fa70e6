/**
 * "The same sweep for each card type": one model (sim_echo) swept with `infergate bench` on every
 * card type this machine can show, each on its own node and labelled by card, then put side by
 * side with `--compare`. Here: the CPU (`serve`, sim_echo at the CPU's coefficient 1) and the
 * SIMULATED card types fast/medium/slow (`backend --sim-cards`); on a machine with GPUs or NPUs,
 * run the same `infergate bench -m MODEL --label <card> --json …` against each node.
 *
 *   node dist/bench/cards.js [--concurrency-range 1:8:1] [--window-ms 3000]
 *
 * Writes bench/results/cards/{<card>.json, the compare report and its SVG charts} (the bench's own outputs).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { benchMain } from '../cli/bench.js';
import { packageRoot } from '../core/package-root.js';
import { BenchChildren, modelRepositoryWith, startBackend, startGateway, startServe } from './support/processes.js';

const HOST = '127.0.0.1';

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { 'concurrency-range': { type: 'string', default: '1:8:1' }, 'window-ms': { type: 'string', default: '3000' } } });
  const out = join(packageRoot(), 'bench', 'results', 'cards');
  mkdirSync(out, { recursive: true });
  const children = new BenchChildren();
  children.installExitHandlers();
  try {
    const models = modelRepositoryWith(children, ['sim_echo']);
    // The backends need a gateway to heartbeat to; the sweep goes to each node directly.
    const gateway = await startGateway(children, { host: HOST, extraArgs: ['--workers', '1'] }, 'gateway');
    const nodes = [
      { label: 'cpu', node: await startServe(children, { host: HOST, modelsDir: models }, 'serve (cpu)') },
      ...await Promise.all(['fast', 'medium', 'slow'].map(async (card) => ({
        label: `sim-${card}`,
        node: await startBackend(children, gateway.url, { host: HOST, modelsDir: models, extraArgs: ['--sim-cards', `${card}:1`] }, `backend (sim-${card})`),
      }))),
    ];
    const files: string[] = [];
    for (const { label, node } of nodes) {
      const file = join(out, `${label}.json`);
      const code = await benchMain(['-m', 'sim_echo', '-u', node.url, '--shape', 'INPUT0:16', '--concurrency-range', String(values['concurrency-range']),
        '-p', String(values['window-ms']), '--warmup-ms', '500', '--label', label, '--json', file]);
      if (code !== 0) throw new Error(`bench of ${label} exited ${code}`);
      files.push(file);
    }
    return benchMain(['--compare', files.join(','), '--report', out]);
  } finally {
    await children.stopAll();
  }
}

main(process.argv.slice(2)).then((code) => process.exit(code), (err) => {
  console.error(err);
  process.exit(1);
});
