/**
 * How a request is called off: by its deadline, or by its client going away. Every layer it
 * crosses (service, router, transport, node queue) listens, so a queued request leaves its queue
 * and an upstream request is aborted. A plain object, not AbortController/AbortSignal: Node's
 * EventTarget costs microseconds per request on the hot path, and nothing here needs its generality
 * (one owner cancels, a few listeners react once).
 */
import type { InferError } from './errors.js';

export class Cancellation {
  #reason: InferError | undefined;
  #listeners: Array<(reason: InferError) => void> | undefined;

  get cancelled(): boolean {
    return this.#reason !== undefined;
  }

  /** Why it was cancelled (DEADLINE_EXCEEDED, CANCELLED); undefined while it was not. */
  get reason(): InferError | undefined {
    return this.#reason;
  }

  /** Cancels once; later calls keep the first reason. Listeners run now, in the order they came. */
  cancel(reason: InferError): void {
    if (this.#reason !== undefined) return;
    this.#reason = reason;
    const listeners = this.#listeners;
    this.#listeners = undefined;
    if (listeners) for (const listener of listeners) listener(reason);
  }

  /**
   * Runs `listener` once when cancelled, at once if it already was. There is no removal: a listener
   * lives as long as its request, and one whose work already ended must do nothing.
   */
  onCancel(listener: (reason: InferError) => void): void {
    if (this.#reason !== undefined) listener(this.#reason);
    else (this.#listeners ??= []).push(listener);
  }
}
