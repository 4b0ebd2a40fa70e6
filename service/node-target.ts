/**
 * Serving a node's own models: no pool, no picker, no retry (there is no other node to choose).
 * The request is decoded (by its wire format: HTTP or gRPC) and validated against the version that
 * will run it, queued on that version's executor with its deadline and abort signal, and its
 * response encoded in the form the client asked for.
 */
import { decodeGrpcInferRequest, encodeGrpcInferResponse } from '../core/kserve-grpc-codec.js';
import { decodeHttpInferRequest, encodeHttpInferResponse } from '../core/kserve-http-codec.js';
import type { InferCall, WireAnswer, WireFormat, WirePayload } from '../core/infer-call.js';
import type { InferLimits } from '../core/infer-json.js';
import type { ModelIndexEntry, ModelMetadata } from '../core/model-metadata.js';
import { toModelConfig } from '../core/model-config.js';
import type { InferRequest, InferResponse } from '../core/tensor.js';
import type { ModelHost } from '../node/model-host.js';
import type { PoolView } from '../scheduler/pool.js';
import type { ServingTarget } from './serving-target.js';

/** How a node reads a request and writes its response, per wire format. */
interface WireCodec {
  decode(payload: WirePayload, model: string, version: string, meta: ModelMetadata, limits: InferLimits): InferRequest;
  encode(response: InferResponse, request: InferRequest): WireAnswer;
}

const WIRE_CODECS: Record<WireFormat, WireCodec> = {
  'kserve-http': { decode: decodeHttpInferRequest, encode: encodeHttpInferResponse },
  'kserve-grpc': {
    decode: (payload, model, version, meta, limits) => decodeGrpcInferRequest(payload.body, model, version, meta, limits),
    encode: (response) => encodeGrpcInferResponse(response),
  },
};

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
    const codec = WIRE_CODECS[call.payload.format];
    const request = codec.decode(call.payload, call.model, executor.version, executor.metadata, this.limits);
    const response = await executor.infer(request, { deadlineMs: call.deadlineMs, cancellation: call.cancellation });
    return codec.encode(response, request);
  }
}
