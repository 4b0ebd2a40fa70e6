/**
 * Builds the gRPC front door on @grpc/grpc-js: the KServe v2 inference service (package
 * `inference`, service `GRPCInferenceService`, Triton's field numbers) and grpc.health.v1, every
 * RPC a call on the same InferenceService the HTTP door calls.
 */
import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { InferenceService } from '../../service/inference-service.js';
import { healthCheckHandlers, serverHandlers } from './health.js';
import { modelInferHandler, modelStreamInferHandler } from './infer.js';
import { modelHandlers } from './models.js';
import { loadServiceDefinitions } from './service-definition.js';

/** On close, calls in progress get this long to finish before they are cut. */
export const GRPC_SHUTDOWN_GRACE_MS = 2_000;

export interface GrpcServerOptions {
  service: InferenceService;
  host: string;
  /** 0: any free port. */
  port: number;
  /** Largest message either way (DEFAULT_GRPC_MAX_MESSAGE_BYTES); grpc-js answers RESOURCE_EXHAUSTED above it. */
  maxMessageBytes: number;
  /** A backend's load figures, sent as trailing metadata of every inference answer (core/load-header.ts). */
  loadHeader?: () => string;
}

export interface GrpcDoor {
  /** The bound port (the chosen one when 0 was asked). */
  readonly port: number;
  close(): Promise<void>;
}

export async function startGrpcServer(options: GrpcServerOptions): Promise<GrpcDoor> {
  const server = new Server({
    'grpc.max_receive_message_length': options.maxMessageBytes,
    'grpc.max_send_message_length': options.maxMessageBytes,
  });
  const definitions = loadServiceDefinitions();
  const { service } = options;
  server.addService(definitions.inference, {
    ...serverHandlers(service),
    ...modelHandlers(service),
    ModelInfer: modelInferHandler(service, options.loadHeader),
    ModelStreamInfer: modelStreamInferHandler(service),
  });
  // Watch is left out: grpc-js answers a method without a handler UNIMPLEMENTED.
  server.addService(definitions.health, healthCheckHandlers(service));
  const address = options.host.includes(':') ? `[${options.host}]:${options.port}` : `${options.host}:${options.port}`;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, ServerCredentials.createInsecure(), (err, bound) => (err ? reject(new Error(`gRPC door cannot listen on ${address}: ${err.message}`)) : resolve(bound)));
  });
  let closing: Promise<void> | undefined;
  return {
    port,
    close: () => (closing ??= new Promise<void>((resolve) => {
      const cut = setTimeout(() => server.forceShutdown(), GRPC_SHUTDOWN_GRACE_MS);
      server.tryShutdown(() => {
        clearTimeout(cut);
        resolve();
      });
    })),
  };
}
