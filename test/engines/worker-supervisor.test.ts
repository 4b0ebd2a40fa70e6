import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InferError } from '../../core/errors.js';
import {
  DEFAULT_WORKER_RESTART_MAX_BACKOFF_MS, restartDelayMs, WorkerSupervisor, type SupervisedHost, type WorkerExit,
  type WorkerRestartPolicy,
} from '../../engines/worker-supervisor.js';

/**
 * How much earlier than asked a timer may fire, measured with performance.now(): libuv dates a
 * timer from the loop's cached clock, which lags the real one by the current tick's work.
 */
const TIMER_SLACK_MS = 5;

/** A host whose death the test decides. */
class FakeHost implements SupervisedHost {
  gone: InferError | undefined;
  exit: WorkerExit | undefined;
  onExit: ((exit: WorkerExit) => void) | undefined;
  released = false;

  async release(): Promise<void> {
    this.released = true;
  }

  die(code = 1, cause?: string): void {
    this.exit = cause === undefined ? { code } : { code, cause };
    this.gone = new InferError('INTERNAL', 'its worker exited', 'engine_worker_exit');
    this.onExit?.(this.exit);
  }
}

const WHO = "model 'm' instance 0 on card cpu";

function delaysLogged(lines: string[]): number[] {
  return lines.map((line) => Number(/(?:restarting it in|tries again,) (\d+) ms/.exec(line)?.[1]));
}

