/**
 * The engines a node can use, by the name declarations give them. Explicit and passed around, never
 * a module global, so tests and embedded nodes each build their own.
 */
import type { Engine } from './engine.js';
import { OnnxEngine, type OnnxEngineOptions } from './onnx.js';
import { SimEngine, SimulationControl } from './sim.js';

export class EngineRegistry {
  readonly #engines = new Map<string, Engine>();

  register(engine: Engine): this {
    if (this.#engines.has(engine.name)) throw new Error(`engine '${engine.name}' is already registered`);
    this.#engines.set(engine.name, engine);
    return this;
  }

  get(name: string): Engine | undefined {
    return this.#engines.get(name);
  }

  /** Names in registration order. */
  names(): string[] {
    return [...this.#engines.keys()];
  }
}

export interface DefaultEngineOptions {
  onnx?: OnnxEngineOptions;
  /** Shared by every simulated instance of the node; a new one (slowdown 1) when not given. */
  simulation?: SimulationControl;
}

/** onnx (onnxruntime-node) and sim (the simulated-card engine). */
export function createDefaultEngineRegistry(options: DefaultEngineOptions = {}): EngineRegistry {
  return new EngineRegistry()
    .register(new OnnxEngine(options.onnx))
    .register(new SimEngine(options.simulation ?? new SimulationControl()));
}
