/**
 * The processing steps a pipeline declaration may name (`process: <name>`), each with the tensors
 * it reads and writes and its parameters. Parameters are checked once, when the pipeline is built,
 * so a typo fails the boot with the file and field, never a request. A step gets and returns
 * plain tensors; between steps an image travels as UINT8 [height, width, 3] (RGB).
 */
import path from 'node:path';
import { existsSync } from 'node:fs';
import { invalidArg } from '../core/errors.js';
import { symlinkEscape } from '../core/declared-path.js';
import { packageRoot } from '../core/package-root.js';
import type { Tensor } from '../core/tensor.js';
import { ctcGreedyDecode, loadCtcDictionary } from './ctc-decode.js';
import { DEFAULT_DETECTION_IMAGE_OPTIONS, detectionImage } from './detection-image.js';
import { DEFAULT_TEXT_BOX_OPTIONS, boxCorners, findTextBoxes, type TextBox } from './text-boxes.js';
import { classifierInput, cropTextLines, recognizerInput, type TextCrops } from './text-crops.js';

export type StepTensors = Record<string, Tensor>;

export interface ProcessingStepRunner {
  run(inputs: StepTensors): Promise<StepTensors>;
}

export interface ProcessingStepKind {
  /** Tensor names the step reads, and writes; a declaration maps each to a pipeline tensor. */
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  /** Checks the parameters (throws naming the bad one) and returns the configured step. */
  configure(parameters: Record<string, unknown>, directory: string): ProcessingStepRunner;
}

/** Reads declared parameters: each once, with its bounds; leftovers are an error. */
class ParameterReader {
  readonly #left: Set<string>;
  constructor(private readonly params: Record<string, unknown>) {
    this.#left = new Set(Object.keys(params));
  }

  number(name: string, fallback: number, min: number, max: number, integer = false): number {
    this.#left.delete(name);
    const v = this.params[name] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
      throw new Error(`parameter '${name}': expected ${integer ? 'an integer' : 'a number'} in [${min}, ${max}], got ${JSON.stringify(v)}`);
    }
    return v;
  }

  triple(name: string, fallback: readonly [number, number, number]): [number, number, number] {
    this.#left.delete(name);
    const v = this.params[name] ?? fallback;
    if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      throw new Error(`parameter '${name}': expected three numbers (R, G, B), got ${JSON.stringify(v)}`);
    }
    return v as [number, number, number];
  }

  boolean(name: string, fallback: boolean): boolean {
    this.#left.delete(name);
    const v = this.params[name] ?? fallback;
    if (typeof v !== 'boolean') throw new Error(`parameter '${name}': expected true or false, got ${JSON.stringify(v)}`);
    return v;
  }

  string(name: string): string {
    this.#left.delete(name);
    const v = this.params[name];
    if (typeof v !== 'string' || v === '') throw new Error(`parameter '${name}': expected a non-empty string, got ${JSON.stringify(v)}`);
    return v;
  }

  done(known: string[]): void {
    if (this.#left.size) throw new Error(`unknown parameter(s) ${[...this.#left].join(', ')}; expected among ${known.join(', ')}`);
  }
}

const imageTensor = (name: string, img: { width: number; height: number; data: Uint8Array }): Tensor =>
  ({ name, datatype: 'UINT8', shape: [img.height, img.width, 3], data: img.data });
const imageOf = (t: Tensor) => ({ height: t.shape[0], width: t.shape[1], data: t.data as Uint8Array });

function boxesOf(t: Tensor): TextBox[] {
  const d = t.data as Float32Array;
  const boxes: TextBox[] = [];
  for (let i = 0; i < t.shape[0]; i++) boxes.push({ x0: d[i * 8], y0: d[i * 8 + 1], x1: d[i * 8 + 4], y1: d[i * 8 + 5], score: 1 });
  return boxes;
}

function cropsOf(crops: Tensor, widths: Tensor): TextCrops {
  return { count: crops.shape[0], height: crops.shape[1], stride: crops.shape[2], widths: widths.data as Int32Array, pixels: crops.data as Uint8Array };
}

/** A file named by a parameter: relative to the model directory, or `package:<npm package>/<path>`. */
function resolveFile(spec: string, directory: string): string {
  let file: string;
  if (spec.startsWith('package:')) {
    const rest = spec.slice('package:'.length);
    if (rest.split('/').includes('..')) throw new Error(`expected 'package:<name>/<path>' without '..', got '${spec}'`);
    const candidates = [];
    for (let dir = directory; ; dir = path.dirname(dir)) {
      candidates.push(path.join(dir, 'node_modules', rest));
      if (path.dirname(dir) === dir) break;
    }
    candidates.push(path.join(packageRoot(), 'node_modules', rest));
    file = candidates.find((c) => existsSync(c)) ?? candidates[candidates.length - 1];
  } else {
    if (path.isAbsolute(spec) || spec.split(/[\\/]/).includes('..')) throw new Error(`expected a path inside the model directory, got '${spec}'`);
    file = path.join(directory, spec);
    if (existsSync(file)) {
      const escape = symlinkEscape(file, directory);
      if (escape !== undefined) throw new Error(`'${spec}' resolves to ${escape}, outside the model directory (a symlink out of it)`);
    }
  }
  if (!existsSync(file)) throw new Error(`expected a file at ${file}`);
  return file;
}

