/**
 * Checks a declaration against what a native plugin describes, as onnx-signature.ts does for a
 * graph: the same input and output names, the same datatypes, the same ranks, and no declared dim
 * that contradicts a fixed dim of the plugin. Pure.
 */
import type { ModelDeclaration, TensorDeclaration } from '../core/model-declaration.js';
import { fromNativeDatatype, type NativeTensorDesc } from './native-addon.js';

/** The full shape the declaration promises: the batch dim (-1) first when the model batches. */
export function declaredShape(decl: ModelDeclaration, t: TensorDeclaration): number[] {
  return decl.max_batch_size > 0 ? [-1, ...t.dims] : [...t.dims];
}

export function checkNativeSignature(
  decl: ModelDeclaration,
  described: { inputs: NativeTensorDesc[]; outputs: NativeTensorDesc[] },
): string[] {
  const problems: string[] = [];
  for (const kind of ['inputs', 'outputs'] as const) {
    const declared = decl[kind];
    const byName = new Map(described[kind].map((d) => [d.name, d]));
    for (const t of declared) {
      const d = byName.get(t.name);
      if (!d) {
        problems.push(`the plugin has no ${kind.slice(0, -1)} '${t.name}' (it has ${described[kind].map((x) => `'${x.name}'`).join(', ') || 'none'})`);
        continue;
      }
      const datatype = fromNativeDatatype(d.datatype) ?? `unknown datatype ${d.datatype}`;
      if (datatype !== t.datatype) problems.push(`'${t.name}' is ${datatype} in the plugin, declared ${t.datatype}`);
      const shape = declaredShape(decl, t);
      if (shape.length !== d.dims.length) {
        problems.push(`'${t.name}' has rank ${d.dims.length} in the plugin [${d.dims.join(', ')}], declared rank ${shape.length} [${shape.join(', ')}]${decl.max_batch_size > 0 ? ' (with the batch dim)' : ''}`);
        continue;
      }
      shape.forEach((dim, k) => {
        const fixed = d.dims[k];
        if (fixed !== -1 && dim !== fixed) problems.push(`'${t.name}' dim ${k} is ${fixed} in the plugin, declared ${dim}`);
      });
      if (decl.max_batch_size > 0 && d.dims[0] !== -1) {
        problems.push(`'${t.name}': max_batch_size is ${decl.max_batch_size} but the plugin's dim 0 is fixed at ${d.dims[0]}, not a batch dim`);
      }
    }
    const declaredNames = new Set(declared.map((t) => t.name));
    // Every plugin input must be fed; an output the declaration leaves out is merely not served.
    if (kind === 'inputs') {
      for (const d of described.inputs) {
        if (!declaredNames.has(d.name)) problems.push(`the plugin's input '${d.name}' is not declared`);
      }
    }
  }
  return problems;
}
