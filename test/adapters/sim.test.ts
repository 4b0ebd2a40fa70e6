import { describe, expect, it } from 'vitest';
import { DEFAULT_CARD_TABLE } from '../../adapters/card-table.js';
import { MAX_SIM_CARDS_PER_TYPE, parseSimCards } from '../../adapters/sim.js';

describe('parseSimCards (SIMULATED cards)', () => {
  it('makes one card per count, ids numbered per type', () => {
    expect(parseSimCards('fast:2,slow:1', DEFAULT_CARD_TABLE)).toEqual([
      { id: 'sim-fast-0', type: 'sim-fast', kind: 'sim', coefficient: 4 },
      { id: 'sim-fast-1', type: 'sim-fast', kind: 'sim', coefficient: 4 },
      { id: 'sim-slow-0', type: 'sim-slow', kind: 'sim', coefficient: 1 },
    ]);
  });

  it.each([
    ['medium:3', ['sim-medium-0', 'sim-medium-1', 'sim-medium-2']],
    ['fast', ['sim-fast-0']],
    [' fast : 1 , slow:2 ', ['sim-fast-0', 'sim-slow-0', 'sim-slow-1']],
    ['sim-slow:1', ['sim-slow-0']],
    ['slow:01', ['sim-slow-0']],
  ])('%j → %j', (spec, ids) => {
    expect(parseSimCards(spec, DEFAULT_CARD_TABLE).map((c) => c.id)).toEqual(ids);
  });

  it('knows simulated types added by overrides', () => {
    const table = DEFAULT_CARD_TABLE.withOverrides({ 'sim-huge': 8, 'sim-fast': 5 });
    expect(parseSimCards('huge:1,fast:1', table).map((c) => [c.type, c.coefficient])).toEqual([
      ['sim-huge', 8],
      ['sim-fast', 5],
    ]);
  });

  it.each([
    ['', /is empty/],
    ['   ', /is empty/],
    ['fast:2,', /empty entry/],
    ['fast:2,,slow:1', /empty entry/],
    ['turbo:2', /unknown simulated card "turbo" \(known: fast, medium, slow\)/],
    ['t4:1', /unknown simulated card "t4"/],
    [':2', /unknown simulated card ""/],
    ['fast:0', /count "0" for "fast" must be an integer from 1 to 256/],
    ['fast:-1', /count "-1"/],
    ['fast:1.5', /count "1.5"/],
    ['fast:two', /count "two"/],
    ['fast:', /count "" for "fast"/],
    [`fast:${MAX_SIM_CARDS_PER_TYPE + 1}`, /count "257"/],
    ['fast:1:2', /more than one ':'/],
    ['fast:1,fast:2', /"fast" is given twice/],
  ])('rejects %j', (spec, message) => {
    expect(() => parseSimCards(spec, DEFAULT_CARD_TABLE)).toThrow(message);
    expect(() => parseSimCards(spec, DEFAULT_CARD_TABLE)).toThrow(`--sim-cards "${spec}":`);
  });
});
