/** The Ascend adapter on recorded `npu-smi info` tables (TEST DOUBLE runner: no NPU on CI). */
import { describe, expect, it } from 'vitest';
import { ASCEND_UNKNOWN_TYPE, NPU_SMI, NPU_SMI_ARGS, ascendCardType, ascendNameSlug, detectAscendCards, parseNpuSmiInfo } from '../../adapters/ascend.js';
import { DEFAULT_CARD_TABLE } from '../../adapters/card-table.js';
import type { CommandRunner } from '../../adapters/command-runner.js';
import { fixture } from './fixture.js';

describe('parseNpuSmiInfo', () => {
  it('Atlas 800T A2, 4× 910B3: one card per NPU, HBM total as memory, health kept, process table ignored', () => {
    const { cards, warnings } = parseNpuSmiInfo(fixture('npu-smi-info-910b3-x4.txt'), DEFAULT_CARD_TABLE);
    expect(warnings).toEqual([]);
    expect(cards.map((c) => [c.id, c.type, c.kind, c.coefficient, c.info?.memoryMiB, c.info?.health, c.engineOptions?.deviceId])).toEqual([
      ['npu0', 'ascend-910b', 'npu', 4.5, 65536, 'OK', 0],
      ['npu1', 'ascend-910b', 'npu', 4.5, 65536, 'OK', 1],
      ['npu2', 'ascend-910b', 'npu', 4.5, 65536, 'Warning', 2],
      ['npu3', 'ascend-910b', 'npu', 4.5, 65536, 'OK', 3],
    ]);
    expect(cards[0]).toMatchObject({ engineOptions: { executionProviders: ['cann'] }, info: { name: '910B3', source: 'npu-smi' } });
  });

  it('Atlas 300I Duo, one NPU with two 310P3 chips: one card per chip, by logical device id', () => {
    const { cards, warnings } = parseNpuSmiInfo(fixture('npu-smi-info-310p3-duo.txt'), DEFAULT_CARD_TABLE);
    expect(warnings).toEqual([]);
    expect(cards.map((c) => [c.id, c.type, c.coefficient, c.info?.memoryMiB, c.engineOptions?.deviceId])).toEqual([
      ['npu0', 'ascend-310p', 0.8, 44280, 0],
      ['npu1', 'ascend-310p', 0.8, 44232, 1],
    ]);
  });

  it('first-generation 910ProB and an unknown chip (typed ascend-unknown with one warning naming the row to add)', () => {
    const { cards, warnings } = parseNpuSmiInfo(fixture('npu-smi-info-910prob.txt'), DEFAULT_CARD_TABLE);
    expect(cards.map((c) => [c.id, c.type, c.coefficient, c.info?.memoryMiB, c.info?.health])).toEqual([
      ['npu0', 'ascend-910', 3.5, 32768, 'OK'],
      ['npu1', 'ascend-910', 3.5, 32768, 'Alarm'],
      ['npu2', ASCEND_UNKNOWN_TYPE, 1, 65536, 'OK'],
    ]);
    expect(warnings).toEqual([expect.stringContaining('NPU "Ascend910_9392" is not a known card')]);
    expect(warnings[0]).toContain('`ascend-910-9392: <coefficient>`');
  });

  it('an override row for the slug rates an unknown chip without a warning', () => {
    const table = DEFAULT_CARD_TABLE.withOverrides({ 'ascend-910-9392': 6 });
    const { cards, warnings } = parseNpuSmiInfo(fixture('npu-smi-info-910prob.txt'), table);
    expect(cards[2]).toMatchObject({ type: 'ascend-910-9392', coefficient: 6 });
    expect(warnings).toEqual([]);
  });

  it('malformed: the readable NPU is kept, the cut-off rows are warnings, nothing is misattributed', () => {
    const { cards, warnings } = parseNpuSmiInfo(fixture('npu-smi-info-malformed.txt'), DEFAULT_CARD_TABLE);
    expect(cards.map((c) => [c.id, c.type, c.info?.memoryMiB])).toEqual([['npu0', 'ascend-910b', 32768]]);
    expect(warnings).toEqual([
      expect.stringContaining('fewer than 3 columns'),
      expect.stringContaining('neither an NPU nor a chip'),
    ]);
  });

  it('an error message instead of a table: no cards, one warning quoting it', () => {
    const { cards, warnings } = parseNpuSmiInfo(fixture('npu-smi-info-failure.txt'), DEFAULT_CARD_TABLE);
    expect(cards).toEqual([]);
    expect(warnings).toEqual([expect.stringContaining('no NPU found in its output (first line: "dcmi model initialized failed')]);
  });

  it.each([
    ['910B1', 'ascend-910b'], ['910B4', 'ascend-910b'], ['910B', 'ascend-910b'], ['Ascend910B2', 'ascend-910b'],
    ['910A', 'ascend-910'], ['910ProA', 'ascend-910'], ['910', 'ascend-910'],
    ['310P3', 'ascend-310p'], ['310P1', 'ascend-310p'], ['310', 'ascend-310'],
    ['910C', undefined], ['310B1', undefined],
  ])('chip name %s → %s', (name, type) => {
    expect(ascendCardType(name)).toBe(type);
  });

  it('slugs drop a leading "Ascend"', () => {
    expect(ascendNameSlug('Ascend910_9392')).toBe('ascend-910-9392');
    expect(ascendNameSlug('310B1')).toBe('ascend-310b1');
  });
});

describe('detectAscendCards', () => {
  it('runs `npu-smi info` with a timeout', async () => {
    const calls: unknown[] = [];
    const run: CommandRunner = async (file, args, timeoutMs) => {
      calls.push([file, args, timeoutMs]);
      return fixture('npu-smi-info-310p3-duo.txt');
    };
    const { cards } = await detectAscendCards(DEFAULT_CARD_TABLE, run);
    expect(calls).toEqual([[NPU_SMI, NPU_SMI_ARGS, 5000]]);
    expect(cards).toHaveLength(2);
  });

  it('no npu-smi (ENOENT): no cards, no warning', async () => {
    const run: CommandRunner = async () => {
      throw Object.assign(new Error('spawn npu-smi ENOENT'), { code: 'ENOENT' });
    };
    expect(await detectAscendCards(DEFAULT_CARD_TABLE, run)).toEqual({ cards: [], warnings: [] });
  });

  it('npu-smi failing: no cards, a warning', async () => {
    const run: CommandRunner = async () => {
      throw Object.assign(new Error(fixture('npu-smi-info-failure.txt')), { code: 1 });
    };
    const { cards, warnings } = await detectAscendCards(DEFAULT_CARD_TABLE, run);
    expect(cards).toEqual([]);
    expect(warnings).toEqual([expect.stringMatching(/^npu-smi info failed, no Ascend NPUs used: dcmi/)]);
  });

  it('on this machine, with the real runner, does not throw', async () => {
    const { cards } = await detectAscendCards(DEFAULT_CARD_TABLE);
    expect(Array.isArray(cards)).toBe(true);
  });
});
