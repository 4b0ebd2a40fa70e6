import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { LocalHistogram } from '../../service/local-histogram.js';

const BUCKETS = [0.001, 0.01, 0.1, 1];
const VALUES = [0.0005, 0.001, 0.002, 0.05, 0.05, 0.3, 2, 7];

describe('LocalHistogram', () => {
  it('exports exactly what prom-client\'s Histogram exports for the same observations', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const local = new LocalHistogram('t_seconds', 'help text', BUCKETS, ours);
    const reference = new Histogram({ name: 't_seconds', help: 'help text', labelNames: ['model', 'version'], buckets: BUCKETS, registers: [theirs] });
    for (const [model, version] of [['a', '1'], ['b', '2']]) {
      const series = local.labels({ model, version });
      for (const v of VALUES) {
        series.observe(v);
        reference.observe({ model, version }, v);
      }
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it('keeps one series per label set and ignores values that are not finite', async () => {
    const registry = new Registry();
    const local = new LocalHistogram('u_seconds', 'h', BUCKETS, registry);
    expect(local.labels({ model: 'a', version: '1' })).toBe(local.labels({ version: '1', model: 'a' }));
    local.labels({ model: 'a', version: '1' }).observe(Number.NaN);
    expect(await registry.metrics()).toMatch(/u_seconds_count\{model="a",version="1"\} 0/);
  });
});
