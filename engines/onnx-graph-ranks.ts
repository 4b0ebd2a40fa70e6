/**
 * The ranks the ONNX graph itself declares for its inputs and outputs, read from the model file.
 * onnxruntime's session metadata reports a scalar and a tensor of unknown rank both as `[]`, so it
 * cannot tell a declaration of rank 1 for a scalar input from a correct one; the file can.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/**
 * Rank by tensor name, for the graph's inputs and outputs whose type gives a shape. A tensor whose
 * type has no shape (rank unknown) is left out, as is anything that is not a tensor.
 */
export function graphRanks(model: Uint8Array): Map<string, number> {
  const ranks = new Map<string, number>();
  let graph: ReturnType<typeof onnx.ModelProto.decode>['graph'];
  try {
    graph = onnx.ModelProto.decode(model).graph;
  } catch {
    // onnxruntime already read the file; a proto this older schema cannot read just goes unchecked.
    return ranks;
  }
  if (!graph) return ranks;
  for (const value of [...(graph.input ?? []), ...(graph.output ?? [])]) {
    const tensorType = value.type?.tensorType;
    // protobufjs leaves an absent message field null or undefined: then the rank is unknown.
    if (!value.name || !tensorType || !tensorType.shape) continue;
    ranks.set(value.name, tensorType.shape.dim?.length ?? 0);
  }
  return ranks;
}
