/**
 * The N-API addon (native/addon) as TypeScript sees it, found and loaded lazily: a build without
 * the addon still serves every other engine. Datatypes cross the boundary as ig_datatype numbers
 * (native/include/infergate_plugin.h); the table below maps them to KServe names.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Datatype, NumericArray } from '../core/datatypes.js';
import { packageRoot } from '../core/package-root.js';

/** A tensor's signature as the plugin describes it; -1 = variable dim. */
export interface NativeTensorDesc {
  name: string;
  datatype: number;
  dims: number[];
}

export interface NativeInput {
  name: string;
  datatype: number;
  shape: number[];
  /** Must stay unchanged until the execute settles: the plugin reads it in place. */
  data: NumericArray;
}

export interface NativeOutput {
  name: string;
  datatype: number;
  shape: number[];
  data: ArrayBuffer;
}

/** Opaque handles owned by the addon. */
export type NativePluginHandle = { readonly __brand: 'NativePlugin' };
export type NativeModelHandle = { readonly __brand: 'NativeModel' };

export interface NativeAddon {
  readonly abiVersion: number;
  openPlugin(path: string): { plugin: NativePluginHandle; name: string; abiVersion: number };
  loadModel(plugin: NativePluginHandle, weightsPath: string, options: string, device: string): Promise<NativeModelHandle>;
  describe(model: NativeModelHandle): { inputs: NativeTensorDesc[]; outputs: NativeTensorDesc[] };
  execute(model: NativeModelHandle, inputs: NativeInput[]): Promise<NativeOutput[]>;
  freeModel(model: NativeModelHandle): void;
}

/** Where `npm run build:native` puts the addon. */
export function nativeAddonPath(root = packageRoot()): string {
  return path.join(root, 'native', 'addon', 'build', 'Release', 'infergate_native.node');
}

export function nativeAddonBuilt(root?: string): boolean {
  return existsSync(nativeAddonPath(root));
}

/** Loads the addon (Node loads a given .node file once per process); throws a message that says how to build it. */
export function loadNativeAddon(file = nativeAddonPath()): NativeAddon {
  if (!existsSync(file)) {
    throw new Error(`the native engine's addon is not built (expected ${file}); run 'npm run build:native'`);
  }
  return createRequire(import.meta.url)(file) as NativeAddon;
}

/** ig_datatype values of ABI 1. BYTES has none: variable-length elements are not in the ABI. */
const IG_DATATYPES: Record<Exclude<Datatype, 'BYTES'>, number> = {
  BOOL: 1, UINT8: 2, UINT16: 3, UINT32: 4, UINT64: 5, INT8: 6, INT16: 7, INT32: 8, INT64: 9,
  FP16: 10, FP32: 11, FP64: 12, BF16: 13,
};

const BY_NUMBER = new Map<number, Datatype>(Object.entries(IG_DATATYPES).map(([name, n]) => [n, name as Datatype]));

export function toNativeDatatype(datatype: Datatype): number | undefined {
  return datatype === 'BYTES' ? undefined : IG_DATATYPES[datatype];
}

export function fromNativeDatatype(value: number): Datatype | undefined {
  return BY_NUMBER.get(value);
}
