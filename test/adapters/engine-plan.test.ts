/**
 * The engine-choice table: (card, model, what is installed) → engine, backend, options and reason.
 * Cards and inventories are plain data: GPU and NPU cards here are TEST DOUBLES (no hardware on CI).
 */
import { describe, expect, it } from 'vitest';
import type { Card } from '../../adapters/card.js';
import { planEngine, type EnginePlan, type PlannedModel, type RuntimeInventory } from '../../adapters/engine-plan.js';

const CPU: Card = { id: 'cpu', type: 'cpu-core', kind: 'cpu', coefficient: 0.16, engineOptions: { executionProviders: ['cpu'] }, info: { cores: 8 } };
const GPU: Card = { id: 'gpu1', type: 'nvidia-t4', kind: 'gpu', coefficient: 1, engineOptions: { executionProviders: ['tensorrt', 'cuda', 'cpu'], deviceId: 1 } };
const MIG: Card = {
  id: 'gpu0-mig2', type: 'nvidia-a100-80gb-mig-1g.10gb', kind: 'gpu', coefficient: 6 / 7,
  engineOptions: { executionProviders: ['tensorrt', 'cuda', 'cpu'], deviceId: 0, cudaVisibleDevices: 'MIG-3d4e' },
};
const ASCEND: Card = { id: 'npu3', type: 'ascend-910b', kind: 'npu', coefficient: 4.5, engineOptions: { executionProviders: ['cann'], deviceId: 3 } };
const ACCEL: Card = { id: 'accel0', type: 'npu-unknown', kind: 'npu', coefficient: 1, engineOptions: { deviceId: 0, deviceFile: '/dev/accel/accel0' }, info: { source: '/dev/accel/accel0' } };
const SIM: Card = { id: 'sim-fast-0', type: 'sim-fast', kind: 'sim', coefficient: 4 };

const CACHE = '/var/cache/infergate/tensorrt';
const base: RuntimeInventory = {
  engines: ['onnx', 'tfjs', 'sim'],
  onnxProviders: ['cpu', 'webgpu'],
  tfjsBackends: ['wasm', 'cpu'],
  cpuCores: 8,
  tensorrtFp16: true,
  tensorrtCacheDir: CACHE,
};
const CPU_BUILD = base; // what `onnxruntime-node-install=skip` leaves: this machine
const GPU_BUILD: RuntimeInventory = { ...base, onnxProviders: ['cpu', 'webgpu', 'cuda', 'tensorrt'] };
const CUDA_ONLY: RuntimeInventory = { ...base, onnxProviders: ['cpu', 'cuda'] };
const TRT_FAILS: RuntimeInventory = { ...GPU_BUILD, onnxProviderFailures: { tensorrt: 'libnvinfer.so.10: cannot open shared object file: No such file or directory' } };
const BOTH_FAIL: RuntimeInventory = { ...GPU_BUILD, onnxProviderFailures: { tensorrt: 'libnvinfer.so.10 missing', cuda: 'CUDA driver version is insufficient for CUDA runtime version' } };
const CANN_BUILD: RuntimeInventory = { ...base, onnxProviders: ['cpu', 'cann'] };
const TFJS_GPU: RuntimeInventory = { ...base, tfjsBackends: ['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'] };
const TFJS_NODE: RuntimeInventory = { ...base, tfjsBackends: ['tfjs-node', 'wasm', 'cpu'] };
const TFJS_CPU_ONLY: RuntimeInventory = { ...base, tfjsBackends: ['cpu'] };

const onnx = (kind: 'cpu' | 'gpu' | 'npu' | 'auto', count = 1): PlannedModel => ({ engine: ['onnx'], instances: [{ kind, count }] });
const tfjs = (kind: 'cpu' | 'gpu' | 'auto'): PlannedModel => ({ engine: ['tfjs'], instances: [{ kind, count: 1 }] });

type Fit = { engine: string; backend: string; degraded?: boolean; options?: Record<string, unknown>; reason: RegExp };

