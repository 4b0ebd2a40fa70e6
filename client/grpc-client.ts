/**
 * A KServe v2 client over gRPC, for Node: the same calls and result shape as the HTTP client.
 * Inference travels as serialized ModelInferRequest/ModelInferResponse built here with the
 * project's own .proto (every input in raw_input_contents, the form Triton's clients send); the
 * other RPCs go through a grpc-js client generated from the same .proto.
 */
import { Client, Metadata, credentials, loadPackageDefinition, type GrpcObject, type ServiceClientConstructor, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { fromGrpcStatus, toHttpStatus } from '../core/errors.js';
import { REQUEST_ID } from '../core/http-headers.js';
import { blobToTensorData, tensorToBlob } from '../core/infer-binary.js';
import { failResponse } from '../core/infer-json.js';
import { GRPC_CLIENT_FLOW_CONTROL_WINDOW_BYTES, GRPC_INFERENCE_SERVICE, MODEL_INFER_PATH } from '../core/kserve-grpc-envelope.js';

const MODEL_STREAM_INFER_PATH = `/${GRPC_INFERENCE_SERVICE}/ModelStreamInfer`;
import { GRPC_SERVICE_PROTO_FILE, grpcProtoDir, inferMessageTypes } from '../core/kserve-grpc-proto.js';
import { isDatatype } from '../core/datatypes.js';
import type { Tensor } from '../core/tensor.js';
import { InferenceServerError } from './client-errors.js';
import { toTensor, type TensorInput } from './client-tensors.js';
import type { InferOptions, InferResult, ModelMetadataAnswer, ServerMetadata } from './http-client.js';
import { DEFAULT_CLIENT_TIMEOUT_MS } from './http-client.js';

/** Messages either way up to this size (grpc-js's own default is 4 MiB). */
export const DEFAULT_CLIENT_MAX_MESSAGE_BYTES = 256 * 1024 * 1024;

export interface GrpcClientOptions {
  maxMessageBytes?: number;
  timeoutMs?: number;
  /** An API key of the server (its --api-keys), sent as `authorization: Bearer <key>` metadata on every call. */
  apiKey?: string;
  /**
   * TLS to a door started with --tls-cert: the CA to trust (else the system's roots) and, for a door
   * with --tls-client-ca, a client certificate and key (PEM contents). Absent: plaintext.
   */
  tls?: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer };
}

function channelCredentials(tls: GrpcClientOptions['tls']) {
  if (!tls) return credentials.createInsecure();
  const pem = (value: string | Buffer | undefined) => (value === undefined ? null : Buffer.from(value));
  return credentials.createSsl(pem(tls.ca), pem(tls.key), pem(tls.cert));
}

const asIs = (bytes: Buffer): Buffer => bytes;
let serviceConstructor: ServiceClientConstructor | undefined;

function inferenceServiceClient(): ServiceClientConstructor {
  if (!serviceConstructor) {
    const definitions = loadSync(GRPC_SERVICE_PROTO_FILE, { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true, includeDirs: [grpcProtoDir()] });
    serviceConstructor = (loadPackageDefinition(definitions).inference as GrpcObject).GRPCInferenceService as ServiceClientConstructor;
  }
  return serviceConstructor;
}

interface OutputMessage {
  name: string;
  datatype: string;
  shape: Array<number | { toNumber(): number }>;
}

export class InferenceGrpcClient {
  readonly #service: Client;
  readonly #raw: Client;
  readonly #timeoutMs: number;
  readonly #authorization?: string;

  /** `address`: host:port of a gRPC door. */
  constructor(readonly address: string, options: GrpcClientOptions = {}) {
    const max = options.maxMessageBytes ?? DEFAULT_CLIENT_MAX_MESSAGE_BYTES;
    const channelOptions = { 'grpc.max_receive_message_length': max, 'grpc.max_send_message_length': max, 'grpc-node.flow_control_window': GRPC_CLIENT_FLOW_CONTROL_WINDOW_BYTES };
    const Service = inferenceServiceClient();
    const channelCredentialsOfClient = channelCredentials(options.tls);
    this.#service = new Service(address, channelCredentialsOfClient, channelOptions);
    // The raw client shares the service client's channel: one connection for every call.
    this.#raw = new Client(address, channelCredentialsOfClient, { ...channelOptions, channelOverride: this.#service.getChannel() });
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_CLIENT_TIMEOUT_MS;
    if (options.apiKey !== undefined) this.#authorization = `Bearer ${options.apiKey}`;
  }

