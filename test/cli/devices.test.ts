/**
 * `infergate devices` as a real process (built dist/, as `npm test` builds first): the cards of this
 * machine (CPU only) and, per declared model, the engine each card would use. No model is loaded.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModelRepository } from '../../core/model-repository.js';
import { bundledModelsDir, packageRoot } from '../../core/package-root.js';
import type { CardPlanView, DevicesReport } from '../../cli/devices.js';

const CLI = path.join(packageRoot(), 'dist', 'cli', 'infergate.js');
/** Generous: the verb takes ~0.5 s alone; the limit leaves room for a busy CI core. */
const DEVICES_TIMEOUT_MS = 20_000;
const devices = (...args: string[]) => spawnSync(process.execPath, [CLI, 'devices', ...args], { encoding: 'utf8', timeout: DEVICES_TIMEOUT_MS });

describe('infergate devices', () => {
  it('--json: the cpu card with cores and SIMD flags, and every bundled model on it with its engine (onnx models: onnx on the CPU EP)', () => {
    const started = performance.now();
    const out = devices('--json');
    const wallMs = performance.now() - started;
    expect(out.status, out.stderr).toBe(0);
    const report = JSON.parse(out.stdout) as DevicesReport;
    console.log(`infergate devices --json: ${wallMs.toFixed(0)} ms wall (process start to exit)`);

    expect(report.modelRepository).toBe(bundledModelsDir());
    expect(report.runtimes.onnxruntime.providers).toContain('cpu');
    const cpu = report.cards.find((c) => c.id === 'cpu');
    expect(cpu).toMatchObject({ type: 'cpu-core', kind: 'cpu', source: expect.any(String) });
    expect(cpu!.cores).toBe(os.availableParallelism());
    expect(cpu!.coefficient).toBeCloseTo(0.02 * os.availableParallelism(), 9);
    expect(Array.isArray(cpu!.simd)).toBe(true);
    if (process.arch === 'x64' && readFileSync('/proc/cpuinfo', 'utf8').includes(' avx2')) expect(cpu!.simd).toContain('avx2');

    const declared = loadModelRepository(bundledModelsDir()).models.map((m) => m.declaration);
    expect(report.models.map((m) => m.name)).toEqual(declared.map((d) => d.name));
    const onnxOnCpu = declared.filter((d) => d.engine[0] === 'onnx' && d.instances.some((g) => g.kind === 'cpu' || g.kind === 'auto'));
    expect(onnxOnCpu.length).toBeGreaterThanOrEqual(5);
    for (const d of onnxOnCpu) {
      const model = report.models.find((m) => m.name === d.name)!;
      expect(model.servable, d.name).toBe(true);
      const onCpu = model.cards.find((c) => c.card === 'cpu');
      expect(onCpu, d.name).toMatchObject({ fits: true, engine: 'onnx', backend: 'cpu', degraded: false });
      const threads = (onCpu as Extract<CardPlanView, { fits: true }>).options.intraOpNumThreads as number;
      expect(threads).toBeGreaterThanOrEqual(1);
      expect(threads).toBeLessThanOrEqual(os.availableParallelism());
    }
    expect(report.declarationErrors).toEqual([]);
  });

  describe('on a repository with a GPU-only model', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'infergate-devices-'));
    cpSync(path.join(bundledModelsDir(), 'add_sub'), path.join(dir, 'add_sub'), { recursive: true });
    cpSync(path.join(bundledModelsDir(), 'add_sub'), path.join(dir, 'add_sub_gpu'), { recursive: true });
    const yamlFile = path.join(dir, 'add_sub_gpu', 'model.yaml');
    writeFileSync(yamlFile, readFileSync(yamlFile, 'utf8').replace('name: add_sub', 'name: add_sub_gpu').replace(/kind: cpu/, 'kind: gpu'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('--json marks it unservable with the reason, the other model still on the cpu card', () => {
      const out = devices('--json', '--models', dir);
      expect(out.status, out.stderr).toBe(0);
      const report = JSON.parse(out.stdout) as DevicesReport;
      const gpuOnly = report.models.find((m) => m.name === 'add_sub_gpu')!;
      expect(gpuOnly.servable).toBe(false);
      expect(gpuOnly.reason).toBe("the model's instances want gpu: no GPU (NVIDIA) card on this node");
      expect(gpuOnly.cards).toEqual([{ card: 'cpu', fits: false, reason: "the model's instances want gpu cards; this is a cpu card", steps: [] }]);
      expect(report.models.find((m) => m.name === 'add_sub')).toMatchObject({ servable: true, cards: [{ card: 'cpu', engine: 'onnx' }] });
    });

    it('prints a readable table by default (--model-repository is the same flag)', () => {
      const out = devices('--model-repository', dir);
      expect(out.status, out.stderr).toBe(0);
      expect(out.stdout).toMatch(/^ {2}cpu +cpu-core +cpu +[\d.]+ +- +.*\d+ cores, SIMD /m);
      expect(out.stdout).toMatch(/^ {4}cpu: onnx\/cpu, 1 instance: onnx on the CPU EP/m);
      expect(out.stdout).toMatch(/add_sub_gpu .*UNSERVABLE: the model's instances want gpu: no GPU \(NVIDIA\) card on this node/);
    });
  });

  it('with simulated cards, plans the sim engine on them and onnx nowhere', () => {
    const out = devices('--json', '--sim-cards', 'fast:1');
    expect(out.status, out.stderr).toBe(0);
    const report = JSON.parse(out.stdout) as DevicesReport;
    expect(report.cards.map((c) => c.id)).toEqual(['sim-fast-0']);
    expect(report.models.find((m) => m.name === 'sim_echo')).toMatchObject({ servable: true, cards: [{ card: 'sim-fast-0', engine: 'sim' }] });
    expect(report.models.find((m) => m.name === 'add_sub')).toMatchObject({ servable: false });
  });

  it('refuses a bad flag (exit 2) and a missing repository (exit 1), naming them', () => {
    const flag = devices('--frobnicate');
    expect(flag.status).toBe(2);
    expect(flag.stderr).toMatch(/frobnicate/);
    const missing = devices('--models', '/nonexistent/models');
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/model repository \/nonexistent\/models is not a directory/);
  });
});
