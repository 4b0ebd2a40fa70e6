/**
 * What the scheduler routes to: one node serving some models, in this process or across the
 * network. The scheduler owns this contract; transports implement it.
 */
import type { InferCall, WireAnswer } from '../core/infer-call.js';
import type { LoadProbe } from '../core/load-probe.js';

export interface Backend {
  readonly id: string;
  /**
   * Sends the call to `version` of its model on this node. Resolves with whatever the node
   * answered, success or error status, unchanged; rejects with a TransportError when no answer
   * came (the node may be gone: safe to send elsewhere), or with the call's abort reason.
   */
  infer(call: InferCall, version: string): Promise<WireAnswer>;
  /**
   * Asks the node how loaded it is now (Prequal's probe): requests in flight from every gateway and
   * the latency it expects for a request sent now. Optional: backends that cannot answer it are
   * not probed, and probing policies fall back for them.
   */
  probe?(): Promise<LoadProbe>;
  close(): Promise<void>;
}
