import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CardTable, DEFAULT_CARD_TABLE, loadCardTable } from '../../adapters/card-table.js';
import { ConfigError } from '../../core/errors.js';

describe('DEFAULT_CARD_TABLE', () => {
  it.each([
    ['nvidia-h200', 15],
    ['nvidia-h100-sxm', 13],
    ['nvidia-h100-pcie', 9],
    ['nvidia-h20', 5],
    ['nvidia-l40s', 5],
    ['nvidia-l40', 3],
    ['nvidia-l4', 1.6],
    ['nvidia-a100-80gb', 6],
    ['nvidia-a100-40gb', 5.5],
    ['nvidia-a10', 2.2],
    ['nvidia-a30', 3],
    ['nvidia-a40', 2.8],
    ['nvidia-t4', 1.0],
    ['nvidia-v100', 2.0],
    ['nvidia-rtx-4090', 3.5],
    ['nvidia-rtx-3090', 2.0],
    ['ascend-910b', 4.5],
    ['ascend-310p', 0.8],
    ['amd-mi300x', 13],
    ['amd-mi250', 3],
    ['intel-gaudi2', 5.5],
    ['intel-gaudi3', 12],
    ['cpu-core', 0.02],
    ['nvidia-unknown', 1],
    ['ascend-910', 3.5],
    ['ascend-310', 0.13],
    ['ascend-unknown', 1],
    ['npu-unknown', 1],
    ['sim-fast', 4],
    ['sim-medium', 2],
    ['sim-slow', 1],
  ])('%s = %d', (type, coefficient) => {
    expect(DEFAULT_CARD_TABLE.coefficientOf(type)).toBe(coefficient);
  });

  it('holds exactly the CARDS.md rows, nvidia-unknown, the Ascend/NPU rows and the simulated types', () => {
    expect(DEFAULT_CARD_TABLE.types()).toHaveLength(31);
  });

  it('throws a clear error for an unknown type', () => {
    expect(() => DEFAULT_CARD_TABLE.coefficientOf('nvidia-b200')).toThrow(/unknown card type "nvidia-b200"/);
    try {
      DEFAULT_CARD_TABLE.coefficientOf('nvidia-b200');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
    }
  });

  it('rejects bad rows at construction', () => {
    expect(() => new CardTable({ x: 0 })).toThrow(/"x": coefficient must be a positive finite number/);
    expect(() => new CardTable({ 'bad name': 1 })).toThrow(/card type names/);
  });
});

describe('loadCardTable', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'infergate-card-table-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function write(name: string, text: string): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, text);
    return path;
  }

  it('returns the defaults without a path', async () => {
    expect(await loadCardTable()).toBe(DEFAULT_CARD_TABLE);
  });

  it('merges a YAML file over the defaults, adding new types', async () => {
    const path = await write('good.yaml', 'cards:\n  nvidia-t4: 1.2\n  ascend-910b: 6\n  my-npu: 0.5\n');
    const table = await loadCardTable(path);
    expect(table.coefficientOf('nvidia-t4')).toBe(1.2);
    expect(table.coefficientOf('ascend-910b')).toBe(6);
    expect(table.coefficientOf('my-npu')).toBe(0.5);
    expect(table.coefficientOf('nvidia-h100-sxm')).toBe(13);
    // The defaults are untouched.
    expect(DEFAULT_CARD_TABLE.coefficientOf('nvidia-t4')).toBe(1);
  });

  it('reads JSON', async () => {
    const path = await write('good.json', JSON.stringify({ cards: { 'cpu-core': 0.01 } }));
    expect((await loadCardTable(path)).coefficientOf('cpu-core')).toBe(0.01);
  });

  it('accepts an empty cards mapping', async () => {
    const path = await write('empty-cards.yaml', 'cards: {}\n');
    expect((await loadCardTable(path)).toRecord()).toEqual(DEFAULT_CARD_TABLE.toRecord());
  });

  it.each([
    ['zero.yaml', 'cards:\n  nvidia-t4: 0\n', /cards\."nvidia-t4": coefficient must be a positive finite number, got 0/],
    ['negative.yaml', 'cards:\n  nvidia-l4: -1.6\n', /cards\."nvidia-l4": .*positive finite.*-1\.6/],
    ['infinite.yaml', 'cards:\n  nvidia-l4: .inf\n', /cards\."nvidia-l4": .*got Infinity/],
    ['nan.yaml', 'cards:\n  nvidia-l4: .nan\n', /cards\."nvidia-l4": .*got NaN/],
    ['string.yaml', 'cards:\n  nvidia-l4: "1.6"\n', /cards\."nvidia-l4": coefficient must be a number, got "1.6"/],
    ['null.yaml', 'cards:\n  nvidia-l4:\n', /cards\."nvidia-l4": coefficient must be a number, got null/],
    ['bad-key.yaml', 'cards:\n  "my card": 1\n', /cards\."my card": card type names/],
    ['no-cards.yaml', 'nvidia-t4: 1\n', /unknown top-level key "nvidia-t4"/],
    ['cards-list.yaml', 'cards:\n  - nvidia-t4\n', /`cards` must be a mapping/],
    ['empty.yaml', '', /expected a mapping with a `cards` key/],
    ['not-yaml.yaml', 'cards: {nvidia-t4: 1\n', /not valid YAML\/JSON/],
    ['dup.yaml', 'cards:\n  nvidia-t4: 1\n  nvidia-t4: 2\n', /not valid YAML\/JSON/],
    ['bad.json', '{"cards": {"nvidia-t4": true}}', /cards\."nvidia-t4": coefficient must be a number, got true/],
  ])('rejects %s with an error naming the file and key', async (name, text, message) => {
    const path = await write(name, text);
    const load = loadCardTable(path);
    await expect(load).rejects.toThrow(message);
    await expect(load).rejects.toThrow(`card table overrides ${path}:`);
    await expect(load).rejects.toBeInstanceOf(ConfigError);
  });

  it('names a file it cannot read', async () => {
    const path = join(dir, 'missing.yaml');
    await expect(loadCardTable(path)).rejects.toThrow(`card table overrides ${path}: cannot read`);
  });
});
