import { describe, expect, it } from 'vitest';
import { DEFAULT_CARD_TABLE } from '../../adapters/card-table.js';
import {
  NVIDIA_SMI,
  NVIDIA_SMI_ARGS,
  NVIDIA_SMI_LIST_ARGS,
  NVIDIA_SMI_TIMEOUT_MS,
  detectNvidiaCards,
  parseNvidiaSmiCsv,
  type CommandRunner,
} from '../../adapters/nvidia.js';

// TEST DOUBLE: canned nvidia-smi output, no GPU on CI. Lines are in the shape of
// `nvidia-smi --query-gpu=index,name,uuid,memory.total --format=csv,noheader,nounits`.
const uuid = 'GPU-5f3c2a1e-8d4b-4f7e-9a0c-1b2d3e4f5a6b';

describe('parseNvidiaSmiCsv (canned nvidia-smi output, no GPU on CI)', () => {
  it.each([
    ['NVIDIA H200', 143771, 'nvidia-h200', 15],
    ['NVIDIA H200 NVL', 143771, 'nvidia-h200', 15],
    ['NVIDIA H100 80GB HBM3', 81559, 'nvidia-h100-sxm', 13],
    ['NVIDIA H100 NVL', 95830, 'nvidia-h100-sxm', 13],
    ['NVIDIA H100 PCIe', 81559, 'nvidia-h100-pcie', 9],
    ['NVIDIA H800', 81559, 'nvidia-h100-sxm', 13],
    ['NVIDIA H800 PCIe', 81559, 'nvidia-h100-pcie', 9],
    ['NVIDIA H20', 97871, 'nvidia-h20', 5],
    ['NVIDIA L40S', 46068, 'nvidia-l40s', 5],
    ['NVIDIA L40', 46068, 'nvidia-l40', 3],
    ['NVIDIA L4', 23034, 'nvidia-l4', 1.6],
    ['NVIDIA A100-SXM4-80GB', 81920, 'nvidia-a100-80gb', 6],
    ['NVIDIA A100 80GB PCIe', 81920, 'nvidia-a100-80gb', 6],
    ['NVIDIA A100-SXM4-40GB', 40960, 'nvidia-a100-40gb', 5.5],
    ['NVIDIA A100-PCIE-40GB', 40536, 'nvidia-a100-40gb', 5.5],
    ['NVIDIA A100', 81920, 'nvidia-a100-80gb', 6],
    ['NVIDIA A100', 40960, 'nvidia-a100-40gb', 5.5],
    ['NVIDIA A800-SXM4-80GB', 81920, 'nvidia-a100-80gb', 6],
    ['NVIDIA A10G', 23028, 'nvidia-a10', 2.2],
    ['NVIDIA A10', 23028, 'nvidia-a10', 2.2],
    ['NVIDIA A30', 24576, 'nvidia-a30', 3],
    ['NVIDIA A40', 46068, 'nvidia-a40', 2.8],
    ['Tesla T4', 15360, 'nvidia-t4', 1],
    ['Tesla V100-SXM2-16GB', 16384, 'nvidia-v100', 2],
    ['Tesla V100S-PCIE-32GB', 32768, 'nvidia-v100', 2],
    ['NVIDIA GeForce RTX 4090', 24564, 'nvidia-rtx-4090', 3.5],
    ['NVIDIA GeForce RTX 3090', 24576, 'nvidia-rtx-3090', 2],
  ])('"%s" (%d MiB) → %s (%d)', (name, memory, type, coefficient) => {
    const { cards, warnings } = parseNvidiaSmiCsv(`0, ${name}, ${uuid}, ${memory}\n`, DEFAULT_CARD_TABLE);
    expect(warnings).toEqual([]);
    expect(cards).toEqual([
      {
        id: 'gpu0',
        type,
        kind: 'gpu',
        coefficient,
        engineOptions: { executionProviders: ['tensorrt', 'cuda', 'cpu'], deviceId: 0 },
        info: { name, memoryMiB: memory, uuid, source: 'nvidia-smi' },
      },
    ]);
  });

  it.each([
    'NVIDIA RTX A4000', // not A40
    'NVIDIA A1000', // not A100
    'NVIDIA GH200 480GB', // not H200
    'NVIDIA B200',
    'Quadro RTX 8000',
  ])('types unmapped "%s" as nvidia-unknown with a warning', (name) => {
    const { cards, warnings } = parseNvidiaSmiCsv(`3, ${name}, ${uuid}, 16384`, DEFAULT_CARD_TABLE);
    expect(cards).toMatchObject([{ id: 'gpu3', type: 'nvidia-unknown', kind: 'gpu', coefficient: 1 }]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`GPU 3 "${name}" is not a known card`);
  });

  it('uses a table row named after an unmapped GPU when a deployment adds one', () => {
    const table = DEFAULT_CARD_TABLE.withOverrides({ 'nvidia-gh200-480gb': 14 });
    const { cards, warnings } = parseNvidiaSmiCsv(`0, NVIDIA GH200 480GB, ${uuid}, 97871`, table);
    expect(warnings).toEqual([]);
    expect(cards).toMatchObject([{ type: 'nvidia-gh200-480gb', coefficient: 14 }]);
  });

  it('parses a multi-GPU node with mixed cards, blank lines and CRLF', () => {
    const text = [
      `0, NVIDIA H100 80GB HBM3, ${uuid}, 81559`,
      `1, NVIDIA H100 80GB HBM3, ${uuid}, 81559`,
      '',
      `2, Tesla T4, ${uuid}, 15360`,
      '',
    ].join('\r\n');
    const { cards, warnings } = parseNvidiaSmiCsv(text, DEFAULT_CARD_TABLE);
    expect(warnings).toEqual([]);
    expect(cards.map((c) => [c.id, c.type, c.coefficient, c.engineOptions?.deviceId])).toEqual([
      ['gpu0', 'nvidia-h100-sxm', 13, 0],
      ['gpu1', 'nvidia-h100-sxm', 13, 1],
      ['gpu2', 'nvidia-t4', 1, 2],
    ]);
  });

  it('accepts memory "[N/A]" and skips unreadable lines with warnings', () => {
    const text = [
      `0, NVIDIA A10G, ${uuid}, [N/A]`,
      'No devices were found',
      `x, Tesla T4, ${uuid}, 15360`,
    ].join('\n');
    const { cards, warnings } = parseNvidiaSmiCsv(text, DEFAULT_CARD_TABLE);
    expect(cards.map((c) => c.type)).toEqual(['nvidia-a10']);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain('No devices were found');
    expect(warnings[1]).toContain('GPU index "x"');
  });

  it('uses overridden coefficients', () => {
    const table = DEFAULT_CARD_TABLE.withOverrides({ 'nvidia-t4': 1.3, 'nvidia-unknown': 0.5 });
    const { cards } = parseNvidiaSmiCsv(`0, Tesla T4, ${uuid}, 15360\n1, NVIDIA B200, ${uuid}, 183359`, table);
    expect(cards.map((c) => c.coefficient)).toEqual([1.3, 0.5]);
  });

  it('returns nothing for empty output', () => {
    expect(parseNvidiaSmiCsv('', DEFAULT_CARD_TABLE)).toEqual({ cards: [], warnings: [] });
  });
});

