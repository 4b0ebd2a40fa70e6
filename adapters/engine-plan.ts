/**
 * What a model would run on, card by card: the engine, its backend (onnxruntime execution provider
 * or tfjs backend) and the options it would get, each decision with a sentence saying why. Pure:
 * what is installed comes in as a RuntimeInventory, so the whole policy is one table test and
 * `infergate devices` can show it without loading a model.
 *
 * The policy, per card kind (the engines enforce the same rules at load time):
 * - NVIDIA GPU, onnx: TensorRT EP (FP16, engine cache) → CUDA EP. ONNX Runtime places the nodes an
 *   accelerator EP cannot run on the CPU EP inside the same session, so `cpu` ends every list; a
 *   GPU card never runs on the CPU EP alone (that is the cpu card's work, and its coefficient).
 * - Ascend NPU, onnx: CANN EP, the only onnxruntime EP for Ascend.
 * - CPU, onnx: CPU EP; intra-op threads = cores ÷ the model's instances on the card, so instances
 *   running at once do not oversubscribe the cores.
 * - tfjs: one backend per process, the first installed of tfjs-node-gpu → tfjs-node → wasm → cpu;
 *   a GPU card fits only when that is tfjs-node-gpu, a CPU card always.
 * - sim: simulated cards (and the CPU, as the sim engine allows).
 */
import type { Card } from './card.js';
import type { ModelDeclaration } from '../core/model-declaration.js';

/** What this node has installed; built by the CLI from onnxruntime, the tfjs packages and the engine registry. */
export interface RuntimeInventory {
  /** Engines registered on the node, by declaration name: onnx, tfjs, sim, … */
  engines: readonly string[];
  /** Execution providers this onnxruntime build can load (bundled, or with their library present). */
  onnxProviders: readonly string[];
  /** Providers that were tried on this node and failed to initialise, with onnxruntime's error. */
  onnxProviderFailures?: Readonly<Record<string, string>>;
  /** Installed tfjs backends in preference order (tfjs-node-gpu, tfjs-node, wasm, cpu). */
  tfjsBackends: readonly string[];
  /** Cores the cpu card's instances share. */
  cpuCores: number;
  /** TensorRT: build FP16 engines (faster on tensor cores; outputs differ from FP32 in the last bits). */
  tensorrtFp16: boolean;
  /** TensorRT: where built engines are kept, so a restart does not rebuild them (minutes for big models). */
  tensorrtCacheDir: string;
  /** For engines this module has no rules for (a vendor plugin): their own supports(card). */
  engineSupports?: Readonly<Record<string, (card: Card) => boolean>>;
}

/** One engine/backend considered, in order. */
export interface PlanStep {
  engine: string;
  /** Execution provider or tfjs backend; '' when the engine itself was ruled out. */
  backend: string;
  ok: boolean;
  reason: string;
}

export type EnginePlan =
  | {
      fits: true;
      engine: string;
      backend: string;
      /** Options the engine gets for this card (execution providers, threads, …). */
      options: Record<string, unknown>;
      /** Instances of the model on this card. */
      instances: number;
      /** A better backend the card asks for failed to initialise: the card runs below its rating. */
      degraded: boolean;
      reason: string;
      steps: PlanStep[];
    }
  | { fits: false; reason: string; steps: PlanStep[] };

export type PlannedModel = Pick<ModelDeclaration, 'engine' | 'instances'>;

/** The plan for one model on one card. */
export function planEngine(card: Card, model: PlannedModel, inventory: RuntimeInventory): EnginePlan {
  const instances = model.instances
    .filter((g) => g.kind === 'auto' || g.kind === card.kind)
    .reduce((sum, g) => sum + g.count, 0);
  if (instances === 0) {
    const wanted = [...new Set(model.instances.map((g) => g.kind))].join(', ');
    return { fits: false, reason: `the model's instances want ${wanted} cards; this is a ${card.kind} card`, steps: [] };
  }
  if (model.engine.length === 0) return { fits: false, reason: 'the model declares no engine', steps: [] };
  const steps: PlanStep[] = [];
  for (const engine of model.engine) {
    if (!inventory.engines.includes(engine)) {
      steps.push({ engine, backend: '', ok: false, reason: `engine ${engine} is not available on this node (available: ${inventory.engines.join(', ') || 'none'})` });
      continue;
    }
    const choice = ENGINE_RULES[engine]?.(card, instances, inventory, steps) ?? otherEngine(engine, card, inventory, steps);
    if (choice !== undefined) {
      return { fits: true, engine, instances, ...choice, steps };
    }
  }
  return {
    fits: false,
    reason: `no declared engine fits: ${steps.map((s) => s.reason).join('; ')}`,
    steps,
  };
}

