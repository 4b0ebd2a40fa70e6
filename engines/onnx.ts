/**
 * The ONNX engine on onnxruntime-node. One InferenceSession per instance; the execution providers
 * come from the card's engine options, so CUDA, TensorRT or an NPU provider are a card-table
 * change, not a code change.
 *
 * onnxruntime-node runs a session on the calling JavaScript thread: `session.run` blocks that
 * thread for the whole inference. So, as Triton gives each model instance a thread of its own,
 * each instance here gets its own worker thread by default (`execution: 'worker'`, see
 * onnx-worker.ts): the server's event loop stays free and the instances of a process run at once.
 * `execution: 'inline'` keeps the session on the caller's thread (no message round trip; the
 * instances of a process take turns).
 *
 * execute() batches on its own: requests whose inputs agree on every dim but the first are
 * concatenated along dim 0 (up to max_batch_size rows), run once and split back. A request the
 * engine refuses, or whose run fails, gets an InferError in its slot; the others still answer.
 *
 * A worker that dies (a crash, out of memory, terminated) fails the execute in flight with
 * INTERNAL, and the instance restarts it: a new worker and session from the same model bytes and
 * session options, after an exponential backoff so that a model that kills its worker on every run
 * does not spin (WorkerHostSupervisor). An execute that arrives meanwhile waits for the replacement.
 *
 * One sharp edge of onnxruntime-node (1.30): a worker thread stopped while inside session.run —
 * Worker.terminate(), or process.exit() with a run in flight — aborts the whole process. So
 * unload() lets the worker finish and release its session before ending it, and a process should
 * drain its instances (ModelExecutor.close) before it exits.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import type { Card } from '../adapters/card.js';
import { arrayConstructorFor, elementCount, type NumericArray, type TensorData } from '../core/datatypes.js';
import { asInferError, InferError, invalidArg, unsupported } from '../core/errors.js';
import type { ModelDeclaration, TensorDeclaration } from '../core/model-declaration.js';
import type { ModelMetadata } from '../core/model-metadata.js';
import { packageRoot } from '../core/package-root.js';
import type { InferRequest, InferResponse, Tensor } from '../core/tensor.js';
import type { Engine, ExecuteResult, LoadedModel, ModelInstance, ModelLoadSpec } from './engine.js';
import { forTransfer, fromWireTensor, KSERVE_TYPES, ORT_TYPES, toWireTensor, type WireTensors } from './onnx-tensor.js';
import {
  ONNX_WORKER_DATA, runSession, startSession, type FromWorker, type SessionStart, type ToWorker,
} from './onnx-worker.js';

export const DEFAULT_EXECUTION_PROVIDERS: readonly string[] = ['cpu'];

/** An execution provider as onnxruntime takes it: a name, or a name with provider options. */
export type ExecutionProvider = string | { name: string; [option: string]: unknown };

/** Where an instance's session runs: on a worker thread of its own, or on the caller's thread. */
export type OnnxExecution = 'worker' | 'inline';

export interface OnnxEngineOptions {
  /**
   * Execution providers this onnxruntime build can use. Default: `availableExecutionProviders()`.
   * Tests and operators can narrow or widen it.
   */
  availableProviders?: readonly string[];
  /** CPUs to share among instances when a card sets no intraOpNumThreads (default os.availableParallelism()). */
  cpuCount?: number;
  /** Default 'worker': each instance runs its session on its own worker thread. */
  execution?: OnnxExecution;
  /** Delay before restarting a dead worker (default DEFAULT_WORKER_RESTART_BACKOFF_MS); doubles with each failure in a row. */
  restartBackoffMs?: number;
  /** The most the restart delay grows to (default DEFAULT_WORKER_RESTART_MAX_BACKOFF_MS). */
  restartMaxBackoffMs?: number;
  /** A worker that stayed up this long before it died restarts after the first delay again (default DEFAULT_WORKER_RESTART_RESET_AFTER_MS). */
  restartResetAfterMs?: number;
  /** Where worker deaths (each restart) and failed restarts are reported, one line each (default console.warn). */
  log?: (message: string) => void;
}

export const DEFAULT_WORKER_RESTART_BACKOFF_MS = 100;
export const DEFAULT_WORKER_RESTART_MAX_BACKOFF_MS = 10_000;
export const DEFAULT_WORKER_RESTART_RESET_AFTER_MS = 30_000;

/** When a dead worker is restarted. */
export interface WorkerRestartPolicy {
  /** Delay before the first restart of a series of failures; each further failure in a row doubles it. */
  backoffMs: number;
  maxBackoffMs: number;
  /** A worker that ran at least this long before it died starts a new series. */
  resetAfterMs: number;
}

/**
 * The delay before the next start of a worker after `failures` failures in a row (deaths of
 * workers that did not stay up resetAfterMs, and failed restarts): backoffMs, doubling, capped.
 */
export function restartDelayMs(policy: WorkerRestartPolicy, failures: number): number {
  if (failures <= 0) return 0;
  return Math.min(policy.maxBackoffMs, policy.backoffMs * 2 ** Math.min(failures - 1, 40));
}

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

