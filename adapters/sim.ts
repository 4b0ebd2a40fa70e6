/**
 * SIMULATED cards for tests and benchmarks (`--sim-cards fast:2,slow:1`): no hardware behind them;
 * the sim engine runs them at a speed set by their coefficient.
 */
import type { Card } from './card.js';
import type { CardTable } from './card-table.js';
import { ConfigError } from '../core/errors.js';

const SIM_TYPE_PREFIX = 'sim-';
/** Guards against a typo like `fast:20000` creating thousands of instances. */
export const MAX_SIM_CARDS_PER_TYPE = 256;

/**
 * Cards for a spec `<name>[:<count>],...` where `<name>` is a `sim-<name>` row of the table
 * (`fast`, `medium`, `slow`, or one added by overrides; `sim-fast` is accepted too). A missing
 * count means 1. Ids are `sim-<name>-<i>`, numbered per type from 0.
 * Throws ConfigError naming the spec and the bad entry.
 */
export function parseSimCards(spec: string, table: CardTable): Card[] {
  const entries = spec.split(',').map((e) => e.trim());
  if (spec.trim() === '') throw invalid(spec, 'it is empty; expected e.g. fast:2,slow:1');
  const cards: Card[] = [];
  const seen = new Set<string>();
  for (const entry of entries) {
    if (entry === '') throw invalid(spec, 'it has an empty entry (two commas or a trailing comma)');
    const [rawName, rawCount, ...rest] = entry.split(':').map((p) => p.trim());
    if (rest.length > 0) throw invalid(spec, `"${entry}" has more than one ':'; expected <name>:<count>`);
    const type = rawName.startsWith(SIM_TYPE_PREFIX) ? rawName : SIM_TYPE_PREFIX + rawName;
    if (rawName === '' || !table.has(type)) {
      const known = table
        .types()
        .filter((t) => t.startsWith(SIM_TYPE_PREFIX))
        .map((t) => t.slice(SIM_TYPE_PREFIX.length));
      throw invalid(spec, `unknown simulated card "${rawName}" (known: ${known.join(', ')})`);
    }
    if (seen.has(type)) throw invalid(spec, `"${rawName}" is given twice; give one count per type`);
    seen.add(type);
    const count = rawCount === undefined ? 1 : parseCount(rawCount);
    if (count === undefined || count > MAX_SIM_CARDS_PER_TYPE) {
      throw invalid(
        spec,
        `count "${rawCount}" for "${rawName}" must be an integer from 1 to ${MAX_SIM_CARDS_PER_TYPE}`,
      );
    }
    const coefficient = table.coefficientOf(type);
    for (let i = 0; i < count; i++) {
      cards.push({ id: `${type}-${i}`, type, kind: 'sim', coefficient });
    }
  }
  return cards;
}

function parseCount(text: string): number | undefined {
  if (!/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return n >= 1 ? n : undefined;
}

function invalid(spec: string, detail: string): ConfigError {
  return new ConfigError(`--sim-cards "${spec}": ${detail}`);
}
