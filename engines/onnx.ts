/**
 * The ONNX engine on onnxruntime-node. One InferenceSession per instance; the execution providers
 * come from the card's engine options (onnx-providers.ts), so CUDA, TensorRT or an NPU provider are
 * a card-table change, not a code change.
 *
 * onnxruntime-node runs a session on the calling JavaScript thread: `session.run` blocks that
 * thread for the whole inference. So, as Triton gives each model instance a thread of its own,
 * each instance here gets its own worker thread by default (`execution: 'worker'`, see
 * onnx-session-host.ts and onnx-worker.ts): the server's event loop stays free and the instances
 * of a process run at once. `execution: 'inline'` keeps the session on the caller's thread (no
 * message round trip; the instances of a process take turns).
 *
 * execute() batches on its own (row-batching.ts): requests whose inputs agree on every dim but the
 * first are concatenated along dim 0 (up to max_batch_size rows), run once and split back. A
 * request the engine refuses, or whose run fails, gets an InferError in its slot; the others still
 * answer.
 *
 * A worker that dies (a crash, out of memory, terminated) fails the execute in flight with
 * INTERNAL, and the instance restarts it: a new worker and session from the same model bytes and
 * session options, after an exponential backoff so that a model that kills its worker on every run
 * does not spin (WorkerSupervisor, worker-supervisor.ts). An execute that arrives meanwhile waits
 * for the replacement.
 *
 * One sharp edge of onnxruntime-node (1.30): a worker thread stopped while inside session.run —
 * Worker.terminate(), or process.exit() with a run in flight — aborts the whole process. So
 * unload() lets the worker finish and release its session before ending it, and a process should
 * drain its instances (ModelExecutor.close) before it exits.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { Worker } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import type { Card } from '../adapters/card.js';
import { asInferError, InferError } from '../core/errors.js';
import type { ModelDeclaration } from '../core/model-declaration.js';
import type { ModelMetadata } from '../core/model-metadata.js';
import { formatShape } from '../core/request-validation.js';
import type { InferRequest, Tensor } from '../core/tensor.js';
import type { Engine, ExecuteResult, RunObserver, InstanceRuntime, LoadedModel, ModelInstance, ModelLoadSpec } from './engine.js';
import { graphRanks } from './onnx-graph-ranks.js';
import { DEFAULT_ORT_LOG_SEVERITY, isOrtLogSeverity, ortEnvLogLevel, type OrtLogSeverity } from './onnx-log-level.js';
import {
  availableExecutionProviders, defaultIntraOpThreads, executionProvidersOf, providerFallbacks, providerName,
  registeredProviders, withoutUnregistered, type ExecutionProvider,
} from './onnx-providers.js';
import { InlineSessionHost, WorkerSessionHost, type HostStart, type SessionHost } from './onnx-session-host.js';
import { checkSignature } from './onnx-signature.js';
import { fromWireTensor, ORT_TYPES, toWireTensor, type WireTensors } from './onnx-tensor.js';
import { DeclaredRequests } from './declared-requests.js';
import { concatInputs, executeByRows, runRows, splitRows } from './row-batching.js';
import {
  DEFAULT_WORKER_RESTART_BACKOFF_MS, DEFAULT_WORKER_RESTART_MAX_BACKOFF_MS, DEFAULT_WORKER_RESTART_RESET_AFTER_MS,
  WorkerSupervisor, type HostSource, type WorkerRestartPolicy,
} from './worker-supervisor.js';

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
  /**
   * The least severe onnxruntime message written to stderr: 0 verbose … 3 error, 4 fatal (default
   * DEFAULT_ORT_LOG_SEVERITY, errors only; `ortLogSeverityFor` maps the server's log level).
   */
  logSeverityLevel?: OrtLogSeverity;
}

export class OnnxEngine implements Engine {
  readonly name = 'onnx';
  readonly #available: ReadonlySet<string>;
  readonly #cpuCount: number;
  readonly #execution: OnnxExecution;
  readonly #restartPolicy: WorkerRestartPolicy;
  readonly #log: (message: string) => void;
  readonly #logSeverity: OrtLogSeverity;

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
    this.#logSeverity = options.logSeverityLevel ?? DEFAULT_ORT_LOG_SEVERITY;
    if (!isOrtLogSeverity(this.#logSeverity)) {
      throw new Error(`onnx engine: logSeverityLevel must be 0 (verbose) to 4 (fatal), got ${String(options.logSeverityLevel)}`);
    }
    // Read by onnxruntime once, at this thread's first session (workers set their own, onnx-worker.ts).
    ort.env.logLevel = ortEnvLogLevel(this.#logSeverity);
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
      probe = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'disabled', intraOpNumThreads: 1, logSeverityLevel: this.#logSeverity });
    } catch (err) {
      throw new Error(`model '${spec.declaration.name}': onnxruntime cannot load ${spec.modelPath}: ${(err as Error).message}`);
    }
    try {
      const problems = checkSignature(spec.declaration, probe, graphRanks(bytes));
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
      logSeverity: this.#logSeverity,
    });
  }
}

