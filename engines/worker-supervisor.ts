/**
 * Keeping an instance's worker alive, for any engine that runs its sessions on worker threads (or
 * any other thread of execution that can die on its own). The engine says how to start a host; the
 * supervisor restarts it, after an exponential backoff so that a model that kills its worker on
 * every run does not spin. Nothing here knows which runtime the host holds.
 */
import type { Worker } from 'node:worker_threads';
import { InferError } from '../core/errors.js';

export const DEFAULT_WORKER_RESTART_BACKOFF_MS = 100;
export const DEFAULT_WORKER_RESTART_MAX_BACKOFF_MS = 10_000;
export const DEFAULT_WORKER_RESTART_RESET_AFTER_MS = 30_000;

/** When a dead worker is restarted. */
export interface WorkerRestartPolicy {
  /** Delay before the first restart of a series of failures; each further failure in a row doubles it. */
  backoffMs: number;
  maxBackoffMs: number;
  /** A worker that ran at least this long before it died starts a new series. */
  resetAfterMs: number;
}

/**
 * The delay before the next start of a worker after `failures` failures in a row (deaths of
 * workers that did not stay up resetAfterMs, and failed restarts): backoffMs, doubling, capped.
 */
export function restartDelayMs(policy: WorkerRestartPolicy, failures: number): number {
  if (failures <= 0) return 0;
  return Math.min(policy.maxBackoffMs, policy.backoffMs * 2 ** Math.min(failures - 1, 40));
}

/** How a worker ended on its own (not by release()). */
export interface WorkerExit {
  code: number;
  /** The uncaught error that ended it, if any. */
  cause?: string;
}

/**
 * What the supervisor needs of a host: one worker's life. The host says once that its worker died
 * on its own: to `onExit`, or in `exit` if nobody listened yet.
 */
export interface SupervisedHost {
  /** The worker thread it runs on, for health checks and tests. */
  readonly worker?: Worker | undefined;
  /** Set when nothing can run any more (the worker died, or was released), with the error to report. */
  readonly gone: InferError | undefined;
  readonly exit: WorkerExit | undefined;
  onExit: ((exit: WorkerExit) => void) | undefined;
  release(): Promise<void>;
}

/** What an instance runs on: one fixed host (on the caller's thread), or a worker host replaced when it dies. */
export interface HostSource<H> {
  /** The live worker thread; undefined for a host without one, and while a replacement is on its way. */
  readonly worker: Worker | undefined;
  /** Replacement hosts started so far. */
  readonly restarts: number;
  /** The host to run the next execute on; waits for a replacement on its way, rejects with an InferError when none could start. */
  current(): H | Promise<H>;
  release(): Promise<void>;
}

export interface WorkerSupervision<H extends SupervisedHost> {
  /** The instance, as messages name it: "model 'm' instance 0 on card cpu". */
  who: string;
  /** What messages call the worker, after "its": "onnxruntime worker" (default "worker"). */
  workerNoun?: string;
  policy: WorkerRestartPolicy;
  /** Starts a replacement host: a new worker and session. Rejects with an Error that says why not. */
  startHost: () => Promise<H>;
  log: (message: string) => void;
  /** The clock for uptimes, in ms (default performance.now). */
  now?: () => number;
}

/**
 * Keeps an instance's worker alive, as a serving system restarts a crashed instance. When the live
 * host's worker dies on its own, a replacement starts after restartDelayMs (a timer that does not
 * hold the process open); current() waits for it. When a replacement cannot start, the executes
 * waiting for it fail with INTERNAL and the next current() starts another after the backoff; none
 * starts without a caller, so a model that can no longer start costs nothing while unused.
 *
 * release() ends it: a pending delay is cancelled, and a start under way is let finish (stopping a
 * thread inside a native runtime is what can abort a process) and its host released.
 */
export class WorkerSupervisor<H extends SupervisedHost> implements HostSource<H> {
  readonly #who: string;
  readonly #workerNoun: string;
  readonly #policy: WorkerRestartPolicy;
  readonly #log: (message: string) => void;
  readonly #now: () => number;
  /** Undefined once released: whatever it holds to start a host (model bytes) goes with it. */
  #startHost: (() => Promise<H>) | undefined;
  /** The live host; undefined while a replacement is due. */
  #host: H | undefined;
  #upSince = 0;
  /** Failures in a row: deaths of workers that did not stay up resetAfterMs, and failed starts. */
  #failures = 0;
  /** When the next start may begin. */
  #startAt = 0;
  /** The replacement on its way (waiting out its delay, or starting); it never rejects. */
  #replacement: Promise<H | InferError> | undefined;
  #delay: { timer: NodeJS.Timeout; end: () => void } | undefined;
  #restarts = 0;
  #released = false;

