/**
 * Warmup samples (Triton's `model_warmup`): the cross-field checks the schema cannot make, and the
 * requests a sample stands for. Calibration reuses the same generator for models that declare no
 * warmup, with their variable dims set to CALIBRATION_VARIABLE_DIM.
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { allocate, arrayConstructorFor, elementByteSize, elementCount, type Datatype, type TensorData } from './datatypes.js';
import { symlinkEscape } from './declared-path.js';
import type { ModelDeclaration, TensorDeclaration, WarmupInput, WarmupSample } from './model-declaration.js';
import type { ModelMetadata } from './model-metadata.js';
import type { InferRequest, Tensor } from './tensor.js';

/** A variable dim of a generated (calibration) input: a multiple of 32, as vision models want. */
export const CALIBRATION_VARIABLE_DIM = 32;

export interface WarmupProblem {
  field: string;
  message: string;
}

/** Checks every sample against the declaration; returns one problem per mistake, [] when fine. */
export function checkWarmupSamples(raw: unknown, decl: Pick<ModelDeclaration, 'inputs' | 'max_batch_size'>, directory: string): WarmupProblem[] {
  if (raw === undefined) return [];
  const samples = raw as Array<Partial<WarmupSample>>;
  const problems: WarmupProblem[] = [];
  const names = new Set<string>();
  samples.forEach((sample, i) => {
    const at = `model_warmup[${i}]`;
    if (sample.name !== undefined) {
      if (names.has(sample.name)) problems.push({ field: `${at}.name`, message: `expected a unique name, '${sample.name}' appears twice` });
      names.add(sample.name);
    }
    const batch = sample.batch_size ?? 1;
    if (decl.max_batch_size === 0 && batch !== 1) {
      problems.push({ field: `${at}.batch_size`, message: `expected 1 (the model does not batch: max_batch_size 0), got ${batch}` });
    } else if (decl.max_batch_size > 0 && batch > decl.max_batch_size) {
      problems.push({ field: `${at}.batch_size`, message: `expected at most max_batch_size ${decl.max_batch_size}, got ${batch}` });
    }
    const inputs = sample.inputs ?? {};
    for (const name of Object.keys(inputs)) {
      if (!decl.inputs.some((t) => t.name === name)) {
        problems.push({ field: `${at}.inputs.${name}`, message: `is not a declared input; expected one of ${decl.inputs.map((t) => t.name).join(', ')}` });
      }
    }
    for (const tensor of decl.inputs) {
      const input = inputs[tensor.name];
      if (input === undefined) {
        problems.push({ field: `${at}.inputs.${tensor.name}`, message: 'expected data for every declared input, this one is missing' });
        continue;
      }
      problems.push(...checkInput(input, tensor, directory, `${at}.inputs.${tensor.name}`));
    }
  });
  return problems;
}

function checkInput(input: WarmupInput, tensor: TensorDeclaration, directory: string, at: string): WarmupProblem[] {
  const sources = (['zero_data', 'random_data', 'input_data_file'] as const).filter((k) => input[k] !== undefined);
  if (sources.length !== 1) {
    return [{ field: at, message: `expected exactly one of zero_data: true, random_data: true, input_data_file, got ${sources.length === 0 ? 'none' : sources.join(' and ')}` }];
  }
  let dims: number[];
  try {
    dims = rowDims(tensor, input.dims);
  } catch (err) {
    return [{ field: `${at}.dims`, message: (err as Error).message }];
  }
  const file = input.input_data_file;
  if (file === undefined) return [];
  if (tensor.datatype === 'BYTES') return [{ field: `${at}.input_data_file`, message: 'is not supported for BYTES inputs; use zero_data or random_data' }];
  const resolved = path.resolve(directory, file);
  if (path.isAbsolute(file) || path.relative(directory, resolved).startsWith('..')) {
    return [{ field: `${at}.input_data_file`, message: `expected a path inside the model directory, got '${file}'` }];
  }
  const expected = elementCount(dims) * elementByteSize(tensor.datatype);
  let size: number;
  try {
    size = statSync(resolved).size;
  } catch {
    return [{ field: `${at}.input_data_file`, message: `file '${file}' does not exist in the model directory` }];
  }
  const escape = symlinkEscape(resolved, directory);
  if (escape !== undefined) {
    return [{ field: `${at}.input_data_file`, message: `'${file}' resolves to ${escape}, outside the model directory (a symlink out of it)` }];
  }
  if (size !== expected) {
    return [{ field: `${at}.input_data_file`, message: `expected ${expected} bytes (one row of ${tensor.datatype} [${dims.join(', ')}]), '${file}' has ${size}` }];
  }
  return [];
}

