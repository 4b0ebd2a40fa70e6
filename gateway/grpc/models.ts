/**
 * Model metadata, readiness, configuration, statistics and the repository index over gRPC: the
 * same calls on the inference service as the HTTP door's, in the protocol's messages. Repository
 * load/unload are answered UNIMPLEMENTED until they come with their own issue.
 */
import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import type { InferenceService } from '../../service/inference-service.js';
import { unimplemented } from './status.js';
import { unary } from './unary.js';

interface ModelRequest {
  name: string;
  /** Empty: the version the model's policy serves by default. */
  version: string;
}

const versionOf = (version: string) => (version === '' ? undefined : version);

export function modelHandlers(service: InferenceService): UntypedServiceImplementation {
  return {
    ModelMetadata: unary((request: ModelRequest) => {
      const meta = service.modelMetadata(request.name, versionOf(request.version));
      return { name: meta.name, versions: meta.versions, platform: meta.platform, inputs: meta.inputs, outputs: meta.outputs };
    }),
    ModelReady: unary((request: ModelRequest) => ({ ready: service.modelReady(request.name, versionOf(request.version)) })),
    ModelConfig: unary(async (request: ModelRequest) => ({
      config: toModelConfigMessage(await service.modelConfig(request.name, versionOf(request.version))),
    })),
    RepositoryIndex: unary((request: { ready: boolean }) => ({
      models: service.modelIndex().filter((entry) => !request.ready || entry.state === 'READY'),
    })),
    // An empty name: every model (the version is then ignored, as Triton does).
    ModelStatistics: unary((request: ModelRequest) => (request.name === ''
      ? service.modelStatistics()
      : service.modelStatistics(request.name, versionOf(request.version)))),
    RepositoryModelLoad: (_call: unknown, callback: (error: Error) => void) => {
      callback(unimplemented('RepositoryModelLoad is not served yet (it comes with the model repository load/unload extension): models load when the process starts'));
    },
    RepositoryModelUnload: (_call: unknown, callback: (error: Error) => void) => {
      callback(unimplemented('RepositoryModelUnload is not served yet (it comes with the model repository load/unload extension)'));
    },
  };
}

/**
 * Triton's model config JSON (what GET .../config answers, on a node or fetched by a gateway) as
 * the ModelConfig message: its fields already have the message's names and enum spellings, and
 * the serializer drops what the message does not declare. infergate's own settings, which have
 * no field, travel as `parameters` (`infergate.engine`, `infergate.execution`, …) as strings.
 */
export function toModelConfigMessage(config: unknown): Record<string, unknown> {
  const { infergate, ...fields } = config as Record<string, unknown> & { infergate?: Record<string, unknown> };
  if (infergate === undefined) return fields;
  const parameters: Record<string, { string_value: string }> = { ...(fields.parameters as Record<string, { string_value: string }> | undefined) };
  for (const [key, value] of Object.entries(infergate)) {
    parameters[`infergate.${key}`] = { string_value: typeof value === 'string' ? value : JSON.stringify(value) };
  }
  return { ...fields, parameters };
}
