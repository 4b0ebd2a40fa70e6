/**
 * perf_analyzer's --input-data JSON file, read and checked before anything is sent:
 *
 *   {"data": [ {"INPUT0": [1, 2, …]},                                  flat (or nested) values
 *              {"INPUT0": {"content": [1, 2, …], "shape": [2, 8]}},      values with their shape
 *              {"INPUT0": {"b64": "…"}},                                 little-endian bytes, base64
 *              {"INPUT0": {"content": {"b64": "…"}, "shape": [7964]}} ] }
 *
 * Each entry holds one request's tensors for batch 1 (shapes without the batch dim when the model
 * batches), as perf_analyzer's does; requests cycle through the entries. Sequence streams (an
 * array of arrays) and validation_data are perf_analyzer features this bench does not have.
 */
import { readFileSync } from 'node:fs';
import { BenchError } from './bench-errors.js';

/** One tensor of one entry: values (flattened) or raw bytes, and the shape when the entry gives it. */
export interface InputDataTensor {
  values?: unknown[];
  bytes?: Uint8Array;
  shape?: number[];
}

export interface InputDataFile {
  source: string;
  entries: Array<Map<string, InputDataTensor>>;
  notes: string[];
}

const bad = (source: string, message: string) => new BenchError('BAD_INPUT_FILE', `--input-data ${source}: ${message}`);

export function readInputDataFile(file: string): InputDataFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw bad(file, `cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return parseInputData(text, file);
}

export function parseInputData(text: string, source: string): InputDataFile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw bad(source, `not JSON (${(err as Error).message})`);
  }
  const data = (json as { data?: unknown } | null)?.data;
  if (json === null || typeof json !== 'object' || Array.isArray(json) || !Array.isArray(data)) {
    throw bad(source, 'expected an object {"data": [ {<input name>: …}, … ]}');
  }
  if (data.length === 0) throw bad(source, '"data" is empty');
  const notes: string[] = [];
  if ((json as { validation_data?: unknown }).validation_data !== undefined) notes.push(`--input-data ${source}: validation_data is ignored (outputs are not checked)`);
  const entries = data.map((entry, i) => {
    if (Array.isArray(entry)) throw bad(source, `data[${i}] is an array: sequence streams are not supported`);
    if (entry === null || typeof entry !== 'object') throw bad(source, `data[${i}] is not an object of tensors by input name`);
    const tensors = new Map<string, InputDataTensor>();
    for (const [name, value] of Object.entries(entry as Record<string, unknown>)) tensors.set(name, tensorOf(value, `data[${i}].${name}`, source));
    if (tensors.size === 0) throw bad(source, `data[${i}] has no tensor`);
    return tensors;
  });
  return { source, entries, notes };
}

function tensorOf(value: unknown, where: string, source: string): InputDataTensor {
  if (Array.isArray(value)) return { values: flatten(value, where, source) };
  if (value === null || typeof value !== 'object') throw bad(source, `${where}: expected an array of values, {"content": …, "shape": […]} or {"b64": "…"}`);
  const object = value as { content?: unknown; shape?: unknown; b64?: unknown };
  if (object.b64 !== undefined) return { bytes: base64(object.b64, where, source) };
  if (object.content === undefined) throw bad(source, `${where}: an object needs "content" (or "b64")`);
  const tensor: InputDataTensor = Array.isArray(object.content)
    ? { values: flatten(object.content, where, source) }
    : { bytes: base64((object.content as { b64?: unknown } | null)?.b64, `${where}.content`, source) };
  if (object.shape !== undefined) {
    if (!Array.isArray(object.shape) || !object.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw bad(source, `${where}: "shape" must be an array of integers ≥ 0, got ${JSON.stringify(object.shape)}`);
    }
    tensor.shape = object.shape as number[];
  }
  return tensor;
}

function flatten(values: unknown[], where: string, source: string): unknown[] {
  const out: unknown[] = [];
  const visit = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(visit);
    else if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') out.push(v);
    else throw bad(source, `${where}: element ${out.length} is ${v === null ? 'null' : typeof v}; expected numbers, booleans or strings`);
  };
  visit(values);
  return out;
}

function base64(value: unknown, where: string, source: string): Uint8Array {
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(value)) throw bad(source, `${where}: "b64" must be a base64 string`);
  return new Uint8Array(Buffer.from(value, 'base64'));
}
