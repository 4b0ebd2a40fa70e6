import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Datatype, TensorData } from '../../core/datatypes.js';
import type { InferRequest, Tensor } from '../../core/tensor.js';
import { batchKey, concatInputs, concatRows, groupByRows, requestRows, sliceRows } from '../../engines/row-batching.js';

/** An input spec: name, datatype and shape; its data is filled to fit. */
type InputSpec = [name: string, datatype: Datatype, shape: number[]];

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function tensor(name: string, datatype: Datatype, shape: number[], seed = 0): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  let data: TensorData;
  if (datatype === 'BYTES') data = Array.from({ length: n }, (_, i) => encoder.encode(`s${seed + i}`));
  else if (datatype === 'INT64') data = BigInt64Array.from({ length: n }, (_, i) => BigInt(seed + i));
  else if (datatype === 'INT32') data = Int32Array.from({ length: n }, (_, i) => seed + i);
  else data = Float32Array.from({ length: n }, (_, i) => seed + i);
  return { name, datatype, shape, data };
}

function request(...inputs: InputSpec[]): InferRequest {
  return { modelName: 'm', inputs: inputs.map(([name, datatype, shape]) => tensor(name, datatype, shape)) };
}

function groupsOf(batch: InferRequest[], maxBatchSize: number, indices = batch.map((_, i) => i)): number[][] {
  return groupByRows(batch, indices, maxBatchSize).map((g) => g.indices);
}

function valuesOf(t: Tensor): (number | bigint | string)[] {
  return Array.isArray(t.data) ? t.data.map((b) => decoder.decode(b)) : [...t.data];
}

describe('batchKey', () => {
  const table: [string, InferRequest, string | undefined][] = [
    ['one input: name, datatype and the dims after the first', request(['x', 'FP32', [2, 3, 4]]), 'x:FP32:3x4'],
    ['a vector batches on its rows alone', request(['x', 'FP32', [5]]), 'x:FP32:'],
    ['inputs in name order, whatever the request order', request(['b', 'INT32', [1, 2]], ['a', 'FP32', [1, 16]]), 'a:FP32:16|b:INT32:2'],
    ['BYTES like any other datatype', request(['text', 'BYTES', [3, 1]]), 'text:BYTES:1'],
    ['no inputs: cannot batch', request(), undefined],
    ['a scalar input: cannot batch', request(['x', 'FP32', [2, 4]], ['scale', 'FP32', []]), undefined],
    ['inputs whose first dims disagree: cannot batch', request(['a', 'FP32', [1, 4]], ['b', 'FP32', [2, 4]]), undefined],
  ];
  it.each(table)('%s', (_, req, key) => {
    expect(batchKey(req)).toBe(key);
  });

  it('is the same for requests that differ only in rows', () => {
    expect(batchKey(request(['x', 'FP32', [1, 3, 8]]))).toBe(batchKey(request(['x', 'FP32', [7, 3, 8]])));
  });
});

describe('requestRows', () => {
  it('is the first dim of the first input, 0 without inputs', () => {
    expect(requestRows(request(['x', 'FP32', [3, 16]]))).toBe(3);
    expect(requestRows(request(['x', 'FP32', []]))).toBe(0);
    expect(requestRows(request())).toBe(0);
  });
});

describe('groupByRows', () => {
  const x16 = (rows: number): InputSpec => ['x', 'FP32', [rows, 16]];
  const x8 = (rows: number): InputSpec => ['x', 'FP32', [rows, 8]];
  const table: [string, InferRequest[], number, number[][]][] = [
    ['mixed shapes: one group per shape, in order of first appearance',
      [request(x16(1)), request(x8(2)), request(x16(1)), request(x8(2)), request(x16(3))], 8, [[0, 2, 4], [1, 3]]],
    ['counts rows, not requests: a group closes when the next request\'s rows would pass the limit',
      [request(x16(2)), request(x16(2)), request(x16(2)), request(x16(2)), request(x16(1))], 4, [[0, 1], [2, 3], [4]]],
    ['a request joins only the latest group of its shape, even when an earlier one has room',
      [request(x16(3)), request(x16(3)), request(x16(3)), request(x16(1))], 4, [[0], [1], [2, 3]]],
    ['exactly max_batch_size rows fit',
      [request(x16(1)), request(x16(3)), request(x16(1))], 4, [[0, 1], [2]]],
    ['a request over the limit runs alone',
      [request(x16(5)), request(x16(1)), request(x16(1))], 4, [[0], [1, 2]]],
    ['a different datatype or input name does not batch',
      [request(x16(1)), request(['x', 'INT32', [1, 16]]), request(['y', 'FP32', [1, 16]]), request(x16(1))], 8, [[0, 3], [1], [2]]],
    ['several inputs batch whatever their order in the request',
      [request(['a', 'FP32', [1, 4]], ['b', 'INT64', [1, 2]]), request(['b', 'INT64', [2, 2]], ['a', 'FP32', [2, 4]])], 8, [[0, 1]]],
    ['BYTES tensors batch on their dims too',
      [request(['t', 'BYTES', [1, 2]]), request(['t', 'BYTES', [1, 3]]), request(['t', 'BYTES', [2, 2]])], 8, [[0, 2], [1]]],
    ['requests that cannot batch run alone',
      [request(['x', 'FP32', []]), request(['x', 'FP32', []]), request(['a', 'FP32', [1, 4]], ['b', 'FP32', [2, 4]]), request()], 8, [[0], [1], [2], [3]]],
    ['max_batch_size 0 (no batch dim): every request alone',
      [request(x16(1)), request(x16(1))], 0, [[0], [1]]],
  ];
  it.each(table)('%s', (_, batch, maxBatchSize, groups) => {
    expect(groupsOf(batch, maxBatchSize)).toEqual(groups);
  });

  it('groups only the requests at the given indices, keeping their batch indices', () => {
    const batch = [request(x16(1)), request(x16(1)), request(x16(1)), request(x16(1))];
    expect(groupsOf(batch, 8, [0, 2, 3])).toEqual([[0, 2, 3]]);
    expect(groupsOf(batch, 8, [])).toEqual([]);
  });
});

