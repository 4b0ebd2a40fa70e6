/**
 * Runs requests of one model version on its instances: a queue bounded by the declaration's
 * max_queue_size, kept by priority level then arrival, and a dispatcher that hands each free
 * instance the batch the planner (batch-planner.ts) chooses: requests of one shape, at most
 * max_batch_size rows in all, held up to max_queue_delay for a fuller batch when the declaration
 * asks for dynamic batching. An instance never runs two batches at once.
 *
 * A request whose signal aborts while it waits (its client went away, its deadline passed) leaves
 * the queue at once and never reaches an instance; one already running is not interrupted, and
 * whoever aborted it has stopped waiting for its result.
 */
import type { Cancellation } from '../core/cancellation.js';
import { InferError, asInferError } from '../core/errors.js';
import type { ModelMetadata } from '../core/model-metadata.js';
import { RequestTally, toModelStatistics, type ModelStatistics } from '../core/model-statistics.js';
import type { InferRequest, InferResponse } from '../core/tensor.js';
import type { ModelDeclaration } from '../core/model-declaration.js';
import { PRIORITY_PARAMETER } from '../core/request-parameters.js';
import type { ModelInstance } from '../engines/engine.js';
import { batchKey } from '../engines/row-batching.js';
import { planBatch, type BatchPolicy, type PlanEntry } from './batch-planner.js';
import { ExecutionTally } from './execution-tally.js';
import type { LoadMeter } from './load-meter.js';

export interface RequestOutcome {
  ok: boolean;
  reason?: string;
  queueMs: number;
  computeMs: number;
  totalMs: number;
  batchSize: number;
  /** Position in its batch; 0 for exactly one request of every execution. */
  batchIndex: number;
  /** Model runs the engine made for this request's batch (0 when none succeeded); set on batchIndex 0. */
  runs: number;
}

export type OutcomeObserver = (model: string, version: string, outcome: RequestOutcome) => void;

export interface ExecuteOptions {
  /** Absolute deadline (Date.now() clock): a request still queued past it is not run. */
  deadlineMs?: number;
  /** Calls the request off; its reason (an InferError) is what the caller gets, at once. */
  cancellation?: Cancellation;
}

interface Pending extends PlanEntry {
  request: InferRequest;
  acceptedAt: number;
  /** Still waiting in the queue: not yet taken by an instance, not cancelled. */
  queued: boolean;
  rows: number;
  key: string | undefined;
  enqueuedMs: number;
  /** Queue timeout or deadline, on the performance.now() clock. */
  expiresMs: number | undefined;
  /** 1 is served first. */
  priority: number;
  /** Answers it at its queue timeout. */
  timer?: NodeJS.Timeout;
  /** Its caller has its answer already (cancelled while running): the result is dropped. */
  settled: boolean;
  resolve(response: InferResponse): void;
  reject(error: InferError): void;
}

/**
 * Queue depth of a model whose declaration leaves it unlimited (max_queue_size: 0), unless the node
 * says otherwise (--max-queue-depth): no queue on a node grows without bound.
 */
export const DEFAULT_MAX_QUEUE_DEPTH = 1024;
/** Least Retry-After of a queue_full answer; the estimate below it would only bring the client back into a full queue. */
export const MIN_QUEUE_FULL_RETRY_AFTER_MS = 100;
/** Service time assumed before the first execution finished (for Retry-After only). */
const UNMEASURED_SERVICE_MS = 100;
/** Weight of the newest execution in the service time the Retry-After estimate uses. */
const SERVICE_EWMA_ALPHA = 0.2;

export interface ExecutorOptions {
  /** 0 = unlimited (a node never passes 0: see executorOptions). */
  maxQueueSize: number;
  /** Rows one execution may take; 0: the model has no batch dim (one request per execution). */
  maxBatchSize: number;
  /** Declared dynamic batching; undefined: a free instance runs what is queued at once. */
  batching?: DynamicBatchingOptions;
}

/** The declaration's dynamic_batching in the executor's units. */
export interface DynamicBatchingOptions {
  maxQueueDelayMs: number;
  preferredBatchSizes: number[];
  /** A request still queued after this long is answered with DEADLINE_EXCEEDED; 0: no limit. */
  queueTimeoutMs: number;
  /** Priority levels, 1 served first; 0: the request's priority parameter is ignored. */
  priorityLevels: number;
  defaultPriorityLevel: number;
}

/**
 * What the executor of a declared model is told: limits and batching, in milliseconds. A queue the
 * declaration leaves unlimited (0) gets the node's `maxQueueDepth` (--max-queue-depth).
 */
