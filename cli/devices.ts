/**
 * `infergate devices`: the cards this node finds and, for every declared model, the engine,
 * backend and options each card would use, or why none fits. It detects and plans only: no model
 * is loaded into an engine, so it answers in well under two seconds and is safe on a busy node.
 *
 * Exit codes: 0 after printing (a node with no usable card, or an unservable model, is a finding,
 * not a failure); 2 for a bad flag; 1 when the card table overrides file is unreadable or invalid.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import type { Card } from '../adapters/card.js';
import { loadCardTable } from '../adapters/card-table.js';
import { detectCards } from '../adapters/detect.js';
import { planEngine, type PlanStep, type RuntimeInventory } from '../adapters/engine-plan.js';
import type { InstanceGroup } from '../core/model-declaration.js';
import { loadModelRepository, type DeclarationError } from '../core/model-repository.js';
import { bundledModelsDir, packageVersion } from '../core/package-root.js';
import { createDefaultEngineRegistry } from '../engines/engine-registry.js';
import { availableExecutionProviders } from '../engines/onnx-providers.js';
import { TFJS_BACKEND_ORDER, TFJS_BACKEND_PACKAGE } from '../engines/tfjs-backend.js';
import { helpText, parseVerbOptions, type OptionSpec, type ParsedOptions } from './options.js';
import { DEVICES_SUMMARY } from './verb-summaries.js';


/** TensorRT builds FP16 engines unless told otherwise: tensor cores run FP16 at 2–8× FP32. */
export const DEFAULT_TENSORRT_FP16 = true;

/** Built TensorRT engines are kept here between starts ($XDG_CACHE_HOME, else ~/.cache). */
export function defaultTensorrtCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME !== undefined && env.XDG_CACHE_HOME !== '' ? env.XDG_CACHE_HOME : path.join(os.homedir(), '.cache');
  return path.join(base, 'infergate', 'tensorrt');
}

export const DEVICES_OPTIONS: Record<string, OptionSpec> = {
  models: { type: 'string', help: 'model repository directory, as for serve (default: the bundled models/)' },
  'model-repository': { type: 'string', help: 'the same as --models (Triton\'s name for it)' },
  'card-table': { type: 'string', help: 'YAML/JSON file {cards: {type: coefficient}} overriding the default card table' },
  'sim-cards': { type: 'string', help: 'SIMULATED cards instead of real hardware, e.g. fast:2,slow:1 (as serve takes them)' },
  json: { type: 'boolean', help: 'print one JSON document (shape: README "infergate devices")' },
  help: { type: 'boolean', help: 'show this help' },
};

/** The `--json` document. Field names are stable; new fields may be added. */
export interface DevicesReport {
  infergate: string;
  modelRepository: string;
  runtimes: {
    engines: string[];
    onnxruntime: { version: string; providers: string[] };
    tfjsBackends: string[];
    tensorrt: { fp16: boolean; engineCacheDir: string };
  };
  cards: CardView[];
  warnings: string[];
  models: ModelView[];
  declarationErrors: DeclarationError[];
}

export interface CardView {
  id: string;
  type: string;
  kind: Card['kind'];
  coefficient: number;
  name?: string;
  memoryMiB?: number;
  health?: string;
  uuid?: string;
  mig?: { profile: string; parentIndex: number };
  cores?: number;
  simd?: string[];
  source?: string;
}

export interface ModelView {
  name: string;
  engines: string[];
  instances: InstanceGroup[];
  /** At least one card of this node fits. */
  servable: boolean;
  /** Why not, when not servable. */
  reason?: string;
  cards: CardPlanView[];
}

export type CardPlanView =
  | { card: string; fits: true; engine: string; backend: string; options: Record<string, unknown>; instances: number; degraded: boolean; reason: string; steps: PlanStep[] }
  | { card: string; fits: false; reason: string; steps: PlanStep[] };

export interface DevicesInputs {
  modelsDir: string;
  cards: Card[];
  warnings: string[];
  inventory: RuntimeInventory;
  onnxruntimeVersion: string;
}