  async isLive(): Promise<boolean> {
    return (await this.#unary<{ live: boolean }>('ServerLive', {})).live;
  }

  async isReady(): Promise<boolean> {
    return (await this.#unary<{ ready: boolean }>('ServerReady', {})).ready;
  }

  serverMetadata(): Promise<ServerMetadata> {
    return this.#unary('ServerMetadata', {});
  }

  modelMetadata(model: string, version?: string): Promise<ModelMetadataAnswer> {
    return this.#unary('ModelMetadata', { name: model, version: version ?? '' });
  }

  async isModelReady(model: string, version?: string): Promise<boolean> {
    return (await this.#unary<{ ready: boolean }>('ModelReady', { name: model, version: version ?? '' })).ready;
  }

  infer(model: string, inputs: TensorInput[], options: InferOptions = {}): Promise<InferResult> {
    const message = encodeRequest(model, inputs, options);
    const metadata = this.#metadata();
    if (options.requestId !== undefined) metadata.set(REQUEST_ID, options.requestId);
    const deadline = Date.now() + (options.timeoutMs ?? this.#timeoutMs);
    return new Promise((resolve, reject) => {
      const call = this.#raw.makeUnaryRequest(MODEL_INFER_PATH, asIs, asIs, Buffer.from(message), metadata, { deadline }, (err, bytes) => {
        if (err) return reject(serverError(err));
        try {
          resolve(decodeResponse(bytes!));
        } catch (e) {
          reject(e);
        }
      });
      options.signal?.addEventListener('abort', () => call.cancel(), { once: true });
    });
  }

  /**
   * A ModelStreamInfer stream: requests go out with `send`, answers come back on `results` in the
   * server's order, each an InferResult or, for a request that failed (the stream goes on), an
   * InferenceServerError with the server's message (a stream answer carries no status: INVALID_ARG).
   */
  openStream(options: { timeoutMs?: number } = {}): InferStream {
    const call = this.#raw.makeBidiStreamRequest(MODEL_STREAM_INFER_PATH, asIs, asIs, this.#metadata(), { deadline: Date.now() + (options.timeoutMs ?? this.#timeoutMs) });
    const results = new AnswerQueue();
    call.on('data', (bytes: Buffer) => {
      const message = inferMessageTypes().streamResponse.decode(bytes) as unknown as { error_message?: string; infer_response?: unknown };
      if (message.error_message) results.push(new InferenceServerError(400, message.error_message));
      else results.push(resultOf(message.infer_response as ResponseMessage));
    });
    call.on('error', (err: ServiceError) => results.fail(serverError(err)));
    call.on('end', () => results.end());
    return {
      send: (model, inputs, sendOptions = {}) => {
        call.write(Buffer.from(encodeRequest(model, inputs, sendOptions)));
      },
      end: () => call.end(),
      cancel: () => call.cancel(),
      results,
    };
  }

  close(): void {
    this.#raw.close();
    this.#service.close();
  }

  /** Fresh per call: grpc-js may change a call's metadata. */
  #metadata(): Metadata {
    const metadata = new Metadata();
    if (this.#authorization !== undefined) metadata.set('authorization', this.#authorization);
    return metadata;
  }

  #unary<T>(method: string, request: object): Promise<T> {
    const fn = (this.#service as unknown as Record<string, (r: object, m: Metadata, o: object, cb: (e: ServiceError | null, v?: T) => void) => void>)[method];
    return new Promise((resolve, reject) => {
      fn.call(this.#service, request, this.#metadata(), { deadline: Date.now() + this.#timeoutMs }, (err, value) => (err ? reject(serverError(err)) : resolve(value as T)));
    });
  }
}

function serverError(err: ServiceError): InferenceServerError {
  return new InferenceServerError(toHttpStatus(fromGrpcStatus(err.code)), err.details || err.message);
}

function encodeRequest(model: string, inputs: TensorInput[], options: Pick<InferOptions, 'version' | 'id' | 'outputs'>): Uint8Array {
  const tensors = inputs.map(toTensor);
  return inferMessageTypes().request.encode({
    model_name: model,
    model_version: options.version ?? '',
    id: options.id ?? '',
    inputs: tensors.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape })),
    outputs: (options.outputs ?? []).map((name) => ({ name })),
    raw_input_contents: tensors.map((t) => tensorToBlob(t)),
  }).finish();
}

/** One stream of ModelStreamInfer, as openStream gives it. */
export interface InferStream {
  send(model: string, inputs: TensorInput[], options?: Pick<InferOptions, 'version' | 'id' | 'outputs'>): void;
  /** No more requests; `results` ends after the last answer. */
  end(): void;
  cancel(): void;
  results: AsyncIterable<InferResult | InferenceServerError>;
}

/** Answers as they arrive, read with for await; a failure of the stream itself ends it with an error. */
class AnswerQueue implements AsyncIterable<InferResult | InferenceServerError> {
  readonly #items: Array<InferResult | InferenceServerError> = [];
  #done = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;

  push(item: InferResult | InferenceServerError): void {
    this.#items.push(item);
    this.#notify();
  }

  end(): void {
    this.#done = true;
    this.#notify();
  }

  fail(error: Error): void {
    this.#error ??= error;
    this.end();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<InferResult | InferenceServerError> {
    for (;;) {
      if (this.#items.length > 0) {
        yield this.#items.shift()!;
        continue;
      }
      if (this.#error) throw this.#error;
      if (this.#done) return;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

interface ResponseMessage {
  model_name: string;
  model_version: string;
  id: string;
  outputs: OutputMessage[];
  raw_output_contents: Uint8Array[];
}

function decodeResponse(bytes: Buffer): InferResult {
  return resultOf(inferMessageTypes().response.decode(bytes) as unknown as ResponseMessage);
}

function resultOf(message: ResponseMessage): InferResult {
  const outputs: Tensor[] = message.outputs.map((o, i) => {
    if (!isDatatype(o.datatype)) throw failResponse(`output '${o.name}': unknown datatype ${o.datatype}`, 'malformed_response');
    const shape = o.shape.map((d) => (typeof d === 'number' ? d : d.toNumber()));
    const raw = message.raw_output_contents[i] ?? new Uint8Array(0);
    return { name: o.name, datatype: o.datatype, shape, data: blobToTensorData(raw, `output '${o.name}'`, o.datatype, shape, failResponse) };
  });
  const byName = new Map(outputs.map((t) => [t.name, t]));
  return {
    modelName: message.model_name,
    modelVersion: message.model_version,
    ...(message.id ? { id: message.id } : {}),
    outputs,
    output(name: string): Tensor {
      const tensor = byName.get(name);
      if (!tensor) throw new Error(`the answer has no output '${name}' (it has: ${[...byName.keys()].join(', ')})`);
      return tensor;
    },
  };
}
