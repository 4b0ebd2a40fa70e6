/**
 * A backend in this process: the call goes straight to a handler that serves it (a node's own
 * service), with no socket and no copy. For a gateway that hosts a node beside its pools, and for
 * routing tests without a network.
 */
import type { InferCall, WireAnswer } from '../core/infer-call.js';

export type LocalInferHandler = (call: InferCall, version: string) => Promise<WireAnswer>;

/** Satisfies the scheduler's Backend contract by shape (a transport does not import from above). */
export class LocalBackend {
  constructor(
    readonly id: string,
    private readonly handler: LocalInferHandler,
    private readonly onClose: () => Promise<void> = async () => {},
  ) {}

  infer(call: InferCall, version: string): Promise<WireAnswer> {
    return this.handler(call, version);
  }

  close(): Promise<void> {
    return this.onClose();
  }
}
