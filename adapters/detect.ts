/**
 * A node's cards: simulated ones when asked for, else the hardware the adapters find.
 */
import type { Card } from './card.js';
import type { CardTable } from './card-table.js';
import type { CardReport } from '../core/load-report.js';
import { detectAscendCards } from './ascend.js';
import type { CommandRunner } from './command-runner.js';
import { detectCpuCards } from './cpu.js';
import { detectNpuDeviceFiles, type DeviceFiles } from './npu-device-files.js';
import { detectNvidiaCards } from './nvidia.js';
import { parseSimCards } from './sim.js';

export interface DetectCardsOptions {
  table: CardTable;
  /** `--sim-cards` spec; when given, only these SIMULATED cards (plus the CPU if includeCpu). */
  simCards?: string;
  /** Defaults to true without simCards, false with them. */
  includeCpu?: boolean;
  /** Runs nvidia-smi and npu-smi; a test double in tests. */
  run?: CommandRunner;
  /** Lists /dev for NPU device files; a recorded listing in tests. */
  deviceFiles?: DeviceFiles;
  /** Overrides the CPU core count (tests). */
  cpuCores?: number;
  /** Text of /proc/cpuinfo (tests). */
  readCpuInfo?: () => string | undefined;
}

export interface CardDetection {
  cards: Card[];
  /** Lines to log at warn level (unknown GPU names, nvidia-smi failures). */
  warnings: string[];
}

/** Throws ConfigError for a bad simCards spec; hardware problems become warnings. */
export async function detectCards(options: DetectCardsOptions): Promise<CardDetection> {
  const { table, simCards } = options;
  const includeCpu = options.includeCpu ?? simCards === undefined;
  const cards: Card[] = [];
  const warnings: string[] = [];
  if (simCards !== undefined) {
    cards.push(...parseSimCards(simCards, table));
  } else {
    // The two tools run at once: each may take a while to answer when its driver is busy.
    const [nvidia, ascend] = await Promise.all([detectNvidiaCards(table, options.run), detectAscendCards(table, options.run)]);
    const files = detectNpuDeviceFiles(table, options.deviceFiles, { skipAscend: ascend.cards.length > 0 });
    for (const found of [nvidia, ascend, files]) {
      cards.push(...found.cards);
      warnings.push(...found.warnings);
    }
  }
  if (includeCpu) cards.push(...detectCpuCards(table, { cores: options.cpuCores, readCpuInfo: options.readCpuInfo }));
  if (cards.length === 0) warnings.push('no cards: this node can run no model instances');
  return { cards, warnings };
}

/**
 * Cards grouped by type for the load report, in first-seen order. The coefficient is per card:
 * for `cpu-core` that is the whole CPU (cores × per-core coefficient), not one core. Should cards
 * of one type differ, the mean keeps count × coefficient equal to their sum.
 */
export function summarizeCards(cards: readonly Card[]): CardReport[] {
  const groups = new Map<string, { count: number; total: number }>();
  for (const card of cards) {
    const group = groups.get(card.type) ?? { count: 0, total: 0 };
    group.count += 1;
    group.total += card.coefficient;
    groups.set(card.type, group);
  }
  return [...groups].map(([type, { count, total }]) => ({ type, count, coefficient: total / count }));
}
