/**
 * Runs one request through a declared pipeline (core/pipeline-declaration.ts). A model step is an
 * infer call like any other, handed to the serving target below (a node's own models, or the
 * router of a gateway), so each step goes to its own model's pool: detection and recognition may
 * run on different nodes and card types. Every step carries the request's deadline and
 * cancellation; once the request is called off no further step starts. A step's rows go in one
 * request, split only where the model's max_batch_size is smaller (the parts run concurrently).
 */
import { allocate, elementCount, type TensorData } from '../core/datatypes.js';
import { InferError, fromHttpStatus } from '../core/errors.js';
import { encodeInferRequest, parseBinaryInferResponse } from '../core/infer-binary.js';
import type { InferCall, WireAnswer } from '../core/infer-call.js';
import type { ModelMetadata } from '../core/model-metadata.js';
import { DeclarationInvalid, type DeclarationError } from '../core/model-repository.js';
import type { ModelStep, PipelineDeclaration } from '../core/pipeline-declaration.js';
import type { InferRequest, Tensor } from '../core/tensor.js';
import { PROCESSING_STEPS, type ProcessingStepRunner, type StepTensors } from '../processing/pipeline-steps.js';

/** How a model step reaches its model: the same call any front door makes below the service. */
export interface StepTarget {
  infer(call: InferCall): Promise<WireAnswer>;
  metadata(model: string, version?: string): ModelMetadata;
}

/** Request parameter asking for each step's time in the answer (`pipeline_timings`, a JSON text). */
export const TIMINGS_PARAMETER = 'pipeline_timings';

export interface StepTiming {
  /** `model:<name>` or `process:<name>`. */
  step: string;
  ms: number;
}

type BuiltStep =
  | { kind: 'model'; label: string; decl: ModelStep }
  | { kind: 'process'; label: string; inputs: Record<string, string>; outputs: Record<string, string>; runner: ProcessingStepRunner };

export class PipelineExecutor {
  readonly #steps: BuiltStep[];

