import { describe, expect, it } from 'vitest';
import type { Card } from '../../adapters/card.js';
import { InferError } from '../../core/errors.js';
import type { ModelDeclaration } from '../../core/model-declaration.js';
import type { ModelMetadata } from '../../core/model-metadata.js';
import type { InferRequest, InferResponse } from '../../core/tensor.js';
import type { ExecuteResult, ModelLoadSpec } from '../../engines/engine.js';
import { SimEngine, SimModelInstance, simulatedServiceMs, SimulationControl } from '../../engines/sim.js';

// Real-timer tolerance: setTimeout never fires early (bar a rounding millisecond), but a loaded
// machine can fire it late, so each measurement keeps the fastest of a few tries and the upper
// bound is generous; the cases compared stay further apart than that slack.
const EARLY_MS = 2;
const LATE_MS = 60;

function simDeclaration(serviceMs = 40, overrides: Partial<ModelDeclaration> = {}): ModelDeclaration {
  return {
    name: 'sim_echo',
    engine: ['sim'],
    versions: [1],
    version_policy: { latest: { num_versions: 1 } },
    max_batch_size: 0,
    max_queue_size: 256,
    sim: { service_ms: serviceMs },
    inputs: [{ name: 'INPUT0', datatype: 'FP32', dims: [-1] }],
    outputs: [{ name: 'OUTPUT0', datatype: 'FP32', dims: [-1] }],
    instances: [{ kind: 'sim', count: 2 }],
    directory: '/nonexistent/sim_echo',
    ...overrides,
  };
}

function specOf(declaration: ModelDeclaration): ModelLoadSpec {
  const metadata: ModelMetadata = {
    name: declaration.name, versions: ['1'], platform: 'simulated',
    inputs: declaration.inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.dims })),
    outputs: declaration.outputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.dims })),
    maxBatchSize: declaration.max_batch_size,
  };
  return { declaration, version: '1', metadata };
}

const simCard = (coefficient: number, id = `sim-${coefficient}`): Card => ({ id, type: `sim:${coefficient}`, kind: 'sim', coefficient });
const CPU: Card = { id: 'cpu', type: 'cpu-core', kind: 'cpu', coefficient: 0.2 };

function echoRequest(values: number[], extra: Partial<InferRequest> = {}): InferRequest {
  return { modelName: 'sim_echo', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [values.length], data: Float32Array.from(values) }], ...extra };
}

async function instanceOn(card: Card, control = new SimulationControl(), serviceMs = 40): Promise<SimModelInstance> {
  const loaded = await new SimEngine(control).loadModel(specOf(simDeclaration(serviceMs)));
  return (await loaded.createInstance(card, 0)) as SimModelInstance;
}

async function timed(run: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await run();
  return performance.now() - start;
}

async function fastestOf(tries: number, run: () => Promise<unknown>): Promise<number> {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < tries; i++) best = Math.min(best, await timed(run));
  return best;
}

function ok(r: ExecuteResult): InferResponse {
  if (r instanceof InferError) throw new Error(`${r.code}: ${r.message}`);
  return r;
}

describe('SimulationControl', () => {
  it('starts at slowdown 1 and accepts only finite numbers > 0', () => {
    const control = new SimulationControl();
    expect(control.slowdown).toBe(1);
    control.slowdown = 2.5;
    expect(control.slowdown).toBe(2.5);
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => { control.slowdown = bad; }).toThrow(RangeError);
    }
    expect(control.slowdown).toBe(2.5);
    expect(() => new SimulationControl(0)).toThrow(RangeError);
  });
});

