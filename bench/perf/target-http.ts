/** The bench's target over HTTP: the client library's InferenceHttpClient, JSON or binary tensors. */
import { Pool } from 'undici';
import { InferenceServerError } from '../../client/client-errors.js';
import { InferenceHttpClient } from '../../client/http-client.js';
import { statisticsFromAnswer } from './server-stats.js';
import type { BenchTarget, TargetSpec } from './target.js';
import { targetAddress } from './target.js';

export function httpTarget(spec: TargetSpec): BenchTarget {
  const origin = targetAddress('http', spec.url);
  const client = new InferenceHttpClient(origin, { connections: spec.connections, timeoutMs: spec.timeoutMs, apiKey: spec.apiKey, tls: spec.tls });
  const encoding = spec.binary ? 'binary' : 'json';
  // The client library has no statistics call: GETs on a connection of their own, apart from the load's.
  const statsPool = new Pool(origin, { connections: 1, ...(spec.tls ? { connect: { ...spec.tls } } : {}) });
  const modelPath = `/v2/models/${encodeURIComponent(spec.model)}${spec.version ? `/versions/${encodeURIComponent(spec.version)}` : ''}`;
  return {
    protocol: 'http',
    address: origin,
    isLive: () => client.isLive(),
    modelMetadata: () => client.modelMetadata(spec.model, spec.version),
    async maxBatchSize() {
      try {
        const config = await client.modelConfig(spec.model, spec.version);
        const value = Number(config.max_batch_size);
        return Number.isInteger(value) && value >= 0 ? value : undefined;
      } catch (err) {
        if (err instanceof InferenceServerError) return undefined;
        throw err;
      }
    },
    async statistics() {
      try {
        const headers = spec.apiKey === undefined ? {} : { authorization: `Bearer ${spec.apiKey}` };
        const answer = await statsPool.request({ method: 'GET', path: `${modelPath}/stats`, headers, headersTimeout: spec.timeoutMs, bodyTimeout: spec.timeoutMs });
        const text = await answer.body.text();
        if (answer.statusCode !== 200) return undefined;
        return statisticsFromAnswer(JSON.parse(text), spec.version);
      } catch {
        return undefined;
      }
    },
    infer: (inputs, options) => client.infer(spec.model, inputs, { version: spec.version, encoding, timeoutMs: options.timeoutMs, signal: options.signal }),
    async close() {
      await Promise.all([client.close(), statsPool.close()]);
    },
  };
}
