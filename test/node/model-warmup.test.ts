/**
 * Declared warmup and calibration through the real ModelHost: the real onnxruntime engine on the
 * bundled tiny_cnn (declared in a temp repository with a warmup), the real simulated engine for a
 * warmup that fails. A recorder around the engine notes, at each execution, whether the model was
 * already listed READY, so the test sees the order, not only a count.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Card } from '../../adapters/card.js';
import { parseLoadReport } from '../../core/load-report.js';
import { loadDeclaredModel } from '../../core/model-repository.js';
import { packageRoot } from '../../core/package-root.js';
import { EngineRegistry } from '../../engines/engine-registry.js';
import type { Engine, LoadedModel, ModelInstance, ModelLoadSpec } from '../../engines/engine.js';
import { OnnxEngine } from '../../engines/onnx.js';
import { SimEngine, SimulationControl } from '../../engines/sim.js';
import { LoadReporter } from '../../node/load-reporter.js';
import { ModelHost } from '../../node/model-host.js';

const CPU: Card = { id: 'cpu', type: 'cpu-core', kind: 'cpu', coefficient: 0.1, engineOptions: { executionProviders: ['cpu'], intraOpNumThreads: 1 } };
const root = mkdtempSync(path.join(tmpdir(), 'infergate-host-warmup-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Observes the executions of a real engine's instances: rows run, and whether the model was READY then. */
class RecordingEngine implements Engine {
  readonly calls: Array<{ card: string; rows: number; ready: boolean }> = [];
  isReady: () => boolean = () => false;
  constructor(private readonly inner: Engine) {}
  get name() { return this.inner.name; }
  supports(card: Card) { return this.inner.supports(card); }
  async loadModel(spec: ModelLoadSpec): Promise<LoadedModel> {
    const loaded = await this.inner.loadModel(spec);
    return {
      metadata: loaded.metadata,
      unload: () => loaded.unload(),
      createInstance: async (card, index): Promise<ModelInstance> => {
        const instance = await loaded.createInstance(card, index);
        return {
          card: instance.card,
          execute: (batch) => {
            this.calls.push({ card: card.id, rows: batch[0].inputs[0].shape[0], ready: this.isReady() });
            return instance.execute(batch);
          },
          unload: () => instance.unload(),
        };
      },
    };
  }
}

/** The bundled tiny_cnn with these lines appended to its declaration. */
function tinyCnnWith(extraYaml: string, instances = 1) {
  const dir = path.join(root, `r${Math.random().toString(36).slice(2, 8)}`, 'tiny_cnn');
  cpSync(path.join(packageRoot(), 'models', 'tiny_cnn'), dir, { recursive: true });
  const yaml = readFileSync(path.join(dir, 'model.yaml'), 'utf8').replace(/count: 1\s*$/, `count: ${instances}\n`);
  writeFileSync(path.join(dir, 'model.yaml'), `${yaml}\n${extraYaml}\n`);
  return loadDeclaredModel(path.join(dir, 'model.yaml'));
}