type Chosen = { backend: string; options: Record<string, unknown>; degraded: boolean; reason: string };
type EngineRule = (card: Card, instances: number, inventory: RuntimeInventory, steps: PlanStep[]) => Chosen | undefined;

const ENGINE_RULES: Readonly<Record<string, EngineRule>> = { onnx: onnxRule, tfjs: tfjsRule, sim: simRule };

/** Human names for execution providers in reasons. */
const EP_NAMES: Readonly<Record<string, string>> = { tensorrt: 'TensorRT EP', cuda: 'CUDA EP', cann: 'CANN EP', cpu: 'CPU EP' };

/** Where a missing provider comes from, added to the reason. */
const EP_INSTALL_HINTS: Readonly<Record<string, string>> = {
  tensorrt: 'onnxruntime-node downloads it at install on Linux x64 unless onnxruntime-node-install=skip; it needs TensorRT 10 and CUDA 12',
  cuda: 'onnxruntime-node downloads it at install on Linux x64 unless onnxruntime-node-install=skip; it needs CUDA 12 and cuDNN 9',
  cann: 'onnxruntime-node ships none; Ascend needs an onnxruntime built with --use_cann',
};

function onnxRule(card: Card, instances: number, inventory: RuntimeInventory, steps: PlanStep[]): Chosen | undefined {
  if (card.kind === 'sim') {
    steps.push({ engine: 'onnx', backend: '', ok: false, reason: 'onnx does not run on simulated cards' });
    return undefined;
  }
  const wanted = requestedProviders(card);
  if (wanted.length === 0) {
    steps.push({ engine: 'onnx', backend: '', ok: false, reason: `no onnxruntime execution provider drives ${card.type} cards (${card.kind} found by ${card.info?.source ?? 'its device file'})` });
    return undefined;
  }
  const available = new Set(inventory.onnxProviders);
  const failures = inventory.onnxProviderFailures ?? {};
  let degraded = false;
  const passed: string[] = [];
  for (const [i, ep] of wanted.entries()) {
    const name = EP_NAMES[ep] ?? `${ep} EP`;
    if (ep === 'cpu' && card.kind !== 'cpu') {
      steps.push({ engine: 'onnx', backend: 'cpu', ok: false, reason: `a ${card.kind} card does not run on the CPU EP alone: the cpu card serves the model there` });
      break;
    }
    if (!available.has(ep)) {
      const hint = EP_INSTALL_HINTS[ep] !== undefined ? `; ${EP_INSTALL_HINTS[ep]}` : '';
      steps.push({ engine: 'onnx', backend: ep, ok: false, reason: `${name} not installed in this onnxruntime build (it has ${inventory.onnxProviders.join(', ') || 'none'}${hint})` });
      passed.push(`${name} not installed`);
      continue;
    }
    if (failures[ep] !== undefined) {
      steps.push({ engine: 'onnx', backend: ep, ok: false, reason: `${name} failed to initialise: ${failures[ep]}` });
      passed.push(`${name} failed to initialise`);
      degraded = true;
      continue;
    }
    const providers = wanted.slice(i).filter((p) => available.has(p) && failures[p] === undefined);
    const chosen = onnxOptions(card, ep, providers, instances, inventory);
    const why = `${name}${passed.length > 0 ? ` (${passed.join('; ')})` : ''}${chosen.note}`;
    steps.push({ engine: 'onnx', backend: ep, ok: true, reason: why });
    return { backend: ep, options: chosen.options, degraded, reason: `onnx on the ${why}` };
  }
  return undefined;
}

/** The card's execution providers as names, best first; [] when it names none (device-file NPUs). */
function requestedProviders(card: Card): string[] {
  const raw = card.engineOptions?.executionProviders;
  if (!Array.isArray(raw)) return card.kind === 'cpu' ? ['cpu'] : [];
  return raw.map((p) => (typeof p === 'string' ? p : String((p as { name?: unknown }).name)));
}

