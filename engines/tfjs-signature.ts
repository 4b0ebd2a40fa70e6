/**
 * The declaration against a tfjs model's own tensors (graph-model signature or layers-model
 * inputs/outputs), so that a declaration that disagrees with its model.json fails at load, naming
 * the tensor, rather than at the first request. Pure.
 */
import type { Datatype } from '../core/datatypes.js';
import type { ModelDeclaration, TensorDeclaration } from '../core/model-declaration.js';

/** The KServe datatypes tfjs tensors carry, and tfjs's dtype for each. */
export const TFJS_DTYPES: Partial<Record<Datatype, 'float32' | 'int32' | 'bool'>> = {
  FP32: 'float32',
  INT32: 'int32',
  BOOL: 'bool',
};

/** A model tensor as tfjs reports it: shape with -1 or null for unknown dims; either may be missing. */
export interface TfjsTensorInfo {
  name: string;
  dtype?: string;
  shape?: readonly (number | null)[];
}

export interface TfjsSignature {
  inputs: TfjsTensorInfo[];
  outputs: TfjsTensorInfo[];
}

/** tf SavedModel dtypes in a graph-model signature (`DT_FLOAT`) as tfjs dtypes. */
const SIGNATURE_DTYPES: Record<string, string> = { DT_FLOAT: 'float32', DT_INT32: 'int32', DT_BOOL: 'bool', DT_STRING: 'string', DT_INT64: 'int32' };

interface SignatureTensor {
  dtype?: string;
  tensorShape?: { dim?: { size?: string | number }[]; unknownRank?: boolean };
}

/** A graph model's `signature` field (keys are the names execute() takes) as tensor infos; undefined when absent. */
export function fromGraphSignature(signature: unknown): TfjsSignature | undefined {
  const sig = signature as { inputs?: Record<string, SignatureTensor>; outputs?: Record<string, SignatureTensor> } | undefined;
  if (!sig?.inputs || !sig.outputs) return undefined;
  const infos = (m: Record<string, SignatureTensor>): TfjsTensorInfo[] => Object.entries(m).map(([name, t]) => ({
    name,
    dtype: t.dtype === undefined ? undefined : (SIGNATURE_DTYPES[t.dtype] ?? t.dtype),
    shape: t.tensorShape?.unknownRank || !t.tensorShape?.dim ? undefined : t.tensorShape.dim.map((d) => Number(d.size ?? -1)),
  }));
  return { inputs: infos(sig.inputs), outputs: infos(sig.outputs) };
}

const describe = (shape: readonly (number | null)[]) => `[${shape.map((d) => d ?? -1).join(',')}]`;

/** Declared tensors against the model's: names, datatypes, ranks and fixed dims. One line per problem. */
export function checkTfjsSignature(declaration: ModelDeclaration, model: TfjsSignature): string[] {
  const problems: string[] = [];
  const batched = declaration.max_batch_size > 0;
  const compare = (kind: 'input' | 'output', declared: TensorDeclaration, info: TfjsTensorInfo | undefined, all: TfjsTensorInfo[]) => {
    if (!info) {
      problems.push(`${kind} '${declared.name}' is not in the model (its ${kind}s: ${all.map((t) => t.name).join(', ')})`);
      return;
    }
    const wanted = TFJS_DTYPES[declared.datatype];
    if (!wanted) {
      problems.push(`${kind} '${declared.name}' is declared ${declared.datatype}, which tfjs has no tensor for (use ${Object.keys(TFJS_DTYPES).join(', ')})`);
      return;
    }
    if (info.dtype !== undefined && info.dtype !== wanted) {
      problems.push(`${kind} '${declared.name}' is declared ${declared.datatype} (${wanted}) but the model has ${info.dtype}`);
    }
    if (!info.shape) return; // unknown rank: nothing to compare
    const shape = info.shape.map((d) => (d === null || d < 0 ? -1 : d));
    const dims = batched ? [-1, ...declared.dims] : declared.dims;
    if (shape.length !== dims.length) {
      problems.push(`${kind} '${declared.name}' has rank ${shape.length} ${describe(shape)} in the model but the declaration gives rank ${dims.length}${batched ? ' (batch dim + dims)' : ''}`);
      return;
    }
    if (batched && shape[0] !== -1 && !(shape[0] === 1 && declaration.max_batch_size === 1)) {
      problems.push(`${kind} '${declared.name}' has a fixed first dim ${shape[0]} in the model, so it cannot batch (max_batch_size ${declaration.max_batch_size})`);
    }
    for (let i = batched ? 1 : 0; i < dims.length; i++) {
      if (shape[i] !== -1 && dims[i] !== -1 && dims[i] !== shape[i]) {
        problems.push(`${kind} '${declared.name}' dim ${i} is ${shape[i]} in the model ${describe(shape)} but ${dims[i]} in the declaration`);
      }
    }
  };
  for (const d of declaration.inputs) compare('input', d, model.inputs.find((t) => t.name === d.name), model.inputs);
  for (const d of declaration.outputs) compare('output', d, model.outputs.find((t) => t.name === d.name), model.outputs);
  const declared = new Set(declaration.inputs.map((d) => d.name));
  for (const t of model.inputs) {
    if (!declared.has(t.name)) problems.push(`model input '${t.name}' is not declared (every input must be fed)`);
  }
  return problems;
}
