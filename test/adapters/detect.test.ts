import { describe, expect, it } from 'vitest';
import type { Card } from '../../adapters/card.js';
import { DEFAULT_CARD_TABLE } from '../../adapters/card-table.js';
import { detectCpuCards } from '../../adapters/cpu.js';
import { detectCards, summarizeCards } from '../../adapters/detect.js';
import type { CommandRunner } from '../../adapters/command-runner.js';
import type { DeviceFiles } from '../../adapters/npu-device-files.js';
import { fixture } from './fixture.js';
import { hardwareCapacity } from '../../core/load-report.js';

const uuid = 'GPU-0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9';
const missing = (file: string) => Object.assign(new Error(`spawn ${file} ENOENT`), { code: 'ENOENT' });
// TEST DOUBLE: canned nvidia-smi output, no GPU or NPU on CI; npu-smi is not installed.
const twoT4s: CommandRunner = async (file, args) => {
  if (file !== 'nvidia-smi') throw missing(file);
  return args[0] === '-L' ? '' : `0, Tesla T4, ${uuid}, 15360\n1, Tesla T4, ${uuid}, 15360\n`;
};
const noNvidiaSmi: CommandRunner = async (file) => {
  throw missing(file);
};
// TEST DOUBLE: recorded npu-smi table for the Ascend case; no nvidia-smi.
const ascendDuo: CommandRunner = async (file) => {
  if (file !== 'npu-smi') throw missing(file);
  return fixture('npu-smi-info-310p3-duo.txt');
};
const noDeviceFiles: DeviceFiles = { list: () => [], readLink: () => undefined };
const davinciFiles: DeviceFiles = { list: (dir) => (dir === '/dev' ? ['davinci0', 'davinci1', 'davinci_manager'] : []), readLink: () => undefined };

describe('detectCpuCards', () => {
  it('is one card for the whole CPU', () => {
    const [card, ...rest] = detectCpuCards(DEFAULT_CARD_TABLE, { cores: 16 });
    expect(rest).toEqual([]);
    expect(card).toMatchObject({
      id: 'cpu',
      type: 'cpu-core',
      kind: 'cpu',
      engineOptions: { executionProviders: ['cpu'] },
      info: { cores: 16 },
    });
    expect(card.coefficient).toBeCloseTo(0.32, 12);
  });

  it('uses the OS core count by default and the table coefficient', () => {
    const table = DEFAULT_CARD_TABLE.withOverrides({ 'cpu-core': 0.01 });
    const [card] = detectCpuCards(table);
    const cores = card.info?.cores as number;
    expect(Number.isInteger(cores) && cores >= 1).toBe(true);
    expect(card.coefficient).toBeCloseTo(cores * 0.01, 12);
  });

  it.each([0, -2, 1.5, Number.NaN])('rejects cores = %d', (cores) => {
    expect(() => detectCpuCards(DEFAULT_CARD_TABLE, { cores })).toThrow(/positive integer/);
  });
});

