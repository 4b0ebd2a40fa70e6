/**
 * The NVIDIA adapter on recorded nvidia-smi outputs (TEST DOUBLE runner: no GPU on CI): a 4-GPU
 * node, MIG slices, no GPU, a failing driver, and malformed lines.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_CARD_TABLE } from '../../adapters/card-table.js';
import type { CommandRunner } from '../../adapters/command-runner.js';
import { detectNvidiaCards, parseNvidiaSmiList, splitMigCards, parseNvidiaSmiCsv } from '../../adapters/nvidia.js';
import { fixture } from './fixture.js';

/** Replays `--query-gpu` and `-L` outputs from fixture files. */
function recorded(queryFile: string, listFile: string): CommandRunner {
  return async (_file, args) => fixture(args[0] === '-L' ? listFile : queryFile);
}

function failing(message: string, code: string | number): CommandRunner {
  return async () => {
    throw Object.assign(new Error(message), { code });
  };
}

describe('detectNvidiaCards on recorded nvidia-smi output', () => {
  it('4× A100 80GB: four cards gpu0..gpu3, device ids 0..3, coefficient 6 each, memory and UUID kept', async () => {
    const { cards, warnings } = await detectNvidiaCards(DEFAULT_CARD_TABLE, recorded('nvidia-smi-query-4xa100.csv', 'nvidia-smi-L-4xa100.txt'));
    expect(warnings).toEqual([]);
    expect(cards.map((c) => [c.id, c.type, c.coefficient, c.engineOptions?.deviceId, c.info?.memoryMiB])).toEqual([
      ['gpu0', 'nvidia-a100-80gb', 6, 0, 81920],
      ['gpu1', 'nvidia-a100-80gb', 6, 1, 81920],
      ['gpu2', 'nvidia-a100-80gb', 6, 2, 81920],
      ['gpu3', 'nvidia-a100-80gb', 6, 3, 81920],
    ]);
    expect(cards[3].info?.uuid).toBe('GPU-e4d5c6b7-a8f9-4e0d-b1c2-3f4a5b6c7d84');
  });

  it('MIG: a split GPU becomes one card per slice weighted by compute slices; whole GPUs stay whole', async () => {
    const { cards, warnings } = await detectNvidiaCards(DEFAULT_CARD_TABLE, recorded('nvidia-smi-query-mig.csv', 'nvidia-smi-L-mig.txt'));
    expect(warnings).toEqual([]);
    expect(cards.map((c) => [c.id, c.type, Number(c.coefficient.toFixed(6)), c.info?.memoryMiB])).toEqual([
      // A100 80GB = 6, 7 compute slices
      ['gpu0-mig0', 'nvidia-a100-80gb-mig-3g.40gb', Number(((6 * 3) / 7).toFixed(6)), 40960],
      ['gpu0-mig1', 'nvidia-a100-80gb-mig-2g.20gb', Number(((6 * 2) / 7).toFixed(6)), 20480],
      ['gpu0-mig2', 'nvidia-a100-80gb-mig-1g.10gb', Number((6 / 7).toFixed(6)), 10240],
      ['gpu0-mig3', 'nvidia-a100-80gb-mig-1g.10gb', Number((6 / 7).toFixed(6)), 10240],
      // H100 SXM = 13; the "+me" (media extensions) profile is a 1g slice, its '+' made a '-'
      ['gpu1-mig0', 'nvidia-h100-sxm-mig-1g.10gb-me', Number((13 / 7).toFixed(6)), 10240],
      ['gpu1-mig1', 'nvidia-h100-sxm-mig-3g.40gb', Number(((13 * 3) / 7).toFixed(6)), 40960],
      ['gpu2', 'nvidia-t4', 1, 15360],
    ]);
    // The slices of one GPU add up to no more than the GPU.
    const gpu0 = cards.filter((c) => c.id.startsWith('gpu0-')).reduce((s, c) => s + c.coefficient, 0);
    expect(gpu0).toBeCloseTo(6, 9);
    // CUDA addresses a MIG slice by UUID, as device 0 of a process that sees only it.
    expect(cards[0].engineOptions).toEqual({
      executionProviders: ['tensorrt', 'cuda', 'cpu'],
      deviceId: 0,
      cudaVisibleDevices: 'MIG-1b2c3d4e-5f60-5a7b-8c9d-0e1f2a3b4c5d',
    });
    expect(cards[0].info?.mig).toEqual({ profile: '3g.40gb', parentIndex: 0 });
  });

  it('MIG: a card-table row for a profile rates it instead of the share', () => {
    const table = DEFAULT_CARD_TABLE.withOverrides({ 'nvidia-a100-80gb-mig-1g.10gb': 0.7 });
    const gpus = parseNvidiaSmiCsv(fixture('nvidia-smi-query-mig.csv'), table).cards;
    const cards = splitMigCards(gpus, parseNvidiaSmiList(fixture('nvidia-smi-L-mig.txt')).devices, table);
    expect(cards.filter((c) => c.type === 'nvidia-a100-80gb-mig-1g.10gb').map((c) => c.coefficient)).toEqual([0.7, 0.7]);
  });

  it('A30 MIG slices are quarters (4 compute slices)', () => {
    const gpus = parseNvidiaSmiCsv('0, NVIDIA A30, GPU-x, 24576', DEFAULT_CARD_TABLE).cards;
    const list = 'GPU 0: NVIDIA A30 (UUID: GPU-x)\n  MIG 2g.12gb     Device  0: (UUID: MIG-a)\n  MIG 1g.6gb      Device  1: (UUID: MIG-b)\n';
    const cards = splitMigCards(gpus, parseNvidiaSmiList(list).devices, DEFAULT_CARD_TABLE);
    expect(cards.map((c) => c.coefficient)).toEqual([1.5, 0.75]);
  });

  it('no GPU: nvidia-smi missing (ENOENT) gives no cards and no warning', async () => {
    expect(await detectNvidiaCards(DEFAULT_CARD_TABLE, failing('spawn nvidia-smi ENOENT', 'ENOENT'))).toEqual({ cards: [], warnings: [] });
  });

  it('no GPU: "No devices were found" (exit 6) gives no cards and a warning quoting it', async () => {
    const { cards, warnings } = await detectNvidiaCards(DEFAULT_CARD_TABLE, failing(`Command failed: nvidia-smi\n${fixture('nvidia-smi-no-devices.txt')}`, 6));
    expect(cards).toEqual([]);
    expect(warnings).toEqual([expect.stringMatching(/^nvidia-smi failed, no NVIDIA GPUs used: .*No devices were found/s)]);
  });

  it('driver failure (exit 9) gives no cards and a warning quoting it', async () => {
    const { cards, warnings } = await detectNvidiaCards(DEFAULT_CARD_TABLE, failing(fixture('nvidia-smi-driver-failure.txt'), 9));
    expect(cards).toEqual([]);
    expect(warnings[0]).toMatch(/couldn't communicate with the NVIDIA driver/);
  });

  it('malformed output: readable lines become cards, each unreadable line one warning', async () => {
    const { cards, warnings } = await detectNvidiaCards(DEFAULT_CARD_TABLE, recorded('nvidia-smi-query-malformed.csv', 'nvidia-smi-L-malformed.txt'));
    expect(cards.map((c) => [c.id, c.type, c.info?.memoryMiB])).toEqual([
      ['gpu0', 'nvidia-l4', 23034],
      ['gpu2', 'nvidia-l4', undefined],
    ]);
    expect(warnings).toEqual([
      expect.stringContaining('GPU index "index"'),
      expect.stringContaining('not index,name,uuid,memory.total'),
      expect.stringContaining('Unable to determine the device handle'),
      expect.stringMatching(/^nvidia-smi -L: skipped .*Unable to determine/),
    ]);
  });

  it('-L failing after the query keeps whole GPUs and says so', async () => {
    const run: CommandRunner = async (_f, args) => {
      if (args[0] === '-L') throw new Error('timed out');
      return fixture('nvidia-smi-query-4xa100.csv');
    };
    const { cards, warnings } = await detectNvidiaCards(DEFAULT_CARD_TABLE, run);
    expect(cards).toHaveLength(4);
    expect(warnings).toEqual([expect.stringMatching(/^nvidia-smi -L failed, MIG slices \(if any\) not listed; whole GPUs used: timed out/)]);
  });
});
