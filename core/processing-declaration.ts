/**
 * The `preprocessing:` and `postprocessing:` sections of a model declaration: their typed form,
 * their JSON Schema (part of DECLARATION_SCHEMA) and the cross-field checks the schema cannot make
 * (which input or output each names, its datatype and dims against the steps, the labels file).
 * The steps themselves run in processing/model-processing.ts.
 *
 * ```yaml
 * preprocessing:
 *   INPUT:                    # a declared input: clients send an encoded image instead (BYTES)
 *     format: image
 *     color: RGB              # RGB | BGR | GRAY
 *     resize: { mode: keep_aspect, width: 224, height: 224, pad_color: [114, 114, 114] }
 *     scale: 0.00392156862745098
 *     mean: [0.485, 0.456, 0.406]
 *     std: [0.229, 0.224, 0.225]
 *     layout: NCHW            # NCHW | NHWC; the dtype is the input's declared datatype
 * postprocessing:
 *   PROBS: { softmax: true, top_k: 5 }
 * ```
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Datatype } from './datatypes.js';
import { symlinkEscape } from './declared-path.js';

export type ImageColor = 'RGB' | 'BGR' | 'GRAY';
export type ImageLayoutName = 'NCHW' | 'NHWC';
export type ResizeMode = 'fixed' | 'keep_aspect' | 'multiple_of';

export interface ResizeDeclaration {
  mode: ResizeMode;
  /** fixed, keep_aspect: the output size. */
  width?: number;
  height?: number;
  /** multiple_of: each side a multiple of this. */
  multiple?: number;
  /** multiple_of: the longer side scaled down to at most this first. */
  max_side?: number;
  /** keep_aspect: 0..255, one value or one per channel (default 0). */
  pad_color?: number[];
  /** keep_aspect: padding at the right and bottom (`end`, default) or on both sides (`center`). */
  pad_position?: 'end' | 'center';
}

export interface ImageInputProcessing {
  format: 'image';
  color: ImageColor;
  resize?: ResizeDeclaration;
  interpolation: 'nearest' | 'linear' | 'cubic' | 'lanczos3';
  scale: number;
  mean?: number[];
  std?: number[];
  layout: ImageLayoutName;
  /** Per-model override of DEFAULT_MAX_IMAGE_BYTES (processing/image-decode.ts). */
  max_image_bytes?: number;
  /** Per-model override of DEFAULT_MAX_IMAGE_PIXELS. */
  max_image_pixels?: number;
}

export interface OutputPostprocessing {
  /** Softmax over the last dim; the output stays as declared. */
  softmax?: boolean;
  /** The index of the largest value of the last dim: INT64, last dim 1. */
  argmax?: boolean;
  /** The k largest of the last dim as BYTES `"<value>:<index>:<label>"`, last dim k. */
  top_k?: number;
}

export const IMAGE_INPUT_DATATYPES: readonly Datatype[] = ['FP32', 'FP16', 'FP64', 'UINT8'];

const number255 = { type: 'number', minimum: 0, maximum: 255 } as const;

export const PREPROCESSING_SCHEMA = {
  type: 'object',
  additionalProperties: {
    type: 'object',
    additionalProperties: false,
    required: ['format'],
    properties: {
      format: { enum: ['image'] },
      color: { enum: ['RGB', 'BGR', 'GRAY'] },
      resize: {
        type: 'object',
        additionalProperties: false,
        required: ['mode'],
        properties: {
          mode: { enum: ['fixed', 'keep_aspect', 'multiple_of'] },
          width: { type: 'integer', minimum: 1 },
          height: { type: 'integer', minimum: 1 },
          multiple: { type: 'integer', minimum: 1 },
          max_side: { type: 'integer', minimum: 1 },
          pad_color: { type: 'array', minItems: 1, maxItems: 3, items: number255 },
          pad_position: { enum: ['end', 'center'] },
        },
      },
      interpolation: { enum: ['nearest', 'linear', 'cubic', 'lanczos3'] },
      scale: { type: 'number' },
      mean: { type: 'array', minItems: 1, maxItems: 3, items: { type: 'number' } },
      std: { type: 'array', minItems: 1, maxItems: 3, items: { type: 'number' } },
      layout: { enum: ['NCHW', 'NHWC'] },
      max_image_bytes: { type: 'integer', minimum: 1 },
      max_image_pixels: { type: 'integer', minimum: 1 },
    },
  },
} as const;

