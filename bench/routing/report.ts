/**
 * The routing bench's outputs: markdown tables (for RESULTS.md and README), an HTML report with
 * SVG charts, and the target checks of issue 14, all from analysed figures and the raw runs.
 */
import { barChartSvg, lineChartSvg, type ChartPoint } from '../report/charts.js';
import type { Report, ReportChart, ReportSection, ReportTable } from '../report/html-report.js';
import { latencyOverTime, weightsOverTime, type RunFigures } from './analysis.js';
import type { ScenarioRun } from './run-scenario.js';
import type { Scenario } from './scenarios.js';

const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(v < 10 ? 1 : 0) : '–');
const pct = (v: number) => `${(v * 100).toFixed(v < 0.001 && v > 0 ? 3 : 1)} %`;
const orNever = (v: number | null) => (v === null ? 'never' : ms(v));

/** One table per scenario: a row per (policy, phase). */
export function scenarioTable(scenario: Scenario, figures: RunFigures[]): ReportTable {
  const rows: (string | number | null)[][] = [];
  for (const f of figures) {
    for (const p of f.phases) {
      rows.push([
        f.label, p.phase, p.requests, p.goodputPerSec.toFixed(1), ms(p.p50Ms), ms(p.p99Ms), ms(p.p999Ms),
        p.failed, p.timedOut, p.refused, f.retries, pct(p.shareError), p.weightShareCv.toFixed(2), p.dispatchShareCv.toFixed(2),
      ]);
    }
  }
  return {
    caption: scenario.title,
    columns: ['policy', 'phase', 'requests', 'goodput/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'failed', 'timed out', 'refused', 'retries (run)', 'share error', 'weight CV', 'dispatch CV'],
    rows,
  };
}

/** Reaction times of the scenarios that have them. */
export function reactionTable(figures: RunFigures[]): ReportTable {
  const rows: (string | number | null)[][] = [];
  for (const f of figures) {
    const r = f.reactions;
    const last = Object.entries(r.lastRequestAfterMs).map(([label, v]) => `${label}: ${orNever(v)}`).join('; ');
    if (!last && r.shedMs === null && r.recoverMs === null && f.scenario !== 'S2') continue;
    rows.push([f.scenario, f.label, last || '–', f.scenario === 'S2' ? orNever(r.shedMs) : '–', f.scenario === 'S2' ? orNever(r.recoverMs) : '–']);
  }
  return {
    caption: 'Reaction times (ms): last request sent to a killed/stopped/drained node after the signal; time to shed a slowed node (its dispatch rate ≤ what it can serve) and to give it back 80 % of its share after recovery',
    columns: ['scenario', 'policy', 'last request after signal', 'shed slow node', 'recover weight'],
    rows,
  };
}

/** The headline: one row per policy, the figure each scenario is about. */
export function headlineTable(all: RunFigures[], labels: string[]): ReportTable {
  const find = (scenario: string, label: string) => all.find((f) => f.scenario === scenario && f.label === label);
  const phase = (scenario: string, label: string, name: string) => find(scenario, label)?.phases.find((p) => p.phase === name);
  const lost = (scenario: string, label: string) => {
    const f = find(scenario, label);
    if (!f) return '–';
    const requests = f.phases.reduce((a, p) => a + p.requests, 0);
    const bad = f.phases.reduce((a, p) => a + p.failed + p.timedOut + p.refused, 0);
    return `${bad} (${pct(requests ? bad / requests : 0)})`;
  };
  const rows = labels.map((label) => [
    label,
    ms(phase('S1-50', label, 'steady')?.p99Ms ?? NaN),
    ms(phase('S1-85', label, 'steady')?.p99Ms ?? NaN),
    (phase('S1-85', label, 'steady')?.weightShareCv ?? NaN).toFixed(2),
    ms(phase('S2', label, 'slowed')?.p99Ms ?? NaN),
    lost('S2', label),
    lost('S3', label),
    lost('S3c', label),
    lost('S4', label),
    lost('S5', label),
    ms(phase('S6', label, 'bursts')?.p99Ms ?? NaN),
    (phase('S7', label, 'overload')?.goodputPerSec ?? NaN).toFixed(0),
    ms(phase('S7', label, 'overload')?.p99Ms ?? NaN),
    lost('S7', label),
  ]);
  return {
    caption: 'Headline: p99 in ms of successful requests (from scheduled send time); lost = failed + timed out + refused',
    columns: ['policy', 'S1 50 % p99', 'S1 85 % p99', 'S1 85 % weight CV', 'S2 slowed p99', 'S2 lost', 'S3 lost', 'S3c lost', 'S4 lost', 'S5 lost', 'S6 p99', 'S7 goodput/s', 'S7 p99', 'S7 lost'],
    rows,
  };
}

export interface TargetCheck {
  target: string;
  measured: string;
  met: boolean | null;
}

/** Issue 14's targets, each against the figures of this run (null: not measured in this run). */
export function targetChecks(all: RunFigures[], defaultLabel: string): TargetCheck[] {
  const phase = (scenario: string, label: string, name: string) => all.find((f) => f.scenario === scenario && f.label === label)?.phases.find((p) => p.phase === name);
  const checks: TargetCheck[] = [];
  for (const load of ['S1-50', 'S1-70', 'S1-85']) {
    const mine = phase(load, defaultLabel, 'steady');
    const base = phase(load, 'static', 'steady');
    const ratio = mine && base ? mine.p99Ms / base.p99Ms : NaN;
    checks.push({ target: `${load}: p99 of ${defaultLabel} ≤ 0.65× static SWRR`, measured: Number.isFinite(ratio) ? `${ratio.toFixed(2)}× (${ms(mine!.p99Ms)} vs ${ms(base!.p99Ms)} ms)` : 'not run', met: Number.isFinite(ratio) ? ratio <= 0.65 : null });
  }
  for (const scenario of ['S2', 'S3']) {
    const f = all.find((x) => x.scenario === scenario && x.label === defaultLabel);
    if (!f) continue;
    const requests = f.phases.reduce((a, p) => a + p.requests, 0);
    const bad = f.phases.reduce((a, p) => a + p.failed + p.timedOut, 0);
    const share = requests ? bad / requests : 0;
    checks.push({ target: `${scenario}: ≤ 0.1 % failed or timed out (${defaultLabel})`, measured: `${bad} of ${requests} (${pct(share)})`, met: share <= 0.001 });
  }
  const s2 = phase('S2', defaultLabel, 'slowed');
  const s2wlc = phase('S2', 'wlc', 'slowed');
  if (s2 && s2wlc) {
    const ratio = s2.p99Ms / s2wlc.p99Ms;
    checks.push({ target: `S2: p99 of ${defaultLabel} ≤ 0.6× weighted least-connections`, measured: `${ratio.toFixed(2)}× (${ms(s2.p99Ms)} vs ${ms(s2wlc.p99Ms)} ms)`, met: ratio <= 0.6 });
  }
  const s3 = all.find((x) => x.scenario === 'S3' && x.label === defaultLabel);
  const kill = s3 ? Object.entries(s3.reactions.lastRequestAfterMs).find(([l]) => l.includes('killed')) : undefined;
  if (kill) checks.push({ target: 'kill: last request to the dead node ≤ 1 s after it died', measured: `${orNever(kill[1])} ms`, met: kill[1] !== null && kill[1] <= 1000 });
  const s3c = all.find((x) => x.scenario === 'S3c' && x.label === defaultLabel);
  if (s3c) {
    const bad = s3c.phases.reduce((a, p) => a + p.failed + p.timedOut + p.refused, 0);
    checks.push({ target: 'SIGTERM drain: 0 failed requests', measured: `${bad}`, met: bad === 0 });
  }
  const steady85 = phase('S1-85', defaultLabel, 'steady');
  if (steady85) checks.push({ target: 'steady state at 85 %: weight-share CV ≤ 0.15', measured: steady85.weightShareCv.toFixed(3), met: steady85.weightShareCv <= 0.15 });
  return checks;
}

export function targetTable(checks: TargetCheck[]): ReportTable {
  return { caption: 'Targets of issue 14', columns: ['target', 'measured', 'met'], rows: checks.map((c) => [c.target, c.measured, c.met === null ? '–' : c.met ? 'yes' : 'NO']) };
}

/** Charts of one scenario: latency over time and weights over time, one panel per policy. */
export async function scenarioCharts(scenario: Scenario, runs: ScenarioRun[], labels: string[]): Promise<ReportChart[]> {
  const rules = scenario.events.map((e) => ({ x: e.atS, label: e.label }));
  const latency: ChartPoint[] = [];
  const weights: ChartPoint[] = [];
  for (const run of runs) {
    for (const p of latencyOverTime(run)) {
      latency.push({ x: p.tS, y: p.p50Ms, series: 'p50', facet: run.label }, { x: p.tS, y: p.p99Ms, series: 'p99', facet: run.label });
    }
    for (const w of weightsOverTime(run)) weights.push({ x: w.tS, y: w.share, series: w.node, facet: run.label });
  }
  const id = scenario.id.toLowerCase();
  return [
    { title: `${scenario.title}: latency over time (1 s buckets, by scheduled send time)`, file: `${id}-latency.svg`, svg: await lineChartSvg({ title: `${scenario.id}: p50 and p99 latency over time`, xTitle: 'time (s)', yTitle: 'latency (ms)', yScale: 'log', points: latency, rules, facetOrder: labels, height: 140 }) },
    { title: `${scenario.title}: weight share per node over time`, file: `${id}-weights.svg`, svg: await lineChartSvg({ title: `${scenario.id}: weight share per node`, xTitle: 'time (s)', yTitle: 'weight share', points: weights, rules, facetOrder: labels, height: 140 }) },
  ];
}

/** Dispatch share vs capacity share per node in one phase, bars per policy beside the capacity share. */
export async function shareChart(scenarioId: string, phaseName: string, figures: RunFigures[], labels: string[]): Promise<ReportChart> {
  const bars: { category: string; series: string; value: number }[] = [];
  const first = figures[0]?.phases.find((p) => p.phase === phaseName);
  for (const s of first?.shares ?? []) bars.push({ category: s.node, series: 'capacity share', value: s.capacity });
  for (const f of figures) {
    for (const s of f.phases.find((p) => p.phase === phaseName)?.shares ?? []) bars.push({ category: s.node, series: f.label, value: s.dispatch });
  }
  return {
    title: `${scenarioId} (${phaseName}): dispatch share vs capacity share per node`,
    file: `${scenarioId.toLowerCase()}-shares.svg`,
    svg: await barChartSvg({ title: `${scenarioId}: dispatch share vs capacity share`, xTitle: 'node', yTitle: 'share of requests', bars, seriesOrder: ['capacity share', ...labels] }),
  };
}

/** p99 against offered load (S1 at 50/70/85 %, S7 at 120 %), one line per policy. */
export async function p99VsLoadChart(all: RunFigures[], labels: string[]): Promise<ReportChart> {
  const loads: [string, string, number][] = [['S1-50', 'steady', 50], ['S1-70', 'steady', 70], ['S1-85', 'steady', 85], ['S7', 'overload', 120]];
  const points: ChartPoint[] = [];
  for (const label of labels) {
    for (const [scenario, phase, x] of loads) {
      const p = all.find((f) => f.scenario === scenario && f.label === label)?.phases.find((q) => q.phase === phase);
      if (p && Number.isFinite(p.p99Ms)) points.push({ x, y: p.p99Ms, series: label });
    }
  }
  return { title: 'p99 latency against offered load', file: 'p99-vs-load.svg', svg: await lineChartSvg({ title: 'p99 against offered load', xTitle: 'offered load (% of capacity)', yTitle: 'p99 (ms)', yScale: 'log', points, pointMarks: true }) };
}

export function buildReport(title: string, facts: [string, string][], sections: ReportSection[]): Report {
  return { title, subtitle: 'infergate routing bench: policies side by side on SIMULATED cards of different speeds', facts, sections };
}
