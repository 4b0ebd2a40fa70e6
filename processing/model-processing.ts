/**
 * A model's declared pre- and post-processing, built once when the model loads and applied to every
 * request where it enters the model (service/node-target.ts), embedded or on a backend node alike.
 *
 *   buildModelProcessing(declaration: ModelDeclaration, metadata: ModelMetadata): ModelProcessing
 *   processing.metadata                       // what clients see and requests are validated against
 *   processing.prepare(request)               // image inputs → the declared tensors (async: sharp)
 *   processing.finish(response, request)      // softmax / argmax / top_k, then `classification: k`
 *
 * An input declared with `preprocessing:` takes one encoded image (JPEG/PNG/WebP) per batch row as a
 * BYTES element (shape [1], or [N,1] for a batching model); the model itself still gets the tensor
 * it declares. An output with `postprocessing:` answers in its new type and shape. Every model
 * honours Triton's classification extension on its numeric outputs, with labels where declared.
 */
import path from 'node:path';
import type { NumericArray } from '../core/datatypes.js';
import { invalidArg } from '../core/errors.js';
import type { ModelDeclaration, TensorDeclaration } from '../core/model-declaration.js';
import type { ModelMetadata, TensorMetadata } from '../core/model-metadata.js';
import type { ImageInputProcessing, OutputPostprocessing } from '../core/processing-declaration.js';
import type { InferRequest, InferResponse, Tensor } from '../core/tensor.js';
import { argmax } from './argmax.js';
import { classificationCount, classify, formatClassValue } from './classification.js';
import { DEFAULT_MAX_IMAGE_BYTES, DEFAULT_MAX_IMAGE_PIXELS, decodeImage, imageBytesOf } from './image-decode.js';
import { resizeImage, type ResizeSpec } from './image-resize.js';
import { imageTensorShape, imageToTensor, stackImageTensors, type ImageTensorDatatype } from './image-tensor.js';
import { readLabelsFile } from './labels.js';
import { softmax } from './softmax.js';
import { readAsNumbers } from './tensor-values.js';
import { topK } from './top-k.js';

export interface ModelProcessing {
  /** The model as its clients see it: image inputs as BYTES, post-processed outputs in their new form. */
  readonly metadata: ModelMetadata;
  /** Synchronous (the request itself) when no input is an image. */
  prepare(request: InferRequest): InferRequest | Promise<InferRequest>;
  finish(response: InferResponse, request: InferRequest): InferResponse;
}

/** Reads the labels files (a missing one fails the load) and fixes the steps of each tensor. */
export function buildModelProcessing(declaration: ModelDeclaration, metadata: ModelMetadata): ModelProcessing {
  const labels = new Map<string, string[]>();
  for (const t of declaration.outputs) {
    if (t.labels !== undefined) labels.set(t.name, readLabelsFile(path.join(declaration.directory, t.labels)));
  }
  const images = new Map(Object.entries(declaration.preprocessing ?? {}));
  const post = new Map(Object.entries(declaration.postprocessing ?? {}));
  return new DeclaredProcessing(declaration, metadata, images, post, labels);
}

class DeclaredProcessing implements ModelProcessing {
  readonly metadata: ModelMetadata;
  readonly #batching: boolean;
  readonly #declared: Map<string, TensorDeclaration>;