const FITS: [string, Card, PlannedModel, RuntimeInventory, Fit][] = [
  ['CPU, 1 instance: CPU EP with all 8 cores', CPU, onnx('cpu'), CPU_BUILD,
    { engine: 'onnx', backend: 'cpu', options: { executionProviders: ['cpu'], intraOpNumThreads: 8, interOpNumThreads: 1 }, reason: /CPU EP, 8 intra-op threads per instance \(8 cores ÷ 1 instance\)/ }],
  ['CPU, 3 instances: 8 cores ÷ 3 = 2 threads each', CPU, onnx('cpu', 3), CPU_BUILD,
    { engine: 'onnx', backend: 'cpu', options: { executionProviders: ['cpu'], intraOpNumThreads: 2, interOpNumThreads: 1 }, reason: /2 intra-op threads per instance \(8 cores ÷ 3 instances\)/ }],
  ['CPU, 16 instances: never below 1 thread', CPU, onnx('auto', 16), CPU_BUILD,
    { engine: 'onnx', backend: 'cpu', options: { intraOpNumThreads: 1 }, reason: /1 intra-op thread per instance/ }],
  ['CPU, card sets its own threads', { ...CPU, engineOptions: { executionProviders: ['cpu'], intraOpNumThreads: 3 } }, onnx('cpu', 2), CPU_BUILD,
    { engine: 'onnx', backend: 'cpu', options: { intraOpNumThreads: 3 }, reason: /3 intra-op threads per instance \(set by the card\)/ }],
  ['NVIDIA, full GPU build: TensorRT EP with FP16 and engine cache, then CUDA, then CPU for unsupported nodes', GPU, onnx('gpu'), GPU_BUILD,
    { engine: 'onnx', backend: 'tensorrt', degraded: false, reason: /^onnx on the TensorRT EP, FP16 on, engine cache \/var\/cache\/infergate\/tensorrt$/,
      options: { executionProviders: [
        { name: 'tensorrt', deviceId: 1, trt_fp16_enable: true, trt_engine_cache_enable: true, trt_engine_cache_path: CACHE },
        { name: 'cuda', deviceId: 1 },
        'cpu',
      ] } }],
  ['NVIDIA, FP16 turned off', GPU, onnx('gpu'), { ...GPU_BUILD, tensorrtFp16: false },
    { engine: 'onnx', backend: 'tensorrt', reason: /FP16 off/ }],
  ['NVIDIA, build without TensorRT: CUDA EP, not degraded (nothing failed)', GPU, onnx('auto'), CUDA_ONLY,
    { engine: 'onnx', backend: 'cuda', degraded: false, options: { executionProviders: [{ name: 'cuda', deviceId: 1 }, 'cpu'] }, reason: /^onnx on the CUDA EP \(TensorRT EP not installed\)$/ }],
  ['NVIDIA, TensorRT EP fails to initialise: CUDA EP, degraded, with the error', GPU, onnx('gpu'), TRT_FAILS,
    { engine: 'onnx', backend: 'cuda', degraded: true, options: { executionProviders: [{ name: 'cuda', deviceId: 1 }, 'cpu'] }, reason: /^onnx on the CUDA EP \(TensorRT EP failed to initialise\)$/ }],
  ['NVIDIA MIG slice: device 0 of a process that sees only the slice', MIG, onnx('gpu'), GPU_BUILD,
    { engine: 'onnx', backend: 'tensorrt', options: { cudaVisibleDevices: 'MIG-3d4e' }, reason: /MIG slice MIG-3d4e as device 0/ }],
  ['Ascend, build with CANN: CANN EP', ASCEND, onnx('npu'), CANN_BUILD,
    { engine: 'onnx', backend: 'cann', options: { executionProviders: [{ name: 'cann', deviceId: 3 }] }, reason: /^onnx on the CANN EP$/ }],
  ['tfjs on CPU, native packages missing: wasm', CPU, tfjs('cpu'), CPU_BUILD,
    { engine: 'tfjs', backend: 'wasm', options: { backend: 'wasm' }, reason: /^tfjs on the wasm backend \(tfjs-node-gpu, tfjs-node not installed\)$/ }],
  ['tfjs on CPU with tfjs-node', CPU, tfjs('cpu'), TFJS_NODE,
    { engine: 'tfjs', backend: 'tfjs-node', reason: /^tfjs on the tfjs-node backend \(tfjs-node-gpu not installed\)$/ }],
  ['tfjs on CPU, nothing but the pure-JS backend', CPU, tfjs('cpu'), TFJS_CPU_ONLY,
    { engine: 'tfjs', backend: 'cpu', reason: /tfjs-node-gpu, tfjs-node, wasm not installed/ }],
  ['tfjs on NVIDIA with tfjs-node-gpu', GPU, tfjs('gpu'), TFJS_GPU,
    { engine: 'tfjs', backend: 'tfjs-node-gpu', options: { backend: 'tfjs-node-gpu', deviceId: 1 }, reason: /libtensorflow with CUDA/ }],
  ['declared order: tfjs first is taken when it fits', CPU, { engine: ['tfjs', 'onnx'], instances: [{ kind: 'cpu', count: 1 }] }, CPU_BUILD,
    { engine: 'tfjs', backend: 'wasm', reason: /wasm/ }],
  ['declared order: an engine this node lacks is passed over', CPU, { engine: ['native', 'onnx'], instances: [{ kind: 'cpu', count: 1 }] }, CPU_BUILD,
    { engine: 'onnx', backend: 'cpu', reason: /CPU EP/ }],
  ['sim on a simulated card', SIM, { engine: ['sim'], instances: [{ kind: 'auto', count: 2 }] }, CPU_BUILD,
    { engine: 'sim', backend: 'sim', reason: /coefficient 4/ }],
];

