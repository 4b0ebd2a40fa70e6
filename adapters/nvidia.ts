/**
 * The NVIDIA adapter: GPUs as listed by nvidia-smi, one card per GPU, typed by their marketing name.
 * `--query-gpu` does not list MIG slices, so `nvidia-smi -L` is read too: a GPU split into MIG
 * devices becomes one card per slice, each weighted by its share of the GPU's compute slices.
 */
import type { Card } from './card.js';
import type { CardTable } from './card-table.js';
import { runCommand, type CommandRunner } from './command-runner.js';

export type { CommandRunner } from './command-runner.js';

export const NVIDIA_UNKNOWN_TYPE = 'nvidia-unknown';
/** Used only when the table has no `nvidia-unknown` row. */
const NVIDIA_UNKNOWN_COEFFICIENT = 1;

export const NVIDIA_SMI = 'nvidia-smi';
export const NVIDIA_SMI_ARGS: readonly string[] = [
  '--query-gpu=index,name,uuid,memory.total',
  '--format=csv,noheader,nounits',
];
export const NVIDIA_SMI_TIMEOUT_MS = 5_000;
/** `-L` lists every GPU and, indented under it, its MIG devices with their profile and UUID. */
export const NVIDIA_SMI_LIST_ARGS: readonly string[] = ['-L'];

/** An A100 without a size in its name is told apart by memory; 40 GB shows as ~40,000 MiB. */
const A100_80GB_MIN_MEMORY_MIB = 60_000;

export interface NvidiaDetection {
  cards: Card[];
  /** One line per GPU typed `nvidia-unknown`, per unparsable line, or why nvidia-smi failed. */
  warnings: string[];
}

interface NameRule {
  pattern: RegExp;
  type: string | ((memoryMiB: number | undefined) => string);
}

/**
 * nvidia-smi name → card type. First match wins, so variants come before their family
 * (H100 PCIe before H100, L40S before L40). Matching is case-insensitive on word boundaries, so
 * `A10` does not match `A100` and `L4` does not match `L40`.
 */
const NAME_RULES: readonly NameRule[] = [
  { pattern: /\bH200\b/i, type: 'nvidia-h200' },
  { pattern: /\bH[18]00\b.*\bPCIe\b/i, type: 'nvidia-h100-pcie' },
  // H100 NVL (94 GB HBM3, ~3.9 TB/s) sits near the SXM part in both compute and bandwidth.
  // H800 is the export variant of H100 (same per-device compute and memory, less NVLink).
  { pattern: /\bH[18]00\b/i, type: 'nvidia-h100-sxm' },
  { pattern: /\bH20\b/i, type: 'nvidia-h20' },
  { pattern: /\bL40S\b/i, type: 'nvidia-l40s' },
  { pattern: /\bL40\b/i, type: 'nvidia-l40' },
  { pattern: /\bL4\b/i, type: 'nvidia-l4' },
  // A800 is the export variant of A100.
  { pattern: /\bA[18]00\b.*\b80GB\b/i, type: 'nvidia-a100-80gb' },
  { pattern: /\bA[18]00\b.*\b40GB\b/i, type: 'nvidia-a100-40gb' },
  {
    pattern: /\bA[18]00\b/i,
    type: (memoryMiB) =>
      memoryMiB !== undefined && memoryMiB >= A100_80GB_MIN_MEMORY_MIB ? 'nvidia-a100-80gb' : 'nvidia-a100-40gb',
  },
  // A10G (AWS g5) is an A10 with a different memory clock; close enough for a prior.
  { pattern: /\bA10G?\b/i, type: 'nvidia-a10' },
  { pattern: /\bA30\b/i, type: 'nvidia-a30' },
  { pattern: /\bA40\b/i, type: 'nvidia-a40' },
  { pattern: /\bT4\b/i, type: 'nvidia-t4' },
  { pattern: /\bV100S?\b/i, type: 'nvidia-v100' },
  { pattern: /\bRTX 4090\b/i, type: 'nvidia-rtx-4090' },
  { pattern: /\bRTX 3090\b/i, type: 'nvidia-rtx-3090' },
];

