/**
 * Where an ONNX instance's session lives. In worker mode this file is the entry of the instance's
 * own worker thread: onnxruntime-node runs `session.run` (and session creation) on the calling
 * JavaScript thread, so here it blocks this thread, not the server's event loop, and two instances
 * run at once. Inline mode calls the same two functions, startSession and runSession, on the
 * instance's own thread.
 *
 * The protocol, one session per worker:
 *   → start {model, attempts}    ← ready {attempt, failures} | start-failed {failures}
 *   → run {id, feeds, fetches}   ← result {id, outputs} | run-failed {id, message}
 *   → release                    ← released
 * Any other message is a bug and ends the worker with an error. The instance never posts a run
 * before the previous one answered; runs are serialized here anyway. Output arrays come back
 * transferred, not copied.
 */
import { isMainThread, parentPort, workerData, type MessagePort } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import { ortEnvLogLevel } from './onnx-log-level.js';
import { forTransfer, ortToWire, wireToOrt, type WireTensors } from './onnx-tensor.js';

/** The workerData of an onnx worker: importing this module anywhere else starts nothing. */
export const ONNX_WORKER_DATA = 'infergate-onnx-worker';

export type ToWorker =
  | { kind: 'start'; model: Uint8Array; attempts: ort.InferenceSession.SessionOptions[] }
  | { kind: 'run'; id: number; feeds: WireTensors; fetches: string[] }
  | { kind: 'release' };

export type FromWorker =
  | { kind: 'ready'; attempt: number; failures: string[] }
  | { kind: 'start-failed'; failures: string[] }
  | { kind: 'result'; id: number; outputs: WireTensors }
  | { kind: 'run-failed'; id: number; message: string }
  | { kind: 'released' };

export type SessionStart =
  | { ok: true; session: ort.InferenceSession; attempt: number; failures: string[] }
  | { ok: false; failures: string[] };

/** Tries the option sets in order (provider fallback); `failures[i]` is why attempt i did not start. */
export async function startSession(model: Uint8Array, attempts: ort.InferenceSession.SessionOptions[]): Promise<SessionStart> {
  const failures: string[] = [];
  // onnxruntime reads its environment's log level once per thread, at the first session: set it
  // from the sessions' own level so that environment-wide messages follow it too.
  const severity = attempts[0]?.logSeverityLevel;
  if (severity !== undefined) ort.env.logLevel = ortEnvLogLevel(severity);
  for (const [attempt, options] of attempts.entries()) {
    try {
      return { ok: true, session: await ort.InferenceSession.create(model, options), attempt, failures };
    } catch (err) {
      failures.push(messageOf(err));
    }
  }
  return { ok: false, failures };
}

export async function runSession(session: ort.InferenceSession, feeds: WireTensors, fetches: string[]): Promise<WireTensors> {
  const ortFeeds = Object.fromEntries(Object.entries(feeds).map(([name, w]) => [name, wireToOrt(w)]));
  const out = await session.run(ortFeeds, fetches);
  return Object.fromEntries(fetches.map((name) => [name, ortToWire(name, out[name])]));
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function serve(port: MessagePort): void {
  let session: ort.InferenceSession | undefined;
  const post = (message: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

  const handle = async (message: ToWorker): Promise<void> => {
    switch (message.kind) {
      case 'start': {
        const started = await startSession(message.model, message.attempts);
        if (started.ok) {
          session = started.session;
          post({ kind: 'ready', attempt: started.attempt, failures: started.failures });
        } else {
          post({ kind: 'start-failed', failures: started.failures });
        }
        return;
      }
      case 'run': {
        if (!session) {
          post({ kind: 'run-failed', id: message.id, message: 'the session is not started or was released' });
          return;
        }
        let outputs: WireTensors;
        try {
          outputs = await runSession(session, message.feeds, message.fetches);
        } catch (err) {
          post({ kind: 'run-failed', id: message.id, message: messageOf(err) });
          return;
        }
        // Nothing here reads the outputs again: whole-buffer arrays move, views are compacted first.
        const { tensors, transfer } = forTransfer(outputs, true);
        post({ kind: 'result', id: message.id, outputs: tensors }, transfer);
        return;
      }
      case 'release': {
        const released = session;
        session = undefined;
        await released?.release();
        post({ kind: 'released' });
        return;
      }
      default:
        // A message this worker does not know (a stale build?) is a bug: die loudly, the instance reports it.
        throw new Error(`onnx worker: unknown message ${JSON.stringify((message as { kind?: unknown }).kind)}`);
    }
  };

  let queue = Promise.resolve();
  port.on('message', (message: ToWorker) => {
    // An exception escaping handle() is a bug: as an unhandled rejection it ends this worker, and
    // the instance fails what was in flight with INTERNAL.
    queue = queue.then(() => handle(message));
  });
}

if (!isMainThread && parentPort && workerData === ONNX_WORKER_DATA) serve(parentPort);
