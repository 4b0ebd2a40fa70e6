/**
 * A declaration in the shape of Triton's model configuration JSON (what `GET .../config` returns),
 * so clients written against Triton read it unchanged.
 */
import type { DynamicBatching, ModelDeclaration, TensorDeclaration } from './model-declaration.js';

const INSTANCE_KINDS: Record<string, string> = { cpu: 'KIND_CPU', gpu: 'KIND_GPU', npu: 'KIND_MODEL', sim: 'KIND_MODEL', auto: 'KIND_AUTO' };

export function toModelConfig(decl: ModelDeclaration, platform: string): object {
  const tensor = (t: TensorDeclaration) => ({ name: t.name, data_type: `TYPE_${t.datatype === 'BYTES' ? 'STRING' : t.datatype}`, dims: t.dims });
  return {
    name: decl.name,
    platform,
    backend: decl.engine[0],
    version_policy: decl.version_policy,
    max_batch_size: decl.max_batch_size,
    input: decl.inputs.map(tensor),
    output: decl.outputs.map(tensor),
    instance_group: decl.instances.map((g) => ({ kind: INSTANCE_KINDS[g.kind], count: g.count })),
    ...(decl.dynamic_batching ? { dynamic_batching: tritonDynamicBatching(decl.dynamic_batching, decl.max_queue_size) } : {}),
    infergate: { engine: decl.engine, max_queue_size: decl.max_queue_size, execution: decl.execution ?? 'worker', ...(decl.sim ? { sim: decl.sim } : {}) },
  };
}

/** dynamic_batching under Triton's field names (model_config.proto's ModelDynamicBatching). */
function tritonDynamicBatching(db: DynamicBatching, maxQueueSize: number): object {
  return {
    preferred_batch_size: db.preferred_batch_sizes ?? [],
    max_queue_delay_microseconds: db.max_queue_delay_us,
    priority_levels: db.priority_levels ?? 0,
    default_priority_level: db.default_priority_level ?? db.priority_levels ?? 0,
    default_queue_policy: {
      timeout_action: 'REJECT',
      default_timeout_microseconds: db.default_queue_timeout_us ?? 0,
      // The request's own `timeout` parameter applies as well, but cannot lengthen the queue timeout.
      allow_timeout_override: false,
      max_queue_size: db.max_queue_size ?? maxQueueSize,
    },
  };
}