function onnxOptions(card: Card, ep: string, providers: string[], instances: number, inventory: RuntimeInventory): { options: Record<string, unknown>; note: string } {
  const deviceId = typeof card.engineOptions?.deviceId === 'number' ? card.engineOptions.deviceId : 0;
  const executionProviders = providers.map((p): unknown => {
    if (p === 'cpu') return 'cpu';
    if (p === 'tensorrt') {
      return {
        name: 'tensorrt',
        deviceId,
        trt_fp16_enable: inventory.tensorrtFp16,
        trt_engine_cache_enable: true,
        trt_engine_cache_path: inventory.tensorrtCacheDir,
      };
    }
    return { name: p, deviceId };
  });
  const options: Record<string, unknown> = { executionProviders };
  let note = '';
  if (ep === 'tensorrt') note = `, FP16 ${inventory.tensorrtFp16 ? 'on' : 'off'}, engine cache ${inventory.tensorrtCacheDir}`;
  const visible = card.engineOptions?.cudaVisibleDevices;
  if (typeof visible === 'string') {
    // CUDA shows a process one MIG slice, by UUID; inside that process it is device 0.
    options.cudaVisibleDevices = visible;
    note += `, MIG slice ${visible} as device 0`;
  }
  if (card.kind === 'cpu') {
    const fromCard = card.engineOptions?.intraOpNumThreads;
    const threads = typeof fromCard === 'number' ? fromCard : Math.max(1, Math.floor(inventory.cpuCores / instances));
    options.intraOpNumThreads = threads;
    options.interOpNumThreads = 1;
    note += typeof fromCard === 'number'
      ? `, ${threads} intra-op threads per instance (set by the card)`
      : `, ${threads} intra-op thread${threads === 1 ? '' : 's'} per instance (${inventory.cpuCores} cores ÷ ${instances} instance${instances === 1 ? '' : 's'})`;
  }
  return { options, note };
}

/** Only for naming what was passed over; the inventory's own order decides. */
const TFJS_PREFERENCE: readonly string[] = ['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'];

function tfjsRule(card: Card, _instances: number, inventory: RuntimeInventory, steps: PlanStep[]): Chosen | undefined {
  const backend = inventory.tfjsBackends[0];
  if (backend === undefined) {
    steps.push({ engine: 'tfjs', backend: '', ok: false, reason: 'no tfjs backend is installed' });
    return undefined;
  }
  const rank = TFJS_PREFERENCE.indexOf(backend);
  const before = rank < 0 ? [] : TFJS_PREFERENCE.slice(0, rank).filter((b) => !inventory.tfjsBackends.includes(b));
  const notInstalled = before.length > 0 ? ` (${before.join(', ')} not installed)` : '';
  if (card.kind === 'cpu') {
    steps.push({ engine: 'tfjs', backend, ok: true, reason: `tfjs ${backend} backend${notInstalled}` });
    return { backend, options: { backend }, degraded: false, reason: `tfjs on the ${backend} backend${notInstalled}` };
  }
  if (card.kind === 'gpu' && backend === 'tfjs-node-gpu') {
    const deviceId = typeof card.engineOptions?.deviceId === 'number' ? card.engineOptions.deviceId : 0;
    steps.push({ engine: 'tfjs', backend, ok: true, reason: 'tfjs tfjs-node-gpu backend (libtensorflow with CUDA)' });
    return { backend, options: { backend, deviceId }, degraded: false, reason: 'tfjs on the tfjs-node-gpu backend (libtensorflow with CUDA)' };
  }
  const reason = card.kind === 'gpu'
    ? `tfjs-node-gpu not installed: this process's tfjs backend would be ${backend}, which runs on the CPU (the cpu card serves the model there)`
    : `no tfjs backend runs on ${card.kind} cards`;
  steps.push({ engine: 'tfjs', backend: card.kind === 'gpu' ? 'tfjs-node-gpu' : '', ok: false, reason });
  return undefined;
}

function simRule(card: Card, _instances: number, _inventory: RuntimeInventory, steps: PlanStep[]): Chosen | undefined {
  if (card.kind === 'sim' || card.kind === 'cpu') {
    steps.push({ engine: 'sim', backend: 'sim', ok: true, reason: 'simulated engine' });
    return { backend: 'sim', options: {}, degraded: false, reason: `sim: simulated service time scaled by the card's coefficient ${card.coefficient}` };
  }
  steps.push({ engine: 'sim', backend: '', ok: false, reason: `the sim engine runs on sim and cpu cards, not ${card.kind}` });
  return undefined;
}

/** An engine registered on the node that this module has no rules for: its own supports() decides. */
function otherEngine(engine: string, card: Card, inventory: RuntimeInventory, steps: PlanStep[]): Chosen | undefined {
  const supports = inventory.engineSupports?.[engine];
  if (supports?.(card)) {
    steps.push({ engine, backend: engine, ok: true, reason: `${engine} supports ${card.type} cards` });
    return { backend: engine, options: { ...(card.engineOptions ?? {}) }, degraded: false, reason: `${engine} (it supports ${card.type} cards)` };
  }
  steps.push({ engine, backend: '', ok: false, reason: `${engine} does not support ${card.type} cards` });
  return undefined;
}
