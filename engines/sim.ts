/**
 * SIMULATED cards: an engine that runs no model. Each batch sleeps for the declared service time
 * scaled by the card's speed, then echoes its inputs. Tests and benchmarks use it to play a pool of
 * cards of different speeds on one machine; a SimulationControl degrades a node at run time.
 */
import type { Card } from '../adapters/card.js';
import { InferError, invalidArg } from '../core/errors.js';
import type { ModelDeclaration } from '../core/model-declaration.js';
import type { ModelMetadata } from '../core/model-metadata.js';
import type { InferRequest, InferResponse, Tensor } from '../core/tensor.js';
import type { Engine, ExecuteResult, RunObserver, LoadedModel, ModelInstance, ModelLoadSpec } from './engine.js';
import { runRows } from './row-batching.js';

/** Run-time knobs of the simulator, shared by every simulated instance of a node. */
export class SimulationControl {
  #slowdown = 1;
  #errorRate = 0;

  constructor(slowdown = 1, private readonly random: () => number = Math.random) {
    this.slowdown = slowdown;
  }

  /**
   * Share of requests that fail at once with a SIMULATED internal error (500) instead of running:
   * a node that answers fast errors, which a latency-only policy mistakes for a fast node.
   */
  get errorRate(): number {
    return this.#errorRate;
  }

  set errorRate(value: number) {
    if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
      throw new RangeError(`simulation error rate must be a number in [0, 1], got ${String(value)}`);
    }
    this.#errorRate = value;
  }

  /** Draws whether one request fails (errorRate of them). */
  failsNext(): boolean {
    return this.#errorRate > 0 && this.random() < this.#errorRate;
  }

  /** Multiplies every simulated service time: 2 makes the node's simulated cards twice as slow. */
  get slowdown(): number {
    return this.#slowdown;
  }

  set slowdown(value: number) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw new RangeError(`simulation slowdown must be a finite number > 0, got ${String(value)}`);
    }
    this.#slowdown = value;
  }
}

/** Speed of a card in the simulator: its coefficient, or 1 for the CPU (so a sim model runs in plain `serve`). */
export function simulatedCoefficient(card: Card): number {
  return card.kind === 'cpu' ? 1 : card.coefficient;
}

/** Simulated time of one batch: service_ms ÷ coefficient × slowdown. */
export function simulatedServiceMs(serviceMs: number, coefficient: number, slowdown: number): number {
  return (serviceMs / coefficient) * slowdown;
}

/** How a simulated instance waits; tests pass a recorder to check the times exactly. */
export type SimSleep = (ms: number) => Promise<void>;

const timerSleep: SimSleep = (ms) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface SimEngineOptions {
  sleep?: SimSleep;
}

export class SimEngine implements Engine {
  readonly name = 'sim';
  readonly control: SimulationControl;
  readonly #sleep: SimSleep;

  constructor(control: SimulationControl = new SimulationControl(), options: SimEngineOptions = {}) {
    this.control = control;
    this.#sleep = options.sleep ?? timerSleep;
  }

  supports(card: Card): boolean {
    return card.kind === 'sim' || card.kind === 'cpu';
  }

  async loadModel(spec: ModelLoadSpec): Promise<LoadedModel> {
    const { declaration } = spec;
    const serviceMs = declaration.sim?.service_ms;
    if (typeof serviceMs !== 'number' || !Number.isFinite(serviceMs) || serviceMs <= 0) {
      throw new Error(`model '${declaration.name}': the simulated engine needs sim.service_ms > 0 in the declaration`);
    }
    if (declaration.outputs.length > declaration.inputs.length) {
      throw new Error(`model '${declaration.name}': the simulated engine echoes input i as output i, but it declares ${declaration.outputs.length} outputs for ${declaration.inputs.length} inputs`);
    }
    declaration.outputs.forEach((o, i) => {
      const input = declaration.inputs[i];
      if (input.datatype !== o.datatype) {
        throw new Error(`model '${declaration.name}': the simulated engine echoes input '${input.name}' (${input.datatype}) as output '${o.name}', declared ${o.datatype}`);
      }
    });
    return new SimLoadedModel(spec, serviceMs, this.control, this.#sleep);
  }
}

class SimLoadedModel implements LoadedModel {
  readonly metadata: ModelMetadata;
  readonly #spec: ModelLoadSpec;
  readonly #serviceMs: number;
  readonly #control: SimulationControl;
  readonly #sleep: SimSleep;

