import { arrayConstructorFor, elementCount } from './datatypes.js';
import { InferError } from './errors.js';
import type { ModelMetadata, TensorMetadata } from './model-metadata.js';
import type { InferRequest, Tensor } from './tensor.js';

/**
 * Checks a parsed request against the model's metadata before it is routed, so a bad request fails
 * at the front door with a message naming the tensor, the expected and the received value, and never
 * costs a backend round trip. Throws InferError('INVALID_ARG', message, reason); `reason` is the
 * failure-metric label.
 */
export function validateInferRequest(req: InferRequest, meta: ModelMetadata): void {
  const declared = new Map<string, TensorMetadata>();
  for (const t of meta.inputs) declared.set(t.name, t);

  const seen = new Set<string>();
  let batch: { size: number; input: string } | undefined;
  for (const input of req.inputs) {
    const spec = declared.get(input.name);
    if (spec === undefined) {
      throw invalid(
        `unknown input '${input.name}' for model '${meta.name}'; expected one of: ${names(meta.inputs)}`,
        'unknown_input',
      );
    }
    if (seen.has(input.name)) throw invalid(`input '${input.name}' is given more than once`, 'duplicate_input');
    seen.add(input.name);

    if (input.datatype !== spec.datatype) {
      throw invalid(
        `input '${input.name}': expected datatype ${spec.datatype}, got ${input.datatype}`,
        'datatype_mismatch',
      );
    }
    checkShape(input, spec, meta.maxBatchSize);
    if (meta.maxBatchSize > 0) {
      const size = input.shape[0];
      if (batch === undefined) batch = { size, input: input.name };
      else if (size !== batch.size) {
        throw invalid(
          `input '${input.name}': batch size ${size} differs from batch size ${batch.size} of input '${batch.input}'`,
          'batch_mismatch',
        );
      }
    }
    checkData(input);
  }

  for (const spec of meta.inputs) {
    if (!seen.has(spec.name)) {
      throw invalid(`missing input '${spec.name}' for model '${meta.name}'`, 'missing_input');
    }
  }

  if (req.outputs !== undefined) {
    const outputs = new Set(meta.outputs.map((o) => o.name));
    const requested = new Set<string>();
    for (const out of req.outputs) {
      if (!outputs.has(out.name)) {
        throw invalid(
          `requested output '${out.name}' is not an output of model '${meta.name}'; expected one of: ${names(meta.outputs)}`,
          'unknown_output',
        );
      }
      if (requested.has(out.name)) throw invalid(`output '${out.name}' is requested more than once`, 'duplicate_output');
      requested.add(out.name);
    }
  }
}

/** `[2,-1,3]`: the form shapes take in every message. */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

function checkShape(input: Tensor, spec: TensorMetadata, maxBatchSize: number): void {
  const { name, shape } = input;
  if (shape.length !== spec.shape.length) {
    throw invalid(
      `input '${name}': expected shape ${formatShape(spec.shape)} (rank ${spec.shape.length}), got ${formatShape(shape)} (rank ${shape.length})`,
      'shape_mismatch',
    );
  }
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    if (!Number.isInteger(d) || d < 0) {
      throw invalid(`input '${name}': dim ${i} must be a non-negative integer, got ${d}`, 'bad_shape');
    }
  }
  const first = maxBatchSize > 0 ? 1 : 0;
  if (maxBatchSize > 0) {
    if (shape.length === 0) {
      throw invalid(`input '${name}': a batching model needs a batch dim, got shape []`, 'shape_mismatch');
    }
    const size = shape[0];
    if (size < 1) throw invalid(`input '${name}': batch size must be at least 1, got ${size}`, 'bad_batch_size');
    if (size > maxBatchSize) {
      throw invalid(
        `input '${name}': batch size ${size} exceeds max_batch_size ${maxBatchSize} of the model`,
        'batch_too_large',
      );
    }
  }
  for (let i = first; i < shape.length; i++) {
    const want = spec.shape[i];
    if (want >= 0 && shape[i] !== want) {
      throw invalid(
        `input '${name}': dim ${i} expected ${want}, got ${shape[i]} (expected shape ${formatShape(spec.shape)}, got ${formatShape(shape)})`,
        'shape_mismatch',
      );
    }
  }
}

function checkData(input: Tensor): void {
  const { name, datatype, data, shape } = input;
  if (datatype === 'BYTES') {
    if (!Array.isArray(data)) {
      throw new InferError('INTERNAL', `input '${name}': BYTES data must be an array of Uint8Array`, 'bad_storage');
    }
  } else {
    const ctor = arrayConstructorFor(datatype);
    if (!(data instanceof ctor)) {
      throw new InferError(
        'INTERNAL',
        `input '${name}': storage ${data.constructor.name} does not hold ${datatype} elements`,
        'bad_storage',
      );
    }
  }
  const want = elementCount(shape);
  if (data.length !== want) {
    throw invalid(
      `input '${name}': shape ${formatShape(shape)} needs ${want} elements, got ${data.length}`,
      'element_count_mismatch',
    );
  }
}

function names(tensors: readonly TensorMetadata[]): string {
  return tensors.map((t) => t.name).join(', ') || '(none)';
}

function invalid(message: string, reason: string): InferError {
  return new InferError('INVALID_ARG', message, reason);
}