/** The card type for an nvidia-smi GPU name, or undefined when the name is not in the table. */
export function nvidiaCardType(name: string, memoryMiB?: number): string | undefined {
  for (const rule of NAME_RULES) {
    if (rule.pattern.test(name)) return typeof rule.type === 'string' ? rule.type : rule.type(memoryMiB);
  }
  return undefined;
}

/**
 * Slug under which a deployment can give an unmapped GPU its own row in the card table
 * ("NVIDIA GH200 480GB" → `nvidia-gh200-480gb`), without a code change.
 */
export function nvidiaNameSlug(name: string): string {
  const slug = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return slug.startsWith('nvidia-') ? slug : `nvidia-${slug}`;
}

/**
 * Pure parse of `nvidia-smi --query-gpu=index,name,uuid,memory.total --format=csv,noheader,nounits`.
 * Lines it cannot read are skipped with a warning rather than failing the node: the other cards
 * still serve.
 */
export function parseNvidiaSmiCsv(text: string, table: CardTable): NvidiaDetection {
  const cards: Card[] = [];
  const warnings: string[] = [];
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === '') continue;
    const fields = line.split(',').map((f) => f.trim());
    if (fields.length < 4) {
      warnings.push(`nvidia-smi: skipped a line that is not index,name,uuid,memory.total: "${line}"`);
      continue;
    }
    // A name with a comma in it would split in two; index is first and uuid, memory are last.
    const indexField = fields[0];
    const name = fields.slice(1, -2).join(', ');
    const memoryField = fields[fields.length - 1];
    if (!/^\d+$/.test(indexField)) {
      warnings.push(`nvidia-smi: skipped a line with GPU index "${indexField}": "${line}"`);
      continue;
    }
    const index = Number(indexField);
    // "[N/A]" and the like: memory only disambiguates A100 sizes, so it may be absent.
    const memoryMiB = /^\d+$/.test(memoryField) ? Number(memoryField) : undefined;

    let type = nvidiaCardType(name, memoryMiB);
    let coefficient: number;
    if (type !== undefined) {
      coefficient = table.coefficientOf(type);
    } else if (table.has(nvidiaNameSlug(name))) {
      type = nvidiaNameSlug(name);
      coefficient = table.coefficientOf(type);
    } else {
      type = NVIDIA_UNKNOWN_TYPE;
      coefficient = table.has(type) ? table.coefficientOf(type) : NVIDIA_UNKNOWN_COEFFICIENT;
      warnings.push(
        `nvidia-smi: GPU ${index} "${name}" is not a known card; typed ${NVIDIA_UNKNOWN_TYPE} with ` +
          `coefficient ${coefficient}. To rate it, add \`${nvidiaNameSlug(name)}: <coefficient>\` ` +
          'under `cards:` in the card table overrides file',
      );
    }
    cards.push({
      id: `gpu${index}`,
      type,
      kind: 'gpu',
      coefficient,
      engineOptions: { executionProviders: ['tensorrt', 'cuda', 'cpu'], deviceId: index },
      info: { name, ...(memoryMiB !== undefined ? { memoryMiB } : {}), uuid: fields[fields.length - 2], source: NVIDIA_SMI },
    });
  }
  return { cards, warnings };
}

/**
 * The node's NVIDIA GPUs. No nvidia-smi on PATH means no NVIDIA GPU: no cards, no warning. Any
 * other failure (driver not loaded, timeout) gives no cards and a warning, so the node still
 * starts on its other cards.
 */
export async function detectNvidiaCards(
  table: CardTable,
  run: CommandRunner = runCommand,
): Promise<NvidiaDetection> {
  let stdout: string;
  try {
    stdout = await run(NVIDIA_SMI, NVIDIA_SMI_ARGS, NVIDIA_SMI_TIMEOUT_MS);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { cards: [], warnings: [] };
    return { cards: [], warnings: [`nvidia-smi failed, no NVIDIA GPUs used: ${(err as Error).message}`] };
  }
  const parsed = parseNvidiaSmiCsv(stdout, table);
  if (parsed.cards.length === 0) return parsed;
  let listing: string;
  try {
    listing = await run(NVIDIA_SMI, NVIDIA_SMI_LIST_ARGS, NVIDIA_SMI_TIMEOUT_MS);
  } catch (err) {
    parsed.warnings.push(`nvidia-smi -L failed, MIG slices (if any) not listed; whole GPUs used: ${(err as Error).message}`);
    return parsed;
  }
  const mig = parseNvidiaSmiList(listing);
  return {
    cards: splitMigCards(parsed.cards, mig.devices, table),
    warnings: [...parsed.warnings, ...mig.warnings],
  };
}

