/**
 * What engines tell execute()'s run observer, the source of execution_count: one call per model
 * run that succeeded, with the run's rows. The real onnx engine on the bundled identity model for
 * batched and split runs; for a batched run that fails and is retried request by request, the same
 * OnnxModelInstance over a scripted session host (a test double: onnxruntime cannot be made to fail
 * a batch whose requests would each succeed), so that the engine's own retry path is what runs.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Card } from '../../adapters/card.js';
import { InferError } from '../../core/errors.js';
import type { ModelDeclaration } from '../../core/model-declaration.js';
import { bundledModelsDir } from '../../core/package-root.js';
import type { InferRequest } from '../../core/tensor.js';
import type { LoadedModel, ModelLoadSpec } from '../../engines/engine.js';
import type { SessionHost } from '../../engines/onnx-session-host.js';
import type { WireTensors } from '../../engines/onnx-tensor.js';
import { OnnxEngine, OnnxModelInstance } from '../../engines/onnx.js';
import type { HostSource } from '../../engines/worker-supervisor.js';

const CPU: Card = { id: 'cpu', type: 'cpu-core', kind: 'cpu', coefficient: 0.2, engineOptions: { intraOpNumThreads: 1 } };

const DECLARATION: ModelDeclaration = {
  name: 'identity', engine: ['onnx'], model_file: 'model.onnx', version_policy: { latest: { num_versions: 1 } },
  max_batch_size: 8, max_queue_size: 0, instances: [{ kind: 'cpu', count: 1 }], directory: path.join(bundledModelsDir(), 'identity'),
  inputs: [{ name: 'INPUT0', datatype: 'FP32', dims: [16] }], outputs: [{ name: 'OUTPUT0', datatype: 'FP32', dims: [16] }],
};
const SPEC: ModelLoadSpec = {
  declaration: DECLARATION, version: '1', modelPath: path.join(DECLARATION.directory, '1', 'model.onnx'),
  metadata: { name: 'identity', versions: ['1'], platform: 'onnxruntime_onnx', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [-1, 16] }], outputs: [{ name: 'OUTPUT0', datatype: 'FP32', shape: [-1, 16] }], maxBatchSize: 8 },
};

const rows = (n: number, seed: number): InferRequest => ({
  modelName: 'identity', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [n, 16], data: Float32Array.from({ length: n * 16 }, (_, i) => i + seed) }],
});

/** Runs the instance and records what its observer was told. */
async function observed(instance: OnnxModelInstance, batch: InferRequest[]) {
  const runs: number[] = [];
  const results = await instance.execute(batch, (r, ms) => {
    expect(ms).toBeGreaterThanOrEqual(0);
    runs.push(r);
  });
  return { runs, results };
}

describe('the run observer of the onnx engine (identity, inline)', () => {
  let loaded: LoadedModel;
  let instance: OnnxModelInstance;
  beforeAll(async () => {
    loaded = await new OnnxEngine({ execution: 'inline' }).loadModel(SPEC);
    instance = (await loaded.createInstance(CPU, 0)) as OnnxModelInstance;
  });
  afterAll(async () => { await loaded?.unload(); });

  it('a batch of compatible requests is one run of all their rows', async () => {
    const { runs } = await observed(instance, [rows(1, 0), rows(3, 1), rows(2, 2)]);
    expect(runs).toEqual([6]);
  });

  it('a group over max_batch_size is split into runs; a refused request is no run', async () => {
    const bad: InferRequest = { modelName: 'identity', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 16], data: new Float32Array(8) }] };
    const { runs, results } = await observed(instance, [rows(5, 0), bad, rows(5, 1)]);
    expect(runs).toEqual([5, 5]);
    expect(results[1]).toBeInstanceOf(InferError);
  });
});

describe('the run observer when a batched run fails (scripted session host)', () => {
  /** Echoes INPUT0 as OUTPUT0, and fails any run of more than one row or whose first value is -1. */
  const host: SessionHost & HostSource<SessionHost> = {
    worker: undefined, gone: undefined, restarts: 0,
    current: () => host,
    run: async (feeds: WireTensors): Promise<WireTensors> => {
      const input = feeds.INPUT0;
      if (input.dims[0] > 1 || (input.data as Float32Array)[0] === -1) throw new Error('std::bad_alloc');
      return { OUTPUT0: input };
    },
    release: async () => {},
  };
  const instance = new OnnxModelInstance(CPU, 0, host, SPEC, { execution: 'inline', intraOpNumThreads: 1, executionProviders: ['cpu'], providerFailures: [] }, () => {});

  it('each request is retried alone: the failed batched run is not counted, each single run that succeeds is', async () => {
    const poisoned = rows(1, 0);
    (poisoned.inputs[0].data as Float32Array)[0] = -1;
    const { runs, results } = await observed(instance, [rows(1, 5), poisoned, rows(1, 7)]);
    expect(runs).toEqual([1, 1]);
    expect(results[0]).not.toBeInstanceOf(InferError);
    expect(results[1]).toMatchObject({ code: 'INTERNAL' });
    expect(results[2]).not.toBeInstanceOf(InferError);
  });
});
