/**
 * A KServe v2 client over HTTP, for Node (none exists on npm, and Triton's own clients are Python,
 * C++ and Java). One keep-alive undici pool per client; tensors in the binary extension both ways
 * by default (typed arrays straight into the body, no JSON number formatting), or JSON. Every
 * non-success answer is an InferenceServerError with the server's message and the error kind.
 *
 *   const client = new InferenceHttpClient('http://localhost:8000');
 *   const result = await client.infer('identity', [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 16], data: new Float32Array(16) }]);
 *   result.output('OUTPUT0').data // Float32Array
 */
import { Pool } from 'undici';
import { BINARY_CONTENT_TYPE, INFERENCE_HEADER_CONTENT_LENGTH, JSON_CONTENT_TYPE, REQUEST_ID, TIMEOUT_MS } from '../core/http-headers.js';
import { encodeInferRequest, parseBinaryInferResponse } from '../core/infer-binary.js';
import { inferRequestToJsonText } from '../core/infer-json.js';
import type { ModelIndexEntry, TensorMetadata } from '../core/model-metadata.js';
import type { InferRequest, Parameters, Tensor } from '../core/tensor.js';
import { InferenceServerError } from './client-errors.js';
import { toTensor, type TensorInput } from './client-tensors.js';

export const DEFAULT_CLIENT_CONNECTIONS = 16;
export const DEFAULT_CLIENT_TIMEOUT_MS = 60_000;

export interface HttpClientOptions {
  /** Keep-alive connections to the server (default DEFAULT_CLIENT_CONNECTIONS). */
  connections?: number;
  /** Default time a call may take (default DEFAULT_CLIENT_TIMEOUT_MS); per call `timeoutMs` overrides it. */
  timeoutMs?: number;
  /** An API key of the server (its --api-keys), sent as `Authorization: Bearer <key>` on every call. */
  apiKey?: string;
  /** For an https:// server: the CA to trust (else the system's roots) and a client certificate for a door with --tls-client-ca. */
  tls?: ClientTls;
}

/** PEM contents (not paths), as node:tls takes them. */
export interface ClientTls {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
}

export interface InferOptions {
  version?: string;
  id?: string;
  /** Outputs to return; all of the model's when absent. */
  outputs?: string[];
  parameters?: Parameters;
  /** 'binary' (default): the binary tensor extension both ways; 'json': JSON both ways. */
  encoding?: 'binary' | 'json';
  /** The request's deadline, sent to the server (infergate-timeout-ms) and kept by the client. */
  timeoutMs?: number;
  /** Sent as X-Request-Id; the server makes one up when absent. */
  requestId?: string;
  signal?: AbortSignal;
}

export interface InferResult {
  modelName: string;
  modelVersion: string;
  id?: string;
  parameters?: Parameters;
  outputs: Tensor[];
  /** The output of this name; throws when the answer has none. */
  output(name: string): Tensor;
}

export interface ServerMetadata {
  name: string;
  version: string;
  extensions: string[];
}

export interface ModelMetadataAnswer {
  name: string;
  versions: string[];
  platform: string;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
}

export class InferenceHttpClient {
  readonly #pool: Pool;
  readonly #timeoutMs: number;
  readonly #authorization?: string;

