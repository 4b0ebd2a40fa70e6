import { describe, expect, it } from 'vitest';
import { benchSettingsFrom, parseRange } from '../../../bench/perf/options.js';

describe('bench settings', () => {
  it.each([
    ['1', 'integer', [1]],
    ['1:4', 'integer', [1, 2, 3, 4]],
    ['2:16:4', 'integer', [2, 6, 10, 14]],
    ['0.1:0.5:0.2', 'number', [0.1, 0.3, 0.5]],
    ['100:1000:300', 'number', [100, 400, 700, 1000]],
  ] as const)('reads the range %s', (text, kind, values) => {
    expect(parseRange(text, 'r', kind)).toEqual(values);
  });

  it.each(['0:4', '4:1', '1:2:0', '1.5', 'a:b', '1::2', '1:2:3:4', '1:100000'])('refuses the range %s', (text) => {
    expect(() => parseRange(text, 'concurrency-range', 'integer')).toThrow(/--concurrency-range/);
  });

  it('defaults to one closed-loop step of concurrency 1 over HTTP JSON, perf_analyzer\'s windows', () => {
    expect(benchSettingsFrom({ model: 'identity' })).toMatchObject({
      protocol: 'http', model: 'identity', binary: false, mode: 'concurrency', levels: [1], batchSize: 1,
      warmupMs: 1_000, measurementMs: 5_000, timeoutMs: 30_000, maxOutstanding: 10_000, connections: 1, distribution: 'poisson', compareFiles: [],
    });
  });

  it('reads a request-rate sweep and its settings', () => {
    expect(benchSettingsFrom({ model: 'm', 'request-rate-range': '50:150:50', 'request-distribution': 'constant', 'max-outstanding': '7', protocol: 'grpc', url: 'grpc://h:1' })).toMatchObject({
      mode: 'request_rate', levels: [50, 100, 150], distribution: 'constant', maxOutstanding: 7, protocol: 'grpc', connections: 128,
    });
  });

  it.each([
    [{}, /-m\/--model NAME is required/],
    [{ model: 'm', protocol: 'udp' }, /-i\/--protocol expects http or grpc/],
    [{ model: 'm', protocol: 'grpc', binary: true }, /--binary is for HTTP/],
    [{ model: 'm', 'concurrency-range': '1', 'request-rate-range': '10' }, /exclude each other/],
    [{ model: 'm', 'request-distribution': 'constant' }, /needs --request-rate-range/],
    [{ model: 'm', 'request-rate-range': '10', 'request-distribution': 'uniform' }, /poisson or constant/],
    [{ model: 'm', 'warmup-ms': '-1' }, /--warmup-ms expects a whole number ≥ 0/],
    [{ model: 'm', protocol: 'grpc', url: 'http://h' }, /host:port/],
    [{ model: 'm', shape: ['x'] }, /--shape expects NAME:d1,d2/],
  ])('refuses %j', (values, message) => {
    expect(() => benchSettingsFrom(values as never)).toThrow(message);
  });
});
