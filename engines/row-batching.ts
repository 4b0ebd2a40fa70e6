/**
 * Row batching, for any engine whose models take the batch dim first. Requests whose inputs agree
 * on every dim but the first run as one: their inputs are concatenated along dim 0 (up to
 * max_batch_size rows), and each output is split back by the rows each request brought. Pure: no
 * runtime, no I/O.
 */
import { arrayConstructorFor, type NumericArray, type TensorData } from '../core/datatypes.js';
import type { InferError } from '../core/errors.js';
import type { InferRequest, InferResponse, Tensor } from '../core/tensor.js';

/** One request's result, as engine.ts's ExecuteResult (kept here so this module needs only core). */
type ExecuteResult = InferResponse | InferError;

/** Requests whose inputs agree on everything but the batch dim, run as one: indices into the batch, in order. */
export interface RowGroup {
  indices: number[];
}

/** The rows a request brings: the first dim of its first input (0 when it has none). */
export function requestRows(req: InferRequest): number {
  return req.inputs[0]?.shape[0] ?? 0;
}

/**
 * Rows one model run of `requests` takes, as statistics count them: the sum of their first dims
 * when the model batches, one when it has no batch dim (max_batch_size 0: it runs one request).
 */
export function runRows(declaration: { max_batch_size: number }, requests: readonly InferRequest[]): number {
  return declaration.max_batch_size > 0 ? requests.reduce((n, r) => n + requestRows(r), 0) : 1;
}

/**
 * Requests batch together when every input matches in name, datatype and all dims but the first.
 * Undefined when the request cannot batch at all: no inputs, a scalar input, or inputs whose first
 * dims disagree.
 */
export function batchKey(req: InferRequest): string | undefined {
  const rows = req.inputs[0]?.shape[0];
  if (rows === undefined || req.inputs.some((t) => t.shape.length === 0 || t.shape[0] !== rows)) return undefined;
  return [...req.inputs]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((t) => `${t.name}:${t.datatype}:${t.shape.slice(1).join('x')}`)
    .join('|');
}

/**
 * The requests at `indices` of `batch`, grouped into runs. A request joins the latest group of its
 * batch key while that group's rows plus its own stay within maxBatchSize; otherwise it opens a
 * new group, which later requests of that key join. A request without a key runs alone, and so
 * does every request when maxBatchSize is 0 (the model has no batch dim).
 */
export function groupByRows(batch: readonly InferRequest[], indices: readonly number[], maxBatchSize: number): RowGroup[] {
  if (maxBatchSize <= 0) return indices.map((i) => ({ indices: [i] }));
  const open = new Map<string, { group: RowGroup; rows: number }>();
  const groups: RowGroup[] = [];
  for (const i of indices) {
    const req = batch[i];
    const rows = requestRows(req);
    const key = batchKey(req);
    const current = key === undefined ? undefined : open.get(key);
    if (current && current.rows + rows <= maxBatchSize) {
      current.group.indices.push(i);
      current.rows += rows;
      continue;
    }
    const group = { indices: [i] };
    groups.push(group);
    if (key !== undefined) open.set(key, { group, rows });
  }
  return groups;
}

/** Each input of the first request, concatenated along dim 0 with the same input of every other request, in order. */
export function concatInputs(requests: readonly InferRequest[]): Tensor[] {
  const totalRows = requests.reduce((n, r) => n + requestRows(r), 0);
  return requests[0].inputs.map((first) => {
    const parts = requests.map((r) => r.inputs.find((t) => t.name === first.name)!);
    return concatRows(parts, totalRows);
  });
}

/** Tensors of one name and datatype, agreeing on all dims but the first, as one tensor of `totalRows` rows. */
export function concatRows(parts: readonly Tensor[], totalRows: number): Tensor {
  const first = parts[0];
  const shape = [totalRows, ...first.shape.slice(1)];
  if (first.datatype === 'BYTES') {
    return { name: first.name, datatype: first.datatype, shape, data: parts.flatMap((p) => p.data as Uint8Array[]) };
  }
  const length = parts.reduce((n, p) => n + p.data.length, 0);
  const data = new (arrayConstructorFor(first.datatype))(length);
  let offset = 0;
  for (const p of parts) {
    (data as { set(a: ArrayLike<number | bigint>, o: number): void }).set(p.data as NumericArray, offset);
    offset += p.data.length;
  }
  return { name: first.name, datatype: first.datatype, shape, data };
}

/** Rows startRow .. startRow + rows of `t`, as a tensor of its own (a copy, not a view). */
export function sliceRows(t: Tensor, startRow: number, rows: number): Tensor {
  const rowSize = t.shape.slice(1).reduce((a, b) => a * b, 1);
  const data = t.data.slice(startRow * rowSize, (startRow + rows) * rowSize) as TensorData;
  return { name: t.name, datatype: t.datatype, shape: [rows, ...t.shape.slice(1)], data };
}

/**
 * A batched run's outputs split back per request, in order: request k gets rows
 * offset_k .. offset_k + rows_k of each output it wants. Undefined when an output it wants is
 * missing or does not have the batch's total rows on its first dim (the model did not batch on it),
 * so the caller runs the requests one by one instead.
 */
export function splitRows(
  requests: readonly InferRequest[],
  outputs: ReadonlyMap<string, Tensor>,
  wanted: (req: InferRequest) => string[],
): Tensor[][] | undefined {
  const rows = requests.map(requestRows);
  const total = rows.reduce((a, b) => a + b, 0);
  for (const t of outputs.values()) if (t.shape[0] !== total) return undefined;
  const parts: Tensor[][] = [];
  let offset = 0;
  for (let k = 0; k < requests.length; k++) {
    const mine: Tensor[] = [];
    for (const name of wanted(requests[k])) {
      const t = outputs.get(name);
      if (t === undefined) return undefined;
      mine.push(sliceRows(t, offset, rows[k]));
    }
    parts.push(mine);
    offset += rows[k];
  }
  return parts;
}

/**
 * One execute of an engine that runs rows: each request checked first (a refusal is its result),
 * the rest grouped by groupByRows and each group run once, batched; a group whose batched run gives
 * no answer (undefined) runs request by request, so that one bad request fails alone. One result
 * per request, in request order.
 */
export async function executeByRows(
  batch: readonly InferRequest[],
  maxBatchSize: number,
  check: (req: InferRequest) => ExecuteResult | undefined,
  runBatched: (requests: InferRequest[]) => Promise<ExecuteResult[] | undefined> | ExecuteResult[] | undefined,
  runOne: (req: InferRequest) => Promise<ExecuteResult> | ExecuteResult,
): Promise<ExecuteResult[]> {
  const results: (ExecuteResult | undefined)[] = new Array(batch.length);
  const runnable: number[] = [];
  batch.forEach((req, i) => {
    const problem = check(req);
    if (problem) results[i] = problem;
    else runnable.push(i);
  });
  for (const group of groupByRows(batch, runnable, maxBatchSize)) {
    if (group.indices.length > 1) {
      const out = await runBatched(group.indices.map((i) => batch[i]));
      if (out) {
        group.indices.forEach((i, k) => { results[i] = out[k]; });
        continue;
      }
    }
    for (const i of group.indices) results[i] = await runOne(batch[i]);
  }
  return results as ExecuteResult[];
}
