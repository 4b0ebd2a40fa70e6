/**
 * Runs requests of one model version on its instances: a FIFO queue bounded by the declaration's
 * max_queue_size, and a dispatcher that hands each free instance the oldest requests (up to
 * max_batch_size of them when the model batches). An instance never runs two batches at once.
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
import type { ModelInstance } from '../engines/engine.js';
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
}

export type OutcomeObserver = (model: string, version: string, outcome: RequestOutcome) => void;

export interface ExecuteOptions {
  /** Absolute deadline (Date.now() clock): a request still queued past it is not run. */
  deadlineMs?: number;
  /** Calls the request off; its reason (an InferError) is what the caller gets, at once. */
  cancellation?: Cancellation;
}

interface Pending {
  request: InferRequest;
  acceptedAt: number;
  deadlineMs?: number;
  /** Still waiting in the queue: not yet taken by an instance, not cancelled. */
  queued: boolean;
  /** Its caller has its answer already (cancelled while running): the result is dropped. */
  settled: boolean;
  resolve(response: InferResponse): void;
  reject(error: InferError): void;
}

export interface ExecutorOptions {
  /** 0 = unlimited. */
  maxQueueSize: number;
  maxBatchSize: number;
}

export class ModelExecutor {
  readonly #idle: ModelInstance[];
  readonly #instances: ModelInstance[];
  #queue: Pending[] = [];
  #queueHead = 0;
  /** Requests queued and not cancelled (cancelled ones stay in #queue until the head passes them). */
  #waiting = 0;
  #closed = false;
  #running = 0;
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
      return Promise.reject(new InferError('UNAVAILABLE', `model '${this.metadata.name}' queue is full (max_queue_size ${this.options.maxQueueSize})`, 'queue_full'));
    }
    return new Promise<InferResponse>((resolve, reject) => {
      const pending: Pending = { request, acceptedAt: performance.now(), deadlineMs: options.deadlineMs, queued: true, settled: false, resolve, reject };
      this.#queue.push(pending);
      this.#waiting++;
      this.meter.inFlight++;
      this.meter.queueDepth++;
      cancellation?.onCancel((reason) => this.#cancel(pending, reason));
      this.#dispatch();
    });
  }

  /** This version's figures in the statistics extension's shape. */
  statistics(): ModelStatistics {
    return toModelStatistics(this.metadata.name, this.version, this.requests, this.executions.figures());
  }

  /** Stops taking requests, lets queued and running ones finish, then unloads the instances. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.inFlight > 0) await new Promise<void>((r) => this.#drainWaiters.push(r));
    await Promise.all(this.#instances.map((i) => i.unload()));
  }

  #dispatch(): void {
    while (this.#idle.length > 0 && this.#waiting > 0) {
      const batch = this.#takeBatch();
      if (batch.length === 0) break;
      void this.#run(this.#idle.pop()!, batch);
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
    pending.queued = false;
    this.#waiting--;
    this.meter.queueDepth--;
    this.meter.inFlight--;
    pending.reject(reason);
    if (this.#closed && this.inFlight === 0) this.#drainWaiters.splice(0).forEach((r) => r());
  }

  #takeBatch(): Pending[] {
    const limit = this.options.maxBatchSize > 0 ? this.options.maxBatchSize : 1;
    const batch: Pending[] = [];
    while (batch.length < limit && this.#waiting > 0) {
      const next = this.#queue[this.#queueHead++];
      if (!next.queued) continue;
      next.queued = false;
      this.#waiting--;
      this.meter.queueDepth--;
      if (next.deadlineMs !== undefined && Date.now() > next.deadlineMs) {
        this.#finish(next, performance.now(), 0, 1, 0, new InferError('DEADLINE_EXCEEDED', 'request timed out while queued', 'queue_timeout'));
        continue;
      }
      batch.push(next);
    }
    if (this.#waiting === 0) {
      // Only cancelled entries can be left: drop them all.
      this.#queue.length = 0;
      this.#queueHead = 0;
    }
    // Reclaim the consumed prefix now and then so the array does not grow without bound.
    if (this.#queueHead > 1024 && this.#queueHead * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#queueHead);
      this.#queueHead = 0;
    }
    return batch;
  }

  async #run(instance: ModelInstance, batch: Pending[]): Promise<void> {
    this.#running += batch.length;
    const startedAt = performance.now();
    const token = this.meter.executionStarted();
    let results: Array<InferResponse | InferError>;
    try {
      results = await instance.execute(batch.map((p) => p.request));
      if (results.length !== batch.length) {
        throw new InferError('INTERNAL', `engine returned ${results.length} results for ${batch.length} requests`, 'engine_contract');
      }
    } catch (err) {
      const error = asInferError(err);
      results = batch.map(() => error);
    }
    this.meter.executionFinished(token);
    const computeMs = performance.now() - startedAt;
    this.#running -= batch.length;
    this.#idle.push(instance);
    this.#countExecution(batch, results, computeMs);
    batch.forEach((pending, i) => this.#finish(pending, startedAt, computeMs, batch.length, i, results[i]));
    this.#dispatch();
  }

  /** An execution counts once, with all its rows, when any of its requests succeeded (as Triton's backends report). */
  #countExecution(batch: Pending[], results: Array<InferResponse | InferError>, computeMs: number): void {
    let rows = 0;
    let anySucceeded = false;
    for (let i = 0; i < batch.length; i++) {
      rows += this.#rowsOf(batch[i].request);
      if (!(results[i] instanceof InferError)) anySucceeded = true;
    }
    if (anySucceeded) this.executions.executed(rows, computeMs);
  }

  /** Batch rows a request brings: its first dim when the model batches, else one. */
  #rowsOf(request: InferRequest): number {
    return this.metadata.maxBatchSize > 0 ? (request.inputs[0]?.shape[0] ?? 0) : 1;
  }

  #finish(pending: Pending, startedAt: number, computeMs: number, batchSize: number, batchIndex: number, result: InferResponse | InferError): void {
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
    });
    if (!pending.settled) {
      pending.settled = true;
      if (ok) {
        // Only here, with its caller still waiting: one cancelled while running was answered as a failure.
        this.executions.requestRan(this.#rowsOf(pending.request), startedAt - pending.acceptedAt, computeMs);
        const response = result as InferResponse;
        if (pending.request.id !== undefined && response.id === undefined) response.id = pending.request.id;
        pending.resolve(response);
      } else pending.reject(result as InferError);
    }
    if (this.#closed && this.inFlight === 0) this.#drainWaiters.splice(0).forEach((r) => r());
  }
}
