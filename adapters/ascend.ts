/**
 * The Huawei Ascend adapter: NPUs as `npu-smi info` prints them, one card per chip (a 310P Duo
 * board is one NPU with two chips, each its own device to CANN), typed by the chip name.
 * npu-smi has no CSV mode, so its box-drawn table is read row by row.
 */
import type { Card } from './card.js';
import type { CardTable } from './card-table.js';
import { runCommand, type CommandRunner } from './command-runner.js';

export const NPU_SMI = 'npu-smi';
export const NPU_SMI_ARGS: readonly string[] = ['info'];
export const NPU_SMI_TIMEOUT_MS = 5_000;
export const ASCEND_UNKNOWN_TYPE = 'ascend-unknown';
/** Used only when the table has no `ascend-unknown` row. */
const ASCEND_UNKNOWN_COEFFICIENT = 1;

export interface AscendDetection {
  cards: Card[];
  warnings: string[];
}

/**
 * npu-smi chip name → card type, first match wins. `910B1`…`910B4` are the 2023 Atlas A2 chips;
 * `910A`, `910ProA`, `910ProB` and a bare `910` are the first generation (2019). `310P1`/`310P3`
 * are the Atlas 300I Pro/Duo chips; a bare `310` is the first-generation Atlas 300/200 chip.
 */
const NAME_RULES: readonly { pattern: RegExp; type: string }[] = [
  { pattern: /^(Ascend)?910B\d?$/i, type: 'ascend-910b' },
  { pattern: /^(Ascend)?910(A|Pro[AB])?$/i, type: 'ascend-910' },
  { pattern: /^(Ascend)?310P\d?$/i, type: 'ascend-310p' },
  { pattern: /^(Ascend)?310$/i, type: 'ascend-310' },
];

export function ascendCardType(name: string): string | undefined {
  return NAME_RULES.find((r) => r.pattern.test(name.trim()))?.type;
}

/** `910_9392` → `ascend-910-9392`: the row a deployment adds to rate a chip this table lacks. */
export function ascendNameSlug(name: string): string {
  const slug = name.replace(/^ascend/i, '').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  return `ascend-${slug}`;
}

/** npu-smi's health words; a row with one of these in the second cell starts an NPU. */
const HEALTH = /^(OK|Warning|Alarm|Critical|UNKNOWN|NA)$/i;
const BUS_ID = /^[0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7]$/;
/** `3161 / 65536`: used / total MB. On a 910 the last pair is HBM; on a 310P the only one is DDR. */
const USED_TOTAL = /(\d+)\s*\/\s*(\d+)/g;

interface NpuRow {
  npuId: number;
  name: string;
  health: string;
}

/**
 * Pure parse of `npu-smi info`. Each NPU is a name row (`| 0  910B3 | OK | …`) followed by one row
 * per chip (`| 0 [device] | bus-id | AICore  used / total … |`). The process table that follows
 * is ignored. Rows that look like neither, once the device table has begun, are warnings.
 */
export function parseNpuSmiInfo(text: string, table: CardTable): AscendDetection {
  const cards: Card[] = [];
  const warnings: string[] = [];
  const unknownNames = new Set<string>();
  let npu: NpuRow | undefined;
  let sawHeader = false;
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (/Process id/i.test(line)) break;
    if (line.startsWith('+')) {
      // A rule closes an NPU's block: a chip row after it belongs to no NPU.
      npu = undefined;
      continue;
    }
    if (!line.startsWith('|')) continue;
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    if (cells.length < 3) {
      // Before the header this is the version banner; after it, a cut-off row.
      if (sawHeader) warnings.push(`npu-smi info: skipped a row with fewer than 3 columns: "${line}"`);
      continue;
    }
    if (/^NPU\b/.test(cells[0]) || /^Chip\b/.test(cells[0])) {
      sawHeader = true;
      continue;
    }
    const head = /^(\d+)\s+(\S+)$/.exec(cells[0]);
    if (head && HEALTH.test(cells[1])) {
      npu = { npuId: Number(head[1]), name: head[2], health: cells[1] };
      continue;
    }
    const chip = /^(\d+)(?:\s+(\d+))?$/.exec(cells[0]);
    if (chip && BUS_ID.test(cells[1]) && npu !== undefined) {
      // 310P tables print the logical device id CANN takes; 910 tables do not, where it is the NPU id.
      const deviceId = chip[2] !== undefined ? Number(chip[2]) : npu.npuId;
      const pairs = [...cells.slice(2).join(' ').matchAll(USED_TOTAL)];
      const memoryMiB = pairs.length > 0 ? Number(pairs[pairs.length - 1][2]) : undefined;
      const { type, coefficient } = typeOf(npu.name, table, unknownNames);
      cards.push({
        // The logical device id is unique on the node and is what CANN's device_id takes.
        id: `npu${deviceId}`,
        type,
        kind: 'npu',
        coefficient,
        engineOptions: { executionProviders: ['cann'], deviceId },
        info: {
          name: npu.name,
          health: npu.health,
          ...(memoryMiB !== undefined && memoryMiB > 0 ? { memoryMiB } : {}),
          source: NPU_SMI,
        },
      });
      continue;
    }
    if (sawHeader && cells.some((c) => c !== '')) {
      warnings.push(`npu-smi info: skipped a row that is neither an NPU nor a chip: "${line}"`);
    }
  }
  for (const name of unknownNames) {
    const coefficient = table.has(ASCEND_UNKNOWN_TYPE) ? table.coefficientOf(ASCEND_UNKNOWN_TYPE) : ASCEND_UNKNOWN_COEFFICIENT;
    warnings.push(
      `npu-smi info: NPU "${name}" is not a known card; typed ${ASCEND_UNKNOWN_TYPE} with coefficient ${coefficient}. ` +
        `To rate it, add \`${ascendNameSlug(name)}: <coefficient>\` under \`cards:\` in the card table overrides file`,
    );
  }
  if (cards.length === 0 && text.trim() !== '') {
    const first = text.trim().split(/\r?\n/)[0];
    warnings.push(`npu-smi info: no NPU found in its output (first line: "${first}")`);
  }
  return { cards, warnings };
}

function typeOf(name: string, table: CardTable, unknownNames: Set<string>): { type: string; coefficient: number } {
  const known = ascendCardType(name);
  if (known !== undefined && table.has(known)) return { type: known, coefficient: table.coefficientOf(known) };
  const slug = ascendNameSlug(name);
  if (table.has(slug)) return { type: slug, coefficient: table.coefficientOf(slug) };
  unknownNames.add(name);
  return {
    type: ASCEND_UNKNOWN_TYPE,
    coefficient: table.has(ASCEND_UNKNOWN_TYPE) ? table.coefficientOf(ASCEND_UNKNOWN_TYPE) : ASCEND_UNKNOWN_COEFFICIENT,
  };
}

/**
 * The node's Ascend NPUs. No npu-smi means no Ascend driver stack: no cards, no warning. Any other
 * failure (the driver busy, a timeout) is a warning and no cards, so the node starts on the rest.
 */
export async function detectAscendCards(table: CardTable, run: CommandRunner = runCommand): Promise<AscendDetection> {
  let stdout: string;
  try {
    stdout = await run(NPU_SMI, NPU_SMI_ARGS, NPU_SMI_TIMEOUT_MS);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { cards: [], warnings: [] };
    return { cards: [], warnings: [`npu-smi info failed, no Ascend NPUs used: ${(err as Error).message}`] };
  }
  return parseNpuSmiInfo(stdout, table);
}