function providerName(p: ExecutionProvider): string {
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
 * the first accelerator provider the next list drops it. An accelerator card never ends on the CPU
 * provider alone, which would make its coefficient a lie; a CPU card may.
 */
export function providerFallbacks(card: Card, available: ReadonlySet<string>): ExecutionProvider[][] {
  const usable = executionProvidersOf(card).filter((p) => available.has(providerName(p)));
  const lists: ExecutionProvider[][] = [];
  for (let rest = usable; rest.length > 0; rest = rest.slice(1)) {
    const onlyCpu = rest.every((p) => providerName(p) === 'cpu');
    if (onlyCpu && card.kind !== 'cpu') break;
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

export class OnnxEngine implements Engine {
  readonly name = 'onnx';
  readonly #available: ReadonlySet<string>;
  readonly #cpuCount: number;
  readonly #execution: OnnxExecution;
  readonly #restartPolicy: WorkerRestartPolicy;
  readonly #log: (message: string) => void;

  constructor(options: OnnxEngineOptions = {}) {
    this.#available = new Set(options.availableProviders ?? availableExecutionProviders());
    this.#cpuCount = options.cpuCount ?? os.availableParallelism();
    this.#execution = options.execution ?? 'worker';
    if (this.#execution !== 'worker' && this.#execution !== 'inline') {
      throw new Error(`onnx engine: execution must be 'worker' or 'inline', got ${String(this.#execution)}`);
    }
    this.#restartPolicy = {
      backoffMs: options.restartBackoffMs ?? DEFAULT_WORKER_RESTART_BACKOFF_MS,
      maxBackoffMs: options.restartMaxBackoffMs ?? DEFAULT_WORKER_RESTART_MAX_BACKOFF_MS,
      resetAfterMs: options.restartResetAfterMs ?? DEFAULT_WORKER_RESTART_RESET_AFTER_MS,
    };
    for (const [name, value] of Object.entries(this.#restartPolicy)) {
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
        throw new Error(`onnx engine: restart ${name} must be a non-negative number of milliseconds, got ${String(value)}`);
      }
    }
    if (this.#restartPolicy.maxBackoffMs < this.#restartPolicy.backoffMs) {
      throw new Error(`onnx engine: restartMaxBackoffMs (${this.#restartPolicy.maxBackoffMs}) is below restartBackoffMs (${this.#restartPolicy.backoffMs})`);
    }
    this.#log = options.log ?? ((message) => console.warn(message));
  }

  /** CPU cards always; an accelerator card when one of the accelerator providers it names is in this build. */
  supports(card: Card): boolean {
    if (card.kind === 'cpu') return true;
    if (card.kind !== 'gpu' && card.kind !== 'npu') return false;
    let providers: ExecutionProvider[];
    try {
      providers = executionProvidersOf(card);
    } catch {
      return false;
    }
    return providers.some((p) => providerName(p) !== 'cpu' && this.#available.has(providerName(p)));
  }

  async loadModel(spec: ModelLoadSpec): Promise<LoadedModel> {
    if (!spec.modelPath) throw new Error(`model '${spec.declaration.name}': the onnx engine needs a model file`);
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(spec.modelPath);
    } catch (err) {
      throw new Error(`model '${spec.declaration.name}': cannot read ${spec.modelPath}: ${(err as Error).message}`);
    }
    // A throwaway CPU session reads the graph's signature; instances build their own sessions.
    let probe: ort.InferenceSession;
    try {
      probe = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'disabled', intraOpNumThreads: 1 });
    } catch (err) {
      throw new Error(`model '${spec.declaration.name}': onnxruntime cannot load ${spec.modelPath}: ${(err as Error).message}`);
    }
    try {
      const problems = checkSignature(spec.declaration, probe);
      if (problems.length > 0) {
        throw new Error(`model '${spec.declaration.name}': declaration disagrees with ${spec.modelPath}: ${problems.join('; ')}`);
      }
    } finally {
      await probe.release();
    }
    return new OnnxLoadedModel(spec, bytes, {
      cpuCount: this.#cpuCount,
      available: this.#available,
      execution: spec.declaration.execution ?? this.#execution,
      restartPolicy: this.#restartPolicy,
      log: this.#log,
    });
  }
}

function describeShape(shape: readonly (number | string)[]): string {
  return `[${shape.join(',')}]`;
}

