/**
 * Where an ONNX instance's session lives and runs: on the caller's thread (InlineSessionHost), or
 * on a worker thread of its own (WorkerSessionHost, with onnx-worker.ts as the thread's entry).
 * Both start a session from the model bytes and a list of option sets to fall back through, and
 * run it on wire tensors (onnx-tensor.ts).
 *
 * One sharp edge of onnxruntime-node (1.30): a worker thread stopped while inside session.run —
 * Worker.terminate(), or process.exit() with a run in flight — aborts the whole process. So
 * release() lets the worker finish and release its session before ending it.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type ort from 'onnxruntime-node';
import { InferError } from '../core/errors.js';
import { packageRoot } from '../core/package-root.js';
import { forTransfer, type WireTensors } from './onnx-tensor.js';
import {
  ONNX_WORKER_DATA, runSession, startSession, type FromWorker, type SessionStart, type ToWorker,
} from './onnx-worker.js';
import type { HostSource, SupervisedHost, WorkerExit } from './worker-supervisor.js';

/** Where an instance's session lives and runs: one session, on one thread. */
export interface SessionHost {
  /** The worker thread that holds the session; undefined inline. */
  readonly worker: Worker | undefined;
  /** Set when nothing can run any more (the worker died), with the error to report. */
  readonly gone: InferError | undefined;
  /**
   * Runs the session once. `movable`: the caller will not read the feeds' arrays again, so a host on
   * another thread may move (transfer) them instead of copying.
   */
  run(feeds: WireTensors, fetches: string[], movable: boolean): Promise<WireTensors>;
  release(): Promise<void>;
}

/**
 * How starting a host went: the host and which option set (`attempt`) it started with, or no host.
 * `failures[i]` is why option set i did not start.
 */
export type HostStart<H extends SessionHost> =
  | { ok: true; host: H; attempt: number; failures: string[] }
  | { ok: false; failures: string[] };

/** The session on the caller's thread: each run blocks it. Nothing to restart, so it is its own source. */
export class InlineSessionHost implements SessionHost, HostSource<SessionHost> {
  readonly worker = undefined;
  readonly gone = undefined;
  readonly restarts = 0;
  readonly #session: ort.InferenceSession;

  private constructor(session: ort.InferenceSession) {
    this.#session = session;
  }

  static async start(model: Uint8Array, attempts: ort.InferenceSession.SessionOptions[]): Promise<HostStart<InlineSessionHost>> {
    const started: SessionStart = await startSession(model, attempts);
    return started.ok ? { ...started, host: new InlineSessionHost(started.session) } : started;
  }

  current(): SessionHost {
    return this;
  }

  run(feeds: WireTensors, fetches: string[]): Promise<WireTensors> {
    return runSession(this.#session, feeds, fetches);
  }

  release(): Promise<void> {
    return this.#session.release();
  }
}

/** The engines/ sources the compiled worker entry is built from: onnx-worker.ts and what it imports here. */
const WORKER_ENTRY_SOURCES: readonly string[] = ['onnx-worker.ts', 'onnx-tensor.ts', 'onnx-log-level.ts'];

/**
 * The compiled worker entry. Compiled, this module sits beside it in dist/engines/. Run from the
 * TypeScript sources (vitest), it points at the compiled copy under the package root's dist/,
 * which `npm run build` writes (`npm test` builds first): a Node 20 worker cannot load .ts files.
 * A compiled copy older than its sources is refused rather than run stale.
 */
export function onnxWorkerEntry(): URL {
  if (!fileURLToPath(import.meta.url).endsWith('.ts')) return new URL('./onnx-worker.js', import.meta.url);
  const root = packageRoot();
  const built = join(root, 'dist', 'engines', 'onnx-worker.js');
  if (!existsSync(built)) {
    throw new Error(`the onnx worker entry ${built} is missing: run \`npm run build\` first (or use execution: 'inline')`);
  }
  const builtAt = statSync(built).mtimeMs;
  const newer = WORKER_ENTRY_SOURCES.map((f) => join(root, 'engines', f))
    .filter((source) => existsSync(source) && statSync(source).mtimeMs > builtAt);
  if (newer.length > 0) {
    throw new Error(`the onnx worker entry ${built} is older than ${newer.join(', ')}: run \`npm run build\``);
  }
  return pathToFileURL(built);
}

interface PendingRun {
  resolve(outputs: WireTensors): void;
  reject(error: Error): void;
}

/**
 * The session on a worker thread of its own. The worker is unref'd while idle, so an idle
 * instance does not keep the process alive, and ref'd while a run or the release is pending.
 * One host is one worker's life: when the worker dies, the supervisor starts another host.
 *
 * Never terminate a worker that may be inside session.run: onnxruntime-node then throws a C++
 * exception while converting the outputs and the whole process aborts (1.30; the same happens when
 * the process exits with a run in flight). So release() waits for the worker to finish what it
 * was given and release the session, and only then terminates the now idle thread.
 */
export class WorkerSessionHost implements SessionHost, SupervisedHost {
  readonly worker: Worker;
  gone: InferError | undefined;
  exit: WorkerExit | undefined;
  onExit: ((exit: WorkerExit) => void) | undefined;
  readonly #who: string;
  readonly #pending = new Map<number, PendingRun>();
  #nextId = 0;
  #crash: Error | undefined;
  #unloading = false;
  #onReleased: (() => void) | undefined;