describe('declared warmup', () => {
  it('runs every sample count times on every instance before the model is listed READY', async () => {
    const engine = new RecordingEngine(new OnnxEngine({ execution: 'inline' }));
    const host = new ModelHost({ cards: [CPU], engines: new EngineRegistry().register(engine) });
    engine.isReady = () => host.index().some((e) => e.name === 'tiny_cnn' && e.state === 'READY');
    const model = tinyCnnWith([
      'model_warmup:',
      '  - {name: zeros, batch_size: 4, count: 3, inputs: {INPUT: {zero_data: true}}}',
      '  - {name: noise, count: 2, inputs: {INPUT: {random_data: true}}}',
    ].join('\n'), 2);
    await host.load(model);
    try {
      // 2 instances × (3 + 2) executions, all before READY; then READY.
      expect(engine.calls).toHaveLength(10);
      expect(engine.calls.every((c) => !c.ready)).toBe(true);
      expect(engine.calls.map((c) => c.rows)).toEqual([4, 4, 4, 1, 1, 4, 4, 4, 1, 1]);
      expect(host.index().find((e) => e.name === 'tiny_cnn')?.state).toBe('READY');
      const hosted = host.model('tiny_cnn')!;
      expect(hosted.warmup.map((w) => [w.version, w.card, w.sample, w.executions])).toEqual([
        ['1', 'cpu', 'zeros', 3], ['1', 'cpu', 'noise', 2], ['1', 'cpu', 'zeros', 3], ['1', 'cpu', 'noise', 2],
      ]);
      expect(hosted.warmup.every((w) => w.totalMs > 0)).toBe(true);
      // Warmup is not traffic: the statistics extension counts no execution yet.
      expect(hosted.latest.statistics().execution_count).toBe(0);
    } finally {
      await host.close();
    }
  });

  it('makes the model UNAVAILABLE with the reason when a warmup execution fails', async () => {
    const control = new SimulationControl();
    control.errorRate = 1;
    const host = new ModelHost({ cards: [CPU], engines: new EngineRegistry().register(new SimEngine(control)) });
    const dir = path.join(root, 'sim', 'sim_echo');
    cpSync(path.join(packageRoot(), 'models', 'sim_echo'), dir, { recursive: true });
    writeFileSync(path.join(dir, 'model.yaml'), `${readFileSync(path.join(dir, 'model.yaml'), 'utf8')}\nmodel_warmup:\n  - {name: first, inputs: {INPUT0: {zero_data: true, dims: [4]}}}\n`);
    await host.loadAll([loadDeclaredModel(path.join(dir, 'model.yaml'))]);
    const entry = host.index().find((e) => e.name === 'sim_echo')!;
    expect(entry.state).toBe('UNAVAILABLE');
    expect(entry.reason).toMatch(/^failed to load: warmup 'first' failed on card cpu: .*SIMULATED/);
    expect(host.isLoaded('sim_echo')).toBe(false);
    await host.close();
  });
});

describe('calibration at load', () => {
  it('measures each (model, card) for about calibrateMs and reports it in the load report', async () => {
    const engine = new RecordingEngine(new OnnxEngine({ execution: 'inline' }));
    const host = new ModelHost({ cards: [CPU], engines: new EngineRegistry().register(engine), calibrateMs: 100, calibrateBatch: 2 });
    const startedAt = performance.now();
    await host.load(tinyCnnWith(''));
    const tookMs = performance.now() - startedAt;
    try {
      const [c] = host.model('tiny_cnn')!.calibration;
      expect(c).toMatchObject({ version: '1', engine: 'onnx', instances: 1, batch: 2 });
      expect(c.card.id).toBe('cpu');
      expect(c.executions).toBeGreaterThanOrEqual(3);
      expect(c.inferencesPerSec).toBeGreaterThan(0);
      expect(c.p99Ms).toBeGreaterThanOrEqual(c.p50Ms);
      expect(engine.calls.every((call) => call.rows === 2 && !call.ready)).toBe(true);
      expect(tookMs).toBeGreaterThanOrEqual(100);

      const report = new LoadReporter(host, { nodeId: 'n', url: 'http://n', cards: [{ type: 'cpu-core', count: 1, coefficient: 0.1 }] }).build();
      expect(parseLoadReport(JSON.parse(JSON.stringify(report))).calibration).toEqual([{
        model: 'tiny_cnn', version: '1', card: 'cpu', cardType: 'cpu-core', engine: 'onnx', batch: 2,
        inferencesPerSec: c.inferencesPerSec, p50Ms: c.p50Ms, p99Ms: c.p99Ms,
      }]);
    } finally {
      await host.close();
    }
  });

  it('is off by default: no figure, and the report keeps its old shape', async () => {
    const host = new ModelHost({ cards: [CPU], engines: new EngineRegistry().register(new OnnxEngine({ execution: 'inline' })) });
    await host.load(tinyCnnWith(''));
    try {
      expect(host.model('tiny_cnn')!.calibration).toEqual([]);
      const report = new LoadReporter(host, { nodeId: 'n', url: 'http://n', cards: [] }).build();
      expect('calibration' in report).toBe(false);
      expect(() => parseLoadReport({ ...report, calibration: [{ model: 'm', version: '1', card: 'cpu', inferencesPerSec: -1 }] }))
        .toThrow("load report field 'calibration' must be a list");
    } finally {
      await host.close();
    }
  });
});
