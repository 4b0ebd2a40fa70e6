/**
 * The requests a bench sends, built from the model's metadata before the load starts: every input
 * with its datatype and a concrete shape, filled with random data (once, reused by every request,
 * as perf_analyzer does) or with the entries of an --input-data file (cycled).
 *
 * Shapes follow perf_analyzer: when the model batches (max_batch_size > 0) the first dim is the
 * batch, set by -b, and --shape NAME:d1,d2 and the file's shapes give the other dims. A variable
 * dim (-1) takes its size from --shape, else from the file's entry (one variable dim: from the
 * element count), else 1, with a note saying so.
 */
import { arrayConstructorFor, elementByteSize, elementCount, type Datatype, type NumericArray, type TensorData } from '../../core/datatypes.js';
import { numberToHalf } from '../../core/half-float.js';
import { blobToTensorData } from '../../core/infer-binary.js';
import { failRequest } from '../../core/infer-json.js';
import { toTensor, type TensorInput } from '../../client/client-tensors.js';
import type { ModelMetadataAnswer } from '../../client/http-client.js';
import { BenchError } from './bench-errors.js';
import type { InputDataFile, InputDataTensor } from './input-data.js';
import type { Random } from './schedule.js';

/** Random integers stay small, so that models doing arithmetic or lookups on them do not overflow. */
export const RANDOM_INT_LIMIT = 64;
/** Characters per random BYTES element (perf_analyzer's --string-length default). */
export const RANDOM_STRING_LENGTH = 128;

export interface InputOptions {
  /** From the model config; undefined when the server gives none (then the model is taken as not batching). */
  maxBatchSize: number | undefined;
  /** -b: rows per request when the model batches. */
  batchSize: number;
  /** --shape, by input name: the dims without the batch dim. */
  shapes: ReadonlyMap<string, number[]>;
  data?: InputDataFile;
  random: Random;
}

export interface InputPlan {
  /** Distinct requests, sent in turn. */
  requests: TensorInput[][];
  batching: boolean;
  batchSize: number;
  /** Inferences one successful request counts for: the batch size when the model batches, else 1. */
  inferencesPerRequest: number;
  /** The first request's tensors as sent. */
  inputs: Array<{ name: string; datatype: Datatype; shape: number[] }>;
  notes: string[];
}

/** `NAME:d1,d2,…` (repeatable flag) → dims by name. */
export function parseShapeOptions(values: readonly string[]): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  for (const value of values) {
    const colon = value.lastIndexOf(':');
    const name = value.slice(0, colon);
    const dims = value.slice(colon + 1).split(',').map((d) => d.trim());
    if (colon <= 0 || dims.some((d) => !/^\d+$/.test(d))) {
      throw new BenchError('BAD_SHAPE', `--shape expects NAME:d1,d2,… with whole numbers, got '${value}'`);
    }
    if (shapes.has(name)) throw new BenchError('BAD_SHAPE', `--shape ${name} is given twice`);
    shapes.set(name, dims.map(Number));
  }
  return shapes;
}