  constructor(first: H, supervision: WorkerSupervision<H>) {
    this.#who = supervision.who;
    this.#workerNoun = supervision.workerNoun ?? 'worker';
    this.#policy = supervision.policy;
    this.#log = supervision.log;
    this.#now = supervision.now ?? (() => performance.now());
    this.#startHost = supervision.startHost;
    this.#adopt(first);
  }

  get worker(): Worker | undefined {
    return this.#host?.worker;
  }

  /** Replacement workers started so far. */
  get restarts(): number {
    return this.#restarts;
  }

  current(): H | Promise<H> {
    if (this.#released) return Promise.reject(this.#unloaded());
    if (this.#host && !this.#host.gone) return this.#host;
    this.#replacement ??= this.#replace(Math.max(0, this.#startAt - this.#now()));
    // An execute waits on the delay now: like a pending run, it keeps the process alive.
    this.#delay?.timer.ref();
    return this.#replacement.then((next) => {
      if (next instanceof InferError) throw next;
      return next;
    });
  }

  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    this.#delay?.end();
    await this.#replacement;
    const host = this.#host;
    this.#host = undefined;
    this.#startHost = undefined;
    await host?.release();
  }

  #adopt(host: H): void {
    this.#host = host;
    this.#upSince = this.#now();
    host.onExit = (exit) => this.#exited(host, exit);
    if (host.exit) this.#exited(host, host.exit);
  }

  #exited(host: H, exit: WorkerExit): void {
    if (host !== this.#host || this.#released) return;
    this.#host = undefined;
    const now = this.#now();
    if (now - this.#upSince >= this.#policy.resetAfterMs) this.#failures = 0;
    this.#failures++;
    const delayMs = restartDelayMs(this.#policy, this.#failures);
    this.#startAt = now + delayMs;
    this.#report(`${this.#who}: its ${this.#workerNoun} exited (code ${exit.code}${exit.cause !== undefined ? `: ${exit.cause}` : ''}); restarting it in ${delayMs} ms`);
    // Right away, not on the next execute: the replacement is warm by the time work arrives. (A
    // replacement still pending here is the one that adopted this host, which died at birth.)
    this.#replacement = this.#replace(delayMs);
  }

  /** Waits `delayMs`, then starts a replacement: the new live host, or the error for whoever waits. */
  #replace(delayMs: number): Promise<H | InferError> {
    const replacement = this.#startAfter(delayMs);
    void replacement.then(() => {
      if (this.#replacement === replacement) this.#replacement = undefined;
    });
    return replacement;
  }

  async #startAfter(delayMs: number): Promise<H | InferError> {
    if (delayMs > 0) {
      await new Promise<void>((resolve) => {
        const end = () => {
          clearTimeout(timer);
          this.#delay = undefined;
          resolve();
        };
        const timer = setTimeout(end, delayMs);
        timer.unref();
        this.#delay = { timer, end };
      });
    }
    const startHost = this.#startHost;
    if (this.#released || !startHost) return this.#unloaded();
    let host: H;
    try {
      host = await startHost();
    } catch (err) {
      if (this.#released) return this.#unloaded();
      const cause = err instanceof Error ? err.message : String(err);
      this.#failures++;
      const retryMs = restartDelayMs(this.#policy, this.#failures);
      this.#startAt = this.#now() + retryMs;
      this.#report(`${this.#who}: its ${this.#workerNoun} could not be restarted (${cause}); the next execute tries again, ${retryMs} ms from now at the earliest`);
      return new InferError('INTERNAL', `${this.#who}: its ${this.#workerNoun} could not be restarted: ${cause}`, 'engine_worker_restart');
    }
    if (this.#released) {
      try {
        await host.release();
      } catch {
        // Nobody is left to tell; release() must still resolve.
      }
      return this.#unloaded();
    }
    this.#restarts++;
    this.#adopt(host);
    return host.gone ?? host;
  }

  #unloaded(): InferError {
    return new InferError('UNAVAILABLE', `${this.#who} was unloaded`, 'unloaded');
  }

  /** A logger that throws must not take the restart (or, from a worker's exit event, the process) with it. */
  #report(message: string): void {
    try {
      this.#log(message);
    } catch {
      // The restart matters more than its log line.
    }
  }
}
