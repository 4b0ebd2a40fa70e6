/**
 * Forwards gRPC inferences to a node's gRPC door as they came: the ModelInferRequest bytes go out
 * through grpc-js's generic client with identity (de)serializers, and the node's ModelInferResponse
 * bytes come back unchanged. Nothing is decoded on the way; only the model_version field is added
 * when the client left it to the gateway (protobuf's last field wins), so the node runs the
 * version the pool was chosen for. What is left of the request's deadline is the call's gRPC
 * deadline, and a cancelled request cancels the call, so the node drops it from its queue.
 *
 * A status the node sent itself (it carries the infergate-http-status trailer) becomes the
 * answer's HTTP-style status and message, so the router's rules (503 retried within the budget)
 * work as for HTTP, and its pushback trailer (grpc-retry-pushback-ms, else retry-after in seconds)
 * becomes the answer's retryAfterMs. Nothing here retries: the router's loop is the only one. An UNAVAILABLE without it means no answer came (refused, reset, unreachable): a
 * TransportError, and the router sends the call elsewhere.
 */
import { LOAD_HEADER, parseLoadHeader, type LoadFigures } from '../core/load-header.js';
import { Client, Metadata, credentials, status, type ClientUnaryCall, type ServiceError } from '@grpc/grpc-js';
import { InferError, TransportError, fromGrpcStatus, parseRetryAfter } from '../core/errors.js';
import { AUTHORIZATION, REQUEST_ID, RETRY_AFTER } from '../core/http-headers.js';
import type { ClientTls } from '../core/tls-files.js';
import type { InferCall, WireAnswer } from '../core/infer-call.js';
import {
  GRPC_CLIENT_FLOW_CONTROL_WINDOW_BYTES, GRPC_MESSAGE_CONTENT_TYPE, HTTP_STATUS_TRAILER, MODEL_INFER_PATH, RETRY_PUSHBACK_TRAILER, grpcErrorAnswer, withModelVersion,
} from '../core/kserve-grpc-envelope.js';

/** A target written `grpcs://host:port` is reached over TLS; `host:port` (or `grpc://`) in plaintext. */
export const GRPC_TLS_SCHEME = 'grpcs://';

export interface GrpcForwarderOptions {
  /** Trust (and client certificate) for TLS targets; without a CA the system's roots are trusted. */
  tls?: ClientTls;
  /** Largest message either way (the gateway's --grpc-max-message-bytes). */
  maxMessageBytes: number;
  /** The load figures a node's answer carried in its trailing metadata (core/load-header.ts). */
  onLoad?: (load: LoadFigures) => void;
  /** The gateway's key for nodes that check API keys (--backend-api-key-file), sent as `authorization` metadata. */
  apiKey?: string;
}

const asIs = (bytes: Buffer): Buffer => bytes;

export class GrpcForwarder {
  readonly #client: Client;
  /** Calls waiting for an answer, cut when the forwarder closes (the node was evicted). */
  readonly #inFlight = new Set<ClientUnaryCall>();

  readonly #onLoad?: (load: LoadFigures) => void;
  readonly #authorization?: string;

  /** `target`: the node's gRPC address, `host:port`, or `grpcs://host:port` for a TLS door. */
  constructor(readonly target: string, options: GrpcForwarderOptions) {
    this.#onLoad = options.onLoad;
    if (options.apiKey !== undefined) this.#authorization = `Bearer ${options.apiKey}`;
    const tls = target.startsWith(GRPC_TLS_SCHEME);
    const address = tls ? target.slice(GRPC_TLS_SCHEME.length) : target;
    const channel = tls
      ? credentials.createSsl(options.tls?.ca ?? null, options.tls?.key ?? null, options.tls?.cert ?? null)
      : credentials.createInsecure();
    this.#client = new Client(address, channel, {
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
    if (this.#authorization !== undefined) metadata.set(AUTHORIZATION, this.#authorization);
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
      const answer = grpcErrorAnswer(httpStatus, err.details);
      const retryAfterMs = pushbackOf(err);
      resolve(retryAfterMs === undefined ? answer : { ...answer, retryAfterMs });
      return;
    }
    const message = `backend ${this.target} (gRPC): ${err.details}`;
    if (err.code === status.UNAVAILABLE || err.code === status.CANCELLED) reject(new TransportError(message));
    else if (err.code === status.DEADLINE_EXCEEDED) reject(new InferError('DEADLINE_EXCEEDED', `${message}: no answer before the request's deadline`, 'backend_timeout'));
    else reject(new InferError(fromGrpcStatus(err.code), message, 'backend_error'));
  }
}

/** The node's pushback: grpc-retry-pushback-ms (ms) or else retry-after (seconds); undefined if neither. */
function pushbackOf(err: ServiceError): number | undefined {
  const ms = err.metadata?.get(RETRY_PUSHBACK_TRAILER)[0];
  if (typeof ms === 'string' && /^\d{1,9}$/.test(ms.trim())) return Number(ms);
  const seconds = err.metadata?.get(RETRY_AFTER)[0];
  return typeof seconds === 'string' ? parseRetryAfter(seconds) : undefined;
}
