/**
 * Declared ranks against the graph's own ranks (onnxruntime reports a scalar and an unknown rank
 * both as []), and what an instance really runs on when a provider its card asks for cannot start.
 * The card asking for a provider onnxruntime has no such thing as is a TEST DOUBLE: no GPU here.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Card } from '../../adapters/card.js';
import { bundledModelsDir } from '../../core/package-root.js';
import type { ModelDeclaration, TensorDeclaration } from '../../core/model-declaration.js';
import type { ModelLoadSpec } from '../../engines/engine.js';
import { graphRanks } from '../../engines/onnx-graph-ranks.js';
import { availableExecutionProviders, withoutUnregistered } from '../../engines/onnx-providers.js';
import { OnnxEngine, OnnxModelInstance, type OnnxExecution } from '../../engines/onnx.js';
import { generatedModelPath } from '../../tools/generate-models.js';
import { skipNote } from '../support/skip-reason.js';

const { onnx } = onnxProto;

/** Y = X + B, X a scalar input (shape with no dims), B an unranked input (no shape at all). */
function scalarAddModel(): Uint8Array {
  const f = onnx.TensorProto.DataType.FLOAT;
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'scalar_add',
      node: [{ opType: 'Add', input: ['X', 'B'], output: ['Y'], name: 'add' }],
      input: [
        { name: 'X', type: { tensorType: { elemType: f, shape: { dim: [] } } } },
        { name: 'B', type: { tensorType: { elemType: f } } },
      ],
      output: [{ name: 'Y', type: { tensorType: { elemType: f } } }],
    },
  }).finish();
}

let dir: string;

function spec(inputs: TensorDeclaration[], outputs: TensorDeclaration[] = [{ name: 'Y', datatype: 'FP32', dims: [-1] }]): ModelLoadSpec {
  const declaration: ModelDeclaration = {
    name: 'scalar_add', engine: ['onnx'], model_file: 'model.onnx', version_policy: { latest: { num_versions: 1 } },
    max_batch_size: 0, max_queue_size: 0, instances: [{ kind: 'cpu', count: 1 }], directory: dir, inputs, outputs,
  };
  return {
    declaration, version: '1', modelPath: join(dir, '1', 'model.onnx'),
    metadata: { name: 'scalar_add', versions: ['1'], platform: 'onnxruntime_onnx', inputs: [], outputs: [], maxBatchSize: 0 },
  };
}