describe('detectCards', () => {
  it('uses GPUs and the CPU on real hardware', async () => {
    const { cards, warnings } = await detectCards({ table: DEFAULT_CARD_TABLE, run: twoT4s, deviceFiles: noDeviceFiles, cpuCores: 8 });
    expect(cards.map((c) => c.id)).toEqual(['gpu0', 'gpu1', 'cpu']);
    expect(warnings).toEqual([]);
  });

  it('adds Ascend chips from npu-smi and then does not count their /dev/davinci files again', async () => {
    const { cards, warnings } = await detectCards({ table: DEFAULT_CARD_TABLE, run: ascendDuo, deviceFiles: davinciFiles, cpuCores: 2 });
    expect(cards.map((c) => [c.id, c.type])).toEqual([['npu0', 'ascend-310p'], ['npu1', 'ascend-310p'], ['cpu', 'cpu-core']]);
    expect(warnings).toEqual([]);
  });

  it('falls back to /dev/davinci* when npu-smi is missing', async () => {
    const { cards, warnings } = await detectCards({ table: DEFAULT_CARD_TABLE, run: noNvidiaSmi, deviceFiles: davinciFiles, cpuCores: 2 });
    expect(cards.map((c) => [c.id, c.type])).toEqual([['npu0', 'ascend-unknown'], ['npu1', 'ascend-unknown'], ['cpu', 'cpu-core']]);
    expect(warnings).toEqual([expect.stringContaining('npu-smi is not on PATH')]);
  });

  it('is the CPU alone without nvidia-smi', async () => {
    const { cards } = await detectCards({ table: DEFAULT_CARD_TABLE, run: noNvidiaSmi, deviceFiles: noDeviceFiles, cpuCores: 4 });
    expect(cards.map((c) => c.id)).toEqual(['cpu']);
  });

  it('is the sim cards alone when given, without running nvidia-smi', async () => {
    const run: CommandRunner = async () => {
      throw new Error('nvidia-smi must not run in sim mode');
    };
    const { cards } = await detectCards({ table: DEFAULT_CARD_TABLE, simCards: 'fast:1,slow:2', run });
    expect(cards.map((c) => c.id)).toEqual(['sim-fast-0', 'sim-slow-0', 'sim-slow-1']);
  });

  it('adds the CPU to sim cards with includeCpu', async () => {
    const { cards } = await detectCards({
      table: DEFAULT_CARD_TABLE,
      simCards: 'medium:1',
      includeCpu: true,
      cpuCores: 2,
    });
    expect(cards.map((c) => c.id)).toEqual(['sim-medium-0', 'cpu']);
  });

  it('warns when there is no card at all', async () => {
    const { cards, warnings } = await detectCards({ table: DEFAULT_CARD_TABLE, run: noNvidiaSmi, deviceFiles: noDeviceFiles, includeCpu: false });
    expect(cards).toEqual([]);
    expect(warnings).toEqual(['no cards: this node can run no model instances']);
  });

  it('rejects a bad sim spec', async () => {
    await expect(detectCards({ table: DEFAULT_CARD_TABLE, simCards: 'warp:1' })).rejects.toThrow(
      /unknown simulated card "warp"/,
    );
  });
});

describe('summarizeCards', () => {
  const card = (id: string, type: string, coefficient: number, kind: Card['kind'] = 'gpu'): Card => ({
    id,
    type,
    kind,
    coefficient,
  });

  it.each<[string, Card[], { type: string; count: number; coefficient: number }[]]>([
    ['no cards', [], []],
    [
      'groups by type in first-seen order',
      [card('gpu0', 'nvidia-t4', 1), card('gpu1', 'nvidia-l4', 1.6), card('gpu2', 'nvidia-t4', 1)],
      [
        { type: 'nvidia-t4', count: 2, coefficient: 1 },
        { type: 'nvidia-l4', count: 1, coefficient: 1.6 },
      ],
    ],
    [
      'the CPU is one card whose coefficient covers all its cores',
      [card('gpu0', 'nvidia-a10', 2.2), card('cpu', 'cpu-core', 0.64, 'cpu')],
      [
        { type: 'nvidia-a10', count: 1, coefficient: 2.2 },
        { type: 'cpu-core', count: 1, coefficient: 0.64 },
      ],
    ],
    [
      'sim cards',
      [card('sim-fast-0', 'sim-fast', 4, 'sim'), card('sim-fast-1', 'sim-fast', 4, 'sim'), card('sim-slow-0', 'sim-slow', 1, 'sim')],
      [
        { type: 'sim-fast', count: 2, coefficient: 4 },
        { type: 'sim-slow', count: 1, coefficient: 1 },
      ],
    ],
    [
      'unequal coefficients of one type average, keeping the sum',
      [card('gpu0', 'nvidia-unknown', 1), card('gpu1', 'nvidia-unknown', 2)],
      [{ type: 'nvidia-unknown', count: 2, coefficient: 1.5 }],
    ],
  ])('%s', (_label, cards, expected) => {
    expect(summarizeCards(cards)).toEqual(expected);
  });

  it('keeps hardware capacity equal to the sum of card coefficients', async () => {
    const { cards } = await detectCards({ table: DEFAULT_CARD_TABLE, run: twoT4s, cpuCores: 16 });
    expect(hardwareCapacity(summarizeCards(cards))).toBeCloseTo(2 + 16 * 0.02, 12);
  });
});