describe('concatRows and sliceRows', () => {
  it('concatenates numeric tensors along dim 0, keeping the array type', () => {
    const parts = [tensor('x', 'FP32', [1, 2], 0), tensor('x', 'FP32', [2, 2], 10)];
    const joined = concatRows(parts, 3);
    expect(joined).toMatchObject({ name: 'x', datatype: 'FP32', shape: [3, 2] });
    expect(joined.data).toBeInstanceOf(Float32Array);
    expect(valuesOf(joined)).toEqual([0, 1, 10, 11, 12, 13]);
    const big = concatRows([tensor('n', 'INT64', [1], 5), tensor('n', 'INT64', [1], 7)], 2);
    expect(big.data).toBeInstanceOf(BigInt64Array);
    expect(valuesOf(big)).toEqual([5n, 7n]);
  });

  it('concatenates BYTES tensors element by element', () => {
    const joined = concatRows([tensor('t', 'BYTES', [1, 2], 0), tensor('t', 'BYTES', [1, 2], 5)], 2);
    expect(joined).toMatchObject({ name: 't', datatype: 'BYTES', shape: [2, 2] });
    expect(valuesOf(joined)).toEqual(['s0', 's1', 's5', 's6']);
  });

  it('slices rows back out as tensors of their own', () => {
    const t = tensor('y', 'INT32', [4, 3]);
    const table: [number, number, number[]][] = [[0, 1, [0, 1, 2]], [1, 2, [3, 4, 5, 6, 7, 8]], [3, 1, [9, 10, 11]], [2, 0, []]];
    for (const [startRow, rows, values] of table) {
      const slice = sliceRows(t, startRow, rows);
      expect(slice, `rows ${startRow}+${rows}`).toMatchObject({ name: 'y', datatype: 'INT32', shape: [rows, 3] });
      expect(valuesOf(slice), `rows ${startRow}+${rows}`).toEqual(values);
    }
    const copy = sliceRows(t, 0, 1);
    (t.data as Int32Array)[0] = 99;
    expect(valuesOf(copy)).toEqual([0, 1, 2]);
  });

  it('slices BYTES rows', () => {
    const t = concatRows([tensor('t', 'BYTES', [2, 2], 0), tensor('t', 'BYTES', [1, 2], 10)], 3);
    expect(sliceRows(t, 1, 2)).toMatchObject({ shape: [2, 2] });
    expect(valuesOf(sliceRows(t, 1, 2))).toEqual(['s2', 's3', 's10', 's11']);
  });
});

describe('concatInputs', () => {
  it('joins each input of the first request with the same input of the others, and slicing by rows gives them back', () => {
    const requests: InferRequest[] = [
      { modelName: 'm', inputs: [tensor('a', 'FP32', [1, 2], 0), tensor('b', 'BYTES', [1], 0)] },
      { modelName: 'm', inputs: [tensor('b', 'BYTES', [2], 20), tensor('a', 'FP32', [2, 2], 10)] },
      { modelName: 'm', inputs: [tensor('a', 'FP32', [1, 2], 30), tensor('b', 'BYTES', [1], 40)] },
    ];
    const joined = concatInputs(requests);
    expect(joined.map((t) => [t.name, t.shape])).toEqual([['a', [4, 2]], ['b', [4]]]);
    expect(valuesOf(joined[0])).toEqual([0, 1, 10, 11, 12, 13, 30, 31]);
    expect(valuesOf(joined[1])).toEqual(['s0', 's20', 's21', 's40']);
    let offset = 0;
    for (const req of requests) {
      const rows = requestRows(req);
      for (const t of joined) {
        const mine = req.inputs.find((i) => i.name === t.name)!;
        const back = sliceRows(t, offset, rows);
        expect(back.shape, t.name).toEqual(mine.shape);
        expect(valuesOf(back), t.name).toEqual(valuesOf(mine));
      }
      offset += rows;
    }
  });
});

describe('row-batching.ts', () => {
  it('is engine-agnostic: it imports only core modules', () => {
    const source = readFileSync(new URL('../../engines/row-batching.ts', import.meta.url), 'utf8');
    const imports = [...source.matchAll(/^import [^;]* from '([^']+)';$/gm)].map((m) => m[1]);
    expect(imports.length).toBeGreaterThan(0);
    expect(imports.filter((from) => !from.startsWith('../core/'))).toEqual([]);
  });
});
