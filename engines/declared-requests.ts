/**
 * What every engine does with a request against its model's declaration, whatever runs it: the
 * refusals the front door could not make (datatypes the runtime lacks, inputs or outputs the model
 * does not have), which outputs a request gets, and the response it gets them in.
 */
import { elementCount, type Datatype } from '../core/datatypes.js';
import { invalidArg, unsupported, type InferError } from '../core/errors.js';
import type { ModelDeclaration } from '../core/model-declaration.js';
import { formatShape } from '../core/request-validation.js';
import type { InferRequest, InferResponse, Tensor } from '../core/tensor.js';

export class DeclaredRequests {
  readonly #declaration: ModelDeclaration;
  readonly #inputs: Map<string, Datatype>;
  readonly #outputs: Set<string>;

  /** `runtime`: the engine's name in messages; `supports`: whether it can take a datatype at all. */
  constructor(
    declaration: ModelDeclaration,
    private readonly version: string,
    private readonly runtime: string,
    private readonly supports: (datatype: Datatype) => boolean,
  ) {
    this.#declaration = declaration;
    this.#inputs = new Map(declaration.inputs.map((t) => [t.name, t.datatype]));
    this.#outputs = new Set(declaration.outputs.map((t) => t.name));
  }

  /** What the engine itself must refuse; the front door has checked shapes already. */
  check(req: InferRequest): InferError | undefined {
    for (const t of req.inputs) {
      const declared = this.#inputs.get(t.name);
      if (declared === undefined) return invalidArg(`model '${this.#declaration.name}' has no input '${t.name}'`);
      if (!this.supports(t.datatype)) {
        return unsupported(`input '${t.name}': ${t.datatype} tensors are not supported by ${this.runtime}`, 'unsupported_datatype');
      }
      if (t.datatype !== declared) return invalidArg(`input '${t.name}' is ${t.datatype} but the model expects ${declared}`);
      if (elementCount(t.shape) !== t.data.length) {
        return invalidArg(`input '${t.name}' has ${t.data.length} elements for shape ${formatShape(t.shape)}`);
      }
    }
    for (const name of this.#inputs.keys()) {
      if (!req.inputs.some((t) => t.name === name)) return invalidArg(`input '${name}' is missing`);
    }
    for (const o of req.outputs ?? []) {
      if (!this.#outputs.has(o.name)) return invalidArg(`model '${this.#declaration.name}' has no output '${o.name}'`);
    }
    return undefined;
  }

  /** Output names one request gets, in its order: as requested, or as declared; each once. */
  wanted(req: InferRequest): string[] {
    return [...new Set((req.outputs ?? this.#declaration.outputs).map((o) => o.name))];
  }

  /** Every output any of `requests` wants, each once: what one batched run must fetch. */
  wantedByAny(requests: readonly InferRequest[]): string[] {
    return [...new Set(requests.flatMap((r) => this.wanted(r)))];
  }

  response(req: InferRequest, outputs: Tensor[]): InferResponse {
    const response: InferResponse = { modelName: this.#declaration.name, modelVersion: this.version, outputs };
    if (req.id !== undefined) response.id = req.id;
    return response;
  }
}
