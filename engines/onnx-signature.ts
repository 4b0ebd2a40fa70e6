/**
 * The declaration against the graph: a model's declared inputs and outputs compared with what an
 * onnxruntime session reports, so that a declaration that disagrees with its file fails at load,
 * naming the tensor, rather than at the first request.
 */
import type ort from 'onnxruntime-node';
import type { ModelDeclaration, TensorDeclaration } from '../core/model-declaration.js';
import { KSERVE_TYPES } from './onnx-tensor.js';

/** `[-1,3,h,w]`: onnxruntime reports symbolic dims by name. */
function describeShape(shape: readonly (number | string)[]): string {
  return `[${shape.join(',')}]`;
}

/** What the check reads of a session: its tensors' names and metadata. */
export type SessionSignature = Pick<ort.InferenceSession, 'inputNames' | 'outputNames' | 'inputMetadata' | 'outputMetadata'>;

/**
 * Declared tensors against the session's metadata: names, datatypes, ranks and fixed dims. One line
 * per problem; none when they agree. `graphRanks` (onnx-graph-ranks.ts) gives the rank of tensors
 * onnxruntime reports as `[]`, which is both a scalar and an unknown rank.
 */
export function checkSignature(declaration: ModelDeclaration, session: SessionSignature, graphRanks: ReadonlyMap<string, number> = new Map()): string[] {
  const problems: string[] = [];
  const batched = declaration.max_batch_size > 0;
  const compare = (kind: 'input' | 'output', declared: TensorDeclaration, meta: ort.InferenceSession.ValueMetadata | undefined) => {
    if (!meta) {
      const names = (kind === 'input' ? session.inputNames : session.outputNames).join(', ');
      problems.push(`${kind} '${declared.name}' is not in the model (its ${kind}s: ${names})`);
      return;
    }
    if (!meta.isTensor) {
      problems.push(`${kind} '${declared.name}' is not a tensor in the model`);
      return;
    }
    const modelType = KSERVE_TYPES.get(meta.type);
    if (modelType !== declared.datatype) {
      problems.push(`${kind} '${declared.name}' is declared ${declared.datatype} but the model has ${modelType ?? meta.type}`);
    }
    const shape = meta.shape;
    const dims = batched ? [-1, ...declared.dims] : declared.dims;
    if (shape.length === 0) {
      // onnxruntime reports a scalar and an unknown rank both as []: the graph's own type tells them apart.
      const rank = graphRanks.get(declared.name);
      if (rank !== undefined && rank !== dims.length) {
        problems.push(`${kind} '${declared.name}' has rank ${rank}${rank === 0 ? ' (a scalar)' : ''} in the model graph but the declaration gives rank ${dims.length}${batched ? ' (batch dim + dims)' : ''} (dims ${describeShape(declared.dims)}${rank === 0 ? '; declare dims: [] and max_batch_size: 0 for a scalar' : ''})`);
      }
      return;
    }
    if (shape.length !== dims.length) {
      problems.push(`${kind} '${declared.name}' has rank ${shape.length} ${describeShape(shape)} in the model but the declaration gives rank ${dims.length}${batched ? ' (batch dim + dims)' : ''}`);
      return;
    }
    if (batched && typeof shape[0] === 'number' && !(shape[0] === 1 && declaration.max_batch_size === 1)) {
      problems.push(`${kind} '${declared.name}' has a fixed first dim ${shape[0]} in the model, so it cannot batch (max_batch_size ${declaration.max_batch_size})`);
    }
    for (let i = batched ? 1 : 0; i < dims.length; i++) {
      const m = shape[i];
      if (typeof m === 'number' && dims[i] !== -1 && dims[i] !== m) {
        problems.push(`${kind} '${declared.name}' dim ${i} is ${m} in the model ${describeShape(shape)} but ${dims[i]} in the declaration`);
      }
    }
  };
  const inputs = new Map(session.inputMetadata.map((m) => [m.name, m]));
  const outputs = new Map(session.outputMetadata.map((m) => [m.name, m]));
  for (const d of declaration.inputs) compare('input', d, inputs.get(d.name));
  for (const d of declaration.outputs) compare('output', d, outputs.get(d.name));
  const declaredInputs = new Set(declaration.inputs.map((d) => d.name));
  for (const name of session.inputNames) {
    if (!declaredInputs.has(name)) problems.push(`model input '${name}' is not declared (every input must be fed)`);
  }
  return problems;
}
