/**
 * One timer for every request's deadline: each watched piece of work ends with its outcome or, once
 * its own deadline is reached, with the timeout, whatever order deadlines come and go in; and no
 * timer is left once nothing is watched.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DeadlineTimer } from '../../service/deadline-timer.js';

const T0 = 1_000_000;
const timeout = () => new Error('timeout');

/**
 * Work settled from outside, watched the way the inference service watches a request: it ends
 * with its own outcome if that comes first (and unwatches), or with 'timeout' at its deadline.
 */
function race(timer: DeadlineTimer, deadlineMs: number) {
  const outcome: { value?: string; error?: string } = {};
  let done = false;
  const watch = timer.watch(deadlineMs, () => {
    if (done) return;
    done = true;
    outcome.error = timeout().message;
  });
  const finish = (result: { value?: string; error?: string }) => {
    if (done) return;
    done = true;
    timer.unwatch(watch);
    Object.assign(outcome, result);
  };
  return {
    resolve: (v: string) => finish({ value: v }),
    reject: (e: Error) => finish({ error: e.message }),
    outcome,
  };
}

describe('DeadlineTimer', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('passes on the outcome of work that ends in time, and leaves no timer', async () => {
    const timer = new DeadlineTimer();
    const ok = race(timer, T0 + 100);
    const failed = race(timer, T0 + 100);
    ok.resolve('done');
    failed.reject(new Error('model error'));
    await vi.advanceTimersByTimeAsync(0);
    expect(ok.outcome).toEqual({ value: 'done' });
    expect(failed.outcome).toEqual({ error: 'model error' });
    expect(timer.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('fails work at its own deadline, whatever order deadlines arrive in', async () => {
    const timer = new DeadlineTimer();
    const deadlines = [50, 10, 30, 10, 70, 20];
    const races = deadlines.map((d) => race(timer, T0 + d));
    for (const at of [10, 20, 30, 50, 70]) {
      await vi.advanceTimersByTimeAsync(at - (Date.now() - T0) - 1);
      expect(races.filter((_, i) => deadlines[i] < at).every((r) => r.outcome.error === 'timeout')).toBe(true);
      expect(races.filter((_, i) => deadlines[i] >= at).every((r) => r.outcome.error === undefined)).toBe(true);
      await vi.advanceTimersByTimeAsync(1);
      expect(races.filter((_, i) => deadlines[i] === at).every((r) => r.outcome.error === 'timeout')).toBe(true);
    }
    expect(timer.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('still fails a later deadline after the one the timer was armed for has ended', async () => {
    const timer = new DeadlineTimer();
    const first = race(timer, T0 + 10);
    const second = race(timer, T0 + 40);
    first.resolve('early');
    await vi.advanceTimersByTimeAsync(39);
    expect(second.outcome).toEqual({});
    await vi.advanceTimersByTimeAsync(1);
    expect(second.outcome).toEqual({ error: 'timeout' });
    expect(first.outcome).toEqual({ value: 'early' });
  });

  it('a new earlier deadline re-arms the timer', async () => {
    const timer = new DeadlineTimer();
    const late = race(timer, T0 + 1_000);
    const early = race(timer, T0 + 5);
    await vi.advanceTimersByTimeAsync(5);
    expect(early.outcome).toEqual({ error: 'timeout' });
    expect(late.outcome).toEqual({});
    expect(vi.getTimerCount()).toBe(1);
  });

  it('an outcome after the deadline is dropped', async () => {
    const timer = new DeadlineTimer();
    const r = race(timer, T0 + 10);
    await vi.advanceTimersByTimeAsync(10);
    r.resolve('too late');
    await vi.advanceTimersByTimeAsync(0);
    expect(r.outcome).toEqual({ error: 'timeout' });
  });

  it('a deadline already past fails on the next timer tick, not synchronously', async () => {
    const timer = new DeadlineTimer();
    const r = race(timer, T0 - 5);
    expect(r.outcome).toEqual({});
    await vi.advanceTimersByTimeAsync(1);
    expect(r.outcome).toEqual({ error: 'timeout' });
  });

  it('keeps the heap consistent under many interleaved races', async () => {
    const timer = new DeadlineTimer();
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const races = Array.from({ length: 200 }, () => {
      const deadline = Math.floor(random() * 100) + 1;
      return { deadline, settleAt: random() < 0.5 ? Math.floor(random() * 120) : undefined, ...race(timer, T0 + deadline) };
    });
    for (let t = 0; t <= 120; t++) {
      for (const r of races) if (r.settleAt === t) r.resolve('ok');
      await vi.advanceTimersByTimeAsync(1);
    }
    for (const r of races) {
      const inTime = r.settleAt !== undefined && r.settleAt < r.deadline;
      expect(r.outcome).toEqual(inTime ? { value: 'ok' } : { error: 'timeout' });
    }
    expect(timer.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });
});