  constructor(
    declaration: ModelDeclaration,
    engineMetadata: ModelMetadata,
    private readonly images: Map<string, ImageInputProcessing>,
    private readonly post: Map<string, OutputPostprocessing>,
    private readonly labels: Map<string, string[]>,
  ) {
    this.#batching = declaration.max_batch_size > 0;
    this.#declared = new Map(declaration.inputs.map((t) => [t.name, t]));
    this.metadata = {
      ...engineMetadata,
      inputs: engineMetadata.inputs.map((t) => (images.has(t.name) ? { name: t.name, datatype: 'BYTES', shape: this.#batching ? [-1, 1] : [1] } : t)),
      outputs: engineMetadata.outputs.map((t) => publicOutput(t, post.get(t.name))),
    };
  }

  prepare(request: InferRequest): InferRequest | Promise<InferRequest> {
    if (this.images.size === 0) return request;
    return Promise.all(request.inputs.map((t) => {
      const spec = this.images.get(t.name);
      return spec ? this.#imageTensor(t, spec) : t;
    })).then((inputs) => ({ ...request, inputs }));
  }

  /** Each BYTES element decoded, resized and laid out; the rows of a batch must come out one size. */
  async #imageTensor(input: Tensor, spec: ImageInputProcessing): Promise<Tensor> {
    const declared = this.#declared.get(input.name)!;
    const elements = input.data as Uint8Array[];
    const rows = await Promise.all(elements.map(async (element, i) => {
      const where = elements.length > 1 ? `input '${input.name}' element ${i}` : `input '${input.name}'`;
      const decoded = await decodeImage(imageBytesOf(element), {
        channels: spec.color === 'GRAY' ? 1 : 3,
        maxBytes: spec.max_image_bytes ?? DEFAULT_MAX_IMAGE_BYTES,
        maxPixels: spec.max_image_pixels ?? DEFAULT_MAX_IMAGE_PIXELS,
        where,
      });
      const { image } = spec.resize ? await resizeImage(decoded, toResizeSpec(spec), spec.interpolation) : { image: decoded };
      const shape = imageTensorShape(image, { colorOrder: spec.color, layout: spec.layout });
      const mismatch = shape.findIndex((d, k) => declared.dims[k] !== -1 && declared.dims[k] !== d);
      if (mismatch !== -1) {
        throw invalidArg(`${where}: the image is ${decoded.width}×${decoded.height}${spec.resize ? `, ${image.width}×${image.height} once resized,` : ''} but the model takes ${describeSize(declared.dims, spec)}${spec.resize ? '' : ' (the model declares no resize: send images of that size)'}`, 'image_size');
      }
      const data = imageToTensor(image, { colorOrder: spec.color, layout: spec.layout, datatype: declared.datatype as ImageTensorDatatype, scale: spec.scale, mean: spec.mean, std: spec.std });
      return { shape, data };
    }));
    const shape = rows[0]?.shape ?? imageTensorShape({ width: 0, height: 0 }, { colorOrder: spec.color, layout: spec.layout });
    rows.forEach((r, i) => {
      if (r.shape.some((d, k) => d !== shape[k])) {
        throw invalidArg(`input '${input.name}': the images of one request must come out one size; element 0 gives [${shape.join(',')}], element ${i} gives [${r.shape.join(',')}]: send them in separate requests`, 'image_size');
      }
    });
    const data = rows.length === 0 ? new Float32Array(0) : stackImageTensors(rows.map((r) => r.data));
    return { name: input.name, datatype: declared.datatype, shape: this.#batching ? [rows.length, ...shape] : shape, data };
  }

  finish(response: InferResponse, request: InferRequest): InferResponse {
    const counts = new Map<string, number>();
    for (const out of request.outputs ?? []) {
      const k = classificationCount(out.name, out.parameters);
      if (k !== undefined) counts.set(out.name, k);
    }
    if (this.post.size === 0 && counts.size === 0) return response;
    const outputs = response.outputs.map((t) => {
      const steps = this.post.get(t.name);
      const processed = steps ? this.#postprocess(t, steps) : t;
      const k = counts.get(t.name);
      return k === undefined ? processed : classify(processed, k, { batching: this.#batching, labels: this.labels.get(t.name) });
    });
    return { ...response, outputs };
  }

  #postprocess(tensor: Tensor, steps: OutputPostprocessing): Tensor {
    const rowLength = tensor.shape[tensor.shape.length - 1];
    if (rowLength === undefined || rowLength === 0) return tensor;
    let values: NumericArray = tensor.data as NumericArray;
    let datatype = tensor.datatype;
    if (steps.softmax) {
      values = softmax(readAsNumbers(datatype, tensor.data), rowLength);
      datatype = 'FP32';
    }
    const lead = tensor.shape.slice(0, -1);
    if (steps.argmax) {
      return { name: tensor.name, datatype: 'INT64', shape: [...lead, 1], data: argmax(readAsNumbers(datatype, values), rowLength) };
    }
    if (steps.top_k !== undefined) {
      const labels = this.labels.get(tensor.name);
      const encoder = new TextEncoder();
      const top = topK(readAsNumbers(datatype, values), rowLength, steps.top_k);
      const data = top.flatMap((entries) => entries.map(({ index, value }) => {
        const label = labels?.[index];
        const text = `${formatClassValue(value, datatype)}:${index}`;
        return encoder.encode(label === undefined ? text : `${text}:${label}`);
      }));
      return { name: tensor.name, datatype: 'BYTES', shape: [...lead, top[0]?.length ?? 0], data };
    }
    return { ...tensor, datatype, data: values };
  }
}

/** The output as answered after its declared steps. */
function publicOutput(t: TensorMetadata, steps: OutputPostprocessing | undefined): TensorMetadata {
  if (!steps) return t;
  const lead = t.shape.slice(0, -1);
  const last = t.shape[t.shape.length - 1];
  if (steps.argmax) return { name: t.name, datatype: 'INT64', shape: [...lead, 1] };
  if (steps.top_k !== undefined) return { name: t.name, datatype: 'BYTES', shape: [...lead, last === -1 ? -1 : Math.min(last, steps.top_k)] };
  return steps.softmax ? { ...t, datatype: 'FP32' } : t;
}

function toResizeSpec(spec: ImageInputProcessing): ResizeSpec {
  const r = spec.resize!;
  if (r.mode === 'multiple_of') return { mode: 'multiple_of', multiple: r.multiple!, maxSide: r.max_side };
  if (r.mode === 'fixed') return { mode: 'fixed', width: r.width!, height: r.height! };
  return { mode: 'keep_aspect', width: r.width!, height: r.height!, padColor: r.pad_color, padPosition: r.pad_position };
}

function describeSize(dims: readonly number[], spec: ImageInputProcessing): string {
  const [h, w] = spec.layout === 'NCHW' ? [dims[1], dims[2]] : [dims[0], dims[1]];
  const side = (d: number) => (d === -1 ? 'any' : String(d));
  return `${side(w)}×${side(h)}`;
}