describe('SimEngine', () => {
  it('runs on simulated and cpu cards only', () => {
    const engine = new SimEngine();
    expect(engine.name).toBe('sim');
    expect(engine.supports(simCard(2))).toBe(true);
    expect(engine.supports(CPU)).toBe(true);
    expect(engine.supports({ id: 'gpu0', type: 'nvidia-t4', kind: 'gpu', coefficient: 1 })).toBe(false);
  });

  it('needs sim.service_ms and outputs that can echo the inputs', async () => {
    const engine = new SimEngine();
    await expect(engine.loadModel(specOf(simDeclaration(40, { sim: undefined })))).rejects.toThrow(/sim\.service_ms/);
    const d = simDeclaration();
    await expect(engine.loadModel(specOf({ ...d, outputs: [{ ...d.outputs[0], datatype: 'INT32' }] }))).rejects.toThrow(/echoes input 'INPUT0'/);
    await expect(engine.loadModel(specOf({ ...d, outputs: [d.outputs[0], { ...d.outputs[0], name: 'OUTPUT1' }] }))).rejects.toThrow(/2 outputs for 1 inputs/);
    const loaded = await engine.loadModel(specOf(d));
    await expect(loaded.createInstance(simCard(0), 0)).rejects.toThrow(/coefficient/);
  });

  it('computes service_ms / coefficient x slowdown', () => {
    expect(simulatedServiceMs(20, 1, 1)).toBe(20);
    expect(simulatedServiceMs(20, 4, 1)).toBe(5);
    expect(simulatedServiceMs(20, 0.5, 3)).toBe(120);
  });

  it('sleeps service_ms / coefficient x slowdown once per batch (recorded exactly)', async () => {
    const slept: number[] = [];
    const control = new SimulationControl();
    const engine = new SimEngine(control, { sleep: async (ms) => { slept.push(ms); } });
    const loaded = await engine.loadModel(specOf(simDeclaration(20)));
    const cards = [simCard(1), simCard(4), simCard(0.5), CPU];
    const instances = await Promise.all(cards.map((c, i) => loaded.createInstance(c, i)));
    for (const inst of instances) await inst.execute([echoRequest([1]), echoRequest([2]), echoRequest([3])]);
    control.slowdown = 3;
    for (const inst of instances) await inst.execute([echoRequest([1])]);
    expect(slept).toEqual([20, 5, 40, 20, 60, 15, 120, 60]);
  });

  it('sleeps in real time, scaled by the card coefficient (cpu counts as 1)', async () => {
    const cases = [
      { card: simCard(4), expected: 25 },
      { card: simCard(1), expected: 100 },
      { card: simCard(0.5), expected: 200 },
      { card: CPU, expected: 100 },
    ];
    for (const c of cases) {
      const instance = await instanceOn(c.card, new SimulationControl(), 100);
      expect(instance.serviceMs()).toBeCloseTo(c.expected, 9);
      const batch = [echoRequest([1]), echoRequest([2]), echoRequest([3])];
      const ms = await fastestOf(2, () => instance.execute(batch));
      expect(ms, `${c.card.id}`).toBeGreaterThanOrEqual(c.expected - EARLY_MS);
      expect(ms, `${c.card.id}`).toBeLessThan(c.expected + LATE_MS);
      expect(instance.executions).toBe(2);
    }
  });

  it('applies a slowdown changed at run time to the next batch', async () => {
    const control = new SimulationControl();
    const instance = await instanceOn(simCard(2), control, 50);
    const fast = await fastestOf(2, () => instance.execute([echoRequest([1])]));
    control.slowdown = 4;
    expect(instance.serviceMs()).toBe(100);
    const slow = await fastestOf(2, () => instance.execute([echoRequest([1])]));
    control.slowdown = 1;
    const back = await fastestOf(2, () => instance.execute([echoRequest([1])]));
    expect(fast).toBeGreaterThanOrEqual(25 - EARLY_MS);
    expect(fast).toBeLessThan(25 + LATE_MS);
    expect(slow).toBeGreaterThanOrEqual(100 - EARLY_MS);
    expect(slow).toBeLessThan(100 + LATE_MS);
    expect(back).toBeGreaterThanOrEqual(25 - EARLY_MS);
    expect(back).toBeLessThan(25 + LATE_MS);
  });

  it('shares one control among instances and runs instances concurrently', async () => {
    const control = new SimulationControl(2);
    const loaded = await new SimEngine(control).loadModel(specOf(simDeclaration(50)));
    const instances = await Promise.all([0, 1].map((i) => loaded.createInstance(simCard(1, `sim-${i}`), i)));
    const ms = await fastestOf(2, () => Promise.all(instances.map((inst) => inst.execute([echoRequest([1])]))));
    // Both sleep 100 ms at once: about 100 in total, not 200.
    expect(ms).toBeGreaterThanOrEqual(100 - EARLY_MS);
    expect(ms).toBeLessThan(100 + LATE_MS);
  });

  it('echoes input i as output i, one response per request, in order', async () => {
    const instance = await instanceOn(simCard(8));
    const requests = [echoRequest([1, 2, 3], { id: 'a' }), echoRequest([-4.5], { id: 'b' }), echoRequest([])];
    const results = (await instance.execute(requests)).map(ok);
    expect(results).toHaveLength(3);
    results.forEach((r, k) => {
      expect(r).toMatchObject({ modelName: 'sim_echo', modelVersion: '1' });
      expect(r.id).toBe(requests[k].id);
      expect(r.outputs).toHaveLength(1);
      expect(r.outputs[0]).toMatchObject({ name: 'OUTPUT0', datatype: 'FP32', shape: requests[k].inputs[0].shape });
      expect([...(r.outputs[0].data as Float32Array)]).toEqual([...(requests[k].inputs[0].data as Float32Array)]);
    });
    // The output is a copy: changing the request afterwards leaves the answer alone.
    (requests[0].inputs[0].data as Float32Array)[0] = 99;
    requests[0].inputs[0].shape[0] = 1;
    expect([...(results[0].outputs[0].data as Float32Array)]).toEqual([1, 2, 3]);
    expect(results[0].outputs[0].shape).toEqual([3]);
  });

  it('filters requested outputs and refuses unknown ones in that slot', async () => {
    const instance = await instanceOn(simCard(8));
    const [none, unknown] = await instance.execute([
      echoRequest([1], { outputs: [{ name: 'OUTPUT0' }] }),
      echoRequest([1], { outputs: [{ name: 'OUTPUT9' }] }),
    ]);
    expect(ok(none).outputs.map((o) => o.name)).toEqual(['OUTPUT0']);
    expect(unknown).toBeInstanceOf(InferError);
    expect((unknown as InferError).code).toBe('INVALID_ARG');
  });

  it('echoes BYTES tensors too', async () => {
    const d = simDeclaration(5, {
      inputs: [{ name: 'TEXT', datatype: 'BYTES', dims: [-1] }],
      outputs: [{ name: 'TEXT_OUT', datatype: 'BYTES', dims: [-1] }],
    });
    const instance = await (await new SimEngine().loadModel(specOf(d))).createInstance(simCard(1), 0);
    const text = [new TextEncoder().encode('héllo'), new Uint8Array([0, 255])];
    const [r] = await instance.execute([{ modelName: 'sim_echo', inputs: [{ name: 'TEXT', datatype: 'BYTES', shape: [2], data: text }] }]);
    expect((ok(r).outputs[0].data as Uint8Array[]).map((b) => [...b])).toEqual(text.map((b) => [...b]));
  });
});

