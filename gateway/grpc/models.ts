/**
 * Model metadata, readiness, configuration, statistics, the repository index and model
 * load/unload over gRPC: the same calls on the inference service as the HTTP door's, in the
 * protocol's messages.
 */
import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import { InferError } from '../../core/errors.js';
import type { InferenceService } from '../../service/inference-service.js';
import { unary } from './unary.js';

interface ModelRequest {
  name: string;
  /** Empty: the version the model's policy serves by default. */
  version: string;
}

interface RepositoryModelRequest {
  repository_name: string;
  model_name: string;
  parameters?: Record<string, unknown>;
}

const versionOf = (version: string) => (version === '' ? undefined : version);

export function modelHandlers(service: InferenceService): UntypedServiceImplementation {
  return {
    ModelMetadata: unary((request: ModelRequest) => {
      const meta = service.modelMetadata(request.name, versionOf(request.version));
      return { name: meta.name, versions: meta.versions, platform: meta.platform, inputs: meta.inputs, outputs: meta.outputs };
    }),
    // A model declared but unservable is not ready (HTTP says why in a 503; this message has no room for it).
    ModelReady: unary((request: ModelRequest) => {
      try {
        return { ready: service.modelReady(request.name, versionOf(request.version)) };
      } catch (err) {
        if (err instanceof InferError && err.code === 'UNAVAILABLE') return { ready: false };
        throw err;
      }
    }),
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
    // repository_name is ignored (one repository per node), as are the parameters.
    RepositoryModelLoad: unary(async (request: RepositoryModelRequest) => {
      await service.loadModel(request.model_name, request.parameters);
      return {};
    }),
    RepositoryModelUnload: unary(async (request: RepositoryModelRequest) => {
      await service.unloadModel(request.model_name, request.parameters);
      return {};
    }),
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