export function executorOptions(declaration: ModelDeclaration, maxQueueDepth = DEFAULT_MAX_QUEUE_DEPTH): ExecutorOptions {
  const db = declaration.dynamic_batching;
  const bounded = (size: number) => (size > 0 ? size : maxQueueDepth);
  if (!db) return { maxQueueSize: bounded(declaration.max_queue_size), maxBatchSize: declaration.max_batch_size };
  return {
    maxQueueSize: bounded(db.max_queue_size ?? declaration.max_queue_size),
    maxBatchSize: declaration.max_batch_size,
    batching: {
      maxQueueDelayMs: db.max_queue_delay_us / 1000,
      preferredBatchSizes: [...(db.preferred_batch_sizes ?? [])].sort((a, b) => a - b),
      queueTimeoutMs: (db.default_queue_timeout_us ?? 0) / 1000,
      priorityLevels: db.priority_levels ?? 0,
      defaultPriorityLevel: db.default_priority_level ?? db.priority_levels ?? 0,
    },
  };
}

export class ModelExecutor {
  readonly #idle: ModelInstance[];
  readonly #instances: ModelInstance[];
  readonly #policy: BatchPolicy;
  /** Kept by priority, then arrival; taken and cancelled entries stay until the head passes them. */
  #queue: Pending[] = [];
  #queueHead = 0;
  /** Requests queued and not cancelled (cancelled ones stay in #queue until the head passes them). */
  #waiting = 0;
  #closed = false;
  #running = 0;
  /** Wakes the dispatcher when a batch held for a fuller one has waited max_queue_delay. */
  #delayTimer: NodeJS.Timeout | undefined;
  #delayUntil = Infinity;
  /** Recent time of one execution (EWMA), for the Retry-After of a queue_full answer. */
  #serviceMs: number | undefined;
  /** Requests this executor answered, and those of them that failed (for the operator view). */
  answered = 0;
  failed = 0;
  /**
   * The statistics extension's figures. Requests are counted by whoever hands them over whole
   * (decoding and encoding included, failures before the queue too: NodeTarget); executions here.
   */
  readonly requests = new RequestTally();
  readonly executions = new ExecutionTally();
  #drainWaiters: Array<() => void> = [];

