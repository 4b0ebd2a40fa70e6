/**
 * The shared engine contract (engine-contract.ts) on the native engine, with the bundled
 * dense_native model run by the reference C plugin; the reference numbers come from the same
 * network computed in JS (tools/dense-weights.ts), which agrees with the plugin bit for bit.
 */
import path from 'node:path';
import { describe, it } from 'vitest';
import { loadDeclaredModel } from '../../core/model-repository.js';
import { bundledModelsDir } from '../../core/package-root.js';
import type { InferRequest, Tensor } from '../../core/tensor.js';
import { NativeEngine } from '../../engines/native.js';
import { denseForward } from '../../tools/dense-weights.js';
import { denseNativeNetwork } from '../../tools/generate-dense-model.js';
import { engineContract, seededValues } from './engine-contract.js';
import { nativeMissing } from './native-fixtures.js';
import { skipNote } from '../support/skip-reason.js';

const missing = nativeMissing();

if (missing) {
  describe('engine contract: native', () => {
    it.skip(`runs the engine contract${skipNote(missing)}`, () => {});
  });
} else {
  const model = loadDeclaredModel(path.join(bundledModelsDir(), 'dense_native', 'model.yaml'));
  const net = denseNativeNetwork();
  engineContract({
    name: 'native (dense_native, reference C plugin)',
    createEngine: () => new NativeEngine(),
    load: () => ({
      declaration: model.declaration,
      version: model.versions[0].version,
      modelPath: model.versions[0].modelPath,
      metadata: model.metadata,
    }),
    request: (rows: number, seed: number): InferRequest => ({
      modelName: 'dense_native',
      inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [rows, 64], data: seededValues(rows * 64, seed) }],
    }),
    expected: (req): Tensor[] => {
      const rows = req.inputs[0].shape[0];
      return [{ name: 'OUTPUT', datatype: 'FP32', shape: [rows, 10], data: denseForward(net, req.inputs[0].data as Float32Array, rows) }];
    },
    tolerance: 0,
  });
}
