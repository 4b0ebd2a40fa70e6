import { describe, expect, it } from 'vitest';
import { toTensor } from '../../../client/client-tensors.js';
import type { ModelMetadataAnswer } from '../../../client/http-client.js';
import { DATATYPES } from '../../../core/datatypes.js';
import { parseInputData } from '../../../bench/perf/input-data.js';
import { parseShapeOptions, planInputs, randomData, type InputOptions } from '../../../bench/perf/inputs.js';
import { seededRandom } from '../../../bench/perf/schedule.js';

const identity: ModelMetadataAnswer = {
  name: 'identity', versions: ['1'], platform: 'onnxruntime_onnx',
  inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [-1, 16] }], outputs: [{ name: 'OUTPUT0', datatype: 'FP32', shape: [-1, 16] }],
};
const echo: ModelMetadataAnswer = {
  name: 'sim_echo', versions: ['1'], platform: 'infergate_simulated',
  inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [-1] }], outputs: [{ name: 'OUTPUT0', datatype: 'FP32', shape: [-1] }],
};
const image: ModelMetadataAnswer = {
  name: 'det', versions: ['1'], platform: 'onnxruntime_onnx',
  inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3, -1, -1] }, { name: 'k', datatype: 'INT64', shape: [-1, 1] }], outputs: [],
};

const options = (over: Partial<InputOptions> = {}): InputOptions => ({ maxBatchSize: 8, batchSize: 1, shapes: new Map(), random: seededRandom(1), ...over });
const fileOf = (json: unknown) => parseInputData(JSON.stringify(json), 'in.json');

describe('generated inputs', () => {
  it('puts the batch size first when the model batches, and fills the datatype\'s storage', () => {
    const plan = planInputs(identity, options({ batchSize: 4 }));
    expect(plan).toMatchObject({ batching: true, batchSize: 4, inferencesPerRequest: 4, notes: [] });
    expect(plan.inputs).toEqual([{ name: 'INPUT0', datatype: 'FP32', shape: [4, 16] }]);
    expect(plan.requests).toHaveLength(1);
    expect(plan.requests[0][0].data).toBeInstanceOf(Float32Array);
    expect(plan.requests[0][0].data).toHaveLength(64);
  });

  it('sets a variable dim to 1 with a note, or to what --shape says', () => {
    const defaulted = planInputs(echo, options({ maxBatchSize: 0 }));
    expect(defaulted.inputs[0].shape).toEqual([1]);
    expect(defaulted.inferencesPerRequest).toBe(1);
    expect(defaulted.notes.join('\n')).toMatch(/INPUT0.*variable dims \[-1\] set to \[1\].*--shape INPUT0/);
    const shaped = planInputs(image, options({ batchSize: 2, shapes: parseShapeOptions(['x:3,32,48']) }));
    expect(shaped.inputs.map((i) => i.shape)).toEqual([[2, 3, 32, 48], [2, 1]]);
    expect(shaped.requests[0][1].data).toBeInstanceOf(BigInt64Array);
  });

  it('takes the model as not batching, with a note, when the server gives no config', () => {
    const plan = planInputs(identity, options({ maxBatchSize: undefined }));
    expect(plan.batching).toBe(false);
    expect(plan.inputs[0].shape).toEqual([1, 16]);
    expect(plan.notes.join('\n')).toMatch(/no model config/);
  });

  it.each([
    ['an input the model does not have', () => planInputs(identity, options({ shapes: parseShapeOptions(['INPUT9:16']) })), 'BAD_SHAPE', /no input 'INPUT9'/],
    ['a shape of the wrong rank (with the batch dim)', () => planInputs(identity, options({ shapes: parseShapeOptions(['INPUT0:1,16']) })), 'BAD_SHAPE', /without the batch dim/],
    ['a shape against a fixed dim', () => planInputs(identity, options({ shapes: parseShapeOptions(['INPUT0:8']) })), 'BAD_SHAPE', /does not fit input 'INPUT0' of dims \[16\]/],
    ['a malformed --shape', () => parseShapeOptions(['INPUT0']), 'BAD_SHAPE', /NAME:d1,d2/],
    ['a batch over max_batch_size', () => planInputs(identity, options({ batchSize: 9 })), 'BAD_ARGUMENT', /max_batch_size 8/],
    ['a batch for a model that does not batch', () => planInputs(echo, options({ maxBatchSize: 0, batchSize: 2 })), 'BAD_ARGUMENT', /does not batch/],
  ])('refuses %s', (_what, plan, code, message) => {
    expect(plan).toThrow(message);
    try {
      plan();
    } catch (err) {
      expect((err as { code: string }).code).toBe(code);
    }
  });

  it.each(DATATYPES)('makes random %s data the client library takes', (datatype) => {
    const data = randomData(datatype, 5, seededRandom(2));
    expect(data).toHaveLength(5);
    expect(() => toTensor({ name: 'x', datatype, shape: [5], data: data as never })).not.toThrow();
  });
});