interface LoadedModelSetup {
  cpuCount: number;
  available: ReadonlySet<string>;
  execution: OnnxExecution;
  restartPolicy: WorkerRestartPolicy;
  log: (message: string) => void;
  logSeverity: OrtLogSeverity;
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
    const wanted = providerFallbacks(card, this.#setup.available);
    if (wanted.length === 0) {
      throw new Error(`${who}: none of its execution providers [${executionProvidersOf(card).map(providerName).join(', ')}] is in this onnxruntime build (available: ${[...this.#setup.available].join(', ')})`);
    }
    // onnxruntime's JavaScript layer drops a provider it has no backend for and starts without it,
    // saying so only on the console: drop it here instead, where the instance can report it.
    const registered = registeredProviders();
    const { attempts, dropped } = withoutUnregistered(wanted, registered);
    if (attempts.length === 0) {
      throw new Error(`${who}: no session could start: ${dropped.join('; ')}`);
    }
    const options = attempts.map((providers): ort.InferenceSession.SessionOptions => ({
      executionProviders: providers as ort.InferenceSession.ExecutionProviderConfig[],
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      // Idle intra-op threads sleep instead of spinning: a spinning pool burns about a core per
      // model between runs, taken from the other models of the node (bench/isolation.ts).
      extra: ORT_NO_SPINNING,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      logSeverityLevel: this.#setup.logSeverity,
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
    let hosts: HostSource<SessionHost>;
    if (started.host instanceof WorkerSessionHost) {
      // A replacement starts with the options that worked, not the fallback list: a restart that
      // quietly lands on another provider would make the card's coefficient a lie.
      const again = [options[started.attempt]];
      const providers = attempts[started.attempt].map(providerName).join(', ');
      hosts = new WorkerSupervisor(started.host, {
        who,
        workerNoun: 'onnxruntime worker',
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
    const runsOn = attempts[started.attempt].map(providerName);
    const fellBack = [...dropped, ...failures];
    if (fellBack.length > 0) this.#setup.log(`${who} runs on [${runsOn.join(', ')}], not [${wanted[0].map(providerName).join(', ')}] as its card asks: ${fellBack.join('; ')}`);
    const instance: OnnxModelInstance = new OnnxModelInstance(card, index, hosts, this.#spec, {
      execution: this.#setup.execution,
      intraOpNumThreads: threads,
      executionProviders: runsOn,
      providerFailures: fellBack,
    }, () => this.#instances.delete(instance));
    this.#instances.add(instance);
    return instance;
  }

  async unload(): Promise<void> {
    await Promise.all([...this.#instances].map((i) => i.unload()));
    this.#bytes = undefined;
  }
}

interface InstanceSetup {
  execution: OnnxExecution;
  intraOpNumThreads: number;
  executionProviders: string[];
  providerFailures: string[];
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
  /** What the instance runs on: degraded when a provider its card asks for did not start. */
  readonly runtime: InstanceRuntime;
  /** Calls of session.run so far; a batch of compatible requests costs one. */
  runs = 0;
  readonly #hosts: HostSource<SessionHost>;
  readonly #declaration: ModelDeclaration;
  readonly #version: string;
  readonly #requests: DeclaredRequests;
  readonly #onUnload: () => void;
  #released = false;

  constructor(card: Card, index: number, hosts: HostSource<SessionHost>, spec: ModelLoadSpec, setup: InstanceSetup, onUnload: () => void) {
    this.card = card;
    this.index = index;
    this.execution = setup.execution;
    this.intraOpNumThreads = setup.intraOpNumThreads;
    this.executionProviders = setup.executionProviders;
    this.providerFailures = setup.providerFailures;
    this.runtime = {
      providers: [...setup.executionProviders],
      degraded: setup.providerFailures.length > 0,
      ...(setup.providerFailures.length > 0 ? { reason: setup.providerFailures.join('; ') } : {}),
    };
    this.#hosts = hosts;
    this.#declaration = spec.declaration;
    this.#version = spec.version;
    this.#requests = new DeclaredRequests(spec.declaration, spec.version, 'onnxruntime-node', (d) => ORT_TYPES[d] !== undefined);
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

  async execute(batch: InferRequest[], onRun?: RunObserver): Promise<ExecuteResult[]> {
    if (this.#released) throw new Error(`instance ${this.index} of model '${this.#declaration.name}' on card ${this.card.id} was unloaded`);
    // One host for the whole execute: if its worker dies midway, the rest of the batch fails with it.
    const host = await this.#hosts.current();
    return executeByRows(
      batch,
      this.#declaration.max_batch_size,
      (req) => this.#requests.check(req),
      (requests) => this.#runBatched(host, requests, onRun),
      (req) => this.#runOne(host, req, onRun),
    );
  }

  async unload(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    this.#onUnload();
    await this.#hosts.release();
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

  async #runOne(host: SessionHost, req: InferRequest, onRun: RunObserver | undefined): Promise<ExecuteResult> {
    let feeds: WireTensors;
    try {
      feeds = Object.fromEntries(req.inputs.map((t) => [t.name, toWireTensor(t)]));
    } catch (err) {
      return asInferError(err);
    }
    const fetches = this.#requests.wantedByAny([req]);
    let tensors: Tensor[];
    const startedAt = performance.now();
    try {
      // The request's arrays are the caller's: a worker gets copies.
      tensors = await this.#run(host, feeds, fetches, false);
    } catch (err) {
      if (host.gone) throw err;
      return runtimeError(err, req);
    }
    onRun?.(runRows(this.#declaration, [req]), performance.now() - startedAt);
    return this.#requests.response(req, tensors);
  }

  /** Concatenates along dim 0, runs once and splits; undefined when the batched run failed. */
  async #runBatched(host: SessionHost, requests: InferRequest[], onRun: RunObserver | undefined): Promise<ExecuteResult[] | undefined> {
    let feeds: WireTensors;
    try {
      feeds = Object.fromEntries(concatInputs(requests).map((t) => [t.name, toWireTensor(t)]));
    } catch {
      return undefined;
    }
    const fetches = this.#requests.wantedByAny(requests);
    let tensors: Tensor[];
    const startedAt = performance.now();
    try {
      // The concatenations are this run's own: a worker may take them.
      tensors = await this.#run(host, feeds, fetches, true);
    } catch (err) {
      if (host.gone) throw err;
      return undefined;
    }
    const parts = splitRows(requests, new Map(tensors.map((t) => [t.name, t])), (req) => this.#requests.wanted(req));
    // A run whose outputs cannot be split is retried request by request: it does not count.
    if (parts) onRun?.(runRows(this.#declaration, requests), performance.now() - startedAt);
    return parts?.map((mine, k) => this.#requests.response(requests[k], mine));
  }

}

/**
 * A failed run as an InferError. onnxruntime-node throws plain Errors with no status code, so its
 * message decides, conservatively: the session's own checks of the feeds (rank, fixed dims, element
 * type) and a kernel's shape check (inputs whose variable dims disagree: the declaration cannot say
 * that two -1 dims must agree) are the client's error, INVALID_ARG. Anything else (a failed
 * allocation, a kernel failing for another reason) stays INTERNAL with onnxruntime's text.
 */
function runtimeError(err: unknown, req: InferRequest): InferError {
  if (err instanceof InferError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return feedRejection(message) ?? kernelShapeFailure(message, req)
    ?? new InferError('INTERNAL', `onnxruntime: ${message}`, 'engine_error');
}

/** onnxruntime's checks of a feed against the graph's input (InferenceSession::ValidateInputs). */
/** onnxruntime session config entries session.{intra,inter}_op.allow_spinning = 0. */
export const ORT_NO_SPINNING = { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } } as const;

const FEED_CHECK = /^(?:Invalid rank for input|Got invalid dimensions for input): (\S+)/;
const FEED_TYPE_CHECK = /^Unexpected input data type\b/;
/** How onnxruntime reports a kernel that failed during the run. */
const KERNEL_FAILURE = /^Non-zero status code returned while running (\S+) node\. Name:'([^']*)' Status Message: ([\s\S]*)$/;
/** A kernel's complaint about shapes, and not about resources. */
const SHAPE_COMPLAINT = /broadcast|dimension|shape|rank|axis|dims\b/i;
const RESOURCE_COMPLAINT = /alloc|memory|out of|cuda|device/i;

function feedRejection(message: string): InferError | undefined {
  const text = plainOnnxText(message.replace(/ ?Please fix either the inputs\/outputs or the model\.?/, ''));
  const input = FEED_CHECK.exec(message)?.[1];
  if (input !== undefined) return new InferError('INVALID_ARG', `input '${input}': onnxruntime refused it: ${text}`, 'engine_rejected_input');
  if (FEED_TYPE_CHECK.test(message)) return new InferError('INVALID_ARG', `onnxruntime refused an input: ${text}`, 'engine_rejected_input');
  return undefined;
}

function kernelShapeFailure(message: string, req: InferRequest): InferError | undefined {
  const failure = KERNEL_FAILURE.exec(message);
  if (failure === null) return undefined;
  const [, op, node, status] = failure;
  const detail = kernelDetail(status);
  if (!SHAPE_COMPLAINT.test(detail) || RESOURCE_COMPLAINT.test(detail)) return undefined;
  const shapes = req.inputs.map((t) => `'${t.name}' ${formatShape(t.shape)}`).join(', ');
  return new InferError(
    'INVALID_ARG',
    `the model cannot run these input shapes together (${shapes}): onnxruntime's ${op} node '${node}' failed: ${detail}`,
    'engine_rejected_input',
  );
}

/**
 * A kernel's status message without its C++ source location: "element_wise_ops.h:563 void
 * onnxruntime::BroadcastIterator::Init(...) axis == 1 was false. Attempting to broadcast..." says
 * "Attempting to broadcast...".
 */
function kernelDetail(status: string): string {
  const enforced = status.indexOf(' was false. ');
  const detail = enforced >= 0 ? status.slice(enforced + ' was false. '.length) : status.replace(/^\S+\.(?:h|cc|cpp):\d+ /, '');
  return plainOnnxText(detail);
}

/** onnxruntime's multi-line text on one line. */
function plainOnnxText(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
