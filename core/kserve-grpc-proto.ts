/**
 * The gRPC protocol's .proto files (core/proto/, written for infergate with Triton's field numbers)
 * and the protobufjs types of the two inference messages, loaded once on first use. Field names
 * stay as the .proto spells them (snake_case), as in every gRPC client of the protocol.
 */
import path from 'node:path';
import protobuf from 'protobufjs';
import { packageRoot } from './package-root.js';

export const GRPC_SERVICE_PROTO_FILE = 'grpc_service.proto';
export const MODEL_CONFIG_PROTO_FILE = 'model_config.proto';
export const HEALTH_PROTO_FILE = 'health.proto';

/** The folder holding the .proto files (also the include path for the imports between them). */
export function grpcProtoDir(): string {
  return path.join(packageRoot(), 'core', 'proto');
}

export interface InferMessageTypes {
  request: protobuf.Type;
  response: protobuf.Type;
  streamResponse: protobuf.Type;
}

let inferTypes: InferMessageTypes | undefined;

/** ModelInferRequest, ModelInferResponse and ModelStreamInferResponse, from grpc_service.proto. */
export function inferMessageTypes(): InferMessageTypes {
  if (!inferTypes) {
    const root = new protobuf.Root().loadSync(path.join(grpcProtoDir(), GRPC_SERVICE_PROTO_FILE), { keepCase: true });
    inferTypes = {
      request: root.lookupType('inference.ModelInferRequest'),
      response: root.lookupType('inference.ModelInferResponse'),
      streamResponse: root.lookupType('inference.ModelStreamInferResponse'),
    };
  }
  return inferTypes;
}