describe('--input-data', () => {
  it('cycles through the entries: flat values, nested values, content with a shape, base64', () => {
    const f32 = Buffer.from(new Float32Array(16).fill(2).buffer).toString('base64');
    const file = fileOf({ data: [
      { INPUT0: Array(16).fill(1) },
      { INPUT0: [Array(8).fill(3), Array(8).fill(3)] },
      { INPUT0: { content: Array(16).fill(4), shape: [16] } },
      { INPUT0: { b64: f32 } },
    ] });
    const plan = planInputs(identity, options({ data: file }));
    expect(plan.requests).toHaveLength(4);
    expect(plan.requests.map((r) => r[0].shape)).toEqual([[1, 16], [1, 16], [1, 16], [1, 16]]);
    expect(plan.requests.map((r) => (r[0].data as Float32Array)[0])).toEqual([1, 3, 4, 2]);
  });

  it('makes a batch of consecutive entries', () => {
    const file = fileOf({ data: [1, 2, 3, 4].map((v) => ({ INPUT0: Array(16).fill(v) })) });
    const plan = planInputs(identity, options({ data: file, batchSize: 2 }));
    expect(plan.requests[0][0].shape).toEqual([2, 16]);
    expect(Array.from(plan.requests[0][0].data as Float32Array).filter((_, i) => i % 16 === 0)).toEqual([1, 2]);
    expect(Array.from(plan.requests[1][0].data as Float32Array).filter((_, i) => i % 16 === 0)).toEqual([3, 4]);
  });

  it('solves one variable dim from the element count, and takes the entry\'s shape or --shape for more', () => {
    expect(planInputs(echo, options({ maxBatchSize: 0, data: fileOf({ data: [{ INPUT0: [1, 2, 3] }] }) })).inputs[0].shape).toEqual([3]);
    const shaped = fileOf({ data: [{ x: { content: Array(12).fill(0), shape: [3, 2, 2] }, k: [5] }] });
    expect(planInputs(image, options({ data: shaped })).inputs.map((i) => i.shape)).toEqual([[1, 3, 2, 2], [1, 1]]);
  });

  it.each([
    ['no JSON', 'not json', /not JSON/],
    ['no data array', '{"inputs": []}', /expected an object \{"data"/],
    ['an empty data array', '{"data": []}', /"data" is empty/],
    ['sequence streams', '{"data": [[{"INPUT0": [1]}]]}', /sequence streams are not supported/],
    ['a bad element', '{"data": [{"INPUT0": [1, null]}]}', /element 1 is null/],
    ['a bad shape', '{"data": [{"INPUT0": {"content": [1], "shape": [-1]}}]}', /"shape" must be an array of integers/],
  ])('refuses a file with %s', (_what, text, message) => {
    expect(() => parseInputData(text, 'in.json')).toThrow(message);
  });

  it.each([
    ['a missing input', { data: [{ OTHER: [1] }] }, identity, /no input 'OTHER'/],
    ['an entry without an input', { data: [{}] }, identity, /has no tensor/],
    ['the wrong element count', { data: [{ INPUT0: [1, 2, 3] }] }, identity, /3 elements; shape \[16\] needs 16/],
    ['several variable dims and no shape', { data: [{ x: Array(12).fill(0), k: [1] }] }, image, /variable dims \[3,-1,-1\]: give "shape" in the entry or --shape x/],
    ['a value that is not a number', { data: [{ INPUT0: Array(16).fill('a') }] }, identity, /not a number/],
  ])('refuses %s, naming the entry', (_what, json, model, message) => {
    const plan = () => planInputs(model, options({ data: fileOf(json) }));
    expect(plan).toThrow(message);
    expect(plan).toThrow(/--input-data in\.json/);
  });
});
