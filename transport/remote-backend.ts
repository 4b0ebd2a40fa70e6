/**
 * A backend across the network: any KServe v2 HTTP server (an infergate backend node, a Triton).
 * An inference is forwarded as it came: the client's body and its protocol headers (Content-Encoding
 * and Accept-Encoding included: the node inflates and compresses) go to the node unchanged over an
 * undici keep-alive pool, and the node's answer comes back unchanged, status, headers and body
 * (compressed as the node sent it). No tensor is decoded on the way. What is left of the request's deadline
 * travels in the infergate-timeout-ms header, and an aborted call aborts the upstream request, so
 * the node drops it from its queue. Failures that mean "the node did not answer" become
 * TransportError, so the router sends the call elsewhere. A node's Retry-After (on its 503) becomes
 * the answer's retryAfterMs: the router holds the node off that long and a gateway passes it on.
 * Nothing here retries: the router's loop is the only one (undici retries no POST).
 *
 * A gRPC inference goes to the node's gRPC door, as it came, when the node advertises one
 * (grpc-forwarder.ts); to a node without one it goes over HTTP, re-encoded (grpc-http-bridge.ts).
 */
import { parseLoadProbe, type LoadProbe } from '../core/load-probe.js';
import { Pool, errors as undiciErrors, type Dispatcher } from 'undici';
import type { Cancellation } from '../core/cancellation.js';
import { InferError, TransportError, fromHttpStatus, parseRetryAfter } from '../core/errors.js';
import type { InferCall, WireAnswer } from '../core/infer-call.js';
import {
  ACCEPT_ENCODING, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, INFERENCE_HEADER_CONTENT_LENGTH, JSON_CONTENT_TYPE, REQUEST_ID, RETRY_AFTER, TIMEOUT_MS,
} from '../core/http-headers.js';
import type { ModelMetadata } from '../core/model-metadata.js';
import { DEFAULT_MAX_TENSOR_ELEMENTS } from '../core/infer-json.js';
import { DEFAULT_GRPC_MAX_MESSAGE_BYTES } from '../core/kserve-grpc-envelope.js';
import { LOAD_HEADER, parseLoadHeader, type LoadFigures } from '../core/load-header.js';
import { GrpcForwarder } from './grpc-forwarder.js';
import { inferGrpcOverHttp } from './grpc-http-bridge.js';
import type { ClientTls } from '../core/tls-files.js';

export const DEFAULT_BACKEND_CONNECTIONS = 64;
export const DEFAULT_CONNECT_TIMEOUT_MS = 1_000;
/** Control requests (metadata, config, index) get this long. */
export const CONTROL_REQUEST_TIMEOUT_MS = 5_000;
/** A probe answer later than this is useless to a pick: the load it describes has moved on. */
export const PROBE_TIMEOUT_MS = 500;

export interface RemoteBackendOptions {
  connections: number;
  connectTimeoutMs: number;
  /**
   * The node's gRPC address (`host:port`) as its last load report gave it, read at each gRPC
   * call so that a node that moved its gRPC port is followed; undefined: HTTP only.
   */
  grpcTarget: () => string | undefined;
  /** Largest gRPC message either way (the gateway's --grpc-max-message-bytes). */
  grpcMaxMessageBytes: number;
  /** The gateway's --max-tensor-elements, for gRPC requests re-encoded for an HTTP-only node. */
  maxTensorElements: number;
  /**
   * The load figures an answer carried (the node's `infergate-load` header, or gRPC trailer), read
   * as the answer arrives: how a gateway learns a node's load from its own traffic, without heartbeats.
   */
  onLoad?: (load: LoadFigures) => void;
  /**
   * Trust (and client certificate, for mutual TLS) for an https:// node and a grpcs:// gRPC door;
   * the gateway's --backend-ca, --backend-cert and --backend-key.
   */
  tls?: ClientTls;
  /**
   * The gateway's own API key for nodes started with --api-keys (--backend-api-key-file), sent as
   * `Authorization: Bearer` on every request to the node: forwarded calls, probes, config reads.
   * A client's key stops at the gateway.
   */
  apiKey?: string;
}

/** Error codes (undici's and the socket layer's) that mean the request got no answer. */
const TRANSPORT_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT',
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_CLOSED', 'UND_ERR_DESTROYED',
  // A TLS handshake that failed (certificate not trusted, wrong name, protocol): the node got no request.
  'EPROTO', 'ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_TLS_CERT_ALTNAME_INVALID', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
]);

/** Satisfies the scheduler's Backend contract by shape: a transport does not import from the layer above it. */
export class RemoteBackend {
  readonly #pool: Pool;
  readonly #options: Partial<RemoteBackendOptions>;
  #grpc?: GrpcForwarder;
  #closed = false;

