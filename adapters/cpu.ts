/**
 * The CPU adapter. The whole CPU is ONE card: onnxruntime's CPU execution provider already spreads
 * one run over its intra-op threads, so per-core cards would only compete for the same cores.
 */
import os from 'node:os';
import type { Card } from './card.js';
import type { CardTable } from './card-table.js';
import { ConfigError } from '../core/errors.js';

export const CPU_CARD_TYPE = 'cpu-core';

export interface CpuDetectOptions {
  /** Logical cores to use; defaults to what the OS grants this process. */
  cores?: number;
}

/** One card `cpu` whose coefficient is cores × the table's `cpu-core` coefficient. */
export function detectCpuCards(table: CardTable, options: CpuDetectOptions = {}): Card[] {
  const cores = options.cores ?? osCores();
  if (!Number.isInteger(cores) || cores < 1) {
    throw new ConfigError(`cpu cores must be a positive integer, got ${cores}`);
  }
  return [
    {
      id: 'cpu',
      type: CPU_CARD_TYPE,
      kind: 'cpu',
      coefficient: cores * table.coefficientOf(CPU_CARD_TYPE),
      engineOptions: { executionProviders: ['cpu'], intraOpNumThreads: cores },
    },
  ];
}

function osCores(): number {
  // cpus() can be empty in some sandboxes; a node always has at least one core.
  return Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
}
