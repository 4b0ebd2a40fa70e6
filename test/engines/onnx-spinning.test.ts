/**
 * Isolation between models: an onnxruntime session's idle intra-op threads must not spin. A
 * spinning pool burns about a core between runs, taken from the other models of the node
 * (bench/isolation.ts). The real engine on the bundled tiny_cnn with two intra-op threads, run
 * with short pauses as a lightly used model is: the process's CPU time stays well under its wall
 * time (spinning measured ~1.1× wall here, not spinning ~0.1–0.2×).
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Card } from '../../adapters/card.js';
import { generatedRequest } from '../../core/model-warmup.js';
import { loadDeclaredModel } from '../../core/model-repository.js';
import { packageRoot } from '../../core/package-root.js';
import { OnnxEngine } from '../../engines/onnx.js';

const CPU: Card = { id: 'cpu', type: 'cpu-core', kind: 'cpu', coefficient: 0.2, engineOptions: { executionProviders: ['cpu'], intraOpNumThreads: 2 } };
/** CPU time over wall time below which the pool cannot have spun between runs. */
const MAX_CPU_SHARE = 0.6;

describe('onnx engine thread pool', () => {
  it('sleeps between runs instead of spinning', async () => {
    const model = loadDeclaredModel(path.join(packageRoot(), 'models', 'tiny_cnn', 'model.yaml'));
    const [source] = model.versions;
    const loaded = await new OnnxEngine({ execution: 'inline' }).loadModel({ declaration: model.declaration, version: source.version, modelPath: source.modelPath, metadata: model.metadata });
    const instance = await loaded.createInstance(CPU, 0);
    try {
      const request = generatedRequest(model.metadata, 4);
      await instance.execute([request]);
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      for (let i = 0; i < 200; i++) {
        await instance.execute([request]);
        await new Promise((r) => setTimeout(r, 1));
      }
      const cpu = process.cpuUsage(cpu0);
      const wallMs = performance.now() - t0;
      const cpuMs = (cpu.user + cpu.system) / 1000;
      console.log(`[isolation] tiny_cnn, 2 intra-op threads, 200 runs 1 ms apart: cpu ${cpuMs.toFixed(0)} ms over ${wallMs.toFixed(0)} ms wall`);
      expect(cpuMs / wallMs).toBeLessThan(MAX_CPU_SHARE);
    } finally {
      await instance.unload();
      await loaded.unload();
    }
  });
});
