/**
 * Forwards gRPC inferences to a node's gRPC door as they came: the ModelInferRequest bytes go out
 * through grpc-js's generic client with identity (de)serializers, and the node's ModelInferResponse
 * bytes come back unchanged. Nothing is decoded on the way; only the model_version field is added
 * when the client left it to the gateway (protobuf's last field wins), so the node runs the
 * version the pool was chosen for. What is left of the request's deadline is the call's gRPC
 * deadline, and a cancelled request cancels the call, so the node drops it from its queue.
 *
 * A status the node sent itself (it carries the infergate-http-status trailer) becomes the
 * answer's HTTP-style status and message, so the router's rules (503 retried once) work as for
 * HTTP. An UNAVAILABLE without it means no answer came (refused, reset, unreachable): a
 * TransportError, and the router sends the call elsewhere.
 */
import { LOAD_HEADER, parseLoadHeader, type LoadFigures } from '../core/load-header.js';
import { Client, Metadata, credentials, status, type ClientUnaryCall, type ServiceError } from '@grpc/grpc-js';
import { InferError, TransportError, fromGrpcStatus } from '../core/errors.js';
import { REQUEST_ID } from '../core/http-headers.js';
import type { InferCall, WireAnswer } from '../core/infer-call.js';
import {
  GRPC_CLIENT_FLOW_CONTROL_WINDOW_BYTES, GRPC_MESSAGE_CONTENT_TYPE, HTTP_STATUS_TRAILER, MODEL_INFER_PATH, grpcErrorAnswer, withModelVersion,
} from '../core/kserve-grpc-envelope.js';

export interface GrpcForwarderOptions {
  /** Largest message either way (the gateway's --grpc-max-message-bytes). */
  maxMessageBytes: number;
  /** The load figures a node's answer carried in its trailing metadata (core/load-header.ts). */
  onLoad?: (load: LoadFigures) => void;
}

const asIs = (bytes: Buffer): Buffer => bytes;

export class GrpcForwarder {
  readonly #client: Client;
  /** Calls waiting for an answer, cut when the forwarder closes (the node was evicted). */
  readonly #inFlight = new Set<ClientUnaryCall>();

  /** `target`: the node's gRPC address as grpc-js takes it, `host:port`. */
  readonly #onLoad?: (load: LoadFigures) => void;

  constructor(readonly target: string, options: GrpcForwarderOptions) {
    this.#onLoad = options.onLoad;
    this.#client = new Client(target, credentials.createInsecure(), {
      'grpc.max_receive_message_length': options.maxMessageBytes,
      'grpc.max_send_message_length': options.maxMessageBytes,
      'grpc-node.flow_control_window': GRPC_CLIENT_FLOW_CONTROL_WINDOW_BYTES,
    });
  }

  infer(call: InferCall, version: string): Promise<WireAnswer> {
    const { cancellation } = call;
    if (cancellation.reason) return Promise.reject(cancellation.reason);
    const body = call.version === version ? call.payload.body : withModelVersion(call.payload.body, version);
    const metadata = new Metadata();
    metadata.set(REQUEST_ID, call.requestId);
    return new Promise<WireAnswer>((resolve, reject) => {
      let settled = false;
      const unary = this.#client.makeUnaryRequest(MODEL_INFER_PATH, asIs, asIs, body, metadata, { deadline: call.deadlineMs }, (err, response) => {
        settled = true;
        this.#inFlight.delete(unary);
        if (cancellation.reason) reject(cancellation.reason);
        else if (err) this.#settleError(err, resolve, reject);
        else resolve({ status: 200, contentType: GRPC_MESSAGE_CONTENT_TYPE, body: response!, modelVersion: version });
      });
      this.#inFlight.add(unary);
      const onLoad = this.#onLoad;
      if (onLoad) {
        unary.on('status', (s) => {
          const value = s.metadata.get(LOAD_HEADER)[0];
          const load = typeof value === 'string' ? parseLoadHeader(value) : undefined;
          if (load) onLoad(load);
        });
      }
      // At once if already cancelled; a listener that fires after the answer does nothing.
      cancellation.onCancel(() => {
        if (!settled) unary.cancel();
      });
    });
  }

  /** Cuts the calls in flight (they fail as transport errors and are retried elsewhere) and closes the channel. */
  close(): void {
    for (const unary of this.#inFlight) unary.cancel();
    this.#inFlight.clear();
    this.#client.close();
  }

  #settleError(err: ServiceError, resolve: (answer: WireAnswer) => void, reject: (error: InferError) => void): void {
    const answered = err.metadata?.get(HTTP_STATUS_TRAILER)[0];
    const httpStatus = Number(answered);
    if (answered !== undefined && Number.isInteger(httpStatus)) {
      resolve(grpcErrorAnswer(httpStatus, err.details));
      return;
    }
    const message = `backend ${this.target} (gRPC): ${err.details}`;
    if (err.code === status.UNAVAILABLE || err.code === status.CANCELLED) reject(new TransportError(message));
    else if (err.code === status.DEADLINE_EXCEEDED) reject(new InferError('DEADLINE_EXCEEDED', `${message}: no answer before the request's deadline`, 'backend_timeout'));
    else reject(new InferError(fromGrpcStatus(err.code), message, 'backend_error'));
  }
}