export function planInputs(metadata: ModelMetadataAnswer, options: InputOptions): InputPlan {
  const notes: string[] = [];
  const maxBatchSize = options.maxBatchSize ?? 0;
  if (options.maxBatchSize === undefined) notes.push(`the server gives no model config for '${metadata.name}': taken as not batching (shapes as in its metadata)`);
  const batching = maxBatchSize > 0;
  if (!batching && options.batchSize !== 1) {
    throw new BenchError('BAD_ARGUMENT', `-b ${options.batchSize}: model '${metadata.name}' does not batch (max_batch_size 0); only -b 1 is possible`);
  }
  if (batching && options.batchSize > maxBatchSize) {
    throw new BenchError('BAD_ARGUMENT', `-b ${options.batchSize} is over model '${metadata.name}''s max_batch_size ${maxBatchSize}`);
  }
  const names = new Set(metadata.inputs.map((i) => i.name));
  for (const name of options.shapes.keys()) {
    if (!names.has(name)) throw new BenchError('BAD_SHAPE', `--shape ${name}: model '${metadata.name}' has no input '${name}' (inputs: ${[...names].join(', ')})`);
  }
  const modelDims = new Map(metadata.inputs.map((i) => [i.name, batching ? i.shape.slice(1) : [...i.shape]]));
  const withBatch = (dims: number[]): number[] => (batching ? [options.batchSize, ...dims] : dims);

  let requests: TensorInput[][];
  if (options.data) {
    const rows = options.data.entries.map((entry, i) => entryTensors(entry, i, metadata, modelDims, options.shapes, options.data!.source));
    notes.push(...options.data.notes);
    requests = rows.map((_, k) => metadata.inputs.map((input) => {
      const picked = Array.from({ length: batching ? options.batchSize : 1 }, (_, j) => rows[(k * options.batchSize + j) % rows.length].get(input.name)!);
      const dims = picked[0].shape;
      if (picked.some((t) => t.shape.join(',') !== dims.join(','))) {
        throw new BenchError('BAD_INPUT_FILE', `--input-data ${options.data!.source}: input '${input.name}': entries of different shapes cannot share a batch of ${options.batchSize}`);
      }
      return { name: input.name, datatype: input.datatype, shape: withBatch(dims), data: concat(input.datatype, picked.map((t) => t.data)) };
    }));
  } else {
    requests = [metadata.inputs.map((input) => {
      const dims = resolveDims(input.name, modelDims.get(input.name)!, options.shapes.get(input.name), batching, notes);
      const shape = withBatch(dims);
      return { name: input.name, datatype: input.datatype, shape, data: randomData(input.datatype, elementCount(shape), options.random) };
    })];
  }
  return {
    requests,
    batching,
    batchSize: batching ? options.batchSize : 1,
    inferencesPerRequest: batching ? options.batchSize : 1,
    inputs: requests[0].map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape })),
    notes,
  };
}

/** Model dims with --shape applied; a variable dim nothing sets becomes 1, with a note. */
function resolveDims(name: string, model: number[], given: number[] | undefined, batching: boolean, notes: string[]): number[] {
  if (given) {
    checkFits(name, model, given, batching, `--shape ${name}:${given.join(',')}`);
    return [...given];
  }
  if (model.includes(-1)) {
    notes.push(`input '${name}': variable dims [${model.join(',')}] set to [${model.map((d) => (d === -1 ? 1 : d)).join(',')}] (give --shape ${name}:…)`);
    return model.map((d) => (d === -1 ? 1 : d));
  }
  return [...model];
}

function checkFits(name: string, model: number[], dims: number[], batching: boolean, what: string): void {
  const fits = dims.length === model.length && model.every((d, i) => d === -1 || d === dims[i]);
  if (fits) return;
  const hint = batching && dims.length === model.length + 1 ? ' (the model batches: give the dims without the batch dim, and the batch size with -b)' : '';
  throw new BenchError('BAD_SHAPE', `${what} does not fit input '${name}' of dims [${model.join(',')}]${hint}`);
}

/** One entry's tensors, every input present, shapes resolved and values in typed storage. */
function entryTensors(
  entry: Map<string, InputDataTensor>,
  index: number,
  metadata: ModelMetadataAnswer,
  modelDims: Map<string, number[]>,
  shapes: ReadonlyMap<string, number[]>,
  source: string,
): Map<string, { shape: number[]; data: TensorData }> {
  const bad = (message: string) => new BenchError('BAD_INPUT_FILE', `--input-data ${source}: data[${index}]: ${message}`);
  for (const name of entry.keys()) {
    if (!modelDims.has(name)) throw bad(`model '${metadata.name}' has no input '${name}' (inputs: ${[...modelDims.keys()].join(', ')})`);
  }
  const out = new Map<string, { shape: number[]; data: TensorData }>();
  for (const input of metadata.inputs) {
    const tensor = entry.get(input.name);
    if (!tensor) throw bad(`no data for input '${input.name}'`);
    const model = modelDims.get(input.name)!;
    const where = `data[${index}].${input.name}`;
    const count = tensor.values?.length ?? rawCount(input.datatype, tensor.bytes!);
    let dims: number[];
    if (tensor.shape) {
      try {
        checkFits(input.name, model, tensor.shape, false, `--input-data ${source}: ${where} shape [${tensor.shape.join(',')}]`);
      } catch (err) {
        throw new BenchError('BAD_INPUT_FILE', (err as Error).message);
      }
      dims = tensor.shape;
    } else if (shapes.has(input.name)) {
      dims = shapes.get(input.name)!;
    } else {
      dims = inferDims(model, count, () => bad(`input '${input.name}' has variable dims [${model.join(',')}]: give "shape" in the entry or --shape ${input.name}:…`));
    }
    if (count !== undefined && count !== elementCount(dims)) throw bad(`input '${input.name}' has ${count} elements; shape [${dims.join(',')}] needs ${elementCount(dims)}`);
    try {
      const data = tensor.values
        ? toTensor({ name: input.name, datatype: input.datatype, shape: dims, data: coerce(input.datatype, tensor.values) as never }).data
        : blobToTensorData(tensor.bytes!, where, input.datatype, dims, failRequest);
      out.set(input.name, { shape: dims, data });
    } catch (err) {
      throw bad(`input '${input.name}': ${(err as Error).message}`);
    }
  }
  return out;
}