/** The report from detected cards, the declarations in the repository and the inventory; loads no model. */
export function buildDevicesReport(inputs: DevicesInputs): DevicesReport {
  const { inventory } = inputs;
  const repository = loadModelRepository(inputs.modelsDir, { knownEngines: inventory.engines });
  const models = repository.models.map(({ declaration }): ModelView => {
    const cards = inputs.cards.map((card): CardPlanView => ({ card: card.id, ...planEngine(card, declaration, inventory) }));
    const servable = cards.some((c) => c.fits);
    const view: ModelView = { name: declaration.name, engines: declaration.engine, instances: declaration.instances, servable, cards };
    if (!servable) view.reason = unservableReason(declaration.instances, inputs.cards, cards);
    return view;
  });
  return {
    infergate: packageVersion(),
    modelRepository: path.resolve(inputs.modelsDir),
    runtimes: {
      engines: [...inventory.engines],
      onnxruntime: { version: inputs.onnxruntimeVersion, providers: [...inventory.onnxProviders] },
      tfjsBackends: [...inventory.tfjsBackends],
      tensorrt: { fp16: inventory.tensorrtFp16, engineCacheDir: inventory.tensorrtCacheDir },
    },
    cards: inputs.cards.map(cardView),
    warnings: inputs.warnings,
    models,
    declarationErrors: repository.errors,
  };
}

function unservableReason(instances: readonly InstanceGroup[], cards: readonly Card[], plans: readonly CardPlanView[]): string {
  const kinds = [...new Set(instances.map((g) => g.kind))];
  if (cards.length === 0) return 'this node has no cards';
  if (!kinds.includes('auto') && !cards.some((c) => kinds.includes(c.kind))) {
    const names: Record<string, string> = { gpu: 'no GPU (NVIDIA) card', npu: 'no NPU card', cpu: 'no cpu card', sim: 'no simulated card' };
    return `the model's instances want ${kinds.join(', ')}: ${kinds.map((k) => names[k] ?? `no ${k} card`).join(', ')} on this node`;
  }
  return plans.map((p) => `${p.card}: ${p.reason}`).join('; ');
}

function cardView(card: Card): CardView {
  return { id: card.id, type: card.type, kind: card.kind, coefficient: round(card.coefficient), ...(card.info ?? {}) };
}

function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

/** The text form: a card table, then one block per model. */
export function formatDevicesReport(report: DevicesReport): string {
  const lines: string[] = [];
  const r = report.runtimes;
  lines.push(`infergate ${report.infergate} devices`);
  lines.push(`runtimes: engines ${r.engines.join(', ')}; onnxruntime ${r.onnxruntime.version} providers ${r.onnxruntime.providers.join(', ')}; tfjs backends installed ${r.tfjsBackends.join(', ') || 'none'}`);
  lines.push('');
  lines.push('cards');
  const rows = [['id', 'type', 'kind', 'coefficient', 'memory', 'details']];
  for (const c of report.cards) {
    rows.push([c.id, c.type, c.kind, String(c.coefficient), c.memoryMiB !== undefined ? `${c.memoryMiB} MiB` : '-', cardDetails(c)]);
  }
  if (report.cards.length === 0) rows.push(['(none)', '', '', '', '', '']);
  lines.push(...aligned(rows).map((l) => `  ${l}`));
  for (const w of report.warnings) lines.push(`  warning: ${w}`);
  lines.push('');
  lines.push(`models in ${report.modelRepository}`);
  for (const m of report.models) {
    const groups = m.instances.map((g) => `${g.kind}×${g.count}`).join(', ');
    lines.push(`  ${m.name}  engines ${m.engines.join(', ')}; instances ${groups}${m.servable ? '' : `  UNSERVABLE: ${m.reason}`}`);
    for (const c of m.cards) {
      lines.push(c.fits
        ? `    ${c.card}: ${c.engine}/${c.backend}${c.degraded ? ' DEGRADED' : ''}, ${c.instances} instance${c.instances === 1 ? '' : 's'}: ${c.reason}`
        : `    ${c.card}: no fit: ${c.reason}`);
    }
  }
  if (report.models.length === 0) lines.push('  (no declared models)');
  for (const e of report.declarationErrors) lines.push(`  declaration error: ${e.file}${e.field ? ` field '${e.field}'` : ''}: ${e.message}`);
  return lines.join('\n');
}