beforeAll(() => {
  dir = mkdtempSync(join(os.tmpdir(), 'infergate-scalar-add-'));
  mkdirSync(join(dir, '1'));
  writeFileSync(join(dir, '1', 'model.onnx'), scalarAddModel());
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('declared ranks against the graph', () => {
  it('reads each tensor\'s rank from the file; a tensor without a shape has none', () => {
    expect([...graphRanks(scalarAddModel())]).toEqual([['X', 0]]);
    expect(graphRanks(readFileSync(generatedModelPath(bundledModelsDir(), 'identity')))).toEqual(new Map([['INPUT0', 2], ['OUTPUT0', 2]]));
    expect(graphRanks(new Uint8Array([0xff, 0xff, 0xff]))).toEqual(new Map());
  });

  it('refuses rank 1 for a scalar input, naming the input, the declared rank and the graph\'s', async () => {
    const engine = new OnnxEngine({ execution: 'inline' });
    const load = engine.loadModel(spec([{ name: 'X', datatype: 'FP32', dims: [1] }, { name: 'B', datatype: 'FP32', dims: [-1] }]));
    await expect(load).rejects.toThrow("input 'X' has rank 0 (a scalar) in the model graph but the declaration gives rank 1 (dims [1]; declare dims: [] and max_batch_size: 0 for a scalar)");
  });

  it('loads the scalar declared with dims [], and an unranked input with any rank; the scalar then runs', async () => {
    const engine = new OnnxEngine({ execution: 'inline' });
    const loaded = await engine.loadModel(spec([{ name: 'X', datatype: 'FP32', dims: [] }, { name: 'B', datatype: 'FP32', dims: [-1, -1] }], [{ name: 'Y', datatype: 'FP32', dims: [-1, -1] }]));
    try {
      const instance = await loaded.createInstance({ id: 'cpu', type: 'cpu-core', kind: 'cpu', coefficient: 0.2, engineOptions: { intraOpNumThreads: 1 } }, 0);
      const [result] = await instance.execute([{
        modelName: 'scalar_add',
        inputs: [
          { name: 'X', datatype: 'FP32', shape: [], data: new Float32Array([10]) },
          { name: 'B', datatype: 'FP32', shape: [1, 2], data: new Float32Array([1, 2]) },
        ],
      }]);
      expect(result).toMatchObject({ outputs: [{ name: 'Y', shape: [1, 2] }] });
      expect([...((result as { outputs: { data: Float32Array }[] }).outputs[0].data)]).toEqual([11, 12]);
    } finally {
      await loaded.unload();
    }
  });
});

/** TEST DOUBLE: a GPU card whose preferred provider onnxruntime has no backend for, so it cannot start. */
const TEST_DOUBLE_PROVIDER = 'infergate-test-double-unstartable';
const TEST_DOUBLE_GPU: Card = {
  id: 'gpu0-test-double', type: 'nvidia-t4', kind: 'gpu', coefficient: 1,
  engineOptions: { executionProviders: [TEST_DOUBLE_PROVIDER, 'cpu'], intraOpNumThreads: 1 },
};

describe('the provider an instance really runs on', () => {
  it('drops providers onnxruntime would drop silently, saying which, and keeps the lists distinct', () => {
    const { attempts, dropped } = withoutUnregistered([[TEST_DOUBLE_PROVIDER, 'cpu'], ['cpu']], new Set(['cpu']));
    expect(attempts).toEqual([['cpu']]);
    expect(dropped).toEqual([`[${TEST_DOUBLE_PROVIDER}]: onnxruntime has no execution provider '${TEST_DOUBLE_PROVIDER}' (it has cpu)`]);
  });

  it.each<OnnxExecution>(['inline', 'worker'])('a test-double GPU card whose provider cannot start runs on the CPU, degraded with the reason (%s)', async (execution) => {
    const logged: string[] = [];
    // The engine is told the provider exists (as an operator widening the list would); onnxruntime is not.
    const engine = new OnnxEngine({ execution, availableProviders: ['cpu', TEST_DOUBLE_PROVIDER], log: (m) => logged.push(m) });
    expect(engine.supports(TEST_DOUBLE_GPU)).toBe(true);
    const loaded = await engine.loadModel({
      ...spec([{ name: 'X', datatype: 'FP32', dims: [] }, { name: 'B', datatype: 'FP32', dims: [-1] }]),
    });
    try {
      const instance = (await loaded.createInstance(TEST_DOUBLE_GPU, 0)) as OnnxModelInstance;
      expect(instance.runtime).toEqual({
        providers: ['cpu'],
        degraded: true,
        reason: expect.stringContaining(`onnxruntime has no execution provider '${TEST_DOUBLE_PROVIDER}'`),
      });
      expect(logged.join('\n')).toContain(`runs on [cpu], not [${TEST_DOUBLE_PROVIDER}, cpu] as its card asks`);
      const cpu = (await loaded.createInstance({ id: 'cpu', type: 'cpu-core', kind: 'cpu', coefficient: 0.2, engineOptions: { intraOpNumThreads: 1 } }, 0)) as OnnxModelInstance;
      expect(cpu.runtime).toEqual({ providers: ['cpu'], degraded: false });
    } finally {
      await loaded.unload();
    }
  });

  const cudaMissing = !availableExecutionProviders().includes('cuda');
  it.skipIf(!cudaMissing)(`a GPU card whose CUDA provider fails to initialise (no CUDA library here) falls back to the CPU, degraded with onnxruntime's reason${skipNote(cudaMissing ? undefined : 'this onnxruntime-node build has the CUDA provider, so a CUDA card cannot fail to initialise for lack of it (the fallback is tested on builds without CUDA)')}`, async () => {
    const gpu: Card = { id: 'gpu0', type: 'nvidia-t4', kind: 'gpu', coefficient: 1, engineOptions: { executionProviders: ['cuda', 'cpu'], intraOpNumThreads: 1 } };
    const engine = new OnnxEngine({ execution: 'inline', availableProviders: ['cpu', 'cuda'], log: () => {} });
    const loaded = await engine.loadModel(spec([{ name: 'X', datatype: 'FP32', dims: [] }, { name: 'B', datatype: 'FP32', dims: [-1] }]));
    try {
      const instance = (await loaded.createInstance(gpu, 0)) as OnnxModelInstance;
      expect(instance.runtime.providers).toEqual(['cpu']);
      expect(instance.runtime.degraded).toBe(true);
      expect(instance.runtime.reason).toMatch(/^\[cuda, cpu\]: .*cuda/i);
    } finally {
      await loaded.unload();
    }
  });
});