const NO_FITS: [string, Card, PlannedModel, RuntimeInventory, RegExp][] = [
  ['NVIDIA on this machine\'s build: no TensorRT, no CUDA, and never the CPU EP alone', GPU, onnx('gpu'), CPU_BUILD,
    /TensorRT EP not installed in this onnxruntime build \(it has cpu, webgpu; .*\); CUDA EP not installed .*; a gpu card does not run on the CPU EP alone/],
  ['NVIDIA, both GPU providers fail to initialise: the errors, no CPU-only fallback', GPU, onnx('gpu'), BOTH_FAIL,
    /TensorRT EP failed to initialise: libnvinfer.so.10 missing; CUDA EP failed to initialise: CUDA driver version is insufficient.*; a gpu card does not run on the CPU EP alone/],
  ['Ascend without CANN in the build', ASCEND, onnx('npu'), GPU_BUILD, /CANN EP not installed in this onnxruntime build .*--use_cann/],
  ['NPU found by its device file: no provider drives it', ACCEL, onnx('npu'), GPU_BUILD, /no onnxruntime execution provider drives npu-unknown cards \(npu found by \/dev\/accel\/accel0\)/],
  ['instances want a GPU; this is the CPU', CPU, onnx('gpu'), GPU_BUILD, /^the model's instances want gpu cards; this is a cpu card$/],
  ['tfjs on NVIDIA without tfjs-node-gpu', GPU, tfjs('gpu'), TFJS_NODE, /tfjs-node-gpu not installed: this process's tfjs backend would be tfjs-node, which runs on the CPU/],
  ['tfjs on an Ascend card', ASCEND, { engine: ['tfjs'], instances: [{ kind: 'npu', count: 1 }] }, TFJS_GPU, /no tfjs backend runs on npu cards/],
  ['engine not registered on this node', CPU, { engine: ['tfjs'], instances: [{ kind: 'cpu', count: 1 }] }, { ...base, engines: ['onnx', 'sim'] },
    /engine tfjs is not available on this node \(available: onnx, sim\)/],
  ['onnx on a simulated card', SIM, onnx('auto'), CPU_BUILD, /onnx does not run on simulated cards/],
  ['no engine declared', CPU, { engine: [], instances: [{ kind: 'cpu', count: 1 }] }, CPU_BUILD, /declares no engine/],
];

describe('planEngine: fits', () => {
  it.each(FITS)('%s', (_name, card, model, inventory, want) => {
    const plan = planEngine(card, model, inventory);
    expect(plan.fits).toBe(true);
    const fit = plan as Extract<EnginePlan, { fits: true }>;
    expect([fit.engine, fit.backend]).toEqual([want.engine, want.backend]);
    if (want.degraded !== undefined) expect(fit.degraded).toBe(want.degraded);
    if (want.options !== undefined) expect(fit.options).toMatchObject(want.options);
    expect(fit.reason).toMatch(want.reason);
  });
});

describe('planEngine: no fit, with the reason', () => {
  it.each(NO_FITS)('%s', (_name, card, model, inventory, reason) => {
    const plan = planEngine(card, model, inventory);
    expect(plan.fits).toBe(false);
    expect(plan.reason).toMatch(reason);
  });
});

describe('planEngine: the fallback chain is reported step by step', () => {
  it('TensorRT failing to initialise: failed step with the error, then CUDA chosen', () => {
    const plan = planEngine(GPU, onnx('gpu'), TRT_FAILS);
    expect(plan.steps).toEqual([
      { engine: 'onnx', backend: 'tensorrt', ok: false, reason: 'TensorRT EP failed to initialise: libnvinfer.so.10: cannot open shared object file: No such file or directory' },
      { engine: 'onnx', backend: 'cuda', ok: true, reason: 'CUDA EP (TensorRT EP failed to initialise)' },
    ]);
  });

  it('a declared engine missing, then the next one', () => {
    const plan = planEngine(CPU, { engine: ['tfjs', 'onnx'], instances: [{ kind: 'cpu', count: 1 }] }, { ...base, engines: ['onnx'] });
    expect(plan.steps.map((s) => [s.engine, s.backend, s.ok])).toEqual([['tfjs', '', false], ['onnx', 'cpu', true]]);
  });

  it('an engine without rules here asks the engine itself', () => {
    const inventory: RuntimeInventory = { ...base, engines: ['native'], engineSupports: { native: (c) => c.kind === 'cpu' } };
    const model: PlannedModel = { engine: ['native'], instances: [{ kind: 'auto', count: 1 }] };
    expect(planEngine(CPU, model, inventory)).toMatchObject({ fits: true, engine: 'native', backend: 'native' });
    expect(planEngine(GPU, model, inventory)).toMatchObject({ fits: false, reason: expect.stringContaining('native does not support nvidia-t4 cards') });
  });

  it('counts only the instance groups that land on the card', () => {
    const model: PlannedModel = { engine: ['onnx'], instances: [{ kind: 'gpu', count: 4 }, { kind: 'cpu', count: 2 }, { kind: 'auto', count: 2 }] };
    expect(planEngine(CPU, model, CPU_BUILD)).toMatchObject({ fits: true, instances: 4, options: { intraOpNumThreads: 2 } });
    expect(planEngine(GPU, model, GPU_BUILD)).toMatchObject({ fits: true, instances: 6 });
  });
});
