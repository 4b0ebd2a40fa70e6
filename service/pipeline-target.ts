/**
 * Serving pipelines on top of any serving target (a node's own models, or pools of nodes): a
 * pipeline shows in the index, metadata, config and statistics like a model, and its requests are
 * decoded here, run step by step by its PipelineExecutor (each model step an infer call to the
 * target below), and encoded back in the wire form they came in. Every other call passes through.
 */
import { InferError, notFound } from '../core/errors.js';
import type { InferCall, WireAnswer } from '../core/infer-call.js';
import type { InferLimits } from '../core/infer-json.js';
import type { ModelIndexEntry, ModelMetadata } from '../core/model-metadata.js';
import { DeclarationInvalid, type DeclarationError } from '../core/model-repository.js';
import { byModelAndVersion, type ModelStatistics } from '../core/model-statistics.js';
import { pipelineMetadata, type PipelineDeclaration } from '../core/pipeline-declaration.js';
import type { TensorDeclaration } from '../core/model-declaration.js';
import { timeoutParameterPassed, timeoutParameterUs } from '../core/request-parameters.js';
import { DeadlineTimer } from './deadline-timer.js';
import { ForwardedStatistics } from './forwarded-statistics.js';
import { WIRE_CODECS } from './node-target.js';
import { PipelineExecutor, TIMINGS_PARAMETER } from './pipeline-executor.js';
import type { ServingTarget } from './serving-target.js';

/** A pipeline serves one version: its steps name the versions of the models they call. */
export const PIPELINE_VERSION = '1';

/** Fires the pipelines' `timeout` parameters, one timer for all. */
const timeoutParameters = new DeadlineTimer();

interface ServedPipeline {
  executor: PipelineExecutor;
  metadata: ModelMetadata;
}

/** Builds the executors; a pipeline with a bad step is left out and its problems returned. */
export function buildPipelines(declarations: readonly PipelineDeclaration[]): { executors: PipelineExecutor[]; errors: DeclarationError[] } {
  const executors: PipelineExecutor[] = [];
  const errors: DeclarationError[] = [];
  for (const d of declarations) {
    try {
      executors.push(new PipelineExecutor(d));
    } catch (err) {
      if (err instanceof DeclarationInvalid) errors.push(...err.errors);
      else errors.push({ file: d.file, field: '', message: (err as Error).message });
    }
  }
  return { executors, errors };
}

export class PipelineTarget implements ServingTarget {
  readonly #pipelines = new Map<string, ServedPipeline>();
  readonly #statistics = new ForwardedStatistics();

  constructor(private readonly inner: ServingTarget, executors: readonly PipelineExecutor[], private readonly limits: InferLimits) {
    for (const executor of executors) {
      const name = executor.declaration.name;
      this.#pipelines.set(name, { executor, metadata: pipelineMetadata(executor.declaration) });
    }
  }