/** Dims for `count` elements: the model's when fixed, its one variable dim solved for; undefined count (BYTES blob) needs a fixed shape. */
function inferDims(model: number[], count: number | undefined, missing: () => Error): number[] {
  const variable = model.filter((d) => d === -1).length;
  if (variable === 0) return [...model];
  if (variable > 1 || count === undefined) throw missing();
  const known = elementCount(model.filter((d) => d !== -1));
  if (known === 0 || count % known !== 0) throw missing();
  return model.map((d) => (d === -1 ? count / known : d));
}

/** Elements in a raw blob: bytes ÷ element size, or BYTES' length-prefixed elements counted. */
function rawCount(datatype: Datatype, bytes: Uint8Array): number | undefined {
  if (datatype !== 'BYTES') {
    const size = elementByteSize(datatype);
    return bytes.byteLength % size === 0 ? bytes.byteLength / size : undefined;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let count = 0;
  for (let offset = 0; offset < bytes.byteLength; count++) {
    if (offset + 4 > bytes.byteLength) return undefined;
    offset += 4 + view.getUint32(offset, true);
  }
  return count;
}

/** JSON values as the client library takes them for the datatype. */
function coerce(datatype: Datatype, values: unknown[]): unknown[] {
  if (datatype === 'BYTES') return values.map((v) => String(v));
  if (datatype === 'BOOL') return values.map((v) => v === true || v === 1 || v === 'true');
  if (datatype === 'INT64' || datatype === 'UINT64') {
    return values.map((v) => {
      if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
      if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
      throw new TypeError(`${JSON.stringify(v)} is not an integer`);
    });
  }
  return values.map((v) => {
    const n = typeof v === 'boolean' ? Number(v) : Number(v);
    if (typeof v === 'string' && !Number.isFinite(n) && !/^[+-]?(Infinity|NaN)$/.test(v)) throw new TypeError(`${JSON.stringify(v)} is not a number`);
    return n;
  });
}

function concat(datatype: Datatype, parts: TensorData[]): TensorData {
  if (parts.length === 1) return parts[0];
  if (datatype === 'BYTES') return (parts as Uint8Array[][]).flat();
  const Ctor = arrayConstructorFor(datatype);
  const out = new Ctor(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    (out as Uint8Array).set(p as Uint8Array, offset);
    offset += p.length;
  }
  return out;
}

export function randomData(datatype: Datatype, count: number, random: Random): TensorData {
  if (datatype === 'BYTES') {
    const chars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
    return Array.from({ length: count }, () => {
      const bytes = new Uint8Array(RANDOM_STRING_LENGTH);
      for (let i = 0; i < bytes.length; i++) bytes[i] = chars.charCodeAt(Math.floor(random() * chars.length));
      return bytes;
    });
  }
  const data: NumericArray = new (arrayConstructorFor(datatype))(count);
  for (let i = 0; i < count; i++) {
    const u = random();
    switch (datatype) {
      case 'FP32': case 'FP64': (data as Float64Array)[i] = u; break;
      case 'FP16': case 'BF16': (data as Uint16Array)[i] = numberToHalf(datatype, u); break;
      case 'BOOL': (data as Uint8Array)[i] = u < 0.5 ? 0 : 1; break;
      case 'INT64': case 'UINT64': (data as BigInt64Array)[i] = BigInt(Math.floor(u * RANDOM_INT_LIMIT)); break;
      default: (data as Int32Array)[i] = Math.floor(u * RANDOM_INT_LIMIT);
    }
  }
  return data;
}
