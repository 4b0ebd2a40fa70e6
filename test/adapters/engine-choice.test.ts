import { describe, expect, it } from 'vitest';
import type { Card } from '../../adapters/card.js';
import { chooseEngine, type EngineCandidate, type EngineChoice } from '../../adapters/engine-choice.js';

const gpu: Card = { id: 'gpu0', type: 'nvidia-t4', kind: 'gpu', coefficient: 1 };
const cpu: Card = { id: 'cpu', type: 'cpu-core', kind: 'cpu', coefficient: 0.32 };
const npu: Card = { id: 'npu0', type: 'ascend-910b', kind: 'npu', coefficient: 4.5 };
const sim: Card = { id: 'sim-fast-0', type: 'sim-fast', kind: 'sim', coefficient: 4 };

const engine = (name: string, kinds: Card['kind'][]): EngineCandidate => ({
  name,
  supports: (card) => kinds.includes(card.kind),
});
// onnxruntime built without CUDA: CPU only.
const onnxCpuOnly = engine('onnx', ['cpu']);
const onnxCuda = engine('onnx', ['cpu', 'gpu']);
const tfjs = engine('tfjs', ['cpu']);
const simEngine = engine('sim', ['sim']);

describe('chooseEngine', () => {
  it.each<[string, Card, string[], EngineCandidate[], EngineChoice]>([
    ['GPU, onnx with CUDA', gpu, ['onnx'], [onnxCuda], { engine: 'onnx' }],
    ['CPU, onnx', cpu, ['onnx'], [onnxCpuOnly], { engine: 'onnx' }],
    ['first declared that fits wins', cpu, ['tfjs', 'onnx'], [onnxCuda, tfjs], { engine: 'tfjs' }],
    ['falls through an unsupported engine', gpu, ['tfjs', 'onnx'], [tfjs, onnxCuda], { engine: 'onnx' }],
    ['falls through an engine not installed', cpu, ['tfjs', 'onnx'], [onnxCpuOnly], { engine: 'onnx' }],
    ['sim card, sim engine', sim, ['onnx', 'sim'], [onnxCuda, simEngine], { engine: 'sim' }],
    [
      'GPU, onnx without CUDA',
      gpu,
      ['onnx'],
      [onnxCpuOnly],
      {
        skip:
          'card gpu0 (nvidia-t4, gpu) skipped: no declared engine fits [onnx]: ' +
          'onnx does not support this card (available engines: onnx)',
      },
    ],
    [
      'NPU, nothing fits',
      npu,
      ['tfjs', 'onnx'],
      [onnxCuda],
      {
        skip:
          'card npu0 (ascend-910b, npu) skipped: no declared engine fits [tfjs, onnx]: ' +
          'tfjs is not available on this node; onnx does not support this card (available engines: onnx)',
      },
    ],
    [
      'no engines installed',
      cpu,
      ['onnx'],
      [],
      {
        skip:
          'card cpu (cpu-core, cpu) skipped: no declared engine fits [onnx]: ' +
          'onnx is not available on this node (available engines: none)',
      },
    ],
    ['no engine declared', cpu, [], [onnxCuda], { skip: 'card cpu (cpu-core, cpu) skipped: the model declares no engine' }],
  ])('%s', (_label, card, declared, available, expected) => {
    expect(chooseEngine(card, declared, available)).toEqual(expected);
  });
});
