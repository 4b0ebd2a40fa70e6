/**
 * The services the gRPC door serves, from the project's own .proto files (core/proto/): the KServe
 * v2 inference service and grpc.health.v1. Every method (de)serializes plain objects through
 * @grpc/proto-loader, except the two inference methods: their requests stay serialized bytes (the
 * wire payload the service forwards or the node decodes) and their answers are bytes already
 * (a ModelInferResponse as the node encoded it, or a stream frame around one).
 */
import type { ServiceDefinition } from '@grpc/grpc-js';
import { loadSync, type Options } from '@grpc/proto-loader';
import { GRPC_INFERENCE_SERVICE } from '../../core/kserve-grpc-envelope.js';
import { GRPC_SERVICE_PROTO_FILE, HEALTH_PROTO_FILE, grpcProtoDir } from '../../core/kserve-grpc-proto.js';

export const HEALTH_SERVICE = 'grpc.health.v1.Health';

/** Field names as the .proto spells them; absent fields read as their defaults ('' , 0, false). */
export const PROTO_LOADER_OPTIONS: Options = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true };

export interface GrpcServiceDefinitions {
  inference: ServiceDefinition;
  health: ServiceDefinition;
}

const asIs = (bytes: Buffer): Buffer => bytes;

export function loadServiceDefinitions(): GrpcServiceDefinitions {
  const definitions = loadSync([GRPC_SERVICE_PROTO_FILE, HEALTH_PROTO_FILE], { ...PROTO_LOADER_OPTIONS, includeDirs: [grpcProtoDir()] });
  const inference = definitions[GRPC_INFERENCE_SERVICE] as unknown as ServiceDefinition;
  const health = definitions[HEALTH_SERVICE] as unknown as ServiceDefinition;
  const bytesInAndOut = { requestDeserialize: asIs, responseSerialize: asIs };
  return {
    inference: {
      ...inference,
      ModelInfer: { ...inference.ModelInfer, ...bytesInAndOut },
      ModelStreamInfer: { ...inference.ModelStreamInfer, ...bytesInAndOut },
    },
    health,
  };
}
