/**
 * Serving a node's own models: no pool, no picker, no retry (there is no other node to choose).
 * The request is decoded and validated against the version that will run it, queued on that
 * version's executor with its deadline and abort signal, and its response encoded in the form the
 * client asked for.
 */
import { decodeHttpInferRequest, encodeHttpInferResponse } from '../core/kserve-http-codec.js';
import type { InferCall, WireAnswer } from '../core/infer-call.js';
import type { InferLimits } from '../core/infer-json.js';
import type { ModelIndexEntry, ModelMetadata } from '../core/model-metadata.js';
import { toModelConfig } from '../core/model-config.js';
import type { ModelHost } from '../node/model-host.js';
import type { PoolView } from '../scheduler/pool.js';
import type { ServingTarget } from './serving-target.js';

export class NodeTarget implements ServingTarget {
  constructor(private readonly host: ModelHost, private readonly limits: InferLimits) {}

  metadata(model: string, version?: string): ModelMetadata {
    const executor = this.host.resolve(model, version);
    return { ...executor.metadata, versions: [...this.host.model(model)!.executors.keys()] };
  }

  modelReady(model: string, version?: string): boolean {
    return this.host.resolve(model, version).accepting;
  }

  ready(): boolean {
    return this.host.models().every((m) => m.latest.accepting);
  }

  async config(model: string, version?: string): Promise<unknown> {
    this.host.resolve(model, version);
    const hosted = this.host.model(model)!;
    return toModelConfig(hosted.declared.declaration, hosted.metadata.platform);
  }

  index(): ModelIndexEntry[] {
    return this.host.index().sort((a, b) => a.name.localeCompare(b.name) || Number(a.version) - Number(b.version));
  }

  /**
   * The operator view in the shape a gateway gives its pools: each model version served by this
   * one node, with its queue's figures.
   */
  poolsView(nodeId: string, url: string, capacity: number): PoolView[] {
    return this.host.models().flatMap((m) => [...m.executors.values()].map((e): PoolView => ({
      model: m.metadata.name,
      version: e.version,
      policy: 'local',
      nodes: [{
        id: nodeId, url, state: e.accepting ? 'ready' : 'draining', weight: capacity, capacity,
        in_flight: e.inFlight, requests: e.answered, failures: e.failed,
      }],
    })));
  }

  async infer(call: InferCall): Promise<WireAnswer> {
    const executor = this.host.resolve(call.model, call.version);
    const request = decodeHttpInferRequest(call.payload, call.model, executor.version, executor.metadata, this.limits);
    const response = await executor.infer(request, { deadlineMs: call.deadlineMs, cancellation: call.cancellation });
    return encodeHttpInferResponse(response, request);
  }
}
