/**
 * `infergate bench routing` (also `node dist/bench/routing.js`): every routing scenario under every
 * policy, with and without the in-flight guard, side by side in one run on one fleet of SIMULATED
 * nodes; prints the headline and the target checks, and writes markdown, JSON, SVG charts and one
 * HTML report under --out.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, platform, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_QUEUE_BUDGET } from '../../scheduler/in-flight-guard.js';
import { ROUTING_POLICY_NAMES, DEFAULT_ROUTING_POLICY_NAME } from '../../scheduler/routing-policy.js';
import { closeOperatorClients } from '../support/cluster-processes.js';
import { markdownTable, writeReport, type ReportSection } from '../report/html-report.js';
import { analyzeRun, type RunFigures } from './analysis.js';
import { Fleet } from './fleet.js';
import { buildReport, headlineTable, p99VsLoadChart, reactionTable, scenarioCharts, scenarioTable, shareChart, targetChecks, targetTable } from './report.js';
import { configLabel, runScenario, type PolicyConfig, type ScenarioRun } from './run-scenario.js';
import { DEFAULT_BASE_SERVICE_MS, FLEET, SCENARIOS, scaleScenario, scenarioById } from './scenarios.js';

export const ROUTING_BENCH_OPTIONS = {
  policies: { type: 'string', default: ROUTING_POLICY_NAMES.join(',') },
  guard: { type: 'string', default: 'on,off' },
  scenarios: { type: 'string', default: SCENARIOS.map((s) => s.id).join(',') },
  'time-scale': { type: 'string', default: '1' },
  'base-service-ms': { type: 'string', default: String(DEFAULT_BASE_SERVICE_MS) },
  'queue-budget': { type: 'string', default: String(DEFAULT_QUEUE_BUDGET) },
  'request-timeout-ms': { type: 'string', default: '10000' },
  'sample-ms': { type: 'string', default: '100' },
  'gateway-args': { type: 'string', default: '' },
  out: { type: 'string', default: join('bench', 'results', 'routing') },
  quiet: { type: 'boolean', default: false },
  help: { type: 'boolean', default: false },
} as const;

export const ROUTING_BENCH_HELP = `usage: infergate bench routing [options]

Every routing scenario (S1 static heterogeneity at 50/70/85 %, S2 slowdown, S3 kill + stop, S3c drain,
S4 churn, S5 fast errors, S6 bursts, S7 overload) under every policy, with and without the in-flight
guard, on 8 SIMULATED nodes (speeds 1,1,2,4,1,1,2,4; 2 slots each) behind one real gateway.

options:
  --policies LIST           ${ROUTING_POLICY_NAMES.join(',')} (default: all)
  --guard on,off            in-flight guard on, off or both (default on,off)
  --scenarios LIST          ${SCENARIOS.map((s) => s.id).join(',')} (default: all)
  --time-scale F            multiply every duration (0.2 for a quick look; default 1: about 5 min per policy)
  --base-service-ms MS      service time of a speed-1 card (default ${DEFAULT_BASE_SERVICE_MS})
  --queue-budget F          --queue-budget of the gateway when the guard is on (default ${DEFAULT_QUEUE_BUDGET})
  --request-timeout-ms MS   deadline of each request (default 10000)
  --sample-ms MS            how often the gateway's pool view is read (default 100)
  --gateway-args "ARGS"     more flags for every gateway, space-separated (e.g. "--weight-interval-ms 3000")
  --out DIR                 where routing.md, routing.json, report.html and the SVGs go (default bench/results/routing)
  --quiet                   no progress lines`;

export interface RoutingBenchResult {
  figures: RunFigures[];
  runs: ScenarioRun[];
  files: string[];
}

export async function runRoutingBench(argv: string[]): Promise<RoutingBenchResult | undefined> {
  const { values } = parseArgs({ args: argv, options: ROUTING_BENCH_OPTIONS, strict: true, allowPositionals: false });
  if (values.help) {
    process.stdout.write(`${ROUTING_BENCH_HELP}\n`);
    return undefined;
  }
  const policies = list(values.policies);
  for (const p of policies) if (!(ROUTING_POLICY_NAMES as readonly string[]).includes(p)) throw new Error(`unknown policy '${p}' (known: ${ROUTING_POLICY_NAMES.join(', ')})`);
  const guards = list(values.guard).map((g) => {
    if (g !== 'on' && g !== 'off') throw new Error(`--guard expects on, off or on,off; got '${g}'`);
    return g === 'on';
  });
  const timeScale = positive(values['time-scale'], 'time-scale');
  const baseServiceMs = positive(values['base-service-ms'], 'base-service-ms');
  const scenarios = list(values.scenarios).map((id) => scaleScenario(scenarioById(id), timeScale));
  const configs: PolicyConfig[] = guards.flatMap((guard) => policies.map((policy) => ({ policy, guard })));
  const labels = configs.map(configLabel);
  const log = (line: string) => {
    if (!values.quiet) process.stderr.write(`${line}\n`);
  };
  const started = new Date();
  const command = `infergate bench routing ${argv.join(' ')}`.trim();

  const fleet = new Fleet(FLEET, baseServiceMs);
  const runs: ScenarioRun[] = [];
  const figures: RunFigures[] = [];
  try {
    await fleet.init();
    for (const scenario of scenarios) {
      for (const config of configs) {
        const t = performance.now();
        const run = await runScenario(fleet, FLEET, scenario, config, {
          baseServiceMs,
          requestTimeoutMs: positive(values['request-timeout-ms'], 'request-timeout-ms'),
          queueBudget: String(values['queue-budget']),
          sampleIntervalMs: positive(values['sample-ms'], 'sample-ms'),
          extraGatewayArgs: String(values['gateway-args']).split(' ').filter(Boolean),
        });
        const f = analyzeRun(run, FLEET, baseServiceMs);
        runs.push(run);
        figures.push(f);
        const worst = f.phases.reduce((a, p) => (p.p99Ms > a.p99Ms ? p : a), f.phases[0]);
        const lost = f.phases.reduce((a, p) => a + p.failed + p.timedOut + p.refused, 0);
        log(`${scenario.id.padEnd(6)} ${f.label.padEnd(18)} ${f.phases.reduce((a, p) => a + p.requests, 0)} requests, worst-phase p99 ${worst?.p99Ms.toFixed(0)} ms (${worst?.phase}), lost ${lost}, retries ${f.retries} (${((performance.now() - t) / 1000).toFixed(0)} s)`);
      }
    }
  } finally {
    await fleet.close();
    await closeOperatorClients();
  }

  const defaultLabel = labels.includes(`${DEFAULT_ROUTING_POLICY_NAME}+guard`) ? `${DEFAULT_ROUTING_POLICY_NAME}+guard` : labels[0];
  const checks = targetChecks(figures, defaultLabel);
  const facts: [string, string][] = [
    ['command', command],
    ['date', started.toISOString()],
    ['machine', `${cpus().length}× ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${platform()} ${release()}, Node ${process.versions.node}`],
    ['fleet', `${FLEET.length} SIMULATED nodes, speeds ${FLEET.map((n) => n.speed).join(',')}, 2 slots each, ${baseServiceMs} ms per request at speed 1`],
    ['default policy', defaultLabel],
  ];
  const sections: ReportSection[] = [
    { heading: 'Headline', tables: [headlineTable(figures, labels), targetTable(checks)] },
    { heading: 'Reaction times', tables: [reactionTable(figures)] },
  ];
  const charts = [];
  if (figures.some((f) => f.scenario.startsWith('S1') || f.scenario === 'S7')) charts.push(await p99VsLoadChart(figures, labels));
  const s185 = figures.filter((f) => f.scenario === 'S1-85');
  if (s185.length) charts.push(await shareChart('S1-85', 'steady', s185, labels));
  sections[0].charts = charts;
  for (const scenario of scenarios) {
    const mine = figures.filter((f) => f.scenario === scenario.id);
    sections.push({
      heading: scenario.title,
      tables: [scenarioTable(scenario, mine)],
      charts: await scenarioCharts(scenario, runs.filter((r) => r.scenario.id === scenario.id), labels),
    });
  }
  const report = buildReport('Routing policies side by side', facts, sections);
  const outDir = String(values.out);
  mkdirSync(outDir, { recursive: true });
  const files = await writeReport(outDir, 'report', report);
  const markdown = [
    `# Routing bench`,
    '',
    ...facts.map(([k, v]) => `- ${k}: ${k === 'command' ? `\`${v}\`` : v}`),
    '',
    ...sections.flatMap((s) => [`## ${s.heading}`, '', ...(s.tables ?? []).flatMap((t) => [markdownTable(t), '']), ...(s.charts ?? []).filter((c) => c.file).map((c) => `![${c.title}](${c.file})`), '']),
  ].join('\n');
  writeFileSync(join(outDir, 'routing.md'), markdown);
  writeFileSync(join(outDir, 'routing.json'), JSON.stringify({ facts, checks, figures }, null, 1));
  files.push(join(outDir, 'routing.md'), join(outDir, 'routing.json'));
  process.stdout.write(`${markdownTable(headlineTable(figures, labels))}\n\n${markdownTable(targetTable(checks))}\n\nwrote ${files.join(', ')}\n`);
  return { figures, runs, files };
}

function list(value: string | boolean | undefined): string[] {
  return String(value).split(',').map((s) => s.trim()).filter(Boolean);
}

function positive(value: string | boolean | undefined, name: string): number {
  const n = Number(value);
  if (!(n > 0) || !Number.isFinite(n)) throw new Error(`--${name} expects a number > 0, got '${String(value)}'`);
  return n;
}
