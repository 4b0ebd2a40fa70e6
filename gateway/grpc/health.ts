/**
 * Liveness, readiness and server metadata (the protocol's ServerLive, ServerReady, ServerMetadata),
 * and the standard grpc.health.v1 Check: SERVING when the server is ready.
 */
import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import { notFound } from '../../core/errors.js';
import { GRPC_INFERENCE_SERVICE } from '../../core/kserve-grpc-envelope.js';
import type { InferenceService } from '../../service/inference-service.js';
import { unary } from './unary.js';

export function serverHandlers(service: InferenceService): UntypedServiceImplementation {
  return {
    ServerLive: unary(() => ({ live: service.isLive() })),
    ServerReady: unary(() => ({ ready: service.isReady() })),
    ServerMetadata: unary(() => service.serverMetadata()),
  };
}

export function healthCheckHandlers(service: InferenceService): UntypedServiceImplementation {
  return {
    Check: unary((request: { service: string }) => {
      // The health protocol: a service the server does not know is NOT_FOUND.
      if (request.service !== '' && request.service !== GRPC_INFERENCE_SERVICE) {
        throw notFound(`unknown service '${request.service}'; this server serves '${GRPC_INFERENCE_SERVICE}' (or '' for the whole server)`, 'unknown_service');
      }
      return { status: service.isReady() ? 'SERVING' : 'NOT_SERVING' };
    }),
  };
}