/** Declared tensors against the session's metadata: names, datatypes, ranks and fixed dims. */
function checkSignature(declaration: ModelDeclaration, session: ort.InferenceSession): string[] {
  const problems: string[] = [];
  const batched = declaration.max_batch_size > 0;
  const compare = (kind: 'input' | 'output', declared: TensorDeclaration, meta: ort.InferenceSession.ValueMetadata | undefined) => {
    if (!meta) {
      const names = (kind === 'input' ? session.inputNames : session.outputNames).join(', ');
      problems.push(`${kind} '${declared.name}' is not in the model (its ${kind}s: ${names})`);
      return;
    }
    if (!meta.isTensor) {
      problems.push(`${kind} '${declared.name}' is not a tensor in the model`);
      return;
    }
    const modelType = KSERVE_TYPES.get(meta.type);
    if (modelType !== declared.datatype) {
      problems.push(`${kind} '${declared.name}' is declared ${declared.datatype} but the model has ${modelType ?? meta.type}`);
    }
    const shape = meta.shape;
    if (shape.length === 0) return; // onnxruntime reports unknown ranks as []: nothing to compare
    const dims = batched ? [-1, ...declared.dims] : declared.dims;
    if (shape.length !== dims.length) {
      problems.push(`${kind} '${declared.name}' has rank ${shape.length} ${describeShape(shape)} in the model but the declaration gives rank ${dims.length}${batched ? ' (batch dim + dims)' : ''}`);
      return;
    }
    if (batched && typeof shape[0] === 'number' && !(shape[0] === 1 && declaration.max_batch_size === 1)) {
      problems.push(`${kind} '${declared.name}' has a fixed first dim ${shape[0]} in the model, so it cannot batch (max_batch_size ${declaration.max_batch_size})`);
    }
    for (let i = batched ? 1 : 0; i < dims.length; i++) {
      const m = shape[i];
      if (typeof m === 'number' && dims[i] !== -1 && dims[i] !== m) {
        problems.push(`${kind} '${declared.name}' dim ${i} is ${m} in the model ${describeShape(shape)} but ${dims[i]} in the declaration`);
      }
    }
  };
  const inputs = new Map(session.inputMetadata.map((m) => [m.name, m]));
  const outputs = new Map(session.outputMetadata.map((m) => [m.name, m]));
  for (const d of declaration.inputs) compare('input', d, inputs.get(d.name));
  for (const d of declaration.outputs) compare('output', d, outputs.get(d.name));
  const declaredInputs = new Set(declaration.inputs.map((d) => d.name));
  for (const name of session.inputNames) {
    if (!declaredInputs.has(name)) problems.push(`model input '${name}' is not declared (every input must be fed)`);
  }
  return problems;
}

interface LoadedModelSetup {
  cpuCount: number;
  available: ReadonlySet<string>;
  execution: OnnxExecution;
  restartPolicy: WorkerRestartPolicy;
  log: (message: string) => void;
}

class OnnxLoadedModel implements LoadedModel {
  readonly metadata: ModelMetadata;
  readonly #spec: ModelLoadSpec;
  #bytes: Uint8Array | undefined;
  readonly #setup: LoadedModelSetup;
  readonly #instances = new Set<OnnxModelInstance>();

  constructor(spec: ModelLoadSpec, bytes: Uint8Array, setup: LoadedModelSetup) {
    this.metadata = spec.metadata;
    this.#spec = spec;
    this.#bytes = bytes;
    this.#setup = setup;
  }