function cardDetails(c: CardView): string {
  const parts: string[] = [];
  if (c.name !== undefined) parts.push(c.name);
  if (c.cores !== undefined) parts.push(`${c.cores} cores`);
  if (c.simd !== undefined) parts.push(`SIMD ${c.simd.join(' ') || 'none reported'}`);
  if (c.health !== undefined) parts.push(`health ${c.health}`);
  if (c.mig !== undefined) parts.push(`MIG ${c.mig.profile} of gpu${c.mig.parentIndex}`);
  return parts.join(', ');
}

function aligned(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ').trimEnd());
}

/**
 * tfjs backends installed here, in preference order. The native packages count only with their
 * binding built: their install script downloads libtensorflow, and without it (no internet,
 * scripts off) the package is on disk but cannot load. cpu comes with @tensorflow/tfjs.
 */
export function installedTfjsBackends(
  resolve: (request: string) => string = createRequire(import.meta.url).resolve,
  hasNativeBinding: (packageDir: string) => boolean = tfjsBindingPresent,
): string[] {
  return TFJS_BACKEND_ORDER.filter((backend) => {
    let manifest: string;
    try {
      manifest = resolve(`${TFJS_BACKEND_PACKAGE[backend]}/package.json`);
    } catch {
      return false;
    }
    return backend !== 'tfjs-node' && backend !== 'tfjs-node-gpu' ? true : hasNativeBinding(path.dirname(manifest));
  });
}

/** `lib/napi-v<N>/tfjs_binding.node`, where node-pre-gyp puts the downloaded binding. */
function tfjsBindingPresent(packageDir: string): boolean {
  const lib = path.join(packageDir, 'lib');
  if (!existsSync(lib)) return false;
  return readdirSync(lib).some((d) => d.startsWith('napi-v') && existsSync(path.join(lib, d, 'tfjs_binding.node')));
}

/** Runs the verb; resolves with the exit code. */
export async function devicesMain(argv: string[]): Promise<number> {
  let values: ParsedOptions;
  try {
    values = parseVerbOptions(argv, DEVICES_OPTIONS);
  } catch (err) {
    console.error(`infergate devices: ${(err as Error).message}\n\n${helpText('devices', DEVICES_SUMMARY, DEVICES_OPTIONS)}`);
    return 2;
  }
  if (values.help) {
    console.log(helpText('devices', DEVICES_SUMMARY, DEVICES_OPTIONS));
    return 0;
  }
  if (values.models !== undefined && values['model-repository'] !== undefined) {
    console.error('infergate devices: give --models or --model-repository, not both');
    return 2;
  }
  const modelsDir = (values.models as string | undefined) ?? (values['model-repository'] as string | undefined) ?? bundledModelsDir();
  if (!existsSync(modelsDir) || !statSync(modelsDir).isDirectory()) {
    console.error(`infergate devices: model repository ${path.resolve(modelsDir)} is not a directory`);
    return 1;
  }
  try {
    const table = await loadCardTable(values['card-table'] as string | undefined);
    const detection = await detectCards({ table, simCards: values['sim-cards'] as string | undefined });
    const engines = createDefaultEngineRegistry({ onnx: { log: () => {} } });
    const names = engines.names();
    const cpu = detection.cards.find((c) => c.kind === 'cpu');
    const inventory: RuntimeInventory = {
      engines: names,
      onnxProviders: availableExecutionProviders(),
      tfjsBackends: installedTfjsBackends(),
      cpuCores: cpu?.info?.cores ?? os.availableParallelism(),
      tensorrtFp16: DEFAULT_TENSORRT_FP16,
      tensorrtCacheDir: defaultTensorrtCacheDir(),
      engineSupports: Object.fromEntries(names.map((n) => [n, (card: Card) => engines.get(n)!.supports(card)])),
    };
    const report = buildDevicesReport({
      modelsDir,
      cards: detection.cards,
      warnings: detection.warnings,
      inventory,
      onnxruntimeVersion: ort.env.versions.node ?? ort.env.versions.common,
    });
    console.log(values.json ? JSON.stringify(report, null, 2) : formatDevicesReport(report));
    return 0;
  } catch (err) {
    console.error(`infergate devices: ${(err as Error).message}`);
    return 1;
  }
}
