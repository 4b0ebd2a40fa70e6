/**
 * What the bench needs from a server, the same over HTTP and gRPC: liveness, the model's metadata
 * and batch limit, its statistics, and inference through the project's client library.
 */
import type { InferResult, ModelMetadataAnswer } from '../../client/http-client.js';
import type { TensorInput } from '../../client/client-tensors.js';
import type { StatisticsReader } from './server-stats.js';

export type Protocol = 'http' | 'grpc';
export const PROTOCOLS: readonly Protocol[] = ['http', 'grpc'];

export const DEFAULT_HTTP_URL = 'http://127.0.0.1:8000';
export const DEFAULT_GRPC_URL = '127.0.0.1:8001';

export interface BenchTarget {
  readonly protocol: Protocol;
  /** Where it sends, as shown in the output (URL or host:port). */
  readonly address: string;
  /** Resolves false or throws when the server is not there. */
  isLive(): Promise<boolean>;
  modelMetadata(): Promise<ModelMetadataAnswer>;
  /** The model config's max_batch_size; undefined when the server gives no config. */
  maxBatchSize(): Promise<number | undefined>;
  statistics: StatisticsReader;
  infer(inputs: TensorInput[], options: { timeoutMs: number; signal?: AbortSignal }): Promise<InferResult>;
  close(): Promise<void>;
}

export interface TargetSpec {
  protocol: Protocol;
  /** -u as given, or undefined for the protocol's default. */
  url?: string;
  model: string;
  version?: string;
  /** HTTP: the binary tensor extension instead of JSON (gRPC is always binary). */
  binary: boolean;
  /** HTTP keep-alive connections. */
  connections: number;
  /** Default time for the calls that are not inference (metadata, statistics). */
  timeoutMs: number;
  /** The server's API key, sent on every call. */
  apiKey?: string;
  /** TLS to the server (PEM contents): the CA to trust, and a client certificate for a door with --tls-client-ca. */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
}

/** `-u` in any of the forms perf_analyzer users type: host:port, or with a scheme. */
export function targetAddress(protocol: Protocol, url: string | undefined): string {
  if (protocol === 'http') {
    const text = url ?? DEFAULT_HTTP_URL;
    const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
    const parsed = new URL(withScheme);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new TypeError(`an HTTP target is http://host:port, got '${text}'`);
    return parsed.origin;
  }
  const text = url ?? DEFAULT_GRPC_URL;
  const stripped = text.replace(/^(grpc|http|dns):\/\//i, '').replace(/\/+$/, '');
  if (!/^(\[[^\]]+\]|[^\s/:]+):\d+$/.test(stripped)) throw new TypeError(`a gRPC target is host:port, got '${text}'`);
  return stripped;
}
