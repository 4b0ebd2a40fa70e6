/**
 * Prometheus families in Triton's spirit, prefixed infergate_. One registry per process, passed
 * explicitly; node figures are read from the pools at scrape time, so they cost nothing per request.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { InstanceReport } from '../core/load-report.js';
import { LocalHistogram } from './local-histogram.js';
import type { RequestOutcome } from '../node/model-executor.js';
import type { PoolSet } from '../scheduler/pool-set.js';

const LATENCY_BUCKETS_S = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

interface CounterChild { inc(by?: number): void }
interface HistogramChild { observe(value: number): void }

/**
 * A counter child that sums its increments here and hands them to prom-client when the registry is
 * read (the counter's `collect`). prom-client validates and hashes the label set on every `inc`,
 * even on a child; per request that showed in profiles. Counters are only ever read through the
 * registry, so what a scrape sees is unchanged.
 */
class DeferredCount implements CounterChild {
  #pending = 0;

  constructor(
    private readonly child: { inc(value: number): void },
    /** Children of one counter with increments not yet handed over, in order of their first. */
    private readonly dirty: DeferredCount[],
  ) {}

  inc(by = 1): void {
    if (this.#pending === 0) this.dirty.push(this);
    this.#pending += by;
  }

  flush(): void {
    this.child.inc(this.#pending);
    this.#pending = 0;
  }
}

/** Requests of one model between the front door's start and end; read by the pending gauge's `collect`. */
export class PendingCount {
  value = 0;

  inc(): void {
    this.value++;
  }

  dec(): void {
    this.value--;
  }
}

export interface ModelSeries {
  success: CounterChild;
  duration: HistogramChild;
  inferences: CounterChild;
  executions: CounterChild;
  queue: HistogramChild;
  compute: HistogramChild;
}

/** infergate_backend_breaker_state's values: higher is worse, so workers merge by max. */
const BREAKER_STATE_VALUE = { closed: 0, half_open: 1, open: 2 } as const;

export class Metrics {
  /** By model, then version: two lookups on strings the caller has, cheaper than building a key. */
  readonly #series = new Map<string, Map<string, ModelSeries>>();
  readonly #pending = new Map<string, PendingCount>();
  /** Per counter, its children holding increments that the next read hands to prom-client. */
  readonly #unflushed = { success: [] as DeferredCount[], inferences: [] as DeferredCount[], executions: [] as DeferredCount[] };
  readonly registry = new Registry();
  readonly requestSuccess: Counter<'model' | 'version'>;
  readonly requestFailure: Counter<'model' | 'version' | 'reason'>;
  readonly inferenceCount: Counter<'model' | 'version'>;
  readonly executionCount: Counter<'model' | 'version'>;
  readonly requestDuration: LocalHistogram;
  readonly queueDuration: LocalHistogram;
  readonly computeDuration: LocalHistogram;
  readonly pending: Gauge<'model'>;
  readonly retries: Counter<'model' | 'version' | 'reason'>;
  /** Requests the access control turned away (service/access-control.ts); `key` is the key's name, never the key. */
  readonly authRefusals: Counter<'reason' | 'key'>;
  /** What the metrics port serves: this process's registry. */
  readonly source = { contentType: this.registry.contentType, read: () => this.registry.metrics() };

  constructor(options: { pools?: () => PoolSet | undefined; processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    const flush = (children: DeferredCount[]) => () => {
      for (const child of children) child.flush();
      children.length = 0;
    };
    this.requestSuccess = new Counter({ name: 'infergate_request_success_total', help: 'Inference requests answered successfully', labelNames: ['model', 'version'], registers, collect: flush(this.#unflushed.success) });
    this.requestFailure = new Counter({ name: 'infergate_request_failure_total', help: 'Inference requests that failed, by reason', labelNames: ['model', 'version', 'reason'], registers });
    this.inferenceCount = new Counter({ name: 'infergate_inference_count_total', help: 'Inferences run on this node (one per request, batched or not)', labelNames: ['model', 'version'], registers, collect: flush(this.#unflushed.inferences) });
    this.executionCount = new Counter({ name: 'infergate_execution_count_total', help: 'Model runs on this node (a batch counts once)', labelNames: ['model', 'version'], registers, collect: flush(this.#unflushed.executions) });
    this.requestDuration = new LocalHistogram('infergate_request_duration_seconds', 'End-to-end request time at the front door', LATENCY_BUCKETS_S, this.registry);
    this.queueDuration = new LocalHistogram('infergate_queue_duration_seconds', 'Time a request waited for a model instance', LATENCY_BUCKETS_S, this.registry);
    this.computeDuration = new LocalHistogram('infergate_compute_duration_seconds', 'Time of the model execution that ran the request', LATENCY_BUCKETS_S, this.registry);
    const pendingByModel = this.#pending;
    this.pending = new Gauge({
      name: 'infergate_pending_requests', help: 'Requests accepted by the front door and not yet answered', labelNames: ['model'], registers,
      collect() {
        for (const [model, count] of pendingByModel) this.set({ model }, count.value);
      },
    });
    this.retries = new Counter({ name: 'infergate_retries_total', help: 'Requests sent again to another backend', labelNames: ['model', 'version', 'reason'], registers });
    this.authRefusals = new Counter({ name: 'infergate_auth_refusals_total', help: 'Requests refused by API key checks (401, 403, 429 over a key limit), by reason and key name', labelNames: ['reason', 'key'], registers });
    if (options.pools) this.#registerNodeGauges(options.pools);
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'infergate_' });
  }

  /**
   * The per-(model, version) series, resolved once. Its counters count locally until a read of
   * the registry (DeferredCount); its histograms are LocalHistogram series (a bucket search and
   * three additions per observation).
   */
  series(model: string, version: string): ModelSeries {
    let versions = this.#series.get(model);
    if (!versions) {
      versions = new Map();
      this.#series.set(model, versions);
    }
    let series = versions.get(version);
    if (!series) {
      const labels = { model, version };
      series = {
        success: new DeferredCount(this.requestSuccess.labels(labels), this.#unflushed.success),
        duration: this.requestDuration.labels(labels),
        inferences: new DeferredCount(this.inferenceCount.labels(labels), this.#unflushed.inferences),
        executions: new DeferredCount(this.executionCount.labels(labels), this.#unflushed.executions),
        queue: this.queueDuration.labels(labels),
        compute: this.computeDuration.labels(labels),
      };
      versions.set(version, series);
    }
    return series;
  }

  /** The front door's count of a model's requests in flight (infergate_pending_requests). */
  pendingRequests(model: string): PendingCount {
    let count = this.#pending.get(model);
    if (!count) {
      count = new PendingCount();
      this.#pending.set(model, count);
    }
    return count;
  }

  /**
   * `infergate_instance_info{model,version,card,provider,degraded}` = 1 per model instance of this
   * node: what each really runs on (after any provider fallback), read from `source` at each scrape.
   */
  registerInstanceInfo(source: () => readonly InstanceReport[]): void {
    new Gauge({
      name: 'infergate_instance_info',
      help: 'One per model instance on this node: the execution provider it really runs on; degraded="true" when it fell back from what its card asked for',
      labelNames: ['model', 'version', 'card', 'provider', 'degraded'],
      registers: [this.registry],
      collect() {
        // Instances come and go with loads: start from nothing each scrape.
        this.reset();
        for (const i of source()) this.set({ model: i.model, version: i.version, card: i.card, provider: i.provider, degraded: String(i.degraded) }, 1);
      },
    });
  }

  /** Observer for the executors of this node. */
  readonly observeExecution = (model: string, version: string, outcome: RequestOutcome): void => {
    const series = this.series(model, version);
    series.inferences.inc();
    // A batch of n requests reports n outcomes; its first carries the model runs the batch took.
    if (outcome.batchIndex === 0 && outcome.runs > 0) series.executions.inc(outcome.runs);
    series.queue.observe(outcome.queueMs / 1000);
    if (outcome.computeMs > 0) series.compute.observe(outcome.computeMs / 1000);
  };

  #registerNodeGauges(pools: () => PoolSet | undefined): void {
    const registers = [this.registry];
    const labelNames = ['model', 'version', 'node'] as const;
    // With gateway workers the primary sums every worker's registry; `aggregator` says how a
    // figure of one node combines across workers.
    type Aggregate = 'sum' | 'first' | 'min' | 'max' | 'average';
    const perNode = (name: string, help: string, aggregator: Aggregate, read: (n: ReturnType<PoolSet['view']>[number]['nodes'][number]) => number) =>
      new Gauge({
        name, help, labelNames, registers, aggregator,
        collect() {
          this.reset();
          const set = pools();
          if (!set) return;
          for (const pool of set.view(Date.now())) {
            for (const node of pool.nodes) this.set({ model: pool.model, version: pool.version, node: node.id }, read(node));
          }
        },
      });
    perNode('infergate_backend_weight', 'Current SWRR weight of a backend in a pool (mean over gateway workers)', 'average', (n) => n.weight);
    perNode('infergate_backend_capacity', 'Hardware capacity prior of a backend (sum of card coefficients)', 'first', (n) => n.capacity);
    perNode('infergate_backend_in_flight', 'Requests in flight from this gateway to a backend', 'sum', (n) => n.in_flight);
    perNode('infergate_backend_requests', 'Requests this gateway sent to a backend', 'sum', (n) => n.requests);
    perNode('infergate_backend_failures', 'Failed attempts on a backend', 'sum', (n) => n.failures);
    perNode('infergate_backend_ready', '1 when the backend takes traffic (in every gateway worker), 0 when draining or ejected', 'min', (n) => (n.state === 'ready' ? 1 : 0));
    perNode('infergate_backend_breaker_state', 'Circuit breaker of a backend: 0 closed, 1 half-open (one probe lets through), 2 open (worst over gateway workers)', 'max', (n) => BREAKER_STATE_VALUE[n.breaker]);
  }
}
