/**
 * A Prometheus histogram whose observation costs a bucket search and three additions. prom-client's
 * Histogram validates and hashes the label set and builds a closure on every observe, even on a
 * child from labels(); per request, on both the gateway and the node, that showed in profiles. This
 * one keeps each label set's buckets in a plain array and answers the registry in prom-client's own
 * metric shape (`get()`), so scrapes, the text format and the gateway workers' aggregation are
 * unchanged.
 */
import type { Registry } from 'prom-client';

interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
  metricName: string;
}

export class LocalHistogramSeries {
  /** Per bucket, observations ≤ its bound and > the bound before; the last slot is +Inf. */
  readonly #counts: Float64Array;
  #sum = 0;
  #count = 0;

  constructor(private readonly bounds: readonly number[], readonly labels: Readonly<Record<string, string>>) {
    this.#counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    const { bounds } = this;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    this.#counts[i]++;
    this.#sum += value;
    this.#count++;
  }

  /** Cumulative buckets, +Inf, sum and count, as prom-client's Histogram exports them. */
  export(name: string, into: MetricValue[]): void {
    let cumulative = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      cumulative += this.#counts[i];
      into.push({ labels: { le: this.bounds[i], ...this.labels }, value: cumulative, metricName: `${name}_bucket` });
    }
    into.push({ labels: { le: '+Inf', ...this.labels }, value: this.#count, metricName: `${name}_bucket` });
    into.push({ labels: { ...this.labels }, value: this.#sum, metricName: `${name}_sum` });
    into.push({ labels: { ...this.labels }, value: this.#count, metricName: `${name}_count` });
  }
}

export class LocalHistogram {
  readonly type = 'histogram';
  /** Gateway workers' histograms add up. */
  readonly aggregator = 'sum';
  readonly #series = new Map<string, LocalHistogramSeries>();
  readonly #bounds: readonly number[];

  constructor(readonly name: string, readonly help: string, buckets: readonly number[], registry: Registry) {
    this.#bounds = [...buckets].sort((a, b) => a - b);
    registry.registerMetric(this as never);
  }

  /** The series of one label set; keep it, as a lookup builds a key. */
  labels(labels: Readonly<Record<string, string>>): LocalHistogramSeries {
    const key = Object.keys(labels).sort().map((k) => `${k}\0${labels[k]}`).join('\0\0');
    let series = this.#series.get(key);
    if (!series) {
      series = new LocalHistogramSeries(this.#bounds, { ...labels });
      this.#series.set(key, series);
    }
    return series;
  }

  /** What a registry reads (prom-client's metric shape). */
  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: MetricValue[] }> {
    const values: MetricValue[] = [];
    for (const series of this.#series.values()) series.export(this.name, values);
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.#series.clear();
  }
}