  async createInstance(card: Card, index: number): Promise<ModelInstance> {
    if (!this.#bytes) throw new Error(`model '${this.#spec.declaration.name}' version ${this.#spec.version} was unloaded`);
    const who = `model '${this.#spec.declaration.name}' instance ${index} on card ${card.id}`;
    const threads = card.engineOptions?.intraOpNumThreads ?? defaultIntraOpThreads(this.#setup.cpuCount, this.#spec.declaration);
    if (typeof threads !== 'number' || !Number.isInteger(threads) || threads < 1) {
      throw new Error(`card ${card.id}: engineOptions.intraOpNumThreads must be a positive integer, got ${String(threads)}`);
    }
    const attempts = providerFallbacks(card, this.#setup.available);
    if (attempts.length === 0) {
      throw new Error(`${who}: none of its execution providers [${executionProvidersOf(card).map(providerName).join(', ')}] is in this onnxruntime build (available: ${[...this.#setup.available].join(', ')})`);
    }
    const options = attempts.map((providers): ort.InferenceSession.SessionOptions => ({
      executionProviders: providers as ort.InferenceSession.ExecutionProviderConfig[],
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    }));
    const bytes = this.#bytes;
    let started: HostStart<WorkerSessionHost | InlineSessionHost>;
    try {
      started = this.#setup.execution === 'worker'
        ? await WorkerSessionHost.start(bytes, options, who)
        : await InlineSessionHost.start(bytes, options);
    } catch (err) {
      throw new Error(`${who}: ${(err as Error).message}`);
    }
    const failures = started.failures.map((message, i) => `[${attempts[i].map(providerName).join(', ')}]: ${message}`);
    if (!started.ok) throw new Error(`${who}: no session could start: ${failures.join('; ')}`);
    let hosts: HostSource;
    if (started.host instanceof WorkerSessionHost) {
      // A replacement starts with the options that worked, not the fallback list: a restart that
      // quietly lands on another provider would make the card's coefficient a lie.
      const again = [options[started.attempt]];
      const providers = attempts[started.attempt].map(providerName).join(', ');
      hosts = new WorkerHostSupervisor(started.host, {
        who,
        policy: this.#setup.restartPolicy,
        log: this.#setup.log,
        startHost: async () => {
          const restarted = await WorkerSessionHost.start(bytes, again, who);
          if (!restarted.ok) throw new Error(`no session could start: [${providers}]: ${restarted.failures.join('; ')}`);
          return restarted.host;
        },
      });
    } else {
      hosts = started.host;
    }
    const instance: OnnxModelInstance = new OnnxModelInstance(card, index, hosts, this.#spec, {
      execution: this.#setup.execution,
      intraOpNumThreads: threads,
      executionProviders: attempts[started.attempt].map(providerName),
      providerFailures: failures,
    }, () => this.#instances.delete(instance));
    this.#instances.add(instance);
    return instance;
  }

  async unload(): Promise<void> {
    await Promise.all([...this.#instances].map((i) => i.unload()));
    this.#bytes = undefined;
  }
}

type HostStart<H extends SessionHost> =
  | { ok: true; host: H; attempt: number; failures: string[] }
  | { ok: false; failures: string[] };

/** Where an instance's session lives and runs: one session, on one thread. */
export interface SessionHost {
  /** The worker thread that holds the session; undefined inline. */
  readonly worker: Worker | undefined;
  /** Set when nothing can run any more (the worker died), with the error to report. */
  readonly gone: InferError | undefined;
  /**
   * Runs the session once. `movable`: the caller will not read the feeds' arrays again, so a host on
   * another thread may move (transfer) them instead of copying.
   */
  run(feeds: WireTensors, fetches: string[], movable: boolean): Promise<WireTensors>;
  release(): Promise<void>;
}

/** How a worker ended on its own (not by release()). */
export interface WorkerExit {
  code: number;
  /** The uncaught error that ended it, if any. */
  cause?: string;
}

/** A host whose thread can die on its own, and says so once: to `onExit`, or in `exit` if nobody listened yet. */
export interface SupervisedHost extends SessionHost {
  readonly exit: WorkerExit | undefined;
  onExit: ((exit: WorkerExit) => void) | undefined;
}

/** What an instance runs on: one fixed host (inline), or a worker host replaced when it dies. */
interface HostSource {
  /** The live worker thread; undefined inline, and while a replacement is on its way. */
  readonly worker: Worker | undefined;
  readonly restarts: number;
  /** The host to run the next execute on; waits for a replacement on its way, rejects with an InferError when none could start. */
  current(): SessionHost | Promise<SessionHost>;
  release(): Promise<void>;
}

/** The session on the caller's thread: each run blocks it. Nothing to restart, so it is its own source. */
class InlineSessionHost implements SessionHost, HostSource {
  readonly worker = undefined;
  readonly gone = undefined;
  readonly restarts = 0;
  readonly #session: ort.InferenceSession;

  private constructor(session: ort.InferenceSession) {
    this.#session = session;
  }

  static async start(model: Uint8Array, attempts: ort.InferenceSession.SessionOptions[]): Promise<HostStart<InlineSessionHost>> {
    const started: SessionStart = await startSession(model, attempts);
    return started.ok ? { ...started, host: new InlineSessionHost(started.session) } : started;
  }

  current(): SessionHost {
    return this;
  }

  run(feeds: WireTensors, fetches: string[]): Promise<WireTensors> {
    return runSession(this.#session, feeds, fetches);
  }

  release(): Promise<void> {
    return this.#session.release();
  }
}

/**
 * The compiled worker entry. Compiled, this module sits beside it in dist/engines/. Run from the
 * TypeScript sources (vitest), it points at the compiled copy under the package root's dist/,
 * which `npm run build` writes (`npm test` builds first): a Node 20 worker cannot load .ts files.
 * A compiled copy older than its sources is refused rather than run stale.
 */
export function onnxWorkerEntry(): URL {
  if (!fileURLToPath(import.meta.url).endsWith('.ts')) return new URL('./onnx-worker.js', import.meta.url);
  const root = packageRoot();
  const built = join(root, 'dist', 'engines', 'onnx-worker.js');
  if (!existsSync(built)) {
    throw new Error(`the onnx worker entry ${built} is missing: run \`npm run build\` first (or use execution: 'inline')`);
  }
  const builtAt = statSync(built).mtimeMs;
  const newer = ['onnx-worker.ts', 'onnx-tensor.ts'].map((f) => join(root, 'engines', f))
    .filter((source) => existsSync(source) && statSync(source).mtimeMs > builtAt);
  if (newer.length > 0) {
    throw new Error(`the onnx worker entry ${built} is older than ${newer.join(', ')}: run \`npm run build\``);
  }
  return pathToFileURL(built);
}

interface PendingRun {
  resolve(outputs: WireTensors): void;
  reject(error: Error): void;
}

/**
 * The session on a worker thread of its own. The worker is unref'd while idle, so an idle
 * instance does not keep the process alive, and ref'd while a run or the release is pending.
 * One host is one worker's life: when the worker dies, the supervisor starts another host.
 *
 * Never terminate a worker that may be inside session.run: onnxruntime-node then throws a C++
 * exception while converting the outputs and the whole process aborts (1.30; the same happens when
 * the process exits with a run in flight). So release() waits for the worker to finish what it
 * was given and release the session, and only then terminates the now idle thread.
 */
class WorkerSessionHost implements SupervisedHost {
  readonly worker: Worker;
  gone: InferError | undefined;
  exit: WorkerExit | undefined;
  onExit: ((exit: WorkerExit) => void) | undefined;
  readonly #who: string;
  readonly #pending = new Map<number, PendingRun>();
  #nextId = 0;
  #crash: Error | undefined;
  #unloading = false;
  #onReleased: (() => void) | undefined;

  private constructor(worker: Worker, who: string) {
    this.worker = worker;
    this.#who = who;
    worker.on('message', (message: FromWorker) => this.#receive(message));
    worker.on('messageerror', (err: Error) => this.#failPending(new InferError('INTERNAL', `${who}: a result from its onnxruntime worker could not be read: ${err.message}`, 'engine_error')));
    worker.on('error', (err: Error) => { this.#crash = err; });
    worker.on('exit', (code: number) => this.#exited(code));
    worker.unref();
  }

  /** Starts a worker and its session; throws (without naming the instance) when the worker itself cannot start. */
  static async start(model: Uint8Array, attempts: ort.InferenceSession.SessionOptions[], who: string): Promise<HostStart<WorkerSessionHost>> {
    const entry = onnxWorkerEntry();
    // None of the parent's node flags are for the worker, and some (--input-type, --eval) stop a Worker from starting.
    const worker = new Worker(entry, { workerData: ONNX_WORKER_DATA, execArgv: [] });
    let first: FromWorker;
    try {
      first = await new Promise<FromWorker>((resolve, reject) => {
        const settle = (action: () => void) => {
          worker.off('message', onMessage).off('error', onError).off('exit', onExit);
          action();
        };
        const onMessage = (message: FromWorker) => settle(() => resolve(message));
        const onError = (err: Error) => settle(() => reject(err));
        const onExit = (code: number) => settle(() => reject(new Error(`it exited with code ${code}`)));
        worker.on('message', onMessage).on('error', onError).on('exit', onExit);
        // The loaded model keeps its bytes for the next instance (and restarts): send a compact copy and move that.
        const copy = new Uint8Array(model);
        worker.postMessage({ kind: 'start', model: copy, attempts } satisfies ToWorker, [copy.buffer]);
      });
    } catch (err) {
      await worker.terminate();
      throw new Error(`the onnxruntime worker did not start: ${(err as Error).message}`);
    }
    if (first.kind === 'ready') return { ok: true, host: new WorkerSessionHost(worker, who), attempt: first.attempt, failures: first.failures };
    await worker.terminate();
    if (first.kind === 'start-failed') return { ok: false, failures: first.failures };
    throw new Error(`the onnxruntime worker answered '${first.kind}' to start`);
  }

  run(feeds: WireTensors, fetches: string[], movable: boolean): Promise<WireTensors> {
    if (this.gone) return Promise.reject(this.gone);
    return new Promise<WireTensors>((resolve, reject) => {
      const id = this.#nextId++;
      const { tensors, transfer } = forTransfer(feeds, movable);
      this.#pending.set(id, { resolve, reject });
      if (this.#pending.size === 1) this.worker.ref();
      try {
        this.worker.postMessage({ kind: 'run', id, feeds: tensors, fetches } satisfies ToWorker, transfer);
      } catch (err) {
        this.#settle(id)?.reject(err as Error);
      }
    });
  }

  async release(): Promise<void> {
    if (this.gone) return;
    this.#unloading = true;
    this.worker.ref();
    // Resolved by 'released', or by the worker's exit if it dies on the way.
    await new Promise<void>((resolve) => {
      this.#onReleased = resolve;
      this.worker.postMessage({ kind: 'release' } satisfies ToWorker);
    });
    await this.worker.terminate();
  }

  #receive(message: FromWorker): void {
    switch (message.kind) {
      case 'result':
        this.#settle(message.id)?.resolve(message.outputs);
        return;
      case 'run-failed':
        this.#settle(message.id)?.reject(new Error(message.message));
        return;
      case 'released':
        this.#onReleased?.();
        return;
      default:
        return;
    }
  }

  #settle(id: number): PendingRun | undefined {
    const pending = this.#pending.get(id);
    this.#pending.delete(id);
    if (this.#pending.size === 0 && !this.#unloading) this.worker.unref();
    return pending;
  }

  #failPending(error: Error): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    if (!this.#unloading) this.worker.unref();
    for (const p of pending) p.reject(error);
  }

  #exited(code: number): void {
    if (this.#unloading) {
      this.gone = new InferError('UNAVAILABLE', `${this.#who} was unloaded`, 'unloaded');
    } else {
      const cause = this.#crash?.message;
      this.exit = cause === undefined ? { code } : { code, cause };
      this.gone = new InferError('INTERNAL', `${this.#who}: its onnxruntime worker exited (code ${code}${cause !== undefined ? `: ${cause}` : ''}); the instance restarts it`, 'engine_worker_exit');
      // Before the runs in flight fail, so that their callers find the replacement already on its way.
      this.onExit?.(this.exit);
    }
    this.#failPending(this.gone);
    this.#onReleased?.();
  }
}

export interface WorkerSupervision {
  /** The instance, as messages name it: "model 'm' instance 0 on card cpu". */
  who: string;
  policy: WorkerRestartPolicy;
  /** Starts a replacement host: a new worker and session. Rejects with an Error that says why not. */
  startHost: () => Promise<SupervisedHost>;
  log: (message: string) => void;
  /** The clock for uptimes, in ms (default performance.now). */
  now?: () => number;
}

/**
 * Keeps an instance's worker alive, as a serving system restarts a crashed instance. When the live
 * host's worker dies on its own, a replacement starts after restartDelayMs (a timer that does not
 * hold the process open); current() waits for it. When a replacement cannot start, the executes
 * waiting for it fail with INTERNAL and the next current() starts another after the backoff; none
 * starts without a caller, so a model that can no longer start costs nothing while unused.
 *
 * release() ends it: a pending delay is cancelled, and a start under way is let finish (stopping a
 * thread inside onnxruntime is what aborts a process) and its host released.
 */
export class WorkerHostSupervisor implements HostSource {
  readonly #who: string;
  readonly #policy: WorkerRestartPolicy;
  readonly #log: (message: string) => void;
  readonly #now: () => number;
  /** Undefined once released: the model bytes it holds go with it. */
  #startHost: (() => Promise<SupervisedHost>) | undefined;
  /** The live host; undefined while a replacement is due. */
  #host: SupervisedHost | undefined;
  #upSince = 0;
  /** Failures in a row: deaths of workers that did not stay up resetAfterMs, and failed starts. */
  #failures = 0;
  /** When the next start may begin. */
  #startAt = 0;
  /** The replacement on its way (waiting out its delay, or starting); it never rejects. */
  #replacement: Promise<SessionHost | InferError> | undefined;
  #delay: { timer: NodeJS.Timeout; end: () => void } | undefined;
  #restarts = 0;
  #released = false;

  constructor(first: SupervisedHost, supervision: WorkerSupervision) {
    this.#who = supervision.who;
    this.#policy = supervision.policy;
    this.#log = supervision.log;
    this.#now = supervision.now ?? (() => performance.now());
    this.#startHost = supervision.startHost;
    this.#adopt(first);
  }

  get worker(): Worker | undefined {
    return this.#host?.worker;
  }

  /** Replacement workers started so far. */
  get restarts(): number {
    return this.#restarts;
  }

  current(): SessionHost | Promise<SessionHost> {
    if (this.#released) return Promise.reject(this.#unloaded());
    if (this.#host && !this.#host.gone) return this.#host;
    this.#replacement ??= this.#replace(Math.max(0, this.#startAt - this.#now()));
    // An execute waits on the delay now: like a pending run, it keeps the process alive.
    this.#delay?.timer.ref();
    return this.#replacement.then((next) => {
      if (next instanceof InferError) throw next;
      return next;
    });
  }

  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    this.#delay?.end();
    await this.#replacement;
    const host = this.#host;
    this.#host = undefined;
    this.#startHost = undefined;
    await host?.release();
  }

  #adopt(host: SupervisedHost): void {
    this.#host = host;
    this.#upSince = this.#now();
    host.onExit = (exit) => this.#exited(host, exit);
    if (host.exit) this.#exited(host, host.exit);
  }

  #exited(host: SupervisedHost, exit: WorkerExit): void {
    if (host !== this.#host || this.#released) return;
    this.#host = undefined;
    const now = this.#now();
    if (now - this.#upSince >= this.#policy.resetAfterMs) this.#failures = 0;
    this.#failures++;
    const delayMs = restartDelayMs(this.#policy, this.#failures);
    this.#startAt = now + delayMs;
    this.#report(`${this.#who}: its onnxruntime worker exited (code ${exit.code}${exit.cause !== undefined ? `: ${exit.cause}` : ''}); restarting it in ${delayMs} ms`);
    // Right away, not on the next execute: the replacement is warm by the time work arrives. (A
    // replacement still pending here is the one that adopted this host, which died at birth.)
    this.#replacement = this.#replace(delayMs);
  }

  /** Waits `delayMs`, then starts a replacement: the new live host, or the error for whoever waits. */
  #replace(delayMs: number): Promise<SessionHost | InferError> {
    const replacement = this.#startAfter(delayMs);
    void replacement.then(() => {
      if (this.#replacement === replacement) this.#replacement = undefined;
    });
    return replacement;
  }

  async #startAfter(delayMs: number): Promise<SessionHost | InferError> {
    if (delayMs > 0) {
      await new Promise<void>((resolve) => {
        const end = () => {
          clearTimeout(timer);
          this.#delay = undefined;
          resolve();
        };
        const timer = setTimeout(end, delayMs);
        timer.unref();
        this.#delay = { timer, end };
      });
    }
    const startHost = this.#startHost;
    if (this.#released || !startHost) return this.#unloaded();
    let host: SupervisedHost;
    try {
      host = await startHost();
    } catch (err) {
      if (this.#released) return this.#unloaded();
      const cause = err instanceof Error ? err.message : String(err);
      this.#failures++;
      const retryMs = restartDelayMs(this.#policy, this.#failures);
      this.#startAt = this.#now() + retryMs;
      this.#report(`${this.#who}: its onnxruntime worker could not be restarted (${cause}); the next execute tries again, ${retryMs} ms from now at the earliest`);
      return new InferError('INTERNAL', `${this.#who}: its onnxruntime worker could not be restarted: ${cause}`, 'engine_worker_restart');
    }
    if (this.#released) {
      try {
        await host.release();
      } catch {
        // Nobody is left to tell; release() must still resolve.
      }
      return this.#unloaded();
    }
    this.#restarts++;
    this.#adopt(host);
    return host.gone ?? host;
  }

  #unloaded(): InferError {
    return new InferError('UNAVAILABLE', `${this.#who} was unloaded`, 'unloaded');
  }

  /** A logger that throws must not take the restart (or, from a worker's exit event, the process) with it. */
  #report(message: string): void {
    try {
      this.#log(message);
    } catch {
      // The restart matters more than its log line.
    }
  }
}

interface InstanceSetup {
  execution: OnnxExecution;
  intraOpNumThreads: number;
  executionProviders: string[];
  providerFailures: string[];
}

/** Requests whose inputs agree on everything but the batch dim, run as one. */
interface RunGroup {
  indices: number[];
}

export class OnnxModelInstance implements ModelInstance {
  readonly card: Card;
  readonly index: number;
  readonly execution: OnnxExecution;
  readonly intraOpNumThreads: number;
  /** The providers the session started with (after any fallback), best first. */
  readonly executionProviders: readonly string[];
  /** Provider lists tried before this one, with onnxruntime's reason: for the node's log. */
  readonly providerFailures: readonly string[];
  /** Calls of session.run so far; a batch of compatible requests costs one. */
  runs = 0;
  readonly #hosts: HostSource;
  readonly #declaration: ModelDeclaration;
  readonly #version: string;
  readonly #inputs: Map<string, TensorDeclaration>;
  readonly #outputs: Map<string, TensorDeclaration>;
  readonly #onUnload: () => void;
  #released = false;

  constructor(card: Card, index: number, hosts: HostSource, spec: ModelLoadSpec, setup: InstanceSetup, onUnload: () => void) {
    this.card = card;
    this.index = index;
    this.execution = setup.execution;
    this.intraOpNumThreads = setup.intraOpNumThreads;
    this.executionProviders = setup.executionProviders;
    this.providerFailures = setup.providerFailures;
    this.#hosts = hosts;
    this.#declaration = spec.declaration;
    this.#version = spec.version;
    this.#inputs = new Map(spec.declaration.inputs.map((t) => [t.name, t]));
    this.#outputs = new Map(spec.declaration.outputs.map((t) => [t.name, t]));
    this.#onUnload = onUnload;
  }

  /**
   * The worker thread that runs this instance's session now (worker mode), for health checks and
   * tests; undefined inline, and while a replacement for a dead worker is on its way.
   */
  get worker(): Worker | undefined {
    return this.#hosts.worker;
  }

  /** Workers started to replace one that died. */
  get restarts(): number {
    return this.#hosts.restarts;
  }

  async execute(batch: InferRequest[]): Promise<ExecuteResult[]> {
    if (this.#released) throw new Error(`instance ${this.index} of model '${this.#declaration.name}' on card ${this.card.id} was unloaded`);
    // One host for the whole execute: if its worker dies midway, the rest of the batch fails with it.
    const host = await this.#hosts.current();
    const results: (ExecuteResult | undefined)[] = new Array(batch.length);
    const runnable: number[] = [];
    batch.forEach((req, i) => {
      const problem = this.#check(req);
      if (problem) results[i] = problem;
      else runnable.push(i);
    });
    for (const group of this.#group(batch, runnable)) {
      if (group.indices.length > 1) {
        const out = await this.#runBatched(host, group.indices.map((i) => batch[i]));
        if (out) {
          group.indices.forEach((i, k) => { results[i] = out[k]; });
          continue;
        }
        // The batched run failed: run each request alone so that one bad request fails alone.
      }
      for (const i of group.indices) results[i] = await this.#runOne(host, batch[i]);
    }
    return results as ExecuteResult[];
  }

  async unload(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    this.#onUnload();
    await this.#hosts.release();
  }

  /** What the engine itself must refuse; the front door has checked shapes already. */
  #check(req: InferRequest): InferError | undefined {
    for (const t of req.inputs) {
      const declared = this.#inputs.get(t.name);
      if (!declared) return invalidArg(`model '${this.#declaration.name}' has no input '${t.name}'`);
      if (ORT_TYPES[t.datatype] === undefined) {
        return unsupported(`input '${t.name}': ${t.datatype} tensors are not supported by onnxruntime-node`, 'unsupported_datatype');
      }
      if (t.datatype !== declared.datatype) {
        return invalidArg(`input '${t.name}' is ${t.datatype} but the model expects ${declared.datatype}`);
      }
      if (elementCount(t.shape) !== t.data.length) {
        return invalidArg(`input '${t.name}' has ${t.data.length} elements for shape ${describeShape(t.shape)}`);
      }
    }
    for (const name of this.#inputs.keys()) {
      if (!req.inputs.some((t) => t.name === name)) return invalidArg(`input '${name}' is missing`);
    }
    for (const o of req.outputs ?? []) {
      if (!this.#outputs.has(o.name)) return invalidArg(`model '${this.#declaration.name}' has no output '${o.name}'`);
    }
    return undefined;
  }

  #group(batch: InferRequest[], runnable: number[]): RunGroup[] {
    const maxBatch = this.#declaration.max_batch_size;
    if (maxBatch <= 0) return runnable.map((i) => ({ indices: [i] }));
    const open = new Map<string, { group: RunGroup; rows: number }>();
    const groups: RunGroup[] = [];
    for (const i of runnable) {
      const req = batch[i];
      const rows = req.inputs[0]?.shape[0] ?? 0;
      const key = batchKey(req);
      const current = key === undefined ? undefined : open.get(key);
      if (current && current.rows + rows <= maxBatch) {
        current.group.indices.push(i);
        current.rows += rows;
        continue;
      }
      const group = { indices: [i] };
      groups.push(group);
      if (key !== undefined) open.set(key, { group, rows });
    }
    return groups;
  }

  /** Output names one request gets, in its order: as requested, or as declared; each once. */
  #wanted(req: InferRequest): string[] {
    return [...new Set((req.outputs ?? this.#declaration.outputs).map((o) => o.name))];
  }

  #fetchNames(requests: InferRequest[]): string[] {
    return [...new Set(requests.flatMap((r) => this.#wanted(r)))];
  }

  /** One session run. A host that is gone fails the whole execute, not one request's slot. */
  async #run(host: SessionHost, feeds: WireTensors, fetches: string[], movable: boolean): Promise<Tensor[]> {
    this.runs++;
    try {
      const out = await host.run(feeds, fetches, movable);
      return fetches.map((name) => fromWireTensor(name, out[name]));
    } catch (err) {
      if (host.gone) throw host.gone;
      throw err;
    }
  }

  async #runOne(host: SessionHost, req: InferRequest): Promise<ExecuteResult> {
    let feeds: WireTensors;
    try {
      feeds = Object.fromEntries(req.inputs.map((t) => [t.name, toWireTensor(t)]));
    } catch (err) {
      return asInferError(err);
    }
    const fetches = this.#fetchNames([req]);
    let tensors: Tensor[];
    try {
      // The request's arrays are the caller's: a worker gets copies.
      tensors = await this.#run(host, feeds, fetches, false);
    } catch (err) {
      if (host.gone) throw err;
      return runtimeError(err);
    }
    return this.#response(req, tensors);
  }

  /** Concatenates along dim 0, runs once and splits; undefined when the batched run failed. */
  async #runBatched(host: SessionHost, requests: InferRequest[]): Promise<ExecuteResult[] | undefined> {
    const rows = requests.map((r) => r.inputs[0].shape[0]);
    const total = rows.reduce((a, b) => a + b, 0);
    let feeds: WireTensors;
    try {
      feeds = Object.fromEntries(requests[0].inputs.map((first) => {
        const parts = requests.map((r) => r.inputs.find((t) => t.name === first.name)!);
        return [first.name, toWireTensor(concatRows(parts, total))];
      }));
    } catch {
      return undefined;
    }
    const fetches = this.#fetchNames(requests);
    let tensors: Tensor[];
    try {
      // The concatenations are this run's own: a worker may take them.
      tensors = await this.#run(host, feeds, fetches, true);
    } catch (err) {
      if (host.gone) throw err;
      return undefined;
    }
    if (tensors.some((t) => t.shape[0] !== total)) return undefined;
    let offset = 0;
    return requests.map((req, k) => {
      const mine = this.#wanted(req).map((name) => sliceRows(tensors.find((t) => t.name === name)!, offset, rows[k]));
      offset += rows[k];
      return this.#response(req, mine);
    });
  }

  #response(req: InferRequest, outputs: Tensor[]): InferResponse {
    const response: InferResponse = { modelName: this.#declaration.name, modelVersion: this.#version, outputs };
    if (req.id !== undefined) response.id = req.id;
    return response;
  }
}

/** Requests batch together when every input matches in name, datatype and all dims but the first. */
function batchKey(req: InferRequest): string | undefined {
  const rows = req.inputs[0]?.shape[0];
  if (rows === undefined || req.inputs.some((t) => t.shape.length === 0 || t.shape[0] !== rows)) return undefined;
  return [...req.inputs]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((t) => `${t.name}:${t.datatype}:${t.shape.slice(1).join('x')}`)
    .join('|');
}

function runtimeError(err: unknown): InferError {
  if (err instanceof InferError) return err;
  return new InferError('INTERNAL', `onnxruntime: ${err instanceof Error ? err.message : String(err)}`, 'engine_error');
}

function concatRows(parts: Tensor[], totalRows: number): Tensor {
  const first = parts[0];
  const shape = [totalRows, ...first.shape.slice(1)];
  if (first.datatype === 'BYTES') {
    return { name: first.name, datatype: first.datatype, shape, data: parts.flatMap((p) => p.data as Uint8Array[]) };
  }
  const length = parts.reduce((n, p) => n + p.data.length, 0);
  const data = new (arrayConstructorFor(first.datatype))(length);
  let offset = 0;
  for (const p of parts) {
    (data as { set(a: ArrayLike<number | bigint>, o: number): void }).set(p.data as NumericArray, offset);
    offset += p.data.length;
  }
  return { name: first.name, datatype: first.datatype, shape, data };
}

function sliceRows(t: Tensor, startRow: number, rows: number): Tensor {
  const rowSize = t.shape.slice(1).reduce((a, b) => a * b, 1);
  const data = t.data.slice(startRow * rowSize, (startRow + rows) * rowSize) as TensorData;
  return { name: t.name, datatype: t.datatype, shape: [rows, ...t.shape.slice(1)], data };
}