describe('detectNvidiaCards (test-double runner, no GPU on CI)', () => {
  it('runs nvidia-smi with the query arguments, then -L for MIG slices, each with a 5 s timeout', async () => {
    const calls: unknown[] = [];
    const run: CommandRunner = async (file, args, timeoutMs) => {
      calls.push([file, args, timeoutMs]);
      return args[0] === '-L' ? `GPU 0: Tesla T4 (UUID: ${uuid})\n` : `0, Tesla T4, ${uuid}, 15360\n`;
    };
    const { cards } = await detectNvidiaCards(DEFAULT_CARD_TABLE, run);
    expect(calls).toEqual([
      [NVIDIA_SMI, NVIDIA_SMI_ARGS, NVIDIA_SMI_TIMEOUT_MS],
      [NVIDIA_SMI, NVIDIA_SMI_LIST_ARGS, NVIDIA_SMI_TIMEOUT_MS],
    ]);
    expect(NVIDIA_SMI_TIMEOUT_MS).toBe(5000);
    expect(cards.map((c) => c.type)).toEqual(['nvidia-t4']);
  });

  it('finds no cards and no warning when nvidia-smi is missing', async () => {
    const run: CommandRunner = async () => {
      throw Object.assign(new Error('spawn nvidia-smi ENOENT'), { code: 'ENOENT' });
    };
    expect(await detectNvidiaCards(DEFAULT_CARD_TABLE, run)).toEqual({ cards: [], warnings: [] });
  });

  it('finds no cards and warns when nvidia-smi fails', async () => {
    const run: CommandRunner = async () => {
      throw Object.assign(new Error('NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver'), {
        code: 9,
      });
    };
    const { cards, warnings } = await detectNvidiaCards(DEFAULT_CARD_TABLE, run);
    expect(cards).toEqual([]);
    expect(warnings).toEqual([expect.stringContaining('nvidia-smi failed')]);
  });

  it('on this machine, with the real runner, does not throw', async () => {
    const { cards } = await detectNvidiaCards(DEFAULT_CARD_TABLE);
    expect(Array.isArray(cards)).toBe(true);
  });
});