export const POSTPROCESSING_SCHEMA = {
  type: 'object',
  additionalProperties: {
    type: 'object',
    additionalProperties: false,
    properties: {
      softmax: { type: 'boolean' },
      argmax: { type: 'boolean' },
      top_k: { type: 'integer', minimum: 1 },
    },
  },
} as const;

export interface ProcessingProblem {
  field: string;
  message: string;
}

interface TensorLike {
  name: string;
  datatype: Datatype;
  dims: number[];
  labels?: string;
}

/** Fills the defaults of each input's image steps (the schema has passed). */
export function normalizePreprocessing(raw: Record<string, Partial<ImageInputProcessing>> | undefined): Record<string, ImageInputProcessing> | undefined {
  if (raw === undefined) return undefined;
  const out: Record<string, ImageInputProcessing> = {};
  for (const [name, p] of Object.entries(raw)) {
    out[name] = {
      format: 'image',
      color: p.color ?? 'RGB',
      resize: p.resize,
      interpolation: p.interpolation ?? 'linear',
      scale: p.scale ?? 1,
      mean: p.mean,
      std: p.std,
      layout: p.layout ?? 'NCHW',
      max_image_bytes: p.max_image_bytes,
      max_image_pixels: p.max_image_pixels,
    };
  }
  return out;
}

/** Every mistake in the two sections and in the outputs' labels files; [] when fine. */
export function checkProcessingDeclaration(
  doc: { inputs: TensorLike[]; outputs: TensorLike[]; preprocessing?: Record<string, Partial<ImageInputProcessing>>; postprocessing?: Record<string, OutputPostprocessing> },
  directory: string,
): ProcessingProblem[] {
  const problems: ProcessingProblem[] = [];
  for (const [name, p] of Object.entries(doc.preprocessing ?? {})) {
    const at = `preprocessing.${name}`;
    const input = doc.inputs.find((t) => t.name === name);
    if (!input) {
      problems.push({ field: at, message: `is not a declared input; expected one of ${doc.inputs.map((t) => t.name).join(', ')}` });
      continue;
    }
    problems.push(...checkImageInput(p, input, at));
  }
  for (const [name, p] of Object.entries(doc.postprocessing ?? {})) {
    const at = `postprocessing.${name}`;
    const output = doc.outputs.find((t) => t.name === name);
    if (!output) {
      problems.push({ field: at, message: `is not a declared output; expected one of ${doc.outputs.map((t) => t.name).join(', ')}` });
      continue;
    }
    if (p.argmax && p.top_k !== undefined) problems.push({ field: at, message: 'expected argmax or top_k, not both (each replaces the values)' });
    if ((p.softmax || p.argmax || p.top_k !== undefined) && (output.datatype === 'BYTES' || output.datatype === 'BOOL')) {
      problems.push({ field: at, message: `expected a numeric output, '${name}' is ${output.datatype}` });
    }
  }
  doc.inputs.forEach((t, i) => {
    if (t.labels !== undefined) problems.push({ field: `inputs[${i}].labels`, message: 'labels name the classes of an output: expected them on an output, not an input' });
  });
  doc.outputs.forEach((t, i) => {
    if (t.labels === undefined) return;
    const field = `outputs[${i}].labels`;
    if (path.isAbsolute(t.labels) || t.labels.split(/[\\/]/).includes('..')) {
      problems.push({ field, message: `expected a file beside the declaration (e.g. 'labels.txt'), got '${t.labels}'` });
      return;
    }
    const file = path.join(directory, t.labels);
    if (!existsSync(file) || !statSync(file).isFile()) {
      problems.push({ field, message: `expected a labels file at ${file} (one label per line)` });
      return;
    }
    const escape = symlinkEscape(file, directory);
    if (escape !== undefined) problems.push({ field, message: `'${t.labels}' resolves to ${escape}, outside the model directory (a symlink out of it)` });
  });
  return problems;
}