describe('WorkerSupervisor', () => {
  it('restartDelayMs doubles from the first delay up to the cap', () => {
    const policy: WorkerRestartPolicy = { backoffMs: 100, maxBackoffMs: 10_000, resetAfterMs: 30_000 };
    const table: [number, number][] = [[0, 0], [1, 100], [2, 200], [3, 400], [7, 6_400], [8, 10_000], [9, 10_000], [5_000, 10_000]];
    for (const [failures, delay] of table) expect(restartDelayMs(policy, failures), `${failures} failures`).toBe(delay);
    expect(restartDelayMs({ ...policy, backoffMs: 0 }, 5_000)).toBe(0);
    expect(DEFAULT_WORKER_RESTART_MAX_BACKOFF_MS).toBe(10_000);
  });

  it('starts the backoff over once a worker stayed up resetAfterMs', async () => {
    let clock = 0;
    const lines: string[] = [];
    const hosts = [new FakeHost()];
    const supervisor = new WorkerSupervisor(hosts[0], {
      who: WHO, policy: { backoffMs: 2, maxBackoffMs: 100, resetAfterMs: 1_000 }, log: (line) => lines.push(line), now: () => clock,
      startHost: async () => { hosts.push(new FakeHost()); return hosts[hosts.length - 1]; },
    });
    for (const upMs of [0, 10, 999, 1_000, 0, 5_000]) {
      clock += upMs;
      hosts[hosts.length - 1].die();
      expect(await supervisor.current()).toBe(hosts[hosts.length - 1]);
    }
    expect(delaysLogged(lines)).toEqual([2, 4, 8, 2, 4, 2]);
    expect(supervisor.restarts).toBe(6);
    await supervisor.release();
    expect(hosts.map((h) => h.released)).toEqual([false, false, false, false, false, false, true]);
  });

  it('fails the waiting execute with INTERNAL naming the instance and the cause when a restart fails, and tries again after the backoff on the next one', async () => {
    const lines: string[] = [];
    const starts: number[] = [];
    const replacement = new FakeHost();
    const outcomes: Array<Error | FakeHost> = [new Error('out of memory'), new Error('still out of memory'), replacement];
    const first = new FakeHost();
    const supervisor = new WorkerSupervisor(first, {
      who: WHO, policy: { backoffMs: 25, maxBackoffMs: 1_000, resetAfterMs: 60_000 }, log: (line) => lines.push(line),
      startHost: async () => {
        starts.push(performance.now());
        const next = outcomes.shift()!;
        if (next instanceof Error) throw next;
        return next;
      },
    });
    first.die(1, 'boom');
    await expect(supervisor.current()).rejects.toMatchObject({
      code: 'INTERNAL',
      reason: 'engine_worker_restart',
      message: `${WHO}: its worker could not be restarted: out of memory`,
    });
    // At once: this one waits out the backoff (50 ms after the failed start), then fails again.
    await expect(supervisor.current()).rejects.toThrow(/could not be restarted: still out of memory/);
    expect(starts).toHaveLength(2);
    expect(starts[1] - starts[0]).toBeGreaterThanOrEqual(50 - TIMER_SLACK_MS);
    // Nobody asks: nothing starts, however long it waits.
    await new Promise((r) => setTimeout(r, 200));
    expect(starts).toHaveLength(2);
    // The backoff (100 ms) is over: the next execute starts one at once.
    const asked = performance.now();
    expect(await supervisor.current()).toBe(replacement);
    expect(starts[2] - asked).toBeLessThan(20);
    expect(supervisor.restarts).toBe(1);
    expect(lines).toEqual([
      `${WHO}: its worker exited (code 1: boom); restarting it in 25 ms`,
      `${WHO}: its worker could not be restarted (out of memory); the next execute tries again, 50 ms from now at the earliest`,
      `${WHO}: its worker could not be restarted (still out of memory); the next execute tries again, 100 ms from now at the earliest`,
    ]);
    await supervisor.release();
  });

  it('release() cancels a restart delay: nothing starts, the waiting execute fails UNAVAILABLE', async () => {
    let starts = 0;
    const first = new FakeHost();
    const supervisor = new WorkerSupervisor(first, {
      who: WHO, policy: { backoffMs: 60_000, maxBackoffMs: 60_000, resetAfterMs: 60_000 }, log: () => {},
      startHost: async () => { starts++; return new FakeHost(); },
    });
    first.die();
    const waiting = Promise.resolve(supervisor.current());
    await supervisor.release();
    await expect(waiting).rejects.toMatchObject({ code: 'UNAVAILABLE', reason: 'unloaded' });
    await expect(Promise.resolve(supervisor.current())).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(starts).toBe(0);
    expect(first.released).toBe(false); // dead already: nothing to release
  });

  it('release() during a start waits for it and releases the host it started', async () => {
    let finishStart!: () => void;
    const started = new FakeHost();
    const first = new FakeHost();
    const supervisor = new WorkerSupervisor(first, {
      who: WHO, policy: { backoffMs: 0, maxBackoffMs: 0, resetAfterMs: 60_000 }, log: () => {},
      startHost: () => new Promise<FakeHost>((resolve) => { finishStart = () => resolve(started); }),
    });
    first.die();
    const waiting = Promise.resolve(supervisor.current());
    let releasedAll = false;
    const release = supervisor.release().then(() => { releasedAll = true; });
    await new Promise((r) => setTimeout(r, 10));
    expect(releasedAll).toBe(false);
    finishStart();
    await release;
    expect(started.released).toBe(true);
    expect(supervisor.restarts).toBe(0);
    expect(supervisor.worker).toBeUndefined();
    await expect(waiting).rejects.toMatchObject({ code: 'UNAVAILABLE', reason: 'unloaded' });
  });

  it('names the worker in its messages as the engine does', async () => {
    const lines: string[] = [];
    const first = new FakeHost();
    const supervisor = new WorkerSupervisor(first, {
      who: WHO, workerNoun: 'onnxruntime worker', policy: { backoffMs: 0, maxBackoffMs: 0, resetAfterMs: 60_000 },
      log: (line) => lines.push(line),
      startHost: async () => { throw new Error('out of memory'); },
    });
    first.die(137);
    await expect(supervisor.current()).rejects.toThrow(`${WHO}: its onnxruntime worker could not be restarted: out of memory`);
    expect(lines).toEqual([
      `${WHO}: its onnxruntime worker exited (code 137); restarting it in 0 ms`,
      `${WHO}: its onnxruntime worker could not be restarted (out of memory); the next execute tries again, 0 ms from now at the earliest`,
    ]);
    await supervisor.release();
  });

  it('restarts even when the logger throws', async () => {
    const first = new FakeHost();
    const replacement = new FakeHost();
    const supervisor = new WorkerSupervisor(first, {
      who: WHO, policy: { backoffMs: 0, maxBackoffMs: 0, resetAfterMs: 60_000 },
      log: () => { throw new Error('log sink closed'); },
      startHost: async () => replacement,
    });
    first.die();
    expect(await supervisor.current()).toBe(replacement);
    expect(supervisor.restarts).toBe(1);
    await supervisor.release();
  });

  it('keeps serving on the live host and never restarts one released on purpose', async () => {
    let starts = 0;
    const first = new FakeHost();
    const supervisor = new WorkerSupervisor(first, {
      who: WHO, policy: { backoffMs: 0, maxBackoffMs: 0, resetAfterMs: 60_000 }, log: () => {},
      startHost: async () => { starts++; return new FakeHost(); },
    });
    const host: FakeHost = await supervisor.current();
    expect(host).toBe(first);
    await supervisor.release();
    expect(first.released).toBe(true);
    expect(starts).toBe(0);
  });
});

describe('worker-supervisor.ts', () => {
  it('is engine-agnostic: it imports only node and core modules', () => {
    const source = readFileSync(new URL('../../engines/worker-supervisor.ts', import.meta.url), 'utf8');
    const imports = [...source.matchAll(/^import [^;]* from '([^']+)';$/gm)].map((m) => m[1]);
    expect(imports.length).toBeGreaterThan(0);
    expect(imports.filter((from) => !from.startsWith('node:') && !from.startsWith('../core/'))).toEqual([]);
  });
});
