/**
 * The bench's target over gRPC: the client library's InferenceGrpcClient for inference and
 * metadata; ModelConfig and ModelStatistics, which the client library does not offer, through a
 * grpc-js client generated from the project's .proto (as any gRPC user would).
 */
import { credentials, loadPackageDefinition, Metadata, type Client, type GrpcObject, type ServiceClientConstructor, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { InferenceGrpcClient } from '../../client/grpc-client.js';
import { GRPC_SERVICE_PROTO_FILE, grpcProtoDir } from '../../core/kserve-grpc-proto.js';
import { statisticsFromAnswer } from './server-stats.js';
import type { BenchTarget, TargetSpec } from './target.js';
import { targetAddress } from './target.js';

let serviceConstructor: ServiceClientConstructor | undefined;

function inferenceService(): ServiceClientConstructor {
  if (!serviceConstructor) {
    const definitions = loadSync(GRPC_SERVICE_PROTO_FILE, { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true, includeDirs: [grpcProtoDir()] });
    serviceConstructor = (loadPackageDefinition(definitions).inference as GrpcObject).GRPCInferenceService as ServiceClientConstructor;
  }
  return serviceConstructor;
}

function unary<T>(client: Client, method: string, message: object, timeoutMs: number, apiKey?: string): Promise<T> {
  const fn = (client as unknown as Record<string, (r: object, m: Metadata, o: object, cb: (e: ServiceError | null, v?: T) => void) => void>)[method];
  const metadata = new Metadata();
  if (apiKey !== undefined) metadata.set('authorization', `Bearer ${apiKey}`);
  return new Promise((resolve, reject) => {
    fn.call(client, message, metadata, { deadline: Date.now() + timeoutMs }, (err, value) => (err ? reject(err) : resolve(value as T)));
  });
}

export function grpcTarget(spec: TargetSpec): BenchTarget {
  const address = targetAddress('grpc', spec.url);
  const client = new InferenceGrpcClient(address, { timeoutMs: spec.timeoutMs, apiKey: spec.apiKey, tls: spec.tls });
  const Service = inferenceService();
  const admin = new Service(address, spec.tls ? credentials.createSsl(spec.tls.ca ?? null, spec.tls.key ?? null, spec.tls.cert ?? null) : credentials.createInsecure());
  const request = { name: spec.model, version: spec.version ?? '' };
  return {
    protocol: 'grpc',
    address,
    isLive: () => client.isLive(),
    modelMetadata: () => client.modelMetadata(spec.model, spec.version),
    async maxBatchSize() {
      try {
        const answer = await unary<{ config?: { max_batch_size?: number } }>(admin, 'ModelConfig', request, spec.timeoutMs, spec.apiKey);
        const value = Number(answer.config?.max_batch_size);
        return Number.isInteger(value) && value >= 0 ? value : undefined;
      } catch {
        return undefined;
      }
    },
    async statistics() {
      try {
        return statisticsFromAnswer(await unary(admin, 'ModelStatistics', request, spec.timeoutMs, spec.apiKey), spec.version);
      } catch {
        return undefined;
      }
    },
    infer: (inputs, options) => client.infer(spec.model, inputs, { version: spec.version, timeoutMs: options.timeoutMs, signal: options.signal }),
    async close() {
      client.close();
      admin.close();
    },
  };
}
