/**
 * tfjs test models: the bundled `liveness` graph model (from @vladmandic/human) and a tiny layers
 * model written at test time with fixed weights, each with a reference that does not go through the
 * engine (tfjs directly for liveness, plain arithmetic for the layers model).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { bundledModelsDir } from '../../core/package-root.js';
import { loadDeclaredModel } from '../../core/model-repository.js';
import type { InferRequest, Tensor } from '../../core/tensor.js';
import type { ModelLoadSpec } from '../../engines/engine.js';
import { seededValues } from './engine-contract.js';

export function specOf(declarationFile: string): ModelLoadSpec {
  const model = loadDeclaredModel(declarationFile);
  return { declaration: model.declaration, version: model.versions[0].version, modelPath: model.versions[0].modelPath, metadata: model.metadata };
}

export const livenessSpec = (): ModelLoadSpec => specOf(path.join(bundledModelsDir(), 'liveness', 'model.yaml'));

export function livenessRequest(rows: number, seed: number): InferRequest {
  return { modelName: 'liveness', inputs: [{ name: 'conv2d_1_input', datatype: 'FP32', shape: [rows, 32, 32, 3], data: seededValues(rows * 32 * 32 * 3, seed) }] };
}

let reference: tf.GraphModel | undefined;

/** liveness run by tfjs directly on the human package's files (no infergate code), on tfjs's active backend. */
export async function livenessReference(req: InferRequest): Promise<Tensor[]> {
  if (!reference) {
    const jsonPath = livenessSpec().modelPath!;
    const json = JSON.parse(readFileSync(jsonPath, 'utf8'));
    const bin = readFileSync(path.join(path.dirname(jsonPath), 'liveness.bin'));
    reference = await tf.loadGraphModel({
      load: async () => ({
        modelTopology: json.modelTopology, format: json.format, signature: json.signature,
        weightSpecs: json.weightsManifest[0].weights, weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
      }),
    });
  }
  const input = req.inputs[0];
  const out = tf.tidy(() => reference!.execute(tf.tensor(input.data as Float32Array, input.shape, 'float32')) as tf.Tensor);
  const data = out.dataSync() as Float32Array;
  const shape = [...out.shape];
  out.dispose();
  return [{ name: 'activation_6', datatype: 'FP32', shape, data: Float32Array.from(data) }];
}

/** The layers model: probs = softmax(x · W + b), x of 4 values, 3 classes; weights fixed here. */
export const DENSE_W = [[0.5, -0.25, 0.125], [-1, 0.75, 0.5], [0.25, 0.25, -0.5], [1.5, -1, 0]];
export const DENSE_B = [0.1, -0.2, 0.05];

/** Writes `dir`/dense_softmax/: model.json + weights.bin (tfjs's own save) under 1/, and model.yaml; returns the declaration file. */
export async function writeDenseLayersModel(parent: string, maxBatchSize = 8): Promise<string> {
  const dir = path.join(parent, 'dense_softmax');
  const input = tf.input({ shape: [4], name: 'x' });
  const dense = tf.layers.dense({ units: 3, activation: 'softmax', name: 'probs' });
  const model = tf.model({ inputs: input, outputs: dense.apply(input) as tf.SymbolicTensor });
  dense.setWeights([tf.tensor2d(DENSE_W), tf.tensor1d(DENSE_B)]);
  const versionDir = path.join(dir, '1');
  mkdirSync(versionDir, { recursive: true });
  await model.save(tf.io.withSaveHandler(async (artifacts) => {
    const weights = artifacts.weightData as ArrayBuffer;
    writeFileSync(path.join(versionDir, 'weights.bin'), Buffer.from(weights));
    writeFileSync(path.join(versionDir, 'model.json'), JSON.stringify({
      format: 'layers-model', modelTopology: artifacts.modelTopology,
      weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
    }));
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  model.dispose();
  const file = path.join(dir, 'model.yaml');
  writeFileSync(file, [
    'name: dense_softmax', 'engine: tfjs', 'model_file: model.json', `max_batch_size: ${maxBatchSize}`,
    'inputs:', '  - name: x', '    datatype: FP32', '    dims: [4]',
    'outputs:', '  - name: probs', '    datatype: FP32', '    dims: [3]',
    'instances:', '  - kind: cpu', '    count: 1', '',
  ].join('\n'));
  return file;
}

export function denseRequest(rows: number, seed: number): InferRequest {
  return { modelName: 'dense_softmax', inputs: [{ name: 'x', datatype: 'FP32', shape: [rows, 4], data: seededValues(rows * 4, seed) }] };
}

export function denseReference(req: InferRequest): Tensor[] {
  const x = req.inputs[0].data as Float32Array;
  const rows = req.inputs[0].shape[0];
  const out = new Float32Array(rows * 3);
  for (let r = 0; r < rows; r++) {
    const z = [0, 1, 2].map((j) => DENSE_B[j] + [0, 1, 2, 3].reduce((s, i) => s + x[r * 4 + i] * DENSE_W[i][j], 0));
    const m = Math.max(...z);
    const e = z.map((v) => Math.exp(v - m));
    const sum = e.reduce((a, b) => a + b, 0);
    e.forEach((v, j) => { out[r * 3 + j] = v / sum; });
  }
  return [{ name: 'probs', datatype: 'FP32', shape: [rows, 3], data: out }];
}