  #pipeline(model: string, version?: string): ServedPipeline | undefined {
    const served = this.#pipelines.get(model);
    if (served && version && version !== PIPELINE_VERSION) {
      throw notFound(`model '${model}' has no version ${version} (a pipeline serves version ${PIPELINE_VERSION})`, 'version_not_found');
    }
    return served;
  }

  metadata(model: string, version?: string): ModelMetadata {
    return this.#pipeline(model, version)?.metadata ?? this.inner.metadata(model, version);
  }

  /** Ready when every model it calls is ready (wherever that is). */
  modelReady(model: string, version?: string): boolean {
    const served = this.#pipeline(model, version);
    if (!served) return this.inner.modelReady(model, version);
    return this.#unready(served) === undefined;
  }

  /** Why the pipeline cannot serve now; undefined when it can. */
  #unready(served: ServedPipeline): string | undefined {
    for (const { model, version } of served.executor.models()) {
      try {
        if (!this.inner.modelReady(model, version)) return `step model '${model}' is not ready`;
      } catch (err) {
        return `step model '${model}': ${(err as Error).message}`;
      }
    }
    return undefined;
  }

  /**
   * The models' readiness only: a pipeline serves nothing of its own, and one whose models are not
   * loaded here (explicit model control) must not hold the whole server back; it says so itself.
   */
  ready(): boolean {
    return this.inner.ready();
  }

  /** Triton's ensemble config shape; processing steps appear beside model steps with their parameters. */
  async config(model: string, version?: string): Promise<unknown> {
    const served = this.#pipeline(model, version);
    if (!served) return this.inner.config(model, version);
    const d = served.executor.declaration;
    const tensor = (t: TensorDeclaration) => ({ name: t.name, data_type: `TYPE_${t.datatype === 'BYTES' ? 'STRING' : t.datatype}`, dims: t.dims });
    return {
      name: d.name,
      platform: 'ensemble',
      max_batch_size: 0,
      input: d.inputs.map(tensor),
      output: d.outputs.map(tensor),
      ensemble_scheduling: {
        step: d.steps.map((s) => (s.kind === 'model'
          ? { model_name: s.model, model_version: s.version === undefined ? -1 : Number(s.version), input_map: s.inputs, output_map: s.outputs }
          : { infergate_process: s.process, parameters: s.parameters, input_map: s.inputs, output_map: s.outputs })),
      },
    };
  }

  index(): ModelIndexEntry[] {
    const entries = this.inner.index().filter((e) => !this.#pipelines.has(e.name));
    for (const [name, served] of this.#pipelines) {
      const reason = this.#unready(served);
      entries.push({ name, version: PIPELINE_VERSION, state: reason === undefined ? 'READY' : 'UNAVAILABLE', reason: reason ?? '' });
    }
    return entries.sort((a, b) => a.name.localeCompare(b.name) || Number(a.version) - Number(b.version));
  }

  /** A pipeline counts its own requests, from here to the answer; its steps count in their models'. */
  statistics(model?: string, version?: string): ModelStatistics[] {
    if (model !== undefined && this.#pipeline(model, version)) return [this.#statistics.statistics(model, PIPELINE_VERSION)];
    if (model !== undefined) return this.inner.statistics(model, version);
    const own = [...this.#pipelines.keys()].map((name) => this.#statistics.statistics(name, PIPELINE_VERSION));
    return [...this.inner.statistics(), ...own].sort(byModelAndVersion);
  }

  infer(call: InferCall): Promise<WireAnswer> {
    const served = this.#pipeline(call.model, call.version);
    if (!served) return this.inner.infer(call);
    return this.#run(served, call);
  }

  async #run(served: ServedPipeline, call: InferCall): Promise<WireAnswer> {
    const tally = this.#statistics.of(call.model, PIPELINE_VERSION);
    const startedAtMs = Date.now();
    const startedAt = performance.now();
    try {
      const codec = WIRE_CODECS[call.payload.format];
      const request = await codec.decode(call.payload, call.model, PIPELINE_VERSION, served.metadata, this.limits);
      // Triton's `timeout` parameter (µs from arrival) covers the whole pipeline, as the deadline does.
      const timeoutUs = timeoutParameterUs(request.parameters);
      const watch = timeoutUs === undefined ? undefined
        : timeoutParameters.watch(startedAtMs + timeoutUs / 1000, () => call.cancellation.cancel(timeoutParameterPassed(timeoutUs)));
      let run: Awaited<ReturnType<PipelineExecutor['run']>>;
      try {
        run = await served.executor.run(request, call, this.inner);
      } finally {
        if (watch) timeoutParameters.unwatch(watch);
      }
      const { outputs, timings } = run;
      const wanted = request.outputs?.map((o) => o.name);
      for (const name of wanted ?? []) {
        if (!outputs.some((o) => o.name === name)) throw new InferError('INVALID_ARG', `model '${call.model}' has no output '${name}'`, 'unknown_output');
      }
      const response = {
        modelName: call.model,
        modelVersion: PIPELINE_VERSION,
        id: request.id,
        ...(request.parameters?.[TIMINGS_PARAMETER] === true ? { parameters: { [TIMINGS_PARAMETER]: JSON.stringify(timings) } } : {}),
        outputs: wanted ? outputs.filter((o) => wanted.includes(o.name)) : outputs,
      };
      const answer = await codec.encode(response, request, call.payload);
      tally.succeeded(startedAt);
      return { ...answer, modelVersion: PIPELINE_VERSION };
    } catch (err) {
      tally.failed(startedAt);
      throw err;
    }
  }
}
