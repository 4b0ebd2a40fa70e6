/**
 * Fixtures for the native engine's tests: temporary model repositories holding a dense model for
 * the reference plugin (native/plugins/dense), built by `npm run build:native`.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadDeclaredModel } from '../../core/model-repository.js';
import { packageRoot } from '../../core/package-root.js';
import type { ModelLoadSpec } from '../../engines/engine.js';
import { nativeAddonBuilt } from '../../engines/native-addon.js';
import { encodeDense, type DenseNetwork } from '../../tools/dense-weights.js';

export const DENSE_PLUGIN = path.join(packageRoot(), 'native', 'build', 'libinfergate_dense.so');
/** The same plugin source built to claim ABI version 999 (native/plugins/dense/Makefile). */
export const WRONG_ABI_PLUGIN = path.join(packageRoot(), 'native', 'build', 'test-plugins', 'libinfergate_dense_abi999.so');

/** Why the native tests cannot run here, or undefined when they can. */
export function nativeMissing(): string | undefined {
  return nativeAddonBuilt() ? undefined : "the native addon is not built (run 'npm run build:native'): native engine tests skipped";
}

export interface DenseModelOptions {
  name?: string;
  net: DenseNetwork;
  maxBatchSize?: number;
  /** Plugin file copied in as <model>/plugin/libdense.so (default the reference plugin). */
  pluginFile?: string;
  /** native.plugin as written in the declaration (default plugin/libdense.so). */
  pluginPath?: string;
  options?: string;
  /** Declared dims of INPUT and OUTPUT, without the batch dim (default from net). */
  inputDims?: number[];
  outputDims?: number[];
}

/** A model repository in a temp dir with one dense model; remove() deletes it. */
export function denseRepository(o: DenseModelOptions): { root: string; modelDir: string; spec: () => ModelLoadSpec; remove: () => void } {
  const name = o.name ?? 'dense';
  const root = mkdtempSync(path.join(os.tmpdir(), 'infergate-native-'));
  const modelDir = path.join(root, name);
  mkdirSync(path.join(modelDir, '1'), { recursive: true });
  mkdirSync(path.join(modelDir, 'plugin'));
  cpSync(o.pluginFile ?? DENSE_PLUGIN, path.join(modelDir, 'plugin', 'libdense.so'));
  writeFileSync(path.join(modelDir, '1', 'model.dense'), encodeDense(o.net));
  const outWidth = o.net.layers[o.net.layers.length - 1].outWidth;
  const yaml = [
    `name: ${name}`,
    'engine: native',
    'native:',
    `  plugin: ${JSON.stringify(o.pluginPath ?? 'plugin/libdense.so')}`,
    ...(o.options !== undefined ? [`  options: ${JSON.stringify(o.options)}`] : []),
    'model_file: model.dense',
    `max_batch_size: ${o.maxBatchSize ?? 8}`,
    'inputs:',
    `  - { name: INPUT, datatype: FP32, dims: [${(o.inputDims ?? [o.net.inputWidth]).join(', ')}] }`,
    'outputs:',
    `  - { name: OUTPUT, datatype: FP32, dims: [${(o.outputDims ?? [outWidth]).join(', ')}] }`,
    'instances:',
    '  - { kind: cpu, count: 1 }',
    '',
  ].join('\n');
  writeFileSync(path.join(modelDir, 'model.yaml'), yaml);
  return {
    root,
    modelDir,
    spec: () => {
      const m = loadDeclaredModel(path.join(modelDir, 'model.yaml'));
      return { declaration: m.declaration, version: m.versions[0].version, modelPath: m.versions[0].modelPath, metadata: m.metadata };
    },
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}
