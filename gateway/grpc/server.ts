/**
 * Builds the gRPC front door on @grpc/grpc-js: the KServe v2 inference service (package
 * `inference`, service `GRPCInferenceService`, Triton's field numbers) and grpc.health.v1, every
 * RPC a call on the same InferenceService the HTTP door calls.
 */
import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { InferenceService } from '../../service/inference-service.js';
import type { AccessControl } from '../../service/access-control.js';
import { guardService, streamRequestGuard } from './auth.js';
import type { ServerTls } from '../../core/tls-files.js';
import { healthCheckHandlers, serverHandlers } from './health.js';
import { modelInferHandler, modelStreamInferHandler } from './infer.js';
import { modelHandlers } from './models.js';
import { metadataLimit } from './metadata-limit.js';
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
  /** Largest request metadata (--max-header-bytes); RESOURCE_EXHAUSTED above it. Unset: no check of ours. */
  maxMetadataBytes?: number;
  /** Serve over TLS with this certificate (and require a client certificate signed by `clientCa`, when set). */
  tls?: ServerTls;
  /** API keys (--api-keys): every RPC checks them; undefined: the door is open. */
  access?: AccessControl;
}

export interface GrpcDoor {
  /** The bound port (the chosen one when 0 was asked). */
  readonly port: number;
  /** Stops taking calls; those in progress get `graceMs` (default GRPC_SHUTDOWN_GRACE_MS) to finish before they are cut. */
  close(graceMs?: number): Promise<void>;
}

export async function startGrpcServer(options: GrpcServerOptions): Promise<GrpcDoor> {
  const server = new Server({
    'grpc.max_receive_message_length': options.maxMessageBytes,
    'grpc.max_send_message_length': options.maxMessageBytes,
    ...(options.maxMetadataBytes === undefined ? {} : { interceptors: [metadataLimit(options.maxMetadataBytes)] }),
  });
  const definitions = loadServiceDefinitions();
  const { service, access } = options;
  const inference = {
    ...serverHandlers(service),
    ...modelHandlers(service),
    ModelInfer: modelInferHandler(service, options.loadHeader),
    ModelStreamInfer: modelStreamInferHandler(service, access && streamRequestGuard(access)),
  };
  server.addService(definitions.inference, access ? guardService(access, inference) : inference);
  // Watch is left out: grpc-js answers a method without a handler UNIMPLEMENTED.
  server.addService(definitions.health, access ? guardService(access, healthCheckHandlers(service)) : healthCheckHandlers(service));
  const address = options.host.includes(':') ? `[${options.host}]:${options.port}` : `${options.host}:${options.port}`;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, serverCredentials(options.tls), (err, bound) => (err ? reject(new Error(`gRPC door cannot listen on ${address}: ${err.message}`)) : resolve(bound)));
  });
  let closing: Promise<void> | undefined;
  return {
    port,
    close: (graceMs = GRPC_SHUTDOWN_GRACE_MS) => (closing ??= new Promise<void>((resolve) => {
      const cut = setTimeout(() => server.forceShutdown(), graceMs);
      server.tryShutdown(() => {
        clearTimeout(cut);
        resolve();
      });
    })),
  };
}

function serverCredentials(tls: ServerTls | undefined): ServerCredentials {
  if (!tls) return ServerCredentials.createInsecure();
  return ServerCredentials.createSsl(tls.clientCa ?? null, [{ private_key: tls.key, cert_chain: tls.cert }], tls.clientCa !== undefined);
}
