/**
 * onnxruntime execution providers: which ones this build can load, which ones a card asks for
 * (engineOptions.executionProviders), the lists to fall back through when a session cannot start
 * with the best one, and how many intra-op threads an instance gets when its card sets none.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import ort from 'onnxruntime-node';
import type { Card } from '../adapters/card.js';
import type { ModelDeclaration } from '../core/model-declaration.js';

export const DEFAULT_EXECUTION_PROVIDERS: readonly string[] = ['cpu'];

/** An execution provider as onnxruntime takes it: a name, or a name with provider options. */
export type ExecutionProvider = string | { name: string; [option: string]: unknown };

/**
 * Providers listed by `ort.listSupportedBackends()` that can actually load: bundled ones, and the
 * unbundled ones (CUDA, TensorRT on Linux x64) only when their provider library was installed
 * beside the binding (onnxruntime-node's install script downloads it; `onnxruntime-node-install=skip`
 * leaves it out).
 */
export function availableExecutionProviders(): string[] {
  const bindingDir = onnxruntimeBindingDir();
  return ort.listSupportedBackends()
    .filter((b) => b.bundled || (bindingDir !== undefined && providerLibraryPresent(bindingDir, b.name)))
    .map((b) => b.name);
}

function onnxruntimeBindingDir(): string | undefined {
  try {
    const entry = createRequire(import.meta.url).resolve('onnxruntime-node');
    return join(dirname(entry), '..', 'bin', 'napi-v6', process.platform, process.arch);
  } catch {
    return undefined;
  }
}

function providerLibraryPresent(dir: string, provider: string): boolean {
  const file = process.platform === 'win32'
    ? `onnxruntime_providers_${provider}.dll`
    : process.platform === 'darwin' ? `libonnxruntime_providers_${provider}.dylib` : `libonnxruntime_providers_${provider}.so`;
  return existsSync(join(dir, file));
}

export function providerName(p: ExecutionProvider): string {
  return typeof p === 'string' ? p : p.name;
}

/** The card's `engineOptions.executionProviders`, checked; the default when the card names none. */
export function executionProvidersOf(card: Card): ExecutionProvider[] {
  const raw = card.engineOptions?.executionProviders;
  if (raw === undefined) return [...DEFAULT_EXECUTION_PROVIDERS];
  const valid = Array.isArray(raw) && raw.length > 0 && raw.every((p) =>
    (typeof p === 'string' && p.length > 0) ||
    (typeof p === 'object' && p !== null && typeof (p as { name?: unknown }).name === 'string'));
  if (!valid) {
    throw new Error(`card ${card.id}: engineOptions.executionProviders must be a non-empty list of provider names or {name, ...options}`);
  }
  const deviceId = card.engineOptions?.deviceId;
  // The adapter's device index reaches every accelerator provider named without options.
  return (raw as ExecutionProvider[]).map((p) =>
    typeof p === 'string' && p !== 'cpu' && typeof deviceId === 'number' ? { name: p, deviceId } : p);
}

/**
 * The provider lists to try on a card, best first. The card's list is a preference order (TensorRT,
 * then CUDA, then CPU): unavailable providers are left out, and when a session cannot start with
 * the first accelerator provider the next list drops it. An accelerator card whose list names the
 * CPU provider may end on it alone: the instance then reports itself degraded and the card is
 * weighted as the CPU (node/instance-report.ts), so its coefficient does not lie. One with no
 * accelerator provider usable at all gets no list: that card is not the onnx engine's.
 */
export function providerFallbacks(card: Card, available: ReadonlySet<string>): ExecutionProvider[][] {
  const usable = executionProvidersOf(card).filter((p) => available.has(providerName(p)));
  const lists: ExecutionProvider[][] = [];
  for (let rest = usable; rest.length > 0; rest = rest.slice(1)) {
    const onlyCpu = rest.every((p) => providerName(p) === 'cpu');
    if (onlyCpu && card.kind !== 'cpu' && lists.length === 0) break;
    lists.push(rest);
    if (onlyCpu) break;
  }
  return lists;
}

/**
 * Intra-op threads for one instance when the card sets none: the CPUs divided among the CPU
 * instances the model declares, at least 1, so that instances running at once (on their worker
 * threads, or in several processes) do not oversubscribe the cores.
 */
export function defaultIntraOpThreads(cpuCount: number, declaration: ModelDeclaration): number {
  let cpuInstances = 0;
  for (const g of declaration.instances) if (g.kind === 'cpu' || g.kind === 'auto') cpuInstances += g.count;
  return Math.max(1, Math.floor(cpuCount / Math.max(1, cpuInstances)));
}

/**
 * Provider names onnxruntime-node has a backend registered for. A session asked for any other
 * name starts without it, with only a console warning from onnxruntime's JavaScript layer.
 */
export function registeredProviders(): ReadonlySet<string> {
  return new Set(ort.listSupportedBackends().map((b) => b.name));
}

/**
 * The fallback lists without the providers onnxruntime would silently drop, each dropped name
 * once in `dropped` with why; lists that become empty or repeat the one before are left out.
 */
export function withoutUnregistered(
  lists: readonly ExecutionProvider[][],
  registered: ReadonlySet<string>,
): { attempts: ExecutionProvider[][]; dropped: string[] } {
  const dropped = new Set<string>();
  const attempts: ExecutionProvider[][] = [];
  for (const list of lists) {
    const kept = list.filter((p) => {
      if (registered.has(providerName(p))) return true;
      dropped.add(providerName(p));
      return false;
    });
    const previous = attempts[attempts.length - 1];
    const same = previous !== undefined && previous.map(providerName).join(',') === kept.map(providerName).join(',');
    if (kept.length > 0 && !same) attempts.push(kept);
  }
  return {
    attempts,
    dropped: [...dropped].map((name) => `[${name}]: onnxruntime has no execution provider '${name}' (it has ${[...registered].join(', ')})`),
  };
}