  private constructor(worker: Worker, who: string) {
    this.worker = worker;
    this.#who = who;
    worker.on('message', (message: FromWorker) => this.#receive(message));
    worker.on('messageerror', (err: Error) => this.#failPending(new InferError('INTERNAL', `${who}: a result from its onnxruntime worker could not be read: ${err.message}`, 'engine_error')));
    worker.on('error', (err: Error) => { this.#crash = err; });
    worker.on('exit', (code: number) => this.#exited(code));
    worker.unref();
  }

  /** Starts a worker and its session; throws (without naming the instance) when the worker itself cannot start. */
  static async start(model: Uint8Array, attempts: ort.InferenceSession.SessionOptions[], who: string): Promise<HostStart<WorkerSessionHost>> {
    const entry = onnxWorkerEntry();
    // None of the parent's node flags are for the worker, and some (--input-type, --eval) stop a Worker from starting.
    const worker = new Worker(entry, { workerData: ONNX_WORKER_DATA, execArgv: [] });
    let first: FromWorker;
    try {
      first = await new Promise<FromWorker>((resolve, reject) => {
        const settle = (action: () => void) => {
          worker.off('message', onMessage).off('error', onError).off('exit', onExit);
          action();
        };
        const onMessage = (message: FromWorker) => settle(() => resolve(message));
        const onError = (err: Error) => settle(() => reject(err));
        const onExit = (code: number) => settle(() => reject(new Error(`it exited with code ${code}`)));
        worker.on('message', onMessage).on('error', onError).on('exit', onExit);
        // The loaded model keeps its bytes for the next instance (and restarts): send a compact copy and move that.
        const copy = new Uint8Array(model);
        worker.postMessage({ kind: 'start', model: copy, attempts } satisfies ToWorker, [copy.buffer]);
      });
    } catch (err) {
      await worker.terminate();
      throw new Error(`the onnxruntime worker did not start: ${(err as Error).message}`);
    }
    if (first.kind === 'ready') return { ok: true, host: new WorkerSessionHost(worker, who), attempt: first.attempt, failures: first.failures };
    await worker.terminate();
    if (first.kind === 'start-failed') return { ok: false, failures: first.failures };
    throw new Error(`the onnxruntime worker answered '${first.kind}' to start`);
  }

  run(feeds: WireTensors, fetches: string[], movable: boolean): Promise<WireTensors> {
    if (this.gone) return Promise.reject(this.gone);
    return new Promise<WireTensors>((resolve, reject) => {
      const id = this.#nextId++;
      const { tensors, transfer } = forTransfer(feeds, movable);
      this.#pending.set(id, { resolve, reject });
      if (this.#pending.size === 1) this.worker.ref();
      try {
        this.worker.postMessage({ kind: 'run', id, feeds: tensors, fetches } satisfies ToWorker, transfer);
      } catch (err) {
        this.#settle(id)?.reject(err as Error);
      }
    });
  }

  async release(): Promise<void> {
    if (this.gone) return;
    this.#unloading = true;
    this.worker.ref();
    // Resolved by 'released', or by the worker's exit if it dies on the way.
    await new Promise<void>((resolve) => {
      this.#onReleased = resolve;
      this.worker.postMessage({ kind: 'release' } satisfies ToWorker);
    });
    await this.worker.terminate();
  }

  #receive(message: FromWorker): void {
    switch (message.kind) {
      case 'result':
        this.#settle(message.id)?.resolve(message.outputs);
        return;
      case 'run-failed':
        this.#settle(message.id)?.reject(new Error(message.message));
        return;
      case 'released':
        this.#onReleased?.();
        return;
      default:
        return;
    }
  }

  #settle(id: number): PendingRun | undefined {
    const pending = this.#pending.get(id);
    this.#pending.delete(id);
    if (this.#pending.size === 0 && !this.#unloading) this.worker.unref();
    return pending;
  }

  #failPending(error: Error): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    if (!this.#unloading) this.worker.unref();
    for (const p of pending) p.reject(error);
  }

  #exited(code: number): void {
    if (this.#unloading) {
      this.gone = new InferError('UNAVAILABLE', `${this.#who} was unloaded`, 'unloaded');
    } else {
      const cause = this.#crash?.message;
      this.exit = cause === undefined ? { code } : { code, cause };
      this.gone = new InferError('INTERNAL', `${this.#who}: its onnxruntime worker exited (code ${code}${cause !== undefined ? `: ${cause}` : ''}); the instance restarts it`, 'engine_worker_exit');
      // Before the runs in flight fail, so that their callers find the replacement already on its way.
      this.onExit?.(this.exit);
    }
    this.#failPending(this.gone);
    this.#onReleased?.();
  }
}
