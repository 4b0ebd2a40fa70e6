/** The shared engine contract (engine-contract.ts) on the onnx engine, with the bundled tiny_cnn model. */
import path from 'node:path';
import { bundledModelsDir } from '../../core/package-root.js';
import { loadDeclaredModel } from '../../core/model-repository.js';
import type { InferRequest } from '../../core/tensor.js';
import { OnnxEngine } from '../../engines/onnx.js';
import { engineContract, seededValues } from './engine-contract.js';

const model = loadDeclaredModel(path.join(bundledModelsDir(), 'tiny_cnn', 'model.yaml'));

for (const execution of ['worker', 'inline'] as const) {
  engineContract({
    name: `onnx (tiny_cnn, ${execution})`,
    createEngine: () => new OnnxEngine({ execution }),
    load: () => ({
      declaration: { ...model.declaration, execution: undefined },
      version: model.versions[0].version,
      modelPath: model.versions[0].modelPath,
      metadata: model.metadata,
    }),
    request: (rows: number, seed: number): InferRequest => ({
      modelName: 'tiny_cnn',
      inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [rows, 1, 8, 8], data: seededValues(rows * 64, seed) }],
    }),
  });
}
