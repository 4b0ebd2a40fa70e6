/**
 * `infergate calibrate`: loads the declared models of a repository on this machine's cards, as
 * `backend` would, measures each (model, card) pair the way a backend does at start
 * (node/calibration.ts), prints one line per pair and exits. A table for people, --json for scripts.
 */
import { loadCardTable } from '../adapters/card-table.js';
import { detectCards } from '../adapters/detect.js';
import { ConfigError } from '../core/errors.js';
import { loadModelRepository, formatDeclarationError } from '../core/model-repository.js';
import { bundledModelsDir } from '../core/package-root.js';
import { createDefaultEngineRegistry } from '../engines/engine-registry.js';
import { DEFAULT_CALIBRATE_MS } from '../node/calibration.js';
import { ModelHost } from '../node/model-host.js';
import { helpText, intOption, parseVerbOptions, type OptionSpec } from './options.js';
import { CALIBRATE_SUMMARY } from './verb-summaries.js';


export const CALIBRATE_OPTIONS: Record<string, OptionSpec> = {
  models: { type: 'string', help: 'model repository directory (default: the bundled models/, as serve)' },
  'model-repository': { type: 'string', help: 'same as --models (Triton\'s name)' },
  model: { type: 'string', multiple: true, help: 'measure only this model; repeatable (default: every declared model)' },
  'calibrate-ms': { type: 'string', default: String(DEFAULT_CALIBRATE_MS), help: 'time spent measuring each (model, card) pair' },
  batch: { type: 'string', default: '1', help: 'rows per execution on generated inputs, capped at each model\'s max_batch_size (a declared warmup sample brings its own batch_size)' },
  'sim-cards': { type: 'string', help: 'SIMULATED cards instead of real hardware, e.g. fast:2,slow:1 (sim models are not measured)' },
  'card-table': { type: 'string', help: 'YAML/JSON file {cards: {type: coefficient}} overriding the default card table' },
  json: { type: 'boolean', help: 'print JSON {calibrate_ms, rows, skipped, unavailable} instead of the table' },
  help: { type: 'boolean', help: 'show this help' },
};

export interface CalibrationRow {
  model: string;
  version: string;
  card: string;
  card_type: string;
  engine: string;
  instances: number;
  batch: number;
  executions: number;
  inferences_per_sec: number;
  p50_ms: number;
  p99_ms: number;
}

/** Runs the verb; returns the exit code (0: at least one pair measured and no model failed). */
export async function calibrateMain(argv: string[]): Promise<number> {
  let values;
  try {
    values = parseVerbOptions(argv, CALIBRATE_OPTIONS);
  } catch (err) {
    console.error(`infergate calibrate: ${(err as Error).message}\n\n${helpText('calibrate', CALIBRATE_SUMMARY, CALIBRATE_OPTIONS)}`);
    return 2;
  }
  if (values.help) {
    console.log(helpText('calibrate', CALIBRATE_SUMMARY, CALIBRATE_OPTIONS));
    return 0;
  }
  const warn = (m: string) => console.error(`infergate calibrate: ${m}`);
  try {
    const budgetMs = intOption(values, 'calibrate-ms', 1);
    const batch = intOption(values, 'batch', 1);
    const dir = modelsDirOf(values.models as string | undefined, values['model-repository'] as string | undefined);
    const only = (values.model as string[] | undefined) ?? [];
    const table = await loadCardTable(values['card-table'] as string | undefined);
    const detection = await detectCards({ table, simCards: values['sim-cards'] as string | undefined });
    for (const w of detection.warnings) warn(w);
    const engines = createDefaultEngineRegistry({ onnx: { log: warn } });
    const repository = loadModelRepository(dir, { knownEngines: engines.names() });
    const unknown = only.filter((name) => !repository.models.some((m) => m.declaration.name === name));
    if (unknown.length > 0) throw new ConfigError(`--model: not declared in ${dir}: ${unknown.join(', ')}`);
    const unavailable: Array<{ model: string; reason: string }> = repository.errors.map((e) => ({ model: e.file, reason: formatDeclarationError(e) }));
    const host = new ModelHost({ cards: detection.cards, engines, calibrateMs: budgetMs, calibrateBatch: batch, log: warn });
    try {
      await host.loadAll(repository.models.filter((m) => only.length === 0 || only.includes(m.declaration.name)));
      for (const entry of host.index()) if (entry.state !== 'READY') unavailable.push({ model: entry.name, reason: entry.reason });
      const rows = host.models().flatMap((m) => m.calibration.map((c): CalibrationRow => ({
        model: m.metadata.name, version: c.version, card: c.card.id, card_type: c.card.type, engine: c.engine,
        instances: c.instances, batch: c.batch, executions: c.executions,
        inferences_per_sec: round(c.inferencesPerSec), p50_ms: round(c.p50Ms), p99_ms: round(c.p99Ms),
      })));
      // Loaded but without a figure: simulated engines (nothing real to measure) or a failed run (logged).
      const skipped = host.models().filter((m) => m.calibration.length === 0).map((m) => m.metadata.name);
      if (values.json) console.log(JSON.stringify({ calibrate_ms: budgetMs, rows, skipped, unavailable }, null, 2));
      else {
        console.log(formatCalibrationTable(rows));
        if (skipped.length > 0) console.log(`not measured (simulated engine, or the run failed): ${skipped.join(', ')}`);
        for (const u of unavailable) console.log(`not loaded: ${u.model}: ${u.reason}`);
      }
      return rows.length > 0 && unavailable.length === 0 ? 0 : 1;
    } finally {
      await host.close();
    }
  } catch (err) {
    warn((err as Error).message);
    return 2;
  }
}

function modelsDirOf(models: string | undefined, repository: string | undefined): string {
  if (models !== undefined && repository !== undefined && models !== repository) {
    throw new ConfigError(`--models and --model-repository name different directories ('${models}', '${repository}'); give one`);
  }
  return models ?? repository ?? bundledModelsDir();
}

/** Fixed-width columns, numbers right-aligned. */
export function formatCalibrationTable(rows: readonly CalibrationRow[]): string {
  const header = ['model', 'version', 'card', 'engine', 'batch', 'inferences/s', 'ms p50', 'ms p99'];
  const cells = rows.map((r) => [r.model, r.version, r.card, r.engine, String(r.batch), String(r.inferences_per_sec), String(r.p50_ms), String(r.p99_ms)]);
  const numeric = [false, false, false, false, true, true, true, true];
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((v, i) => (numeric[i] ? v.padStart(widths[i]) : v.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), ...cells.map(line)].join('\n');
}

/** Three significant digits: the figures are measurements, not exact counts. */
function round(value: number): number {
  return Number(value.toPrecision(3));
}