  constructor(readonly baseUrl: string, options: HttpClientOptions = {}) {
    this.#pool = new Pool(baseUrl, {
      connections: options.connections ?? DEFAULT_CLIENT_CONNECTIONS,
      pipelining: 1,
      ...(options.tls ? { connect: { ...options.tls } } : {}),
    });
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_CLIENT_TIMEOUT_MS;
    if (options.apiKey !== undefined) this.#authorization = `Bearer ${options.apiKey}`;
  }

  async isLive(): Promise<boolean> {
    return (await this.#send('GET', '/v2/health/live')).status === 200;
  }

  async isReady(): Promise<boolean> {
    return (await this.#send('GET', '/v2/health/ready')).status === 200;
  }

  serverMetadata(): Promise<ServerMetadata> {
    return this.#json('GET', '/v2');
  }

  modelMetadata(model: string, version?: string): Promise<ModelMetadataAnswer> {
    return this.#json('GET', modelPath(model, version));
  }

  async isModelReady(model: string, version?: string): Promise<boolean> {
    const answer = await this.#send('GET', `${modelPath(model, version)}/ready`);
    if (answer.status === 404) throw InferenceServerError.fromAnswer(answer.status, answer.body);
    return answer.status === 200;
  }

  modelConfig(model: string, version?: string): Promise<Record<string, unknown>> {
    return this.#json('GET', `${modelPath(model, version)}/config`);
  }

  repositoryIndex(): Promise<ModelIndexEntry[]> {
    return this.#json('POST', '/v2/repository/index');
  }

  async infer(model: string, inputs: TensorInput[], options: InferOptions = {}): Promise<InferResult> {
    const binary = (options.encoding ?? 'binary') === 'binary';
    const request: InferRequest = { modelName: model, inputs: inputs.map(toTensor) };
    if (options.id !== undefined) request.id = options.id;
    if (options.parameters !== undefined) request.parameters = options.parameters;
    if (options.outputs !== undefined) request.outputs = options.outputs.map((name) => ({ name }));
    const headers: Record<string, string> = {};
    let body: Buffer | string;
    if (binary) {
      const encoded = encodeInferRequest(request, { binaryOutputs: true });
      body = encoded.body;
      headers['content-type'] = BINARY_CONTENT_TYPE;
      headers[INFERENCE_HEADER_CONTENT_LENGTH] = String(encoded.headerLength);
    } else {
      body = inferRequestToJsonText(request);
      headers['content-type'] = JSON_CONTENT_TYPE;
    }
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    headers[TIMEOUT_MS] = String(timeoutMs);
    if (options.requestId !== undefined) headers[REQUEST_ID] = options.requestId;
    const answer = await this.#send('POST', `${modelPath(model, options.version)}/infer`, { body, headers, timeoutMs, signal: options.signal });
    if (answer.status !== 200) throw InferenceServerError.fromAnswer(answer.status, answer.body);
    const length = answer.headers[INFERENCE_HEADER_CONTENT_LENGTH];
    const response = parseBinaryInferResponse(answer.body, typeof length === 'string' ? Number(length) : undefined);
    const byName = new Map(response.outputs.map((t) => [t.name, t]));
    return {
      ...response,
      output(name: string): Tensor {
        const tensor = byName.get(name);
        if (!tensor) throw new Error(`the answer has no output '${name}' (it has: ${[...byName.keys()].join(', ')})`);
        return tensor;
      },
    };
  }

  close(): Promise<void> {
    return this.#pool.close();
  }

  async #json<T>(method: 'GET' | 'POST', path: string): Promise<T> {
    const answer = await this.#send(method, path);
    if (answer.status !== 200) throw InferenceServerError.fromAnswer(answer.status, answer.body);
    return JSON.parse(answer.body.toString('utf8')) as T;
  }

  async #send(
    method: 'GET' | 'POST',
    path: string,
    options: { body?: Buffer | string; headers?: Record<string, string>; timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    const headers = this.#authorization === undefined ? options.headers : { ...options.headers, authorization: this.#authorization };
    const response = await this.#pool.request({
      method, path, body: options.body, headers, signal: options.signal,
      headersTimeout: timeoutMs, bodyTimeout: timeoutMs,
    });
    return { status: response.statusCode, headers: response.headers, body: Buffer.from(await response.body.arrayBuffer()) };
  }
}

function modelPath(model: string, version?: string): string {
  const base = `/v2/models/${encodeURIComponent(model)}`;
  return version ? `${base}/versions/${encodeURIComponent(version)}` : base;
}