/** The dims of one row: the sample's, which must fit the declared ones; the declared ones when fixed. */
function rowDims(tensor: TensorDeclaration, given: number[] | undefined): number[] {
  if (given === undefined) {
    if (tensor.dims.includes(-1)) throw new Error(`expected dims: the declared dims [${tensor.dims.join(', ')}] are variable`);
    return tensor.dims;
  }
  const fits = given.length === tensor.dims.length && given.every((d, i) => tensor.dims[i] === -1 || tensor.dims[i] === d);
  if (!fits) throw new Error(`expected dims that fit the declared [${tensor.dims.join(', ')}], got [${given.join(', ')}]`);
  return given;
}

/** The request one execution of a (checked) sample sends: batch_size rows of each input. */
export function warmupRequest(decl: ModelDeclaration, sample: WarmupSample): InferRequest {
  const inputs = decl.inputs.map((tensor): Tensor => {
    const input = sample.inputs[tensor.name];
    const row = rowDims(tensor, input.dims);
    const shape = decl.max_batch_size > 0 ? [sample.batch_size, ...row] : row;
    const length = elementCount(shape);
    let data: TensorData;
    if (input.input_data_file !== undefined) data = fileData(tensor.datatype, path.join(decl.directory, input.input_data_file), sample.batch_size, length);
    else if (input.random_data) data = randomData(tensor.datatype, length);
    else data = allocate(tensor.datatype, length);
    return { name: tensor.name, datatype: tensor.datatype, shape, data };
  });
  return { modelName: decl.name, id: `warmup:${sample.name}`, inputs };
}

/**
 * A request of `batch` rows of random data shaped by the model's metadata, each variable dim set
 * to `variableDim`: what calibration runs on a model that declares no warmup.
 */
export function generatedRequest(metadata: ModelMetadata, batch = 1, variableDim = CALIBRATION_VARIABLE_DIM): InferRequest {
  const inputs = metadata.inputs.map((t): Tensor => {
    const row = (metadata.maxBatchSize > 0 ? t.shape.slice(1) : t.shape).map((d) => (d < 0 ? variableDim : d));
    const shape = metadata.maxBatchSize > 0 ? [batch, ...row] : row;
    return { name: t.name, datatype: t.datatype, shape, data: randomData(t.datatype, elementCount(shape)) };
  });
  return { modelName: metadata.name, id: 'calibration', inputs };
}

/** One row from the file, repeated for each row of the batch. */
function fileData(datatype: Datatype, file: string, rows: number, length: number): TensorData {
  const bytes = readFileSync(file);
  const ctor = arrayConstructorFor(datatype as Exclude<Datatype, 'BYTES'>);
  const out = new ctor(length);
  const rowLength = length / rows;
  // Copied into its own buffer: a Buffer's offset need not be aligned for the element type.
  const row = new ctor(new Uint8Array(bytes).buffer, 0, rowLength);
  for (let r = 0; r < rows; r++) (out as { set(a: ArrayLike<number | bigint>, o: number): void }).set(row, r * rowLength);
  return out;
}

/** Values a model accepts whatever it computes: [0, 1) for floats, 0..9 for integers, short ASCII strings. */
function randomData(datatype: Datatype, length: number): TensorData {
  if (datatype === 'BYTES') {
    return Array.from({ length }, () => new TextEncoder().encode(Math.random().toString(36).slice(2, 10)));
  }
  const data = allocate(datatype, length) as Exclude<TensorData, Uint8Array[]>;
  for (let i = 0; i < length; i++) {
    const u = Math.random();
    switch (datatype) {
      case 'FP32': case 'FP64': data[i] = u; break;
      // Raw half patterns below 1.0 (0x3C00 in FP16, 0x3F80 in BF16): never NaN or infinite.
      case 'FP16': data[i] = Math.floor(u * 0x3c00); break;
      case 'BF16': data[i] = Math.floor(u * 0x3f80); break;
      case 'BOOL': data[i] = u < 0.5 ? 0 : 1; break;
      case 'INT64': case 'UINT64': data[i] = BigInt(Math.floor(u * 10)); break;
      default: data[i] = Math.floor(u * 10);
    }
  }
  return data;
}
