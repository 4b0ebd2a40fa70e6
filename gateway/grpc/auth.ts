/**
 * API keys on the gRPC door: every handler is wrapped so that the access control admits the call
 * before it runs. The key comes in the call's metadata (`authorization: Bearer <key>` or
 * `x-api-key: <key>`). A refusal is UNAUTHENTICATED (16), PERMISSION_DENIED (7), or
 * RESOURCE_EXHAUSTED (8) with the pushback trailer (status.ts).
 *
 * ModelStreamInfer is checked twice: the key and the inference group when the stream opens (a
 * refusal ends it with the status), then each request on it for its model, the key's rate and
 * its requests in flight (a refused request answers with error_message, the stream goes on).
 */
import type { Metadata, ServerUnaryCall, UntypedHandleCall, UntypedServiceImplementation, handleBidiStreamingCall, handleUnaryCall, sendUnaryData } from '@grpc/grpc-js';
import { asInferError } from '../../core/errors.js';
import { peekInferTarget } from '../../core/kserve-grpc-envelope.js';
import { presentedKey, type AccessControl, type AccessRequest } from '../../service/access-control.js';
import type { StreamRequestGuard } from './infer.js';
import { grpcError } from './status.js';

type AccessOf = (request: unknown) => AccessRequest;

interface ModelRequest { name?: string }
interface RepositoryModelRequest { model_name?: string }

const fixed = (access: AccessRequest): AccessOf => () => access;
const modelNamed = (group: AccessRequest['group']): AccessOf => (request) => ({ group, model: (request as ModelRequest).name });

/**
 * Each RPC of the inference service and the health service, with what it asks of the access
 * control. An RPC not listed (one added later) is `operator`: closed until someone decides.
 */
const METHOD_ACCESS: Record<string, AccessOf> = {
  ServerLive: fixed({ group: 'health' }),
  ServerReady: fixed({ group: 'health' }),
  Check: fixed({ group: 'health' }),
  ServerMetadata: fixed({ group: 'metadata' }),
  ModelMetadata: modelNamed('metadata'),
  ModelReady: modelNamed('metadata'),
  ModelConfig: modelNamed('metadata'),
  // An empty name asks for every model.
  ModelStatistics: (request) => ((request as ModelRequest).name ? { group: 'statistics', model: (request as ModelRequest).name } : { group: 'statistics', allModels: true }),
  RepositoryIndex: fixed({ group: 'repository', allModels: true }),
  RepositoryModelLoad: (request) => ({ group: 'repository', model: (request as RepositoryModelRequest).model_name }),
  RepositoryModelUnload: (request) => ({ group: 'repository', model: (request as RepositoryModelRequest).model_name }),
  // The request stays bytes (service-definition.ts): its model is read from them, as the handler does.
  ModelInfer: (request) => ({ group: 'inference', model: peekInferTarget(request as Buffer).model }),
};

export function keyOfMetadata(metadata: Metadata): string | undefined {
  const first = (name: string) => {
    const value = metadata.get(name)[0];
    return typeof value === 'string' ? value : undefined;
  };
  return presentedKey(first('authorization'), first('x-api-key'));
}

/** Every handler of a service implementation, guarded. */
export function guardService(access: AccessControl, handlers: UntypedServiceImplementation): UntypedServiceImplementation {
  const guarded: UntypedServiceImplementation = {};
  for (const [method, handler] of Object.entries(handlers)) {
    guarded[method] = method === 'ModelStreamInfer'
      ? guardStreamOpen(access, handler as handleBidiStreamingCall<Buffer, Buffer>)
      : guardUnary(access, handler as handleUnaryCall<unknown, unknown>, METHOD_ACCESS[method] ?? fixed({ group: 'operator' }));
  }
  return guarded;
}

/** The per-request check of ModelStreamInfer (infer.ts calls it for each request on the stream). */
export function streamRequestGuard(access: AccessControl): StreamRequestGuard {
  return (metadata, target) => access.admit(keyOfMetadata(metadata), { group: 'inference', model: target.model }).release;
}

function guardUnary(access: AccessControl, handler: handleUnaryCall<unknown, unknown>, accessOf: AccessOf): UntypedHandleCall {
  return (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
    let release: () => void;
    try {
      release = access.admit(keyOfMetadata(call.metadata), accessOf(call.request)).release;
    } catch (err) {
      callback(grpcError(asInferError(err)));
      return;
    }
    call.once('cancelled', release);
    handler(call, (...answer: Parameters<sendUnaryData<unknown>>) => {
      release();
      callback(...answer);
    });
  };
}

/** The stream's own admission holds no slot: each request on it takes its own (streamRequestGuard). */
function guardStreamOpen(access: AccessControl, handler: handleBidiStreamingCall<Buffer, Buffer>): UntypedHandleCall {
  return ((call) => {
    try {
      access.admit(keyOfMetadata(call.metadata), { group: 'inference' }).release();
    } catch (err) {
      call.emit('error', grpcError(asInferError(err)));
      return;
    }
    handler(call);
  }) as handleBidiStreamingCall<Buffer, Buffer>;
}