  /** Checks every processing step's name, tensors and parameters; throws DeclarationInvalid naming each problem. */
  constructor(readonly declaration: PipelineDeclaration) {
    const errors: DeclarationError[] = [];
    const file = declaration.file;
    this.#steps = declaration.steps.map((step, i): BuiltStep => {
      if (step.kind === 'model') return { kind: 'model', label: `model:${step.model}`, decl: step };
      const field = `pipeline.steps[${i}]`;
      const kind = PROCESSING_STEPS.get(step.process);
      const unbuilt: BuiltStep = { kind: 'process', label: `process:${step.process}`, inputs: {}, outputs: {}, runner: { run: async () => ({}) } };
      if (!kind) {
        errors.push({ file, field: `${field}.process`, message: `unknown processing step '${step.process}'; known: ${[...PROCESSING_STEPS.keys()].join(', ')}` });
        return unbuilt;
      }
      for (const name of kind.inputs) {
        if (!(name in step.inputs)) errors.push({ file, field: `${field}.inputs.${name}`, message: `expected this field: step '${step.process}' reads '${name}'` });
      }
      for (const name of Object.keys(step.inputs)) {
        if (!kind.inputs.includes(name)) errors.push({ file, field: `${field}.inputs.${name}`, message: `step '${step.process}' has no input '${name}'; its inputs: ${kind.inputs.join(', ')}` });
      }
      for (const name of Object.keys(step.outputs)) {
        if (!kind.outputs.includes(name)) errors.push({ file, field: `${field}.outputs.${name}`, message: `step '${step.process}' has no output '${name}'; its outputs: ${kind.outputs.join(', ')}` });
      }
      try {
        return { ...unbuilt, inputs: step.inputs, outputs: step.outputs, runner: kind.configure(step.parameters, declaration.directory) };
      } catch (err) {
        errors.push({ file, field: `${field}.parameters`, message: (err as Error).message });
        return unbuilt;
      }
    });
    if (errors.length) throw new DeclarationInvalid(errors);
  }

  /** The models the pipeline calls, with the version each step names. */
  models(): Array<{ model: string; version?: string }> {
    return this.#steps.flatMap((s) => (s.kind === 'model' ? [{ model: s.decl.model, version: s.decl.version }] : []));
  }

  /**
   * Runs `request` (already validated against the pipeline's metadata). `call` is the pipeline's
   * own call: its id, deadline and cancellation go to every step.
   */
  async run(request: InferRequest, call: InferCall, target: StepTarget): Promise<{ outputs: Tensor[]; timings: StepTiming[] }> {
    const tensors = new Map<string, Tensor>(request.inputs.map((t) => [t.name, t]));
    const timings: StepTiming[] = [];
    for (let i = 0; i < this.#steps.length; i++) {
      const reason = call.cancellation.reason;
      if (reason) throw reason;
      const step = this.#steps[i];
      const startedAt = performance.now();
      const produced = step.kind === 'model'
        ? await this.#runModel(step.decl, i, tensors, call, target)
        : await this.#runProcess(step, i, tensors);
      timings.push({ step: step.label, ms: performance.now() - startedAt });
      for (const [name, t] of produced) tensors.set(name, t);
    }
    const outputs = this.declaration.outputs.map((o) => {
      const t = tensors.get(o.name)!;
      if (t.datatype !== o.datatype) throw new InferError('INTERNAL', `pipeline '${this.declaration.name}': output '${o.name}' came out ${t.datatype}, declared ${o.datatype}`, 'pipeline_output');
      return { ...t, name: o.name };
    });
    return { outputs, timings };
  }

  async #runProcess(step: Extract<BuiltStep, { kind: 'process' }>, index: number, tensors: Map<string, Tensor>): Promise<Map<string, Tensor>> {
    const inputs: StepTensors = {};
    for (const [name, tensor] of Object.entries(step.inputs)) inputs[name] = tensors.get(tensor)!;
    let out: StepTensors;
    try {
      out = await step.runner.run(inputs);
    } catch (err) {
      if (err instanceof InferError) throw err;
      throw new InferError('INTERNAL', `pipeline '${this.declaration.name}' step ${index} (${step.label}): ${(err as Error).message}`, 'pipeline_step');
    }
    return new Map(Object.entries(step.outputs).map(([name, tensor]) => [tensor, { ...out[name], name: tensor }]));
  }

  async #runModel(step: ModelStep, index: number, tensors: Map<string, Tensor>, call: InferCall, target: StepTarget): Promise<Map<string, Tensor>> {
    const where = `pipeline '${this.declaration.name}' step ${index} (model '${step.model}')`;
    const meta = target.metadata(step.model, step.version);
    const inputs = Object.entries(step.inputs).map(([name, tensor]): Tensor => ({ ...tensors.get(tensor)!, name }));
    const wanted = Object.keys(step.outputs);
    const batching = meta.maxBatchSize > 0;
    const rows = batching ? inputs[0]?.shape[0] ?? 0 : 1;
    let outputs: Tensor[];
    if (batching && rows === 0) {
      // Nothing to run (an image without text): the model's outputs with zero rows.
      outputs = wanted.map((name) => {
        const spec = meta.outputs.find((o) => o.name === name);
        if (!spec) throw new InferError('INVALID_ARG', `${where}: the model has no output '${name}'`, 'pipeline_step');
        const shape = spec.shape.map((d, i) => (i === 0 || d < 0 ? 0 : d));
        return { name, datatype: spec.datatype, shape, data: allocate(spec.datatype, 0) };
      });
    } else if (batching && rows > meta.maxBatchSize) {
      const parts: Promise<Tensor[]>[] = [];
      for (let from = 0; from < rows; from += meta.maxBatchSize) {
        const to = Math.min(rows, from + meta.maxBatchSize);
        parts.push(this.#callModel(step, `${call.requestId}.${index}.${parts.length}`, inputs.map((t) => sliceRows(t, from, to)), wanted, call, target, where));
      }
      outputs = concatRows(await Promise.all(parts));
    } else {
      outputs = await this.#callModel(step, `${call.requestId}.${index}`, inputs, wanted, call, target, where);
    }
    const byName = new Map(outputs.map((t) => [t.name, t]));
    return new Map(Object.entries(step.outputs).map(([name, tensor]) => {
      const t = byName.get(name);
      if (!t) throw new InferError('INTERNAL', `${where}: the answer has no output '${name}'`, 'pipeline_step');
      return [tensor, { ...t, name: tensor }];
    }));
  }

  async #callModel(step: ModelStep, requestId: string, inputs: Tensor[], wanted: string[], call: InferCall, target: StepTarget, where: string): Promise<Tensor[]> {
    const request: InferRequest = { modelName: step.model, modelVersion: step.version, inputs, outputs: wanted.map((name) => ({ name })) };
    const encoded = encodeInferRequest(request, { binaryOutputs: true });
    let answer: WireAnswer;
    try {
      answer = await target.infer({
        model: step.model,
        version: step.version,
        requestId,
        deadlineMs: call.deadlineMs,
        cancellation: call.cancellation,
        payload: { format: 'kserve-http', body: encoded.body, headerLength: String(encoded.headerLength), contentType: encoded.contentType },
      });
    } catch (err) {
      // The request's own end (its deadline, or its client gone) is answered as such, whichever
      // layer noticed first; a step's own failure says which step.
      if (call.cancellation.reason) throw call.cancellation.reason;
      if (!(err instanceof InferError) || err.code === 'DEADLINE_EXCEEDED' || err.code === 'CANCELLED') throw err;
      throw new InferError(err.code, `${where}: ${err.message}`, err.reason);
    }
    const body = Buffer.from(answer.body.buffer, answer.body.byteOffset, answer.body.byteLength);
    if (answer.status >= 400) {
      let message = body.toString('utf8');
      try {
        message = String((JSON.parse(message) as { error?: unknown }).error ?? message);
      } catch { /* not JSON: the text as it came */ }
      throw new InferError(fromHttpStatus(answer.status), `${where}: ${message}`, 'pipeline_step');
    }
    return parseBinaryInferResponse(body, answer.headerLength === undefined ? undefined : Number(answer.headerLength)).outputs;
  }
}

function sliceRows(t: Tensor, from: number, to: number): Tensor {
  const perRow = elementCount(t.shape.slice(1));
  const data = (t.data as { slice(a: number, b: number): TensorData }).slice(from * perRow, to * perRow);
  return { ...t, shape: [to - from, ...t.shape.slice(1)], data };
}

/** Joins the outputs of a split step back, part by part along the batch dim. */
function concatRows(parts: Tensor[][]): Tensor[] {
  return parts[0].map((first, k) => {
    const pieces = parts.map((p) => p[k]);
    const rows = pieces.reduce((n, t) => n + t.shape[0], 0);
    let data: TensorData;
    if (first.datatype === 'BYTES') data = pieces.flatMap((t) => t.data as Uint8Array[]);
    else {
      const total = pieces.reduce((n, t) => n + t.data.length, 0);
      const out = allocate(first.datatype, total) as Float32Array;
      let at = 0;
      for (const t of pieces) {
        out.set(t.data as Float32Array, at);
        at += t.data.length;
      }
      data = out;
    }
    return { ...first, shape: [rows, ...first.shape.slice(1)], data };
  });
}