describe('SIMULATED faults (error_rate)', () => {
  it('accepts only a rate in [0, 1]', () => {
    const control = new SimulationControl();
    expect(control.errorRate).toBe(0);
    for (const bad of [-0.1, 1.5, NaN, '0.5' as unknown as number]) expect(() => { control.errorRate = bad; }).toThrow(RangeError);
    control.errorRate = 0.25;
    expect(control.errorRate).toBe(0.25);
  });

  it('fails the share of requests its random source draws below the rate, with an INTERNAL error naming the simulation', async () => {
    // The random source answers 0.1, 0.5, 0.1, 0.9, …: with rate 0.2 the 1st and 3rd requests fail.
    const draws = [0.1, 0.5, 0.1, 0.9];
    let i = 0;
    const control = new SimulationControl(1, () => draws[i++ % draws.length]);
    control.errorRate = 0.2;
    const sleeps: number[] = [];
    const loaded = await new SimEngine(control, { sleep: async (ms) => { sleeps.push(ms); } }).loadModel(specOf(simDeclaration(40)));
    const instance = await loaded.createInstance(simCard(1), 0);
    const results = await instance.execute([1, 2, 3, 4].map((v) => echoRequest([v])));
    expect(results.map((r) => (r instanceof InferError ? r.code : 'ok'))).toEqual(['INTERNAL', 'ok', 'INTERNAL', 'ok']);
    expect((results[0] as InferError).message).toContain('SIMULATED');
    expect(sleeps).toEqual([40]); // the batch still ran for the requests that did not fail
  });

  it('answers a batch whose every request fails at once, without running it', async () => {
    const control = new SimulationControl(1, () => 0);
    control.errorRate = 1;
    const sleeps: number[] = [];
    const loaded = await new SimEngine(control, { sleep: async (ms) => { sleeps.push(ms); } }).loadModel(specOf(simDeclaration(40)));
    const instance = await loaded.createInstance(simCard(1), 0);
    const results = await instance.execute([echoRequest([1])]);
    expect(results[0]).toBeInstanceOf(InferError);
    expect(sleeps).toEqual([]);
  });
});
