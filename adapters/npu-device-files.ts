/**
 * NPUs that have no vendor tool infergate reads, found by their device files: AWS Neuron
 * (`/dev/neuron<N>`), the Linux accel subsystem (`/dev/accel/accel<N>`: Habana Gaudi, Intel NPU,
 * AMD XDNA, Qualcomm AIC), and Ascend (`/dev/davinci<N>`) when npu-smi is absent. The card type
 * names the driver, so a deployment can rate it in the card table; until then it gets `npu-unknown`.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import type { Card } from './card.js';
import type { CardTable } from './card-table.js';

export const NPU_UNKNOWN_TYPE = 'npu-unknown';
/** Used only when the table has no `npu-unknown` row. */
const NPU_UNKNOWN_COEFFICIENT = 1;

/** The file-system reads detection needs; tests pass a recorded listing. */
export interface DeviceFiles {
  /** Entry names of a directory; [] when it does not exist. */
  list(dir: string): string[];
  /** Target of a symlink; undefined when there is none. */
  readLink(file: string): string | undefined;
}

export const realDeviceFiles: DeviceFiles = {
  list(dir) {
    try {
      return readdirSync(dir);
    } catch {
      return [];
    }
  },
  readLink(file) {
    try {
      return readlinkSync(file);
    } catch {
      return undefined;
    }
  },
};

/**
 * accel driver name (the basename of /sys/class/accel/accel<N>/device/driver) → card type.
 * habanalabs covers Gaudi 1–3, which the device file does not tell apart: a deployment rates
 * `intel-gaudi` to its generation (the table has intel-gaudi2 and intel-gaudi3 rows).
 */
const ACCEL_DRIVER_TYPES: Readonly<Record<string, string>> = {
  habanalabs: 'intel-gaudi',
  intel_vpu: 'intel-npu',
  amdxdna: 'amd-xdna',
  qaic: 'qualcomm-aic100',
};

export interface DeviceFileDetection {
  cards: Card[];
  warnings: string[];
}

export interface DeviceFileOptions {
  /** Skip /dev/davinci*: npu-smi already listed the Ascend chips. */
  skipAscend?: boolean;
}

/** Every NPU device file found, one card each, in a stable order (by family, then number). */
export function detectNpuDeviceFiles(
  table: CardTable,
  files: DeviceFiles = realDeviceFiles,
  options: DeviceFileOptions = {},
): DeviceFileDetection {
  const found: { id: string; type: string; file: string; deviceId: number; name: string }[] = [];
  const dev = files.list('/dev');
  if (!options.skipAscend) {
    // davinci_manager, devmm_svm, hisi_hdc sit beside the chips; only davinci<N> is a chip.
    for (const n of numbered(dev, 'davinci')) {
      found.push({ id: `npu${n}`, type: 'ascend-unknown', file: `/dev/davinci${n}`, deviceId: n, name: 'Ascend (npu-smi not found)' });
    }
  }
  for (const n of numbered(dev, 'neuron')) {
    found.push({ id: `neuron${n}`, type: 'aws-neuron', file: `/dev/neuron${n}`, deviceId: n, name: 'AWS Neuron device' });
  }
  for (const n of numbered(files.list('/dev/accel'), 'accel')) {
    const link = files.readLink(`/sys/class/accel/accel${n}/device/driver`);
    const driver = link !== undefined ? path.basename(link) : undefined;
    const type = driver !== undefined ? (ACCEL_DRIVER_TYPES[driver] ?? `accel-${driver}`) : 'accel-unknown';
    found.push({ id: `accel${n}`, type, file: `/dev/accel/accel${n}`, deviceId: n, name: driver !== undefined ? `accel device (driver ${driver})` : 'accel device' });
  }

  const warnings: string[] = [];
  const davinci = found.filter((f) => f.file.startsWith('/dev/davinci')).length;
  if (davinci > 0) {
    warnings.push(`device files: ${davinci} Ascend chip(s) at /dev/davinci* but npu-smi is not on PATH; typed ascend-unknown until npu-smi can name them`);
  }
  const unrated = new Set<string>();
  const cards = found.map((f): Card => {
    let type = f.type;
    let coefficient: number;
    if (table.has(type)) {
      coefficient = table.coefficientOf(type);
    } else {
      unrated.add(type);
      type = NPU_UNKNOWN_TYPE;
      coefficient = table.has(type) ? table.coefficientOf(type) : NPU_UNKNOWN_COEFFICIENT;
    }
    // No engine infergate ships drives these yet: no execution provider is named, so the engine
    // choice says why nothing fits instead of guessing one.
    return { id: f.id, type, kind: 'npu', coefficient, engineOptions: { deviceId: f.deviceId, deviceFile: f.file }, info: { name: f.name, source: f.file } };
  });
  for (const type of unrated) {
    warnings.push(
      `device files: "${type}" is not in the card table; typed ${NPU_UNKNOWN_TYPE}. ` +
        `To rate it, add \`${type}: <coefficient>\` under \`cards:\` in the card table overrides file`,
    );
  }
  return { cards, warnings };
}

function numbered(entries: readonly string[], prefix: string): number[] {
  const re = new RegExp(`^${prefix}(\\d+)$`);
  return entries
    .map((e) => re.exec(e)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}