function checkImageInput(p: Partial<ImageInputProcessing>, input: TensorLike, at: string): ProcessingProblem[] {
  const problems: ProcessingProblem[] = [];
  const color = p.color ?? 'RGB';
  const channels = color === 'GRAY' ? 1 : 3;
  const layout = p.layout ?? 'NCHW';
  if (!IMAGE_INPUT_DATATYPES.includes(input.datatype)) {
    problems.push({ field: at, message: `expected input '${input.name}' to be one of ${IMAGE_INPUT_DATATYPES.join(', ')} (the image tensor's element type), it is ${input.datatype}` });
  }
  if (input.dims.length !== 3) {
    problems.push({ field: at, message: `expected input '${input.name}' to have 3 dims (${layout === 'NCHW' ? 'C, H, W' : 'H, W, C'}, without the batch dim), it has ${JSON.stringify(input.dims)}` });
    return problems;
  }
  const [c, h, w] = layout === 'NCHW' ? input.dims : [input.dims[2], input.dims[0], input.dims[1]];
  if (c !== -1 && c !== channels) {
    problems.push({ field: `${at}.color`, message: `${color} has ${channels} channel(s), input '${input.name}' declares ${c} in layout ${layout}` });
  }
  for (const key of ['mean', 'std'] as const) {
    const values = p[key];
    if (values && values.length !== 1 && values.length !== channels) {
      problems.push({ field: `${at}.${key}`, message: `expected 1 or ${channels} value(s) for ${color}, got ${values.length}` });
    }
  }
  if (p.std?.some((v) => v === 0)) problems.push({ field: `${at}.std`, message: 'expected non-zero values (each pixel is divided by its channel std)' });
  const r = p.resize;
  if (r === undefined) return problems;
  if (r.mode === 'multiple_of') {
    if (r.multiple === undefined) problems.push({ field: `${at}.resize.multiple`, message: 'expected this field for mode multiple_of (e.g. 32)' });
    if (h !== -1 || w !== -1) problems.push({ field: `${at}.resize`, message: `mode multiple_of gives each image its own size: expected input '${input.name}' to declare H and W as -1, it declares ${h}×${w}` });
    for (const key of ['width', 'height', 'pad_color', 'pad_position'] as const) {
      if (r[key] !== undefined) problems.push({ field: `${at}.resize.${key}`, message: 'is not used by mode multiple_of (it takes multiple and max_side)' });
    }
    return problems;
  }
  for (const key of ['width', 'height'] as const) {
    if (r[key] === undefined) problems.push({ field: `${at}.resize.${key}`, message: `expected this field for mode ${r.mode}` });
  }
  for (const key of ['multiple', 'max_side'] as const) {
    if (r[key] !== undefined) problems.push({ field: `${at}.resize.${key}`, message: `is not used by mode ${r.mode} (only by multiple_of)` });
  }
  if (r.mode === 'fixed') {
    for (const key of ['pad_color', 'pad_position'] as const) {
      if (r[key] !== undefined) problems.push({ field: `${at}.resize.${key}`, message: 'is not used by mode fixed (only by keep_aspect)' });
    }
  }
  if (r.pad_color && r.pad_color.length !== 1 && r.pad_color.length !== channels) {
    problems.push({ field: `${at}.resize.pad_color`, message: `expected 1 or ${channels} value(s) for ${color}, got ${r.pad_color.length}` });
  }
  if (r.width !== undefined && w !== -1 && w !== r.width) problems.push({ field: `${at}.resize.width`, message: `expected ${w}, the width input '${input.name}' declares, got ${r.width}` });
  if (r.height !== undefined && h !== -1 && h !== r.height) problems.push({ field: `${at}.resize.height`, message: `expected ${h}, the height input '${input.name}' declares, got ${r.height}` });
  return problems;
}