/** One MIG device as `nvidia-smi -L` lists it. */
export interface MigDevice {
  parentIndex: number;
  /** Index of the slice within its GPU. */
  index: number;
  /** `1g.10gb`, `3g.40gb`, `1g.10gb+me`: compute slices, then memory. */
  profile: string;
  uuid: string;
}

const LIST_GPU_LINE = /^GPU (\d+): (.+?) \(UUID: ([^)]+)\)$/;
const LIST_MIG_LINE = /^MIG (\S+)\s+Device\s+(\d+): \(UUID: ([^)]+)\)$/;

/**
 * Pure parse of `nvidia-smi -L`: the MIG devices, each under the GPU line above it. Lines that are
 * neither a GPU nor a MIG device are skipped with a warning.
 */
export function parseNvidiaSmiList(text: string): { devices: MigDevice[]; warnings: string[] } {
  const devices: MigDevice[] = [];
  const warnings: string[] = [];
  let parent: number | undefined;
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === '') continue;
    const gpu = LIST_GPU_LINE.exec(line);
    if (gpu) {
      parent = Number(gpu[1]);
      continue;
    }
    const mig = LIST_MIG_LINE.exec(line);
    if (mig && parent !== undefined) {
      devices.push({ parentIndex: parent, index: Number(mig[2]), profile: mig[1], uuid: mig[3] });
      continue;
    }
    warnings.push(`nvidia-smi -L: skipped a line that is neither a GPU nor a MIG device: "${line}"`);
  }
  return { devices, warnings };
}

/**
 * Compute slices a whole GPU has in MIG mode: 7 on A100, H100, H200 (and their export variants),
 * 4 on A30. A slice's share of the card is its `<n>g` over this.
 */
const MIG_COMPUTE_SLICES: Readonly<Record<string, number>> = { 'nvidia-a30': 4 };
const DEFAULT_MIG_COMPUTE_SLICES = 7;

/**
 * The cards with each GPU that has MIG devices replaced by one card per device. CUDA shows a
 * process only one MIG device, named by its UUID in CUDA_VISIBLE_DEVICES (where it is then device
 * 0): hence `cudaVisibleDevices` in the slice's engine options. A table row named
 * `<gpu type>-mig-<profile>` rates a profile; otherwise the slice gets its compute share.
 */
export function splitMigCards(cards: readonly Card[], devices: readonly MigDevice[], table: CardTable): Card[] {
  const out: Card[] = [];
  for (const card of cards) {
    const index = card.engineOptions?.deviceId;
    const slices = devices.filter((d) => d.parentIndex === index);
    if (card.kind !== 'gpu' || slices.length === 0) {
      out.push(card);
      continue;
    }
    for (const slice of slices) {
      const type = `${card.type}-mig-${slice.profile.replace(/[^A-Za-z0-9._:-]/g, '-')}`;
      const computeSlices = Number(/^(\d+)g\./.exec(slice.profile)?.[1] ?? 1);
      const share = Math.min(1, computeSlices / (MIG_COMPUTE_SLICES[card.type] ?? DEFAULT_MIG_COMPUTE_SLICES));
      const memoryGb = /\.(\d+)gb/.exec(slice.profile)?.[1];
      out.push({
        id: `${card.id}-mig${slice.index}`,
        type,
        kind: 'gpu',
        coefficient: table.has(type) ? table.coefficientOf(type) : card.coefficient * share,
        engineOptions: { executionProviders: ['tensorrt', 'cuda', 'cpu'], deviceId: 0, cudaVisibleDevices: slice.uuid },
        info: {
          ...(card.info?.name !== undefined ? { name: `${card.info.name} MIG ${slice.profile}` } : {}),
          ...(memoryGb !== undefined ? { memoryMiB: Number(memoryGb) * 1024 } : {}),
          uuid: slice.uuid,
          mig: { profile: slice.profile, parentIndex: slice.parentIndex },
          source: 'nvidia-smi -L',
        },
      });
    }
  }
  return out;
}

