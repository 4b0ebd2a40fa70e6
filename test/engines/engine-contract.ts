/**
 * The shared engine contract: the behaviour every engine (onnx, tfjs, a native plugin, ...) owes
 * the node, run as the same vitest checks against each. Use:
 *
 *   import { engineContract } from './engine-contract.js';
 *   engineContract({
 *     name: 'onnx',                                   // describe() label
 *     createEngine: () => new OnnxEngine(),           // a fresh engine per check
 *     load: () => loadedSpecOf('models/tiny_cnn/model.yaml'), // ModelLoadSpec of the fixture model
 *     request: (rows, seed) => ({ inputs: [...] }),   // a valid request of `rows` rows, deterministic in seed
 *     expected: (req) => [...],                       // optional: the outputs a reference computes
 *   });
 *
 * The fixture model must have max_batch_size >= 3, one or more FP32 inputs, and accept any rows up
 * to that. The card is a plain CPU card (`CONTRACT_CPU_CARD`) unless `card` is given.
 *
 * What is checked: one request answers with the declared outputs (and the reference's numbers when
 * `expected` is given); a batch of several requests answers one result per request in order, equal
 * to running each alone; a bad request (wrong datatype, unknown input) gets an INVALID_ARG or
 * UNSUPPORTED InferError in its slot while the others in the batch still answer; after unload,
 * execute fails cleanly (a rejected promise or InferErrors, no crash) and createInstance is refused;
 * a new engine loads the same model again and answers the same numbers.
 */
import { describe, expect, it } from 'vitest';
import type { Card } from '../../adapters/card.js';
import { InferError } from '../../core/errors.js';
import type { InferRequest, InferResponse, Tensor } from '../../core/tensor.js';
import type { Engine, ExecuteResult, ModelLoadSpec } from '../../engines/engine.js';

export const CONTRACT_CPU_CARD: Card = { id: 'cpu', type: 'cpu-core', kind: 'cpu', coefficient: 1, engineOptions: { intraOpNumThreads: 1 } };

export interface EngineContractFixture {
  name: string;
  createEngine(): Engine | Promise<Engine>;
  load(): ModelLoadSpec | Promise<ModelLoadSpec>;
  request(rows: number, seed: number): InferRequest;
  expected?(req: InferRequest): Tensor[] | Promise<Tensor[]>;
  card?: Card;
  /** Absolute tolerance for numbers (default 1e-5). */
  tolerance?: number;
}

/** Deterministic values in [0, 1) for fixtures' requests: the same request every time the contract builds it. */
export function seededValues(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32;
  }
  return out;
}

function asResponse(r: ExecuteResult): InferResponse {
  if (r instanceof InferError) throw new Error(`expected a response, got ${r.code}: ${r.message}`);
  return r;
}

function expectClose(actual: Tensor[], wanted: Tensor[], tolerance: number): void {
  expect(actual.map((t) => t.name)).toEqual(wanted.map((t) => t.name));
  actual.forEach((t, i) => {
    expect(t.shape).toEqual(wanted[i].shape);
    const a = Array.from(t.data as ArrayLike<number>);
    const w = Array.from(wanted[i].data as ArrayLike<number>);
    expect(a.length).toBe(w.length);
    const worst = a.reduce((m, v, k) => Math.max(m, Math.abs(v - w[k])), 0);
    expect(worst).toBeLessThanOrEqual(tolerance);
  });
}

export function engineContract(fixture: EngineContractFixture): void {
  const card = fixture.card ?? CONTRACT_CPU_CARD;
  const tolerance = fixture.tolerance ?? 1e-5;

  async function start() {
    const engine = await fixture.createEngine();
    const spec = await fixture.load();
    const loaded = await engine.loadModel(spec);
    const instance = await loaded.createInstance(card, 0);
    return { engine, spec, loaded, instance };
  }

  describe(`engine contract: ${fixture.name}`, () => {
    it('executes one request: the declared outputs, with the reference numbers', async () => {
      const { spec, loaded, instance } = await start();
      try {
        const req = { ...fixture.request(2, 1), id: 'one' };
        const [result] = await instance.execute([req]);
        const res = asResponse(result);
        expect(res.id).toBe('one');
        expect(res.modelName).toBe(spec.declaration.name);
        expect(res.modelVersion).toBe(spec.version);
        expect(res.outputs.map((o) => o.name)).toEqual(spec.declaration.outputs.map((o) => o.name));
        for (const o of res.outputs) {
          const declared = spec.declaration.outputs.find((d) => d.name === o.name)!;
          expect(o.datatype).toBe(declared.datatype);
          expect(o.shape[0]).toBe(2);
        }
        if (fixture.expected) expectClose(res.outputs, await fixture.expected(req), tolerance);
      } finally {
        await loaded.unload();
      }
    });

    it('batches several requests: one result per request, in order, equal to running each alone', async () => {
      const { loaded, instance } = await start();
      try {
        const reqs = [fixture.request(1, 11), fixture.request(2, 12), fixture.request(1, 13)].map((r, i) => ({ ...r, id: `r${i}` }));
        const together = await instance.execute(reqs);
        expect(together).toHaveLength(3);
        for (let i = 0; i < reqs.length; i++) {
          const res = asResponse(together[i]);
          expect(res.id).toBe(`r${i}`);
          const [alone] = await instance.execute([reqs[i]]);
          expectClose(res.outputs, asResponse(alone).outputs, tolerance);
        }
      } finally {
        await loaded.unload();
      }
    });

    it('answers a bad request with an InferError in its slot; the others still answer', async () => {
      const { loaded, instance } = await start();
      try {
        const good = fixture.request(1, 21);
        const first = good.inputs[0];
        const wrongType: InferRequest = {
          modelName: good.modelName,
          inputs: good.inputs.map((t) => (t === first ? { ...t, datatype: 'INT32', data: Int32Array.from(t.data as ArrayLike<number>) } : t)),
        };
        const unknownInput: InferRequest = { modelName: good.modelName, inputs: [...good.inputs, { ...first, name: 'no_such_input' }] };
        const results = await instance.execute([wrongType, good, unknownInput]);
        expect(results).toHaveLength(3);
        for (const bad of [results[0], results[2]]) {
          expect(bad).toBeInstanceOf(InferError);
          expect(['INVALID_ARG', 'UNSUPPORTED']).toContain((bad as InferError).code);
        }
        expect((results[2] as InferError).message).toMatch(/no_such_input/);
        asResponse(results[1]);
      } finally {
        await loaded.unload();
      }
    });

    it('fails cleanly after unload, and refuses new instances', async () => {
      const { loaded, instance } = await start();
      await loaded.unload();
      let outcome: ExecuteResult[] | Error;
      try {
        outcome = await instance.execute([fixture.request(1, 31)]);
      } catch (err) {
        outcome = err as Error;
      }
      if (Array.isArray(outcome)) {
        for (const r of outcome) expect(r).toBeInstanceOf(InferError);
      } else {
        expect(outcome).toBeInstanceOf(Error);
        expect(outcome.message).toMatch(/unload/i);
      }
      await expect(loaded.createInstance(card, 1)).rejects.toThrow(/unload/i);
      await instance.unload(); // twice is harmless
    });

    it('loads again after unload (a new engine) and answers the same numbers', async () => {
      const req = fixture.request(2, 41);
      const first = await start();
      const before = asResponse((await first.instance.execute([req]))[0]).outputs;
      await first.loaded.unload();
      const second = await start();
      try {
        const after = asResponse((await second.instance.execute([req]))[0]).outputs;
        expectClose(after, before, tolerance);
      } finally {
        await second.loaded.unload();
      }
    });
  });
}