  constructor(readonly id: string, readonly url: string, options: Partial<RemoteBackendOptions> = {}) {
    this.#options = options;
    this.#pool = new Pool(url, {
      connections: options.connections ?? DEFAULT_BACKEND_CONNECTIONS,
      // The TLS material only matters for an https:// URL; undici ignores it for http://.
      connect: { timeout: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, ...options.tls },
      pipelining: 1,
    });
  }

  infer(call: InferCall, version: string): Promise<WireAnswer> {
    if (call.payload.format === 'kserve-grpc') return this.#inferGrpc(call, version);
    return this.#inferHttp(call, version);
  }

  #inferGrpc(call: InferCall, version: string): Promise<WireAnswer> {
    const target = this.#options.grpcTarget?.();
    if (target === undefined) {
      return inferGrpcOverHttp(call, version, this.#options.maxTensorElements ?? DEFAULT_MAX_TENSOR_ELEMENTS, (c, v) => this.#inferHttp(c, v));
    }
    if (this.#grpc?.target !== target) {
      // First gRPC call, or the node moved its gRPC door: calls still on the old channel get a while to finish.
      const previous = this.#grpc;
      this.#grpc = new GrpcForwarder(target, {
        maxMessageBytes: this.#options.grpcMaxMessageBytes ?? DEFAULT_GRPC_MAX_MESSAGE_BYTES, onLoad: this.#options.onLoad, tls: this.#options.tls, apiKey: this.#options.apiKey,
      });
      if (previous) setTimeout(() => previous.close(), CONTROL_REQUEST_TIMEOUT_MS).unref();
    }
    return this.#grpc.infer(call, version);
  }

  #inferHttp(call: InferCall, version: string): Promise<WireAnswer> {
    const { payload, cancellation } = call;
    if (cancellation.reason) return Promise.reject(cancellation.reason);
    const timeoutMs = Math.max(1, call.deadlineMs - Date.now());
    // A flat [name, value, ...] list: undici copies it without building an object.
    const headers: string[] = [REQUEST_ID, call.requestId, TIMEOUT_MS, String(timeoutMs)];
    if (payload.contentType !== undefined) headers.push(CONTENT_TYPE, payload.contentType);
    if (payload.headerLength !== undefined) headers.push(INFERENCE_HEADER_CONTENT_LENGTH, payload.headerLength);
    if (payload.contentEncoding !== undefined) headers.push(CONTENT_ENCODING, payload.contentEncoding);
    if (payload.acceptEncoding !== undefined) headers.push(ACCEPT_ENCODING, payload.acceptEncoding);
    if (this.#options.apiKey !== undefined) headers.push(AUTHORIZATION, `Bearer ${this.#options.apiKey}`);
    return new Promise<WireAnswer>((resolve, reject) => {
      const handler = new ForwardHandler(this.url, version, cancellation, resolve, reject, this.#options.onLoad);
      this.#pool.dispatch({
        method: 'POST',
        path: `/v2/models/${encodeURIComponent(call.model)}/versions/${encodeURIComponent(version)}/infer`,
        headers,
        body: payload.body,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      }, handler);
    });
  }

  async metadata(model: string, version: string): Promise<ModelMetadata> {
    const body = await this.getJson<{ name: string; versions?: string[]; platform: string; inputs: ModelMetadata['inputs']; outputs: ModelMetadata['outputs'] }>(
      `/v2/models/${encodeURIComponent(model)}/versions/${encodeURIComponent(version)}`,
    );
    const batched = body.inputs.length > 0 && body.inputs.every((t) => t.shape[0] === -1);
    return {
      name: body.name,
      versions: body.versions ?? [version],
      platform: body.platform,
      inputs: body.inputs,
      outputs: body.outputs,
      // The metadata endpoint does not carry max_batch_size; the config endpoint does.
      maxBatchSize: batched ? await this.#maxBatchSize(model, version) : 0,
    };
  }

  async getJson<T>(path: string, method: 'GET' | 'POST' = 'GET'): Promise<T> {
    const response = await this.#send({ method, path, headersTimeout: CONTROL_REQUEST_TIMEOUT_MS, bodyTimeout: CONTROL_REQUEST_TIMEOUT_MS });
    if (response.status !== 200) throw errorFromBody(response.status, response.body, this.url);
    return JSON.parse(response.body.toString('utf8')) as T;
  }

  /** The node's load probe (Prequal); a node that does not answer within PROBE_TIMEOUT_MS counts as unprobed. */
  async probe(): Promise<LoadProbe> {
    const response = await this.#send({ method: 'GET', path: '/infergate/probe', headersTimeout: PROBE_TIMEOUT_MS, bodyTimeout: PROBE_TIMEOUT_MS });
    if (response.status !== 200) throw errorFromBody(response.status, response.body, this.url);
    return parseLoadProbe(JSON.parse(response.body.toString('utf8')));
  }

  /** A control request (model load/unload) with a JSON body; rejects with the node's error, in the protocol's shape. */
  async postJson(path: string, body: unknown): Promise<void> {
    const response = await this.#send({
      method: 'POST', path, body: JSON.stringify(body), headers: { 'content-type': 'application/json' },
      headersTimeout: CONTROL_REQUEST_TIMEOUT_MS * 12, bodyTimeout: CONTROL_REQUEST_TIMEOUT_MS * 12,
    });
    if (response.status !== 200) throw errorFromBody(response.status, response.body, this.url);
  }

  /** Aborts requests in flight (they fail as transport errors and are retried elsewhere). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#grpc?.close();
    await this.#pool.destroy();
  }

  async #maxBatchSize(model: string, version: string): Promise<number> {
    try {
      const config = await this.getJson<{ max_batch_size?: number }>(`/v2/models/${encodeURIComponent(model)}/versions/${encodeURIComponent(version)}/config`);
      return config.max_batch_size ?? 0;
    } catch {
      return 0;
    }
  }

  async #send(options: Dispatcher.RequestOptions): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
    try {
      const apiKey = this.#options.apiKey;
      const response = await this.#pool.request(apiKey === undefined ? options : {
        ...options, headers: { ...(options.headers as Record<string, string> | undefined), [AUTHORIZATION]: `Bearer ${apiKey}` },
      });
      const body = Buffer.from(await response.body.arrayBuffer());
      return { status: response.statusCode, headers: response.headers, body };
    } catch (err) {
      throw toBackendError(err, this.url);
    }
  }
}

function toBackendError(err: unknown, url: string): InferError {
  const code = (err as { code?: string }).code ?? '';
  const message = `backend ${url}: ${(err as Error).message}${code ? ` (${code})` : ''}`;
  if (TRANSPORT_CODES.has(code) || err instanceof undiciErrors.SocketError) return new TransportError(message);
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return new InferError('DEADLINE_EXCEEDED', `${message}: no answer before the request's deadline`, 'backend_timeout');
  }
  return new InferError('INTERNAL', message, 'backend_error');
}

function errorFromBody(status: number, body: Buffer, url: string): InferError {
  let message = `backend ${url} answered ${status}`;
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { error?: unknown };
    if (typeof parsed.error === 'string') message = parsed.error;
  } catch {
    // Not the protocol's error shape: keep the status line.
  }
  return new InferError(fromHttpStatus(status), message, status >= 500 ? 'backend_error' : 'backend_rejected');
}

/**
 * undici's low-level handler (the callback form that undici runs without an adapter): collects the
 * answer's chunks and keeps the protocol headers a client needs (the body's Content-Encoding among
 * them: a compressed answer passes as it came).
 */
