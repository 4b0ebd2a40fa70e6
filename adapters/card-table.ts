/**
 * The card table: card type name → relative inference performance (NVIDIA T4 = 1.0). It is the
 * scheduler's prior for a node's capacity; deployments override rows from a file, and measured
 * calibration replaces it later. Values and method: /work/shared/CARDS.md ("recommended" column).
 */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../core/errors.js';

/** Type names are used in ids, metrics labels and files, so keep them to a plain token. */
const CARD_TYPE_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;

/** An immutable card type → coefficient table. */
export class CardTable {
  readonly #coefficients: ReadonlyMap<string, number>;

  /** Throws ConfigError for a bad type name or a coefficient that is not positive and finite. */
  constructor(coefficients: Readonly<Record<string, number>>) {
    const map = new Map<string, number>();
    for (const [type, value] of Object.entries(coefficients)) {
      const problem = typeNameProblem(type) ?? coefficientProblem(value);
      if (problem !== undefined) {
        throw new ConfigError(`card table: "${type}": ${problem}`);
      }
      map.set(type, value);
    }
    this.#coefficients = map;
  }

  has(type: string): boolean {
    return this.#coefficients.has(type);
  }

  /** Relative performance of one card of this type; throws ConfigError for an unknown type. */
  coefficientOf(type: string): number {
    const value = this.#coefficients.get(type);
    if (value === undefined) {
      throw new ConfigError(
        `unknown card type "${type}": not in the card table (known: ${this.types().join(', ')}); ` +
          'add it under `cards:` in the card table overrides file',
      );
    }
    return value;
  }

  types(): string[] {
    return [...this.#coefficients.keys()];
  }

  /** A new table: these rows replace or extend this table's rows. */
  withOverrides(overrides: Readonly<Record<string, number>>): CardTable {
    return new CardTable({ ...this.toRecord(), ...overrides });
  }

  toRecord(): Record<string, number> {
    return Object.fromEntries(this.#coefficients);
  }
}

/**
 * CARDS.md "recommended" column, one row per card. Where CARDS.md gives a second value in
 * parentheses (A100 40GB PCIe 5, CPU without AMX 0.01) the main value is used; override per
 * deployment when it matters.
 */
const CARDS_MD_RECOMMENDED: Readonly<Record<string, number>> = {
  'nvidia-h200': 15,
  'nvidia-h100-sxm': 13,
  'nvidia-h100-pcie': 9,
  'nvidia-h20': 5,
  'nvidia-l40s': 5,
  'nvidia-l40': 3,
  'nvidia-l4': 1.6,
  'nvidia-a100-80gb': 6,
  'nvidia-a100-40gb': 5.5,
  'nvidia-a10': 2.2,
  'nvidia-a30': 3,
  'nvidia-a40': 2.8,
  'nvidia-t4': 1.0,
  'nvidia-v100': 2.0,
  'nvidia-rtx-4090': 3.5,
  'nvidia-rtx-3090': 2.0,
  'ascend-910b': 4.5,
  'ascend-310p': 0.8,
  'amd-mi300x': 13,
  'amd-mi250': 3,
  'intel-gaudi2': 5.5,
  'intel-gaudi3': 12,
  'cpu-core': 0.02,
};

/**
 * Not a real card: the type an NVIDIA GPU gets when its name is not in the adapter's name table.
 * A row here so that deployments can set its coefficient like any other.
 */
const NVIDIA_UNKNOWN_ROW: Readonly<Record<string, number>> = { 'nvidia-unknown': 1 };

/**
 * Ascend chips CARDS.md has no row for, by the same method (√(FP16 TFLOPS / 65 × GB/s / 320)):
 * - ascend-910 (first generation, 2019: 256 TFLOPS FP16 claimed, 32 GB HBM2 at ~1,200 GB/s): the
 *   method gives ~3.9; set below the 910B's 4.5 because it is the older Da Vinci core with half
 *   the memory and no public inference results. Calibrate.
 * - ascend-310 (first generation: 8 TFLOPS FP16, LPDDR4X ~48 GB/s): √(0.12 × 0.15) ≈ 0.13.
 * - ascend-unknown: a chip npu-smi names that the adapter does not know (or /dev/davinci* without
 *   npu-smi); neutral like nvidia-unknown, so the scheduler neither starves nor floods it.
 * - npu-unknown: an NPU found only by its device file, with no row for its driver; neutral too.
 *   No bundled engine drives these, so they hold no instances until a deployment plugs one in.
 */
const ASCEND_AND_NPU_ROWS: Readonly<Record<string, number>> = {
  'ascend-910': 3.5,
  'ascend-310': 0.13,
  'ascend-unknown': 1,
  'npu-unknown': 1,
};

/** SIMULATED card types for tests and benchmarks; no hardware behind them. */
const SIMULATED_CARDS: Readonly<Record<string, number>> = {
  'sim-fast': 4,
  'sim-medium': 2,
  'sim-slow': 1,
};

export const DEFAULT_CARD_TABLE: CardTable = new CardTable({
  ...CARDS_MD_RECOMMENDED,
  ...NVIDIA_UNKNOWN_ROW,
  ...ASCEND_AND_NPU_ROWS,
  ...SIMULATED_CARDS,
});

/**
 * The default table with the rows of an overrides file merged over it. The file is YAML or JSON
 * (JSON is read as YAML): `{cards: {<type>: <coefficient>}}`. Without a path, the defaults.
 * Throws ConfigError naming the file (and the key) when it cannot be read or is invalid.
 */
export async function loadCardTable(
  overridesPath?: string,
  base: CardTable = DEFAULT_CARD_TABLE,
): Promise<CardTable> {
  if (overridesPath === undefined) return base;
  let text: string;
  try {
    text = await readFile(overridesPath, 'utf8');
  } catch (err) {
    throw invalid(overridesPath, `cannot read: ${(err as Error).message}`);
  }
  return base.withOverrides(parseCardTableOverrides(text, overridesPath));
}

/** Pure part of loadCardTable: the validated `cards` rows of an overrides file's text. */
export function parseCardTableOverrides(text: string, source: string): Record<string, number> {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw invalid(source, `not valid YAML/JSON: ${(err as Error).message}`);
  }
  if (!isPlainObject(doc)) {
    throw invalid(source, 'expected a mapping with a `cards` key, e.g. `cards: {nvidia-t4: 1.0}`');
  }
  for (const key of Object.keys(doc)) {
    if (key !== 'cards') throw invalid(source, `unknown top-level key "${key}" (only \`cards\` is allowed)`);
  }
  const cards = doc.cards;
  if (!isPlainObject(cards)) {
    throw invalid(source, '`cards` must be a mapping of card type → coefficient');
  }
  const rows: Record<string, number> = {};
  for (const [type, value] of Object.entries(cards)) {
    const problem = typeNameProblem(type) ?? coefficientProblem(value);
    if (problem !== undefined) throw invalid(source, `cards."${type}": ${problem}`);
    rows[type] = value as number;
  }
  return rows;
}

function typeNameProblem(type: string): string | undefined {
  return CARD_TYPE_NAME.test(type)
    ? undefined
    : 'card type names are letters, digits and . _ : - (starting with a letter or digit)';
}

function coefficientProblem(value: unknown): string | undefined {
  if (typeof value !== 'number') return `coefficient must be a number, got ${JSON.stringify(value)}`;
  if (!Number.isFinite(value) || value <= 0) {
    return `coefficient must be a positive finite number, got ${value}`;
  }
  return undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(source: string, detail: string): ConfigError {
  return new ConfigError(`card table overrides ${source}: ${detail}`);
}
