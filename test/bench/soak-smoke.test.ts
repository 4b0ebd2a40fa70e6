/**
 * The soak and overload bench, run for seconds instead of minutes (a real gateway and 3 real
 * SIMULATED backend processes on loopback, one node killed and one drained during the soak): the
 * report files exist, requests were served with few failures, the gateway's memory was sampled,
 * the overload accounts for every request it sent, and a rate-limited key gets 429 with Retry-After.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSoakBench } from '../../bench/soak/main.js';
import { CLUSTER_QUEUE_TIMEOUT_MS, note, takeClusterTurn } from '../support/cluster.js';

/** A kill and a drain under load may cost a request or two on a busy machine; more is a regression. */
const MAX_SOAK_FAILURE_RATE = 0.02;

describe('soak bench (smoke)', () => {
  const out = mkdtempSync(join(tmpdir(), 'infergate-soak-'));
  let release: (() => void) | undefined;
  beforeAll(async () => {
    release = await takeClusterTurn();
  }, CLUSTER_QUEUE_TIMEOUT_MS + 5_000);
  afterAll(() => {
    rmSync(out, { recursive: true, force: true });
    release?.();
  });

  it('soaks with churn, overloads, and writes the report and charts', async () => {
    const result = await runSoakBench([
      '--minutes', '0.25', '--nodes', '3', '--window-s', '3', '--churn-min-s', '5', '--churn-max-s', '6',
      '--down-min-s', '1', '--down-max-s', '1.5', '--churn-actions', 'kill,drain', '--capacity-step-s', '1.5',
      '--capacity-concurrency', '6,12', '--overload-s', '4', '--parts', 'soak,overload,rate-limit', '--key-rate', '10',
      '--rate-limit-s', '3', '--out', out, '--quiet',
    ]);
    expect(result).toBeDefined();
    const { capacity, soak, overload, files } = result!;
    note(`capacity ${capacity.capacityPerS.toFixed(1)}/s; soak ${JSON.stringify({ ...soak!.summary, failureReasons: undefined })}; ` +
      `churn ${JSON.stringify(soak!.churn)}; overload ${JSON.stringify(overload)}; rate limit ${JSON.stringify(result!.rateLimit)}`);
    expect(capacity.capacityPerS).toBeGreaterThan(0);

    const summary = soak!.summary;
    expect(summary.served).toBeGreaterThan(0);
    expect(summary.sent).toBe(summary.served + summary.failed);
    expect(summary.failureRate, JSON.stringify(summary.failedBy)).toBeLessThan(MAX_SOAK_FAILURE_RATE);
    expect(summary.p99Ms).toBeGreaterThan(0);
    expect(summary.memorySamples).toBeGreaterThanOrEqual(10);
    expect(summary.rssFirstMb).toBeGreaterThan(10);
    expect(summary.rssMaxMb).toBeGreaterThanOrEqual(summary.rssLastMb);
    expect(summary.heapLastMb, 'heap probe read').toBeGreaterThan(1);
    expect(soak!.windows).toHaveLength(5);
    // 15 s at one action per 5–6 s: a kill and a drain, each node back in the pool.
    expect(soak!.churn.map((c) => c.action)).toEqual(['kill', 'drain']);
    for (const c of soak!.churn) {
      expect(c.error, `${c.action} ${c.node}`).toBeUndefined();
      expect(c.rejoinedAtMs).toBeGreaterThan(c.signalledAtMs);
    }

    const o = overload!;
    expect(o.served).toBeGreaterThan(0);
    const shed = o.shed.reduce((n, s) => n + s.withRetryAfter + s.withoutRetryAfter, 0);
    const other = Object.values(o.otherFailures).reduce((a, b) => a + b, 0);
    expect(o.served + shed + other).toBe(o.sent);

    // A key limited to 10 req/s (burst 10), driven at 20 req/s for 3 s: 10 + 3 × 10 = 40 served,
    // a little more when a busy machine stretches the sends over a longer span.
    const limited = result!.rateLimit!;
    expect(limited.served).toBeGreaterThan(0);
    expect(limited.served).toBeLessThanOrEqual(55);
    const tooMany = limited.shed.find((x) => x.status === 429)!;
    expect(tooMany.withRetryAfter).toBeGreaterThan(0);
    expect(tooMany.withoutRetryAfter).toBe(0);

    for (const name of ['soak.md', 'soak.json', 'soak-latency.svg', 'soak-memory.svg', 'soak-requests.svg']) {
      expect(files).toContain(join(out, name));
      expect(existsSync(join(out, name)), name).toBe(true);
    }
    const markdown = readFileSync(join(out, 'soak.md'), 'utf8');
    expect(markdown).toContain('| served (2xx) |');
    expect(markdown).toContain('RSS slope over the last half');
    expect(markdown).toContain('shed by status');
    expect(markdown).toContain('Per-key rate limit');
    expect(readFileSync(join(out, 'soak-memory.svg'), 'utf8')).toContain('<svg');
  }, 180_000);
});
