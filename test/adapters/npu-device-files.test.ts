/** NPUs found by their device files, on recorded /dev listings (TEST DOUBLE file system: no NPU on CI). */
import { describe, expect, it } from 'vitest';
import { DEFAULT_CARD_TABLE } from '../../adapters/card-table.js';
import { NPU_UNKNOWN_TYPE, detectNpuDeviceFiles, realDeviceFiles, type DeviceFiles } from '../../adapters/npu-device-files.js';
import { fixture } from './fixture.js';

type Recording = Record<string, string[]> & { links: Record<string, string> };
const recordings = JSON.parse(fixture('device-files.json')) as Record<string, Recording>;

function recorded(name: string): DeviceFiles {
  const r = recordings[name];
  return { list: (dir) => r[dir] ?? [], readLink: (file) => r.links[file] };
}

describe('detectNpuDeviceFiles', () => {
  it('Ascend chips without npu-smi: davinci<N> only (not davinci_manager), typed ascend-unknown, with a warning', () => {
    const { cards, warnings } = detectNpuDeviceFiles(DEFAULT_CARD_TABLE, recorded('ascend-without-npu-smi'));
    expect(cards.map((c) => [c.id, c.type, c.kind, c.coefficient, c.engineOptions?.deviceFile])).toEqual([
      ['npu0', 'ascend-unknown', 'npu', 1, '/dev/davinci0'],
      ['npu1', 'ascend-unknown', 'npu', 1, '/dev/davinci1'],
    ]);
    expect(warnings).toEqual([expect.stringContaining('2 Ascend chip(s) at /dev/davinci* but npu-smi is not on PATH')]);
  });

  it('skips /dev/davinci* when npu-smi already listed the chips', () => {
    expect(detectNpuDeviceFiles(DEFAULT_CARD_TABLE, recorded('ascend-without-npu-smi'), { skipAscend: true })).toEqual({ cards: [], warnings: [] });
  });

  it('AWS Neuron devices in numeric order (neuron10 after neuron2), npu-unknown until rated', () => {
    const { cards, warnings } = detectNpuDeviceFiles(DEFAULT_CARD_TABLE, recorded('aws-inf2'));
    expect(cards.map((c) => [c.id, c.type, c.info?.source])).toEqual([
      ['neuron0', NPU_UNKNOWN_TYPE, '/dev/neuron0'],
      ['neuron1', NPU_UNKNOWN_TYPE, '/dev/neuron1'],
      ['neuron2', NPU_UNKNOWN_TYPE, '/dev/neuron2'],
      ['neuron10', NPU_UNKNOWN_TYPE, '/dev/neuron10'],
    ]);
    expect(warnings).toEqual([expect.stringContaining('"aws-neuron" is not in the card table')]);
    const rated = detectNpuDeviceFiles(DEFAULT_CARD_TABLE.withOverrides({ 'aws-neuron': 2.5 }), recorded('aws-inf2'));
    expect(rated.cards.map((c) => [c.type, c.coefficient])[0]).toEqual(['aws-neuron', 2.5]);
    expect(rated.warnings).toEqual([]);
  });

  it('accel devices are typed by their driver; a known family with a table row keeps its type', () => {
    const table = DEFAULT_CARD_TABLE.withOverrides({ 'intel-gaudi': 5.5 });
    const { cards, warnings } = detectNpuDeviceFiles(table, recorded('accel'));
    expect(cards.map((c) => [c.id, c.type, c.coefficient, c.info?.name])).toEqual([
      ['accel0', 'intel-gaudi', 5.5, 'accel device (driver habanalabs)'],
      ['accel1', NPU_UNKNOWN_TYPE, 1, 'accel device (driver intel_vpu)'],
      ['accel2', NPU_UNKNOWN_TYPE, 1, 'accel device (driver vendorx_npu)'],
    ]);
    expect(warnings).toEqual([
      expect.stringContaining('"intel-npu" is not in the card table'),
      expect.stringContaining('"accel-vendorx_npu" is not in the card table'),
    ]);
    // No engine option names an execution provider: the engine choice then says nothing fits.
    expect(cards[0].engineOptions).toEqual({ deviceId: 0, deviceFile: '/dev/accel/accel0' });
  });

  it('NVIDIA device files are not NPUs: nothing found', () => {
    expect(detectNpuDeviceFiles(DEFAULT_CARD_TABLE, recorded('none'))).toEqual({ cards: [], warnings: [] });
  });

  it('on this machine, with the real file system, does not throw', () => {
    expect(Array.isArray(detectNpuDeviceFiles(DEFAULT_CARD_TABLE, realDeviceFiles).cards)).toBe(true);
  });
});
