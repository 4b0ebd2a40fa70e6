import type { InferRequest, InferResponse } from '../core/tensor.js';
import type { Backend, InferOptions } from '../scheduler/backend.js';
import type { ModelHost } from '../node/model-host.js';

/** The in-process backend: a direct call into this node's executors, no serialization. */
export class LocalBackend implements Backend {
  constructor(readonly id: string, private readonly host: ModelHost) {}

  infer(request: InferRequest, options?: InferOptions): Promise<InferResponse> {
    return this.host.executor(request.modelName, request.modelVersion ?? '').infer(request, options);
  }

  async close(): Promise<void> {
    await this.host.close();
  }
}
