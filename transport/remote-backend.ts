/**
 * A backend across the network: any KServe v2 HTTP server (an infergate backend node, a Triton).
 * Requests travel with all tensors in the binary extension over an undici keep-alive pool.
 * Failures that mean "the node did not answer" become TransportError, so the router retries them.
 */
import { Pool, errors as undiciErrors, type Dispatcher } from 'undici';
import { InferError, TransportError, fromHttpStatus } from '../core/errors.js';
import { encodeInferRequest, parseBinaryInferResponse } from '../core/infer-binary.js';
import type { ModelMetadata } from '../core/model-metadata.js';
import type { InferRequest, InferResponse } from '../core/tensor.js';
import type { Backend, InferOptions } from '../scheduler/backend.js';

export const DEFAULT_BACKEND_CONNECTIONS = 64;
export const DEFAULT_CONNECT_TIMEOUT_MS = 1_000;
/** Used when a request carries no deadline. */
export const DEFAULT_BACKEND_REQUEST_TIMEOUT_MS = 60_000;

export interface RemoteBackendOptions {
  connections: number;
  connectTimeoutMs: number;
}

/** Error codes (undici's and the socket layer's) that mean the request got no answer. */
const TRANSPORT_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT',
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_CLOSED', 'UND_ERR_DESTROYED',
]);

export class RemoteBackend implements Backend {
  readonly #pool: Pool;
  #closed = false;

  constructor(readonly id: string, readonly url: string, options: Partial<RemoteBackendOptions> = {}) {
    this.#pool = new Pool(url, {
      connections: options.connections ?? DEFAULT_BACKEND_CONNECTIONS,
      connect: { timeout: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS },
      pipelining: 1,
    });
  }

  async infer(request: InferRequest, options: InferOptions = {}): Promise<InferResponse> {
    const { body, headerLength } = encodeInferRequest(request, { binaryOutputs: true });
    const version = request.modelVersion ? `/versions/${encodeURIComponent(request.modelVersion)}` : '';
    const timeoutMs = options.deadlineMs !== undefined
      ? Math.max(1, options.deadlineMs - Date.now())
      : DEFAULT_BACKEND_REQUEST_TIMEOUT_MS;
    const headers: Record<string, string> = {
      'content-type': 'application/octet-stream',
      'inference-header-content-length': String(headerLength),
    };
    if (options.requestId) headers['x-request-id'] = options.requestId;
    const response = await this.#send({
      method: 'POST',
      path: `/v2/models/${encodeURIComponent(request.modelName)}${version}/infer`,
      headers,
      body,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    if (response.status !== 200) throw errorFromBody(response.status, response.body, this.url);
    const lengthHeader = response.headers['inference-header-content-length'];
    const responseHeaderLength = lengthHeader === undefined ? undefined : Number(lengthHeader);
    return parseBinaryInferResponse(response.body, responseHeaderLength);
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
    const response = await this.#send({ method, path, headersTimeout: DEFAULT_CONNECT_TIMEOUT_MS * 5, bodyTimeout: DEFAULT_CONNECT_TIMEOUT_MS * 5 });
    if (response.status !== 200) throw errorFromBody(response.status, response.body, this.url);
    return JSON.parse(response.body.toString('utf8')) as T;
  }

  /** Aborts requests in flight (they fail as transport errors and are retried elsewhere). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
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
      const response = await this.#pool.request(options);
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
