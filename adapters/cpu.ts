/**
 * The CPU adapter. The whole CPU is ONE card: onnxruntime's CPU execution provider already spreads
 * one run over its intra-op threads, so per-core cards would only compete for the same cores.
 * The card names no thread count: the engine divides the cores among the model's CPU instances.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { Card } from './card.js';
import type { CardTable } from './card-table.js';
import { ConfigError } from '../core/errors.js';

export const CPU_CARD_TYPE = 'cpu-core';
export const CPU_INFO_FILE = '/proc/cpuinfo';

export interface CpuDetectOptions {
  /** Logical cores to use; defaults to what the OS grants this process. */
  cores?: number;
  /** Text of /proc/cpuinfo, or undefined where there is none (macOS, Windows); tests pass a recording. */
  readCpuInfo?: () => string | undefined;
}

export interface CpuInfo {
  modelName?: string;
  /** Logical processors the file lists (the whole machine, not this process's share). */
  processors: number;
  /** The SIMD extensions in SIMD_FLAGS that the CPU reports, in that order. */
  simd: string[];
}

/**
 * Flags inference kernels dispatch on (onnxruntime's MLAS, XNNPACK, oneDNN), as /proc/cpuinfo
 * spells them: x86 `flags`, arm64 `Features`. `asimd` is how arm64 Linux names NEON.
 */
export const SIMD_FLAGS: readonly string[] = [
  'sse4_2', 'avx', 'avx2', 'fma', 'f16c', 'avx512f', 'avx512bw', 'avx512_vnni', 'avx512_bf16', 'avx512_fp16', 'avx_vnni',
  'amx_tile', 'amx_int8', 'amx_bf16',
  'neon', 'asimd', 'asimdhp', 'asimddp', 'sve', 'sve2', 'i8mm', 'bf16',
];

/** Pure parse of /proc/cpuinfo (x86 and arm64 layouts). */
export function parseCpuInfo(text: string): CpuInfo {
  let modelName: string | undefined;
  let processors = 0;
  const flags = new Set<string>();
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const key = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (key === 'processor' && /^\d+$/.test(value)) processors += 1;
    else if ((key === 'model name' || key === 'hardware') && modelName === undefined && value !== '') modelName = value;
    else if (key === 'flags' || key === 'features') for (const f of value.split(/\s+/)) flags.add(f);
  }
  return { ...(modelName !== undefined ? { modelName } : {}), processors, simd: SIMD_FLAGS.filter((f) => flags.has(f)) };
}

/** One card `cpu` whose coefficient is cores × the table's `cpu-core` coefficient. */
export function detectCpuCards(table: CardTable, options: CpuDetectOptions = {}): Card[] {
  const cores = options.cores ?? osCores();
  if (!Number.isInteger(cores) || cores < 1) {
    throw new ConfigError(`cpu cores must be a positive integer, got ${cores}`);
  }
  const text = (options.readCpuInfo ?? readProcCpuInfo)();
  const info = text !== undefined ? parseCpuInfo(text) : undefined;
  return [
    {
      id: 'cpu',
      type: CPU_CARD_TYPE,
      kind: 'cpu',
      coefficient: cores * table.coefficientOf(CPU_CARD_TYPE),
      engineOptions: { executionProviders: ['cpu'] },
      info: {
        name: info?.modelName ?? os.cpus()[0]?.model ?? `${os.arch()} CPU`,
        cores,
        simd: info?.simd ?? [],
        source: info !== undefined ? CPU_INFO_FILE : 'os.cpus()',
      },
    },
  ];
}

function readProcCpuInfo(): string | undefined {
  try {
    return readFileSync(CPU_INFO_FILE, 'utf8');
  } catch {
    return undefined;
  }
}

function osCores(): number {
  // cpus() can be empty in some sandboxes; a node always has at least one core.
  return Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
}
