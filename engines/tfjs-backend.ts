/**
 * Which TensorFlow.js backend a process runs on. tfjs keeps one active backend per process, so the
 * choice is made once (per preference list) and reported with the reason, never silently.
 *
 * Order, fastest first: tfjs-node-gpu (libtensorflow with CUDA) → tfjs-node (libtensorflow on the
 * CPU) → wasm (@tensorflow/tfjs-backend-wasm, SIMD, single-threaded in Node) → cpu (pure
 * JavaScript, always there). The two native packages are optional dependencies whose install
 * script downloads libtensorflow; where it could not run, `import` fails and the next one is tried.
 *
 * `decideBackend` is the pure part (attempt results → choice and why); `initTfjsBackend` does the
 * imports and `tf.setBackend` calls that produce those results.
 */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as Tf from '@tensorflow/tfjs';

export const TFJS_BACKEND_ORDER = ['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'] as const;
export type TfjsBackend = (typeof TFJS_BACKEND_ORDER)[number];

/** The name tfjs registers each backend under: both native packages register `tensorflow`. */
export const TFJS_REGISTERED_NAME: Record<TfjsBackend, string> = {
  'tfjs-node-gpu': 'tensorflow',
  'tfjs-node': 'tensorflow',
  wasm: 'wasm',
  cpu: 'cpu',
};

/** The package that provides each backend (cpu comes with @tensorflow/tfjs). */
export const TFJS_BACKEND_PACKAGE: Record<TfjsBackend, string> = {
  'tfjs-node-gpu': '@tensorflow/tfjs-node-gpu',
  'tfjs-node': '@tensorflow/tfjs-node',
  wasm: '@tensorflow/tfjs-backend-wasm',
  cpu: '@tensorflow/tfjs',
};

export interface BackendAttempt {
  backend: TfjsBackend;
  ok: boolean;
  /** Why it could not be used (import or initialisation error), when !ok. */
  reason?: string;
}

export interface BackendDecision {
  backend: TfjsBackend;
  /** One line for logs and `devices`: what runs and why the better ones do not. */
  why: string;
  /** The backends tried before it, with their reasons. */
  skipped: { backend: TfjsBackend; reason: string }[];
}

export function isTfjsBackend(name: string): name is TfjsBackend {
  return (TFJS_BACKEND_ORDER as readonly string[]).includes(name);
}

/** The first attempt that worked, in the order given; undefined when none did. Pure. */
export function decideBackend(attempts: readonly BackendAttempt[]): BackendDecision | undefined {
  const skipped: { backend: TfjsBackend; reason: string }[] = [];
  for (const a of attempts) {
    if (a.ok) {
      const why = skipped.length === 0
        ? `${a.backend}: first in the preference order`
        : `${a.backend}: ${skipped.map((s) => `${s.backend} unavailable (${s.reason})`).join('; ')}`;
      return { backend: a.backend, why, skipped };
    }
    skipped.push({ backend: a.backend, reason: a.reason ?? 'unavailable' });
  }
  return undefined;
}

/** A preference list checked: known names, each once, at least one. */
export function backendOrder(preferred: readonly string[] | undefined): TfjsBackend[] {
  const order = preferred ?? TFJS_BACKEND_ORDER;
  if (order.length === 0) throw new Error('tfjs engine: the backend list is empty');
  for (const name of order) {
    if (!isTfjsBackend(name)) throw new Error(`tfjs engine: unknown backend '${name}' (known: ${TFJS_BACKEND_ORDER.join(', ')})`);
  }
  if (new Set(order).size !== order.length) throw new Error(`tfjs engine: backend list repeats a name: ${order.join(', ')}`);
  return [...order] as TfjsBackend[];
}

/** First line of an error, without the long native-addon hints tfjs-node appends. */
function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0].trim();
}

/**
 * Why a native package cannot load, without importing it; undefined when it can be tried. A failed
 * import of tfjs-node still registers its kernels before it throws, so a second native package
 * would re-register them with a warning per kernel: look before importing.
 */
export function nativeAddonProblem(pkg: string, resolveFrom: string = import.meta.url): string | undefined {
  let dir: string;
  try {
    dir = path.dirname(createRequire(resolveFrom).resolve(`${pkg}/package.json`));
  } catch {
    return `${pkg} is not installed (an optional dependency)`;
  }
  const lib = path.join(dir, 'lib');
  const built = existsSync(lib) && readdirSync(lib).some((d) => existsSync(path.join(lib, d, 'tfjs_binding.node')));
  return built ? undefined : `${pkg} is installed without its native addon (its install script, which downloads libtensorflow, did not run or failed)`;
}

/** Makes `backend` available to tfjs (imports its package); throws why not. */
async function prepare(tf: typeof Tf, backend: TfjsBackend): Promise<void> {
  if (backend === 'cpu') return;
  if (backend !== 'wasm') {
    const problem = nativeAddonProblem(TFJS_BACKEND_PACKAGE[backend]);
    if (problem) throw new Error(problem);
  }
  // Native packages register the `tensorflow` backend on import; a missing libtensorflow throws here.
  await import(TFJS_BACKEND_PACKAGE[backend]);
  if (tf.findBackendFactory(TFJS_REGISTERED_NAME[backend]) === null) {
    throw new Error(`${TFJS_BACKEND_PACKAGE[backend]} loaded but registered no '${TFJS_REGISTERED_NAME[backend]}' backend`);
  }
}

const decisions = new Map<string, Promise<BackendDecision>>();

/**
 * Tries the backends in order and makes the first that initialises tfjs's active backend.
 * Memoised per preference list: imports and initialisation happen once per process.
 */
export function initTfjsBackend(tf: typeof Tf, order: readonly TfjsBackend[]): Promise<BackendDecision> {
  const key = order.join(',');
  let decision = decisions.get(key);
  if (!decision) {
    decision = (async () => {
      const attempts: BackendAttempt[] = [];
      for (const backend of order) {
        try {
          await prepare(tf, backend);
          if (!(await tf.setBackend(TFJS_REGISTERED_NAME[backend]))) throw new Error('tf.setBackend refused it (initialisation failed)');
          await tf.ready();
          attempts.push({ backend, ok: true });
          break;
        } catch (err) {
          attempts.push({ backend, ok: false, reason: firstLine(err) });
        }
      }
      const decided = decideBackend(attempts);
      if (!decided) throw new Error(`tfjs engine: no backend could start: ${attempts.map((a) => `${a.backend}: ${a.reason}`).join('; ')}`);
      return decided;
    })();
    decisions.set(key, decision);
  }
  return decision;
}

/** Makes `backend` tfjs's active backend again if another engine switched it meanwhile. */
export async function activateTfjsBackend(tf: typeof Tf, backend: TfjsBackend): Promise<void> {
  const name = TFJS_REGISTERED_NAME[backend];
  if (tf.getBackend() !== name && !(await tf.setBackend(name))) {
    throw new Error(`tfjs engine: backend ${backend} no longer initialises`);
  }
}