  constructor(spec: ModelLoadSpec, serviceMs: number, control: SimulationControl, sleep: SimSleep) {
    this.metadata = spec.metadata;
    this.#spec = spec;
    this.#serviceMs = serviceMs;
    this.#control = control;
    this.#sleep = sleep;
  }

  async createInstance(card: Card, index: number): Promise<ModelInstance> {
    const coefficient = simulatedCoefficient(card);
    if (!Number.isFinite(coefficient) || coefficient <= 0) {
      throw new Error(`simulated card ${card.id}: coefficient must be > 0, got ${coefficient}`);
    }
    return new SimModelInstance(card, index, this.#spec, { serviceMs: this.#serviceMs, coefficient, control: this.#control, sleep: this.#sleep });
  }

  async unload(): Promise<void> {}
}

interface SimTiming {
  serviceMs: number;
  coefficient: number;
  control: SimulationControl;
  sleep: SimSleep;
}

export class SimModelInstance implements ModelInstance {
  readonly card: Card;
  readonly index: number;
  /** Batches executed so far. */
  executions = 0;
  readonly #declaration: ModelDeclaration;
  readonly #version: string;
  readonly #serviceMs: number;
  readonly #coefficient: number;
  readonly #control: SimulationControl;
  readonly #sleep: SimSleep;

  constructor(card: Card, index: number, spec: ModelLoadSpec, timing: SimTiming) {
    this.card = card;
    this.index = index;
    this.#declaration = spec.declaration;
    this.#version = spec.version;
    this.#serviceMs = timing.serviceMs;
    this.#coefficient = timing.coefficient;
    this.#control = timing.control;
    this.#sleep = timing.sleep;
  }

  /** The simulated time the next batch will take, with the slowdown in force now. */
  serviceMs(): number {
    return simulatedServiceMs(this.#serviceMs, this.#coefficient, this.#control.slowdown);
  }

  async execute(batch: InferRequest[], onRun?: RunObserver): Promise<ExecuteResult[]> {
    const failed = batch.map(() => this.#control.failsNext());
    this.executions++;
    // A batch whose every request fails answers at once: the fast errors of a broken node.
    if (!failed.every(Boolean)) {
      const startedAt = performance.now();
      await this.#sleep(this.serviceMs());
      // The whole batch is one simulated run.
      onRun?.(runRows(this.#declaration, batch), performance.now() - startedAt);
    }
    return batch.map((req, i) => (failed[i] ? simulatedFault() : this.#echo(req)));
  }

  async unload(): Promise<void> {}

  #echo(req: InferRequest): ExecuteResult {
    const wanted = req.outputs ? new Set(req.outputs.map((o) => o.name)) : undefined;
    if (wanted) {
      for (const name of wanted) {
        if (!this.#declaration.outputs.some((o) => o.name === name)) {
          return invalidArg(`simulated model '${this.#declaration.name}' has no output '${name}'`);
        }
      }
    }
    const outputs: Tensor[] = [];
    for (const [i, out] of this.#declaration.outputs.entries()) {
      if (wanted && !wanted.has(out.name)) continue;
      const inputName = this.#declaration.inputs[i].name;
      const input = req.inputs.find((t) => t.name === inputName);
      if (!input) return invalidArg(`input '${inputName}' is missing`);
      const data = Array.isArray(input.data) ? input.data.map((b) => b.slice()) : input.data.slice();
      outputs.push({ name: out.name, datatype: out.datatype, shape: [...input.shape], data });
    }
    const response: InferResponse = { modelName: this.#declaration.name, modelVersion: this.#version, outputs };
    if (req.id !== undefined) response.id = req.id;
    return response;
  }
}

function simulatedFault(): InferError {
  return new InferError('INTERNAL', 'SIMULATED fault: this node fails a share of its requests (PUT /infergate/sim error_rate)', 'sim_fault');
}
