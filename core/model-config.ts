/**
 * A declaration in the shape of Triton's model configuration JSON (what `GET .../config` returns),
 * so clients written against Triton read it unchanged.
 */
import type { ModelDeclaration, TensorDeclaration } from './model-declaration.js';

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
    ...(decl.dynamic_batching ? { dynamic_batching: decl.dynamic_batching } : {}),
    infergate: { engine: decl.engine, max_queue_size: decl.max_queue_size, execution: decl.execution ?? 'worker', ...(decl.sim ? { sim: decl.sim } : {}) },
  };
}