const detectionImageStep: ProcessingStepKind = {
  inputs: ['image'],
  outputs: ['input', 'image'],
  configure(parameters) {
    const p = new ParameterReader(parameters);
    const d = DEFAULT_DETECTION_IMAGE_OPTIONS;
    const options = {
      maxSide: p.number('max_side', d.maxSide, 32, 8192, true),
      multipleOf: p.number('multiple_of', d.multipleOf, 1, 1024, true),
      mean: p.triple('mean', d.mean),
      std: p.triple('std', d.std),
      maxPixels: p.number('max_pixels', d.maxPixels, 1, 1e9, true),
    };
    p.done(['max_side', 'multiple_of', 'mean', 'std', 'max_pixels']);
    return {
      async run({ image }) {
        if (image.datatype !== 'BYTES' || image.data.length !== 1) throw invalidArg(`input '${image.name}': expected one BYTES element holding a PNG, JPEG or WebP file`, 'bad_image');
        const det = await detectionImage((image.data as Uint8Array[])[0], `input '${image.name}'`, options);
        return {
          input: { name: 'input', datatype: 'FP32', shape: [1, 3, det.height, det.width], data: det.input },
          image: imageTensor('image', det.image),
        };
      },
    };
  },
};

const textBoxesStep: ProcessingStepKind = {
  inputs: ['map', 'image'],
  outputs: ['boxes'],
  configure(parameters) {
    const p = new ParameterReader(parameters);
    const d = DEFAULT_TEXT_BOX_OPTIONS;
    const options = {
      threshold: p.number('threshold', d.threshold, 0, 1),
      boxThreshold: p.number('box_threshold', d.boxThreshold, 0, 1),
      padRatio: p.number('pad_ratio', d.padRatio, 0, 10),
      minSize: p.number('min_size', d.minSize, 1, 1000, true),
      maxBoxes: p.number('max_boxes', d.maxBoxes, 1, 10_000, true),
    };
    p.done(['threshold', 'box_threshold', 'pad_ratio', 'min_size', 'max_boxes']);
    return {
      async run({ map, image }) {
        const [mh, mw] = map.shape.slice(-2);
        const img = imageOf(image);
        const boxes = findTextBoxes(map.data as Float32Array, mw, mh, img.width, img.height, options);
        return { boxes: { name: 'boxes', datatype: 'FP32', shape: [boxes.length, 4, 2], data: Float32Array.from(boxes.flatMap(boxCorners)) } };
      },
    };
  },
};

const textCropsStep: ProcessingStepKind = {
  inputs: ['image', 'boxes'],
  outputs: ['crops', 'widths', 'classifier_input'],
  configure(parameters) {
    const p = new ParameterReader(parameters);
    const height = p.number('height', 48, 8, 512, true);
    const maxWidth = p.number('max_width', 1280, 8, 8192, true);
    const classifierWidth = p.number('classifier_width', 192, 8, 4096, true);
    p.done(['height', 'max_width', 'classifier_width']);
    return {
      async run({ image, boxes }) {
        const crops = cropTextLines(imageOf(image), boxesOf(boxes), height, maxWidth);
        return {
          crops: { name: 'crops', datatype: 'UINT8', shape: [crops.count, height, crops.stride, 3], data: crops.pixels },
          widths: { name: 'widths', datatype: 'INT32', shape: [crops.count], data: crops.widths },
          classifier_input: { name: 'classifier_input', datatype: 'FP32', shape: [crops.count, 3, height, classifierWidth], data: classifierInput(crops, classifierWidth) },
        };
      },
    };
  },
};

const orientTextLinesStep: ProcessingStepKind = {
  inputs: ['crops', 'widths', 'orientation'],
  outputs: ['recognizer_input', 'rotated'],
  configure(parameters) {
    const p = new ParameterReader(parameters);
    const threshold = p.number('threshold', 0.9, 0, 1);
    const widthMultiple = p.number('width_multiple', 8, 1, 256, true);
    p.done(['threshold', 'width_multiple']);
    return {
      async run({ crops, widths, orientation }) {
        const c = cropsOf(crops, widths);
        const probs = orientation.data as Float32Array;
        // Class 1 is 180°: turn the crop only when the classifier is sure (PaddleOCR's cls_thresh).
        const rotate = Array.from({ length: c.count }, (_, i) => probs[i * 2 + 1] > threshold);
        const rec = recognizerInput(c, rotate, widthMultiple);
        return {
          recognizer_input: { name: 'recognizer_input', datatype: 'FP32', shape: [c.count, 3, c.height, rec.width], data: rec.data },
          rotated: { name: 'rotated', datatype: 'BOOL', shape: [c.count], data: Uint8Array.from(rotate, Number) },
        };
      },
    };
  },
};

const ctcGreedyDecodeStep: ProcessingStepKind = {
  inputs: ['probabilities'],
  outputs: ['text', 'confidence'],
  configure(parameters, directory) {
    const p = new ParameterReader(parameters);
    const file = resolveFile(p.string('dictionary'), directory);
    const withSpace = p.boolean('space_class', true);
    p.done(['dictionary', 'space_class']);
    const dictionary = loadCtcDictionary(file, withSpace);
    return {
      async run({ probabilities }) {
        const [rows, steps, classes] = probabilities.shape;
        const lines = rows === 0 ? [] : ctcGreedyDecode(probabilities.data as Float32Array, rows, steps, classes, dictionary);
        return {
          text: { name: 'text', datatype: 'BYTES', shape: [lines.length], data: lines.map((l) => Buffer.from(l.text, 'utf8')) },
          confidence: { name: 'confidence', datatype: 'FP32', shape: [lines.length], data: Float32Array.from(lines, (l) => l.confidence) },
        };
      },
    };
  },
};

export const PROCESSING_STEPS: ReadonlyMap<string, ProcessingStepKind> = new Map([
  ['detection_image', detectionImageStep],
  ['text_boxes', textBoxesStep],
  ['text_crops', textCropsStep],
  ['orient_text_lines', orientTextLinesStep],
  ['ctc_greedy_decode', ctcGreedyDecodeStep],
]);
