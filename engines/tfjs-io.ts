/**
 * Reading a TensorFlow.js model from disk. Pure tfjs has no file loader in Node, so this is a small
 * IOHandler: model.json plus the weight shards its manifest names, all from the model.json's own
 * directory (a shard path that leaves it is refused), returned as tfjs ModelArtifacts.
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type * as Tf from '@tensorflow/tfjs';

/** Largest model.json read (the topology; weights are in the shards): a guard against pointing at the wrong file. */
export const MAX_TFJS_MODEL_JSON_BYTES = 64 * 1024 * 1024;

export type TfjsModelFormat = 'graph-model' | 'layers-model';

export interface TfjsModelFile {
  format: TfjsModelFormat;
  artifacts: Tf.io.ModelArtifacts;
}

interface ModelJson {
  format?: string;
  modelTopology?: unknown;
  weightsManifest?: { paths: string[]; weights: Tf.io.WeightsManifestEntry[] }[];
  [key: string]: unknown;
}

/** model.json and its shards as ModelArtifacts; throws a message naming the file and what is wrong. */
export function readTfjsModel(modelJsonPath: string): TfjsModelFile {
  const size = statSync(modelJsonPath).size;
  if (size > MAX_TFJS_MODEL_JSON_BYTES) {
    throw new Error(`${modelJsonPath} is ${size} bytes, over MAX_TFJS_MODEL_JSON_BYTES (${MAX_TFJS_MODEL_JSON_BYTES}): is it a tfjs model.json?`);
  }
  let json: ModelJson;
  try {
    json = JSON.parse(readFileSync(modelJsonPath, 'utf8')) as ModelJson;
  } catch (err) {
    throw new Error(`${modelJsonPath} is not JSON: ${(err as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || typeof json.modelTopology !== 'object' || json.modelTopology === null) {
    throw new Error(`${modelJsonPath} has no modelTopology: it is not a TensorFlow.js model.json`);
  }
  const format = modelFormat(json);
  if (!format) throw new Error(`${modelJsonPath}: format '${String(json.format)}' is neither graph-model nor layers-model`);
  const dir = path.dirname(path.resolve(modelJsonPath));
  const weightSpecs: Tf.io.WeightsManifestEntry[] = [];
  const shards: Uint8Array[] = [];
  for (const group of json.weightsManifest ?? []) {
    weightSpecs.push(...group.weights);
    for (const rel of group.paths) {
      const file = path.resolve(dir, rel);
      if (path.relative(dir, file).startsWith('..') || path.isAbsolute(rel)) {
        throw new Error(`${modelJsonPath}: weight shard '${rel}' is outside the model's directory`);
      }
      try {
        shards.push(readFileSync(file));
      } catch (err) {
        throw new Error(`${modelJsonPath}: cannot read weight shard '${rel}': ${(err as Error).message}`);
      }
    }
  }
  const artifacts: Tf.io.ModelArtifacts = {
    modelTopology: json.modelTopology as Tf.io.ModelArtifacts['modelTopology'],
    format: json.format as string | undefined,
    generatedBy: json.generatedBy as string | undefined,
    convertedBy: json.convertedBy as string | null | undefined,
    signature: json.signature as object | undefined,
    userDefinedMetadata: json.userDefinedMetadata as Tf.io.ModelArtifacts['userDefinedMetadata'],
    modelInitializer: json.modelInitializer as object | undefined,
    weightSpecs,
    weightData: concatShards(shards),
  };
  return { format, artifacts };
}

/** graph-model or layers-model: the `format` field, else the topology's shape (old converters wrote none). */
function modelFormat(json: ModelJson): TfjsModelFormat | undefined {
  if (json.format === 'graph-model' || json.format === 'layers-model') return json.format;
  if (json.format !== undefined) return undefined;
  const topology = json.modelTopology as Record<string, unknown>;
  return Array.isArray(topology.node) ? 'graph-model' : 'layers-model';
}

function concatShards(shards: Uint8Array[]): ArrayBuffer {
  const total = shards.reduce((n, s) => n + s.byteLength, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const s of shards) {
    out.set(s, offset);
    offset += s.byteLength;
  }
  return out.buffer;
}

/** An IOHandler that hands tfjs already-read artifacts (loadGraphModel / loadLayersModel take one). */
export function artifactsHandler(artifacts: Tf.io.ModelArtifacts): Tf.io.IOHandler {
  return { load: async () => artifacts };
}
