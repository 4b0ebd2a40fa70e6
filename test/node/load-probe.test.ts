import { describe, expect, it } from 'vitest';
import { loadProbeBody, parseLoadProbe } from '../../core/load-probe.js';
import { LoadMeter } from '../../node/load-meter.js';

describe('load probe', () => {
  it('estimates the latency of a request accepted now from recent execution times and the queue per slot', () => {
    const meter = new LoadMeter(() => 0);
    expect(meter.probe(2)).toEqual({ inFlight: 0, latencyMs: 0 });
    meter.requestFinished(true, 100, 120);
    expect(meter.recentServiceMs).toBe(100);
    // Each new execution time moves the estimate a fifth of the way: 100 → 100 + 0.2 × (200 − 100).
    meter.requestFinished(true, 200, 210);
    expect(meter.recentServiceMs).toBeCloseTo(120, 9);
    meter.inFlight = 6;
    meter.queueDepth = 4;
    // 4 queued over 2 slots: two service times of waiting, then its own.
    expect(meter.probe(2)).toEqual({ inFlight: 6, latencyMs: 120 * 3 });
    // Failed requests with no execution time leave the estimate alone.
    meter.requestFinished(false, 0, 1);
    expect(meter.recentServiceMs).toBeCloseTo(120, 9);
  });

  it('travels as snake_case JSON and is parsed back strictly', () => {
    const body = loadProbeBody({ inFlight: 3, latencyMs: 41.5 });
    expect(body).toEqual({ in_flight: 3, latency_ms: 41.5 });
    expect(parseLoadProbe(JSON.parse(JSON.stringify(body)))).toEqual({ inFlight: 3, latencyMs: 41.5 });
    for (const bad of [null, {}, { in_flight: -1, latency_ms: 1 }, { in_flight: 1, latency_ms: 'x' }, { in_flight: 1, latency_ms: Infinity }]) {
      expect(() => parseLoadProbe(bad)).toThrow(/malformed load probe/);
    }
  });
});
