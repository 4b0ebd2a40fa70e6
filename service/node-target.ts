/**
 * Serving a node's own models: no pool, no picker, no retry (there is no other node to choose).
 * The request is decoded (by its wire format: HTTP or gRPC) and validated against the version that
 * will run it, queued on that version's executor with its deadline (capped by the request's
 * `timeout` parameter) and abort signal, and its response encoded in the form the client asked for.
 * The model's declared processing (processing/model-processing.ts) runs on each side of the queue:
 * images decoded into the tensors the model takes, outputs post-processed and classified.
 */
import { decodeGrpcInferRequest, encodeGrpcInferResponse } from '../core/kserve-grpc-codec.js';
import { decodeHttpInferRequest, encodeHttpInferResponse } from '../core/kserve-http-codec.js';
import type { InferCall, WireAnswer, WireFormat, WirePayload } from '../core/infer-call.js';
import type { InferLimits } from '../core/infer-json.js';
import type { ModelIndexEntry, ModelMetadata } from '../core/model-metadata.js';
import { byModelAndVersion, type ModelStatistics } from '../core/model-statistics.js';
import { unavailable } from '../core/errors.js';
import { toModelConfig } from '../core/model-config.js';
import { timeoutParameterPassed, timeoutParameterUs } from '../core/request-parameters.js';
import type { InferRequest, InferResponse } from '../core/tensor.js';
import type { ModelExecutor } from '../node/model-executor.js';
import type { ModelHost } from '../node/model-host.js';
import type { PoolView } from '../scheduler/pool.js';
import { DeadlineTimer } from './deadline-timer.js';
import type { ServingTarget } from './serving-target.js';

/**
 * How a node reads a request and writes its response, per wire format. Either may be asynchronous
 * (an HTTP body to inflate, an answer to compress), and is synchronous when there is nothing to do.
 */
export interface WireCodec {
  decode(payload: WirePayload, model: string, version: string, meta: ModelMetadata, limits: InferLimits): InferRequest | Promise<InferRequest>;
  encode(response: InferResponse, request: InferRequest, payload: WirePayload): WireAnswer | Promise<WireAnswer>;
}

export const WIRE_CODECS: Record<WireFormat, WireCodec> = {
  'kserve-http': {
    decode: decodeHttpInferRequest,
    encode: (response, request, payload) => encodeHttpInferResponse(response, request, payload.acceptEncoding),
  },
  'kserve-grpc': {
    decode: (payload, model, version, meta, limits) => decodeGrpcInferRequest(payload.body, model, version, meta, limits),
    encode: (response) => encodeGrpcInferResponse(response),
  },
};

export class NodeTarget implements ServingTarget {
  constructor(private readonly host: ModelHost, private readonly limits: InferLimits) {}

  metadata(model: string, version?: string): ModelMetadata {
    this.host.resolve(model, version);
    const hosted = this.host.model(model)!;
    // Declared processing changes what clients send and get (an image input is BYTES).
    return { ...hosted.processing.metadata, versions: [...hosted.executors.keys()] };
  }

  /** UNAVAILABLE, with the reason, for a model declared here that cannot be served (KServe: 503). */
  modelReady(model: string, version?: string): boolean {
    const reason = this.host.unavailableReason(model);
    if (reason !== undefined) throw unavailable(`model '${model}' is not ready: ${reason}`, 'model_unavailable');
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

  /** Every version's figures from its executor; a model without a version: all its versions. */
  statistics(model?: string, version?: string): ModelStatistics[] {
    let executors: ModelExecutor[];
    if (model === undefined) executors = this.host.models().flatMap((m) => [...m.executors.values()]);
    else if (version) executors = [this.host.resolve(model, version)];
    else {
      this.host.resolve(model);
      executors = [...this.host.model(model)!.executors.values()];
    }
    return executors.map((e) => e.statistics()).sort(byModelAndVersion);
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
        breaker: 'closed', // a node does not break its own circuit
      }],
    })));
  }

  /**
   * A request counts in its version's statistics from here (decoding included) to its encoded
   * answer; one for a model or version this node does not serve counts nowhere.
   */
  async infer(call: InferCall): Promise<WireAnswer> {
    const arrivedAtMs = Date.now();
    const executor = this.host.resolve(call.model, call.version);
    const startedAt = performance.now();
    try {
      const codec = WIRE_CODECS[call.payload.format];
      const processing = this.host.model(call.model)!.processing;
      const request = await codec.decode(call.payload, call.model, executor.version, processing.metadata, this.limits);
      const prepared = await processing.prepare(request);
      const response = processing.finish(await runWithinTimeout(executor, prepared, call, arrivedAtMs), request);
      const answer = await codec.encode(response, request, call.payload);
      executor.requests.succeeded(startedAt);
      return answer;
    } catch (err) {
      executor.requests.failed(startedAt);
      throw err;
    }
  }
}

/** Fires the `timeout` parameters that come before their requests' deadlines, one timer for all. */
const timeoutParameters = new DeadlineTimer();

/**
 * Runs the request by its deadline, or by its `timeout` parameter (Triton's, in µs, from its
 * arrival on this node) when that comes sooner: then it is called off at that time, queued or
 * running, as at its deadline, and the answer says that the parameter's time passed (the
 * request's cancellation, not the queue's deadline check, so that it always says so).
 */
function runWithinTimeout(executor: ModelExecutor, request: InferRequest, call: InferCall, arrivedAtMs: number): Promise<InferResponse> {
  const options = { deadlineMs: call.deadlineMs, cancellation: call.cancellation };
  const timeoutUs = timeoutParameterUs(request.parameters);
  if (timeoutUs === undefined) return executor.infer(request, options);
  const timeoutAtMs = arrivedAtMs + timeoutUs / 1000;
  if (timeoutAtMs >= call.deadlineMs) return executor.infer(request, options);
  // Decoding a large body may take longer than a short timeout: then it never reaches the queue.
  if (Date.now() >= timeoutAtMs) return Promise.reject(timeoutParameterPassed(timeoutUs));
  const watch = timeoutParameters.watch(timeoutAtMs, () => call.cancellation.cancel(timeoutParameterPassed(timeoutUs)));
  return executor.infer(request, options).finally(() => timeoutParameters.unwatch(watch));
}