class ForwardHandler implements Dispatcher.DispatchHandler {
  #status = 0;
  #contentType = JSON_CONTENT_TYPE;
  #headerLength: string | undefined;
  #contentEncoding: string | undefined;
  #retryAfterMs: number | undefined;
  #chunks: Buffer[] = [];
  #settled = false;

  constructor(
    private readonly url: string,
    private readonly version: string,
    private readonly cancellation: Cancellation,
    private readonly resolve: (answer: WireAnswer) => void,
    private readonly reject: (error: InferError) => void,
    private readonly onLoad?: (load: LoadFigures) => void,
  ) {}

  onConnect(abort: (err?: Error) => void): void {
    // At once if already cancelled; a listener that fires after the answer does nothing.
    this.cancellation.onCancel((reason) => {
      if (!this.#settled) abort(reason);
    });
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[]): boolean {
    this.#status = statusCode;
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = rawHeaders[i].toString('latin1').toLowerCase();
      if (name === CONTENT_TYPE) this.#contentType = rawHeaders[i + 1].toString('latin1');
      else if (name === INFERENCE_HEADER_CONTENT_LENGTH) this.#headerLength = rawHeaders[i + 1].toString('latin1');
      else if (name === CONTENT_ENCODING) this.#contentEncoding = rawHeaders[i + 1].toString('latin1');
      else if (name === RETRY_AFTER) this.#retryAfterMs = parseRetryAfter(rawHeaders[i + 1].toString('latin1'));
      else if (name === LOAD_HEADER && this.onLoad) {
        const load = parseLoadHeader(rawHeaders[i + 1].toString('latin1'));
        if (load) this.onLoad(load);
      }
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.#chunks.push(chunk);
    return true;
  }

  onComplete(): void {
    if (this.#settle()) return;
    const body = this.#chunks.length === 1 ? this.#chunks[0] : Buffer.concat(this.#chunks);
    const answer: WireAnswer = {
      status: this.#status, contentType: this.#contentType, headerLength: this.#headerLength, contentEncoding: this.#contentEncoding,
      body, modelVersion: this.version,
    };
    this.resolve(this.#retryAfterMs === undefined ? answer : { ...answer, retryAfterMs: this.#retryAfterMs });
  }

  onError(err: Error): void {
    if (this.#settle()) return;
    this.reject(this.cancellation.reason ?? toBackendError(err, this.url));
  }

  /** True when already settled; otherwise marks it settled. */
  #settle(): boolean {
    if (this.#settled) return true;
    this.#settled = true;
    return false;
  }
}