  constructor(
    readonly metadata: ModelMetadata,
    readonly version: string,
    instances: ModelInstance[],
    private readonly options: ExecutorOptions,
    private readonly meter: LoadMeter,
    private readonly observe: OutcomeObserver = () => {},
  ) {
    this.#instances = instances;
    this.#idle = [...instances];
    this.#policy = {
      maxBatchSize: options.maxBatchSize,
      preferredBatchSizes: options.batching?.preferredBatchSizes ?? [],
      maxQueueDelayMs: options.batching?.maxQueueDelayMs ?? 0,
    };
  }

  get slots(): number {
    return this.#instances.length;
  }

  /** The instances that run this version (what each runs on: `runtime`). */
  get instances(): readonly ModelInstance[] {
    return this.#instances;
  }

  get queueDepth(): number {
    return this.#waiting;
  }

  /** False once closing: new requests are refused. */
  get accepting(): boolean {
    return !this.#closed;
  }

  get inFlight(): number {
    return this.queueDepth + this.#running;
  }

  infer(request: InferRequest, options: ExecuteOptions = {}): Promise<InferResponse> {
    if (this.#closed) {
      return Promise.reject(new InferError('UNAVAILABLE', `model '${this.metadata.name}' version ${this.version} is unloading`, 'unloading'));
    }
    const { cancellation } = options;
    if (cancellation?.reason) return Promise.reject(cancellation.reason);
    if (this.options.maxQueueSize > 0 && this.#waiting >= this.options.maxQueueSize) {
      return Promise.reject(new InferError('UNAVAILABLE', `model '${this.metadata.name}' queue is full (max_queue_size ${this.options.maxQueueSize})`, 'queue_full', { retryAfterMs: this.queueFullRetryAfterMs() }));
    }
    const priority = this.#priorityOf(request);
    if (priority instanceof InferError) return Promise.reject(priority);
    return new Promise<InferResponse>((resolve, reject) => {
      const now = performance.now();
      const pending: Pending = {
        request, acceptedAt: now, queued: true, settled: false, resolve, reject,
        rows: this.#rowsOf(request),
        key: this.options.maxBatchSize > 0 ? batchKey(request) : undefined,
        enqueuedMs: now,
        expiresMs: options.deadlineMs === undefined ? undefined : now + (options.deadlineMs - Date.now()),
        priority,
      };
      const timeoutMs = this.options.batching?.queueTimeoutMs ?? 0;
      if (timeoutMs > 0) {
        pending.expiresMs = Math.min(pending.expiresMs ?? Infinity, now + timeoutMs);
        pending.timer = setTimeout(() => this.#queueTimedOut(pending), timeoutMs);
      }
      this.#enqueue(pending);
      this.#waiting++;
      this.meter.inFlight++;
      this.meter.queueDepth++;
      cancellation?.onCancel((reason) => this.#cancel(pending, reason));
      this.#dispatch();
    });
  }

  /**
   * When a full queue likely has room again: the queued requests × the recent time of one execution
   * ÷ the instances (each execution taking one request: batching only makes it sooner), at least
   * MIN_QUEUE_FULL_RETRY_AFTER_MS.
   */
  queueFullRetryAfterMs(): number {
    const serviceMs = this.#serviceMs ?? UNMEASURED_SERVICE_MS;
    const estimate = (this.#waiting * serviceMs) / Math.max(1, this.#instances.length);
    return Math.max(MIN_QUEUE_FULL_RETRY_AFTER_MS, Math.round(estimate));
  }

  /** This version's figures in the statistics extension's shape. */
  statistics(): ModelStatistics {
    return toModelStatistics(this.metadata.name, this.version, this.requests, this.executions.figures());
  }

  /** Stops taking requests, lets queued and running ones finish, then unloads the instances. */
  async close(): Promise<void> {
    this.#closed = true;
    // Nothing new can fill a held batch now: run what is queued without waiting out the delay.
    this.#dispatch();
    if (this.inFlight > 0) await new Promise<void>((r) => this.#drainWaiters.push(r));
    await Promise.all(this.#instances.map((i) => i.unload()));
  }

  /** The request's priority level (1 first); INVALID_ARG for a level the model does not have. */
  #priorityOf(request: InferRequest): number | InferError {
    const levels = this.options.batching?.priorityLevels ?? 0;
    if (levels === 0) return 1;
    const asked = request.parameters?.[PRIORITY_PARAMETER];
    if (typeof asked !== 'number' || asked === 0) return this.options.batching!.defaultPriorityLevel;
    if (asked > levels) {
      return new InferError('INVALID_ARG', `request: parameter 'priority' must be 0 (the default level) to ${levels} for model '${this.metadata.name}' (priority_levels ${levels}), got ${asked}`, 'bad_parameter');
    }
    return asked;
  }

  /** After every entry of its level and above: FIFO within a level. */
  #enqueue(pending: Pending): void {
    let at = this.#queue.length;
    while (at > this.#queueHead && this.#queue[at - 1].priority > pending.priority) at--;
    if (at === this.#queue.length) this.#queue.push(pending);
    else this.#queue.splice(at, 0, pending);
  }

  #dispatch(): void {
    while (this.#idle.length > 0 && this.#waiting > 0) {
      const plan = planBatch(this.#queue, this.#queueHead, this.#closed ? { ...this.#policy, maxQueueDelayMs: 0 } : this.#policy, performance.now());
      for (const i of plan.expired) {
        this.#dequeue(this.#queue[i]);
        this.#finish(this.#queue[i], performance.now(), 0, 1, 0, 0, new InferError('DEADLINE_EXCEEDED', 'request timed out while queued', 'queue_timeout'));
      }
      if (plan.action === 'wait') {
        this.#wakeAt(plan.untilMs);
        break;
      }
      if (plan.action === 'idle') break;
      const batch = plan.take.map((i) => this.#queue[i]);
      for (const p of batch) this.#dequeue(p);
      this.#compact();
      void this.#run(this.#idle.pop()!, batch);
    }
    if (this.#waiting === 0) this.#compact();
  }

  /** Arms the one delay timer for `untilMs`, unless it already fires by then. */
  #wakeAt(untilMs: number): void {
    if (this.#delayTimer !== undefined && this.#delayUntil <= untilMs) return;
    if (this.#delayTimer !== undefined) clearTimeout(this.#delayTimer);
    this.#delayUntil = untilMs;
    this.#delayTimer = setTimeout(() => {
      this.#delayTimer = undefined;
      this.#delayUntil = Infinity;
      this.#dispatch();
    }, Math.max(0, untilMs - performance.now()));
  }

  /** It leaves the queue (to run, to be answered, or cancelled). */
  #dequeue(pending: Pending): void {
    pending.queued = false;
    if (pending.timer !== undefined) clearTimeout(pending.timer);
    this.#waiting--;
    this.meter.queueDepth--;
  }

  /** Moves the head past entries that left the queue, and now and then drops them from the array. */
  #compact(): void {
    if (this.#waiting === 0) {
      this.#queue.length = 0;
      this.#queueHead = 0;
      if (this.#delayTimer !== undefined) clearTimeout(this.#delayTimer);
      this.#delayTimer = undefined;
      this.#delayUntil = Infinity;
      return;
    }
    while (this.#queueHead < this.#queue.length && !this.#queue[this.#queueHead].queued) this.#queueHead++;
    // Reclaim the consumed prefix now and then so the array does not grow without bound.
    if (this.#queueHead > 1024 && this.#queueHead * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#queueHead);
      this.#queueHead = 0;
    }
  }

  /**
   * A queued request leaves the queue before any instance ran it (it counts as neither done nor
   * failed); a running one is answered now and its result dropped when the run ends.
   */
  #cancel(pending: Pending, reason: InferError): void {
    if (pending.settled) return;
    pending.settled = true;
    if (!pending.queued) {
      pending.reject(reason);
      return;
    }
    this.#dequeue(pending);
    this.meter.inFlight--;
    pending.reject(reason);
    this.#compact();
    if (this.#closed && this.inFlight === 0) this.#drainWaiters.splice(0).forEach((r) => r());
  }

  /** default_queue_timeout_us passed while it was still queued: answered now, with no instance free or not. */
  #queueTimedOut(pending: Pending): void {
    if (!pending.queued) return;
    this.#dequeue(pending);
    this.#finish(pending, performance.now(), 0, 1, 0, 0, new InferError('DEADLINE_EXCEEDED', `request waited in the queue longer than default_queue_timeout_us (${Math.round(this.options.batching!.queueTimeoutMs * 1000)} µs)`, 'queue_timeout'));
    this.#compact();
  }

  async #run(instance: ModelInstance, batch: Pending[]): Promise<void> {
    this.#running += batch.length;
    const startedAt = performance.now();
    const token = this.meter.executionStarted();
    let results: Array<InferResponse | InferError>;
    // Each model run the engine reports, as it happens: an execute may run several (a batched run
    // that failed is retried request by request), and only runs that succeeded count.
    let runs = 0;
    const onRun = (rows: number, ms: number): void => {
      runs++;
      this.executions.executed(rows, ms);
    };
    try {
      results = await instance.execute(batch.map((p) => p.request), onRun);
      if (results.length !== batch.length) {
        throw new InferError('INTERNAL', `engine returned ${results.length} results for ${batch.length} requests`, 'engine_contract');
      }
    } catch (err) {
      const error = asInferError(err);
      results = batch.map(() => error);
    }
    this.meter.executionFinished(token);
    const computeMs = performance.now() - startedAt;
    this.#serviceMs = this.#serviceMs === undefined ? computeMs : this.#serviceMs + SERVICE_EWMA_ALPHA * (computeMs - this.#serviceMs);
    this.#running -= batch.length;
    this.#idle.push(instance);
    if (runs === 0) runs = this.#countExecution(batch, results, computeMs);
    batch.forEach((pending, i) => this.#finish(pending, startedAt, computeMs, batch.length, i, i === 0 ? runs : 0, results[i]));
    this.#dispatch();
  }

  /**
   * For an engine that does not report its runs: the execute counts once, with all its rows, when
   * any of its requests succeeded (as Triton's backends report). Returns the runs counted.
   */
  #countExecution(batch: Pending[], results: Array<InferResponse | InferError>, computeMs: number): number {
    let rows = 0;
    let anySucceeded = false;
    for (let i = 0; i < batch.length; i++) {
      rows += batch[i].rows;
      if (!(results[i] instanceof InferError)) anySucceeded = true;
    }
    if (!anySucceeded) return 0;
    this.executions.executed(rows, computeMs);
    return 1;
  }

  /** Batch rows a request brings: its first dim when the model batches, else one. */
  #rowsOf(request: InferRequest): number {
    return this.metadata.maxBatchSize > 0 ? (request.inputs[0]?.shape[0] ?? 0) : 1;
  }

  #finish(pending: Pending, startedAt: number, computeMs: number, batchSize: number, batchIndex: number, runs: number, result: InferResponse | InferError): void {
    const totalMs = performance.now() - pending.acceptedAt;
    const ok = !(result instanceof InferError);
    this.answered++;
    if (!ok) this.failed++;
    this.meter.inFlight--;
    this.meter.requestFinished(ok, computeMs, totalMs);
    this.observe(this.metadata.name, this.version, {
      ok,
      reason: ok ? undefined : (result as InferError).reason,
      queueMs: startedAt - pending.acceptedAt,
      computeMs,
      totalMs,
      batchSize,
      batchIndex,
      runs,
    });
    if (!pending.settled) {
      pending.settled = true;
      if (ok) {
        // Only here, with its caller still waiting: one cancelled while running was answered as a failure.
        this.executions.requestRan(pending.rows, startedAt - pending.acceptedAt, computeMs);
        const response = result as InferResponse;
        if (pending.request.id !== undefined && response.id === undefined) response.id = pending.request.id;
        pending.resolve(response);
      } else pending.reject(result as InferError);
    }
    if (this.#closed && this.inFlight === 0) this.#drainWaiters.splice(0).forEach((r) => r());
  }
}
