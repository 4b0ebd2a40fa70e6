/**
 * A gRPC client of the KServe v2 protocol for tests, generated at run time from the project's own
 * .proto files (core/proto/) with grpc-js and proto-loader, as a user's client would be: the
 * typed inference and health services, and a generic client that sends and receives ModelInfer
 * messages as raw bytes (to compare answers byte for byte).
 */
import {
  Client, Metadata, credentials, loadPackageDefinition, type CallOptions, type ClientDuplexStream, type GrpcObject,
  type ServiceClientConstructor, type ServiceError,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { MODEL_INFER_PATH } from '../../core/kserve-grpc-envelope.js';
import { GRPC_SERVICE_PROTO_FILE, HEALTH_PROTO_FILE, grpcProtoDir, inferMessageTypes } from '../../core/kserve-grpc-proto.js';

const definitions = loadSync([GRPC_SERVICE_PROTO_FILE, HEALTH_PROTO_FILE], {
  keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true, includeDirs: [grpcProtoDir()],
});
const loaded = loadPackageDefinition(definitions);
const InferenceClient = ((loaded.inference as GrpcObject).GRPCInferenceService) as ServiceClientConstructor;
const HealthClient = (((loaded.grpc as GrpcObject).health as GrpcObject).v1 as GrpcObject).Health as ServiceClientConstructor;

/** Big enough for every test message (grpc-js's default receive limit is 4 MiB). */
const CLIENT_MAX_MESSAGE_BYTES = 128 * 1024 * 1024;
const CLIENT_OPTIONS = {
  'grpc.max_receive_message_length': CLIENT_MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': CLIENT_MAX_MESSAGE_BYTES,
};

const asIs = (bytes: Buffer): Buffer => bytes;

export interface CallSettings {
  /** Absolute deadline (Date.now() clock). */
  deadline?: number;
  requestId?: string;
  /** Called with the call once started (to cancel it). */
  onCall?: (call: { cancel(): void }) => void;
}

export class GrpcTestClient {
  readonly inference: Client;
  readonly health: Client;
  readonly raw: Client;

  constructor(readonly address: string) {
    this.inference = new InferenceClient(address, credentials.createInsecure(), CLIENT_OPTIONS);
    this.health = new HealthClient(address, credentials.createInsecure(), CLIENT_OPTIONS);
    this.raw = new Client(address, credentials.createInsecure(), CLIENT_OPTIONS);
  }

  /** A unary RPC of the inference service (`ModelInfer`, `ModelMetadata`, …); rejects with the ServiceError. */
  call<T = any>(method: string, request: object, settings: CallSettings = {}): Promise<T> {
    return unaryCall<T>(this.inference, method, request, settings);
  }

  check(service: string): Promise<{ status: string }> {
    return unaryCall(this.health, 'Check', { service }, {});
  }

  /** ModelInfer with the request and the response as serialized bytes. */
  inferBytes(request: Uint8Array, settings: CallSettings = {}): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const call = this.raw.makeUnaryRequest(MODEL_INFER_PATH, asIs, asIs, Buffer.from(request), metadataOf(settings), optionsOf(settings), (err, value) => (err ? reject(err) : resolve(value!)));
      settings.onCall?.(call);
    });
  }

  /** Sends the requests on one ModelStreamInfer and collects every response until the server ends the stream. */
  stream<T = any>(requests: object[]): Promise<T[]> {
    return new Promise((resolve, reject) => {
      const call = (this.inference as unknown as { ModelStreamInfer(): ClientDuplexStream<object, T> }).ModelStreamInfer();
      const responses: T[] = [];
      call.on('data', (response: T) => responses.push(response));
      call.on('error', reject);
      call.on('end', () => resolve(responses));
      for (const request of requests) call.write(request);
      call.end();
    });
  }

  close(): void {
    this.inference.close();
    this.health.close();
    this.raw.close();
  }
}

function unaryCall<T>(client: Client, method: string, request: object, settings: CallSettings): Promise<T> {
  return new Promise((resolve, reject) => {
    const fn = (client as unknown as Record<string, (r: object, m: Metadata, o: CallOptions, cb: (err: ServiceError | null, value?: T) => void) => { cancel(): void }>)[method];
    if (typeof fn !== 'function') throw new Error(`no RPC ${method}`);
    const call = fn.call(client, request, metadataOf(settings), optionsOf(settings), (err, value) => (err ? reject(err) : resolve(value as T)));
    settings.onCall?.(call);
  });
}

function metadataOf(settings: CallSettings): Metadata {
  const metadata = new Metadata();
  if (settings.requestId !== undefined) metadata.set('x-request-id', settings.requestId);
  return metadata;
}

function optionsOf(settings: CallSettings): CallOptions {
  return settings.deadline === undefined ? {} : { deadline: settings.deadline };
}

/** A ModelInferRequest object (snake_case fields, as in the .proto) serialized. */
export function encodeInferRequestMessage(request: object): Uint8Array {
  const type = inferMessageTypes().request;
  return type.encode(type.fromObject(request)).finish();
}

/** A serialized ModelInferResponse as a plain object (int64 as numbers, bytes as Buffers). */
export function decodeInferResponseMessage(bytes: Uint8Array): any {
  const type = inferMessageTypes().response;
  return type.toObject(type.decode(bytes), { longs: Number, defaults: true });
}

/** The raw bytes of a typed array (little-endian on every host this runs on). */
export function bytesOf(values: ArrayBufferView): Buffer {
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
}

/** A raw output's elements as the typed array its datatype stores. */
export function float32sOf(bytes: Uint8Array): number[] {
  const copy = Buffer.from(bytes);
  return Array.from(new Float32Array(copy.buffer, copy.byteOffset, copy.byteLength / 4));
}

export function int32sOf(bytes: Uint8Array): number[] {
  const copy = Buffer.from(bytes);
  return Array.from(new Int32Array(copy.buffer, copy.byteOffset, copy.byteLength / 4));
}

/** The error a call that must fail failed with; throws when it succeeded. */
export async function failure(promise: Promise<unknown>): Promise<ServiceError> {
  try {
    await promise;
  } catch (err) {
    return err as ServiceError;
  }
  throw new Error('the call succeeded; expected an error');
}
