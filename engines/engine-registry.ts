/**
 * The engines a node can use, by the name declarations give them. Explicit and passed around, never
 * a module global, so tests and embedded nodes each build their own.
 */
import type { Engine } from './engine.js';
import { nativeAddonBuilt } from './native-addon.js';
import { NativeEngine } from './native.js';
import { OnnxEngine, type OnnxEngineOptions } from './onnx.js';
import { SimEngine, SimulationControl } from './sim.js';
import { TfjsEngine, type TfjsEngineOptions } from './tfjs.js';

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
  /** tfjs imports TensorFlow.js on its first model load, so registering it costs a serve start nothing. */
  tfjs?: TfjsEngineOptions;
  /** Shared by every simulated instance of the node; a new one (slowdown 1) when not given. */
  simulation?: SimulationControl;
  /**
   * Register the native (vendor plugin) engine: default, when `npm run build:native` built its
   * addon. The addon itself loads on the first native model, so a missing one never breaks serve.
   */
  native?: boolean;
}

/** onnx (onnxruntime-node), tfjs (TensorFlow.js), sim (the simulated-card engine), and native when built. */
export function createDefaultEngineRegistry(options: DefaultEngineOptions = {}): EngineRegistry {
  const registry = new EngineRegistry()
    .register(new OnnxEngine(options.onnx))
    .register(new TfjsEngine(options.tfjs))
    .register(new SimEngine(options.simulation ?? new SimulationControl()));
  if (options.native ?? nativeAddonBuilt()) registry.register(new NativeEngine());
  return registry;
}
