/**
 * What a node reports about its instances: the provider each really runs on, degraded when it fell
 * back, the node's cards weighted by that, the Prometheus info gauge; and a declared model no card
 * of the node can run, listed with the reason. Real onnxruntime; the GPU card is a TEST DOUBLE
 * (no GPU here) that asks for a provider onnxruntime does not have, so it cannot start.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Card } from '../../adapters/card.js';
import { parseLoadReport } from '../../core/load-report.js';
import { loadModelRepository } from '../../core/model-repository.js';
import { bundledModelsDir } from '../../core/package-root.js';
import { EngineRegistry } from '../../engines/engine-registry.js';
import { OnnxEngine } from '../../engines/onnx.js';
import { cardsAsRun, instanceReports, unavailableReports } from '../../node/instance-report.js';
import { LoadReporter } from '../../node/load-reporter.js';
import { ModelHost } from '../../node/model-host.js';
import { summarizeCards } from '../../adapters/detect.js';
import { Metrics } from '../../service/metrics.js';

const TEST_DOUBLE_PROVIDER = 'infergate-test-double-unstartable';
const CPU: Card = { id: 'cpu', type: 'cpu-core', kind: 'cpu', coefficient: 0.4, engineOptions: { intraOpNumThreads: 1 } };
/** TEST DOUBLE: a GPU card whose first provider cannot start (onnxruntime has no such provider). */
const GPU_TEST_DOUBLE: Card = {
  id: 'gpu0', type: 'nvidia-t4', kind: 'gpu', coefficient: 1,
  engineOptions: { executionProviders: [TEST_DOUBLE_PROVIDER, 'cpu'], intraOpNumThreads: 1 },
};

let modelsDir: string;
const hosts: ModelHost[] = [];

/** identity on every card (`kind: auto`), and a copy that wants a GPU only. */
beforeAll(() => {
  modelsDir = mkdtempSync(join(os.tmpdir(), 'infergate-instance-report-'));
  const source = join(bundledModelsDir(), 'identity');
  const yaml = readFileSync(join(source, 'model.yaml'), 'utf8');
  cpSync(source, join(modelsDir, 'identity'), { recursive: true });
  writeFileSync(join(modelsDir, 'identity', 'model.yaml'), yaml.replace(/instances:\n(?:\s+-?\s*\w+:.*\n?)+/, 'instances:\n  - kind: auto\n'));
  cpSync(source, join(modelsDir, 'gpu_only'), { recursive: true });
  writeFileSync(join(modelsDir, 'gpu_only', 'model.yaml'), yaml.replace('name: identity', 'name: gpu_only').replace(/instances:\n(?:\s+-?\s*\w+:.*\n?)+/, 'instances:\n  - kind: gpu\n'));
});

afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.close()));
});

afterAll(() => rmSync(modelsDir, { recursive: true, force: true }));

async function hostOn(cards: Card[], models: string[]): Promise<ModelHost> {
  const engines = new EngineRegistry().register(new OnnxEngine({ execution: 'inline', availableProviders: ['cpu', TEST_DOUBLE_PROVIDER], log: () => {} }));
  const host = new ModelHost({ cards, engines });
  hosts.push(host);
  const repository = loadModelRepository(modelsDir, { knownEngines: ['onnx'] });
  expect(repository.errors).toEqual([]);
  await host.loadAll(repository.models.filter((m) => models.includes(m.declaration.name)));
  return host;
}

describe('the provider each instance really runs on', () => {
  it('a GPU card that fell back to the CPU is degraded with the reason, and counts with the CPU coefficient', async () => {
    const host = await hostOn([CPU, GPU_TEST_DOUBLE], ['identity']);
    const instances = instanceReports(host);
    expect(instances).toEqual([
      { model: 'identity', version: '1', card: 'cpu', provider: 'cpu', providers: ['cpu'], degraded: false },
      {
        model: 'identity', version: '1', card: 'gpu0', provider: 'cpu', providers: ['cpu'], degraded: true,
        reason: expect.stringContaining(`onnxruntime has no execution provider '${TEST_DOUBLE_PROVIDER}'`),
      },
    ]);

    const reporter = new LoadReporter(host, { nodeId: 'n1', url: 'http://127.0.0.1:1', cards: summarizeCards([CPU, GPU_TEST_DOUBLE]), sourceCards: [CPU, GPU_TEST_DOUBLE] });
    const report = parseLoadReport(JSON.parse(JSON.stringify(reporter.build())));
    // The T4 test double is worth the CPU it runs on (0.4), not a T4 (1.0): capacity 0.8, not 1.4.
    expect(report.cards).toEqual([{ type: 'cpu-core', count: 1, coefficient: 0.4 }, { type: 'nvidia-t4', count: 1, coefficient: 0.4 }]);
    expect(report.instances).toEqual(instances);
    expect(report.unavailable).toEqual([]);

    const metrics = new Metrics({ processMetrics: false });
    metrics.registerInstanceInfo(() => instanceReports(host));
    const text = await metrics.registry.metrics();
    expect(text).toContain('infergate_instance_info{model="identity",version="1",card="cpu",provider="cpu",degraded="false"} 1');
    expect(text).toContain('infergate_instance_info{model="identity",version="1",card="gpu0",provider="cpu",degraded="true"} 1');
  });

  it('a card keeps its coefficient while one of its instances runs on its accelerator, and without instances', () => {
    const onGpu = { model: 'm', version: '1', card: 'gpu0', provider: 'cuda', providers: ['cuda', 'cpu'], degraded: false };
    const fellBack = { ...onGpu, provider: 'cpu', providers: ['cpu'], degraded: true, reason: 'x' };
    expect(cardsAsRun([GPU_TEST_DOUBLE], [onGpu, fellBack], 0.4)[0].coefficient).toBe(1);
    expect(cardsAsRun([GPU_TEST_DOUBLE], [], 0.4)[0].coefficient).toBe(1);
    expect(cardsAsRun([GPU_TEST_DOUBLE], [fellBack], 0.4)[0].coefficient).toBe(0.4);
  });

  it('reports without the new fields stay valid', () => {
    const old = {
      nodeId: 'n', url: 'http://h:1', state: 'ready', cards: [], inFlight: 0, queueDepth: 0, slots: 0, utilization: 0,
      completedPerSec: 0, errorsPerSec: 0, serviceTimeMs: 0, latencyMs: 0, windowMs: 0, models: [], sentAtMs: 0,
    };
    expect(parseLoadReport(old)).toEqual(old);
    expect(() => parseLoadReport({ ...old, instances: [{ model: 'm' }] })).toThrow("load report field 'instances'");
    expect(() => parseLoadReport({ ...old, unavailable: [{ name: 'm' }] })).toThrow("load report field 'unavailable'");
  });
});

describe('a model no card of the node can run', () => {
  it('is listed UNAVAILABLE with the reason, in the index and the load report', async () => {
    const host = await hostOn([CPU], ['identity', 'gpu_only']);
    const entry = host.index().find((e) => e.name === 'gpu_only');
    expect(entry).toMatchObject({ name: 'gpu_only', version: '1', state: 'UNAVAILABLE' });
    expect(entry!.reason).toMatch(/^not served on this node: no card fits \(instances want gpu, engines onnx; cards: cpu \(cpu\)\)/);
    expect(host.unavailableReason('gpu_only')).toBe(entry!.reason);
    expect(host.unavailableReason('identity')).toBeUndefined();
    expect(unavailableReports(host)).toEqual([{ name: 'gpu_only', version: '1', reason: entry!.reason }]);
  });
});
