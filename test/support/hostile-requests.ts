/**
 * A corpus of hostile requests for both front doors, each with the exact answer it must get: an
 * HTTP status with a body of exactly `{"error": "<message>"}` (or a valid 200 where the request is
 * in fact legal), and, where the case has a gRPC form, the gRPC status code. HTTP requests are
 * written byte for byte on a socket, so that a malformed request line, a path no client library
 * would send or a body trickled over seconds reach the server as they are.
 *
 * The cases assume the bundled add_sub model (INT32 [batch, 16] twice) and the limits of
 * HOSTILE_LIMITS, which the server under test is started with.
 */
import { connect } from 'node:net';
import { gzipSync, deflateSync } from 'node:zlib';
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { expect } from 'vitest';
import { MODEL_INFER_PATH } from '../../core/kserve-grpc-envelope.js';
import type { FrontDoorLimits } from '../../service/limits.js';
import { encodeInferRequestMessage, type GrpcTestClient } from './grpc-client.js';

/** Small limits, so the corpus runs in seconds; every other limit keeps its default. */
export const HOSTILE_LIMITS = {
  maxBodyBytes: 4 * 1024 * 1024,
  maxTensorElements: 1_000_000,
  maxJsonDepth: 64,
  maxStringBytes: 4096,
  maxHeaderBytes: 8 * 1024,
  headerTimeoutMs: 1_000,
  bodyTimeoutMs: 1_500,
} satisfies Partial<FrontDoorLimits>;

/** The same limits as CLI flags, for a gateway or node process. */
export const HOSTILE_FLAGS = [
  '--max-body-bytes', String(HOSTILE_LIMITS.maxBodyBytes),
  '--max-tensor-elements', String(HOSTILE_LIMITS.maxTensorElements),
  '--max-json-depth', String(HOSTILE_LIMITS.maxJsonDepth),
  '--max-string-bytes', String(HOSTILE_LIMITS.maxStringBytes),
  '--max-header-bytes', String(HOSTILE_LIMITS.maxHeaderBytes),
  '--header-timeout-ms', String(HOSTILE_LIMITS.headerTimeoutMs),
  '--body-timeout-ms', String(HOSTILE_LIMITS.bodyTimeoutMs),
  '--grpc-max-message-bytes', String(2 * 1024 * 1024),
];

/** --grpc-max-message-bytes of the server under test. */
export const HOSTILE_GRPC_MAX_MESSAGE_BYTES = 2 * 1024 * 1024;

export const INFER = '/v2/models/add_sub/infer';
const ints16 = Array.from({ length: 16 }, (_, i) => i - 8);
export const sums16 = ints16.map((v) => v + v);

export const input = (name: string, over: Record<string, unknown> = {}) => ({ name, datatype: 'INT32', shape: [1, 16], data: ints16, ...over });
export const validBody = (over: Record<string, unknown> = {}) => ({ inputs: [input('INPUT0'), input('INPUT1')], ...over });
const json = (value: unknown) => JSON.stringify(value);
const deep = (depth: number, leaf = '0') => `${'['.repeat(depth)}${leaf}${']'.repeat(depth)}`;
const deepObject = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
const big = (bytes: number) => 'x'.repeat(bytes);

/** A binary-extension body: the JSON header, then `blob`. */
function binary(header: object, blob: Buffer, headerLength?: string): { headers: Record<string, string>; body: Buffer } {
  const text = Buffer.from(json(header));
  return { headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': headerLength ?? String(text.length) }, body: Buffer.concat([text, blob]) };
}
/** A binary request whose JSON header has a byte that is not UTF-8 in its id. */
function binaryUtf8Broken(): { headers: Record<string, string>; body: Buffer } {
  const header = Buffer.from(json({ id: 'A', inputs: [binInput('INPUT0'), binInput('INPUT1')] }));
  header[header.indexOf('"A"') + 1] = 0xff;
  return { headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) }, body: Buffer.concat([header, int32s(ints16), int32s(ints16)]) };
}
const int32s = (values: number[]) => Buffer.from(new Int32Array(values).buffer);
const binInput = (name: string, size = 64, over: Record<string, unknown> = {}) => ({ name, datatype: 'INT32', shape: [1, 16], parameters: { binary_data_size: size }, ...over });

export interface HttpCase {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Bytes written on the socket verbatim instead of a request built from the fields above. */
  raw?: string | Buffer;
  /** Send the body in this many pieces, this far apart (a client trickling bytes). */
  trickle?: { pieces: number; intervalMs: number };
  status: number;
  /** What the error message must say (a 200 has no error). */
  error?: RegExp;
}

export interface GrpcCase {
  method?: 'ModelInfer' | 'ModelMetadata' | 'ModelReady';
  /** A request object (snake_case, as in the .proto); or `bytes`, a serialized message as is. */
  request?: object;
  bytes?: (encode: (request: object) => Uint8Array) => Uint8Array;
  metadata?: Record<string, string>;
  /** A ModelStreamInfer call that sends nothing and waits for its deadline. */
  stalledStream?: boolean;
  deadlineMs?: number;
  code: number;
  details?: RegExp;
}

export interface HostileCase {
  name: string;
  http?: HttpCase;
  grpc?: GrpcCase;
  /** Also run through a gateway in front of a node (the gateway subset). */
  gateway?: boolean;
}

const grpcInfer = (over: Record<string, unknown> = {}) => ({
  model_name: 'add_sub',
  inputs: [grpcInput('INPUT0'), grpcInput('INPUT1')],
  ...over,
});
const grpcInput = (name: string, over: Record<string, unknown> = {}) => ({ name, datatype: 'INT32', shape: [1, 16], contents: { int_contents: ints16 }, ...over });

const { INVALID_ARGUMENT, NOT_FOUND, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED, OK } = status;

export const HOSTILE_CASES: HostileCase[] = [
  // --- shapes
  { name: 'huge dims', gateway: true, http: { body: json(validBody({ inputs: [input('INPUT0', { shape: [1e9, 16], data: [] }), input('INPUT1')] })), status: 413, error: /--max-tensor-elements/ },
    grpc: { request: grpcInfer({ inputs: [grpcInput('INPUT0', { shape: [1e9, 16] }), grpcInput('INPUT1')] }), code: RESOURCE_EXHAUSTED, details: /--max-tensor-elements/ } },
  { name: 'dims whose product overflows', http: { body: json(validBody({ inputs: [input('INPUT0', { shape: [2 ** 40, 2 ** 40, 2 ** 40] })] })), status: 413, error: /--max-tensor-elements/ },
    grpc: { request: grpcInfer({ inputs: [grpcInput('INPUT0', { shape: [2 ** 40, 2 ** 40, 2 ** 40] })] }), code: RESOURCE_EXHAUSTED } },
  { name: 'dim beyond 2^53', http: { body: json(validBody({ inputs: [input('INPUT0', { shape: [1e20] })] })), status: 400, error: /shape dim 0/ },
    grpc: { request: grpcInfer({ inputs: [grpcInput('INPUT0', { shape: ['9223372036854775807'] })] }), code: INVALID_ARGUMENT, details: /shape dim 0/ } },
  { name: 'negative dim', gateway: true, http: { body: json(validBody({ inputs: [input('INPUT0', { shape: [-1, 16] }), input('INPUT1')] })), status: 400, error: /shape dim 0/ },
    grpc: { request: grpcInfer({ inputs: [grpcInput('INPUT0', { shape: [-1, 16] }), grpcInput('INPUT1')] }), code: INVALID_ARGUMENT, details: /shape dim 0/ } },
  { name: 'NaN dim (bare token)', http: { body: '{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[NaN,16],"data":[]}]}', status: 400, error: /shape dim 0/ } },
  { name: 'fractional dim', http: { body: json(validBody({ inputs: [input('INPUT0', { shape: [1.5, 16] }), input('INPUT1')] })), status: 400, error: /shape dim 0/ } },
  { name: 'string dim', http: { body: json(validBody({ inputs: [input('INPUT0', { shape: ['1', 16] }), input('INPUT1')] })), status: 400, error: /shape dim 0/ } },
  { name: 'shape not an array', http: { body: json(validBody({ inputs: [input('INPUT0', { shape: 16 }), input('INPUT1')] })), status: 400, error: /'shape' must be an array/ } },
  { name: 'batch of zero', http: { body: json(validBody({ inputs: [input('INPUT0', { shape: [0, 16], data: [] }), input('INPUT1', { shape: [0, 16], data: [] })] })), status: 400, error: /batch/ },
    grpc: { request: grpcInfer({ inputs: [grpcInput('INPUT0', { shape: [0, 16], contents: { int_contents: [] } }), grpcInput('INPUT1', { shape: [0, 16], contents: { int_contents: [] } })] }), code: INVALID_ARGUMENT, details: /batch/ } },
  { name: 'rank 100', http: { body: json(validBody({ inputs: [input('INPUT0', { shape: Array(100).fill(1), data: [1] }), input('INPUT1')] })), status: 400, error: /INPUT0/ },
    grpc: { request: grpcInfer({ inputs: [grpcInput('INPUT0', { shape: Array(100).fill(1), contents: { int_contents: [1] } }), grpcInput('INPUT1')] }), code: INVALID_ARGUMENT, details: /INPUT0/ } },
  { name: 'data shorter than shape', gateway: true, http: { body: json(validBody({ inputs: [input('INPUT0', { data: ints16.slice(1) }), input('INPUT1')] })), status: 400, error: /needs 16 elements/ },
    grpc: { request: grpcInfer({ inputs: [grpcInput('INPUT0', { contents: { int_contents: ints16.slice(1) } }), grpcInput('INPUT1')] }), code: INVALID_ARGUMENT, details: /16/ } },
  { name: 'data nested deeper than shape', http: { body: json(validBody({ inputs: [input('INPUT0', { data: [ints16.map((v) => [v])] }), input('INPUT1')] })), status: 400, error: /nests deeper/ } },
  { name: 'data not an array', http: { body: json(validBody({ inputs: [input('INPUT0', { data: 'abc' }), input('INPUT1')] })), status: 400, error: /'data' must be an array/ } },
  // --- element values
  { name: 'INT32 element out of range', http: { body: json(validBody({ inputs: [input('INPUT0', { data: [1e10, ...ints16.slice(1)] }), input('INPUT1')] })), status: 400, error: /out of range/ } },
  { name: 'string element for INT32', http: { body: json(validBody({ inputs: [input('INPUT0', { data: ['1', ...ints16.slice(1)] }), input('INPUT1')] })), status: 400, error: /element 0/ } },
  { name: 'fractional element for INT32', http: { body: json(validBody({ inputs: [input('INPUT0', { data: [1.5, ...ints16.slice(1)] }), input('INPUT1')] })), status: 400, error: /element 0/ } },
  { name: 'null element', http: { body: json(validBody({ inputs: [input('INPUT0', { data: [null, ...ints16.slice(1)] }), input('INPUT1')] })), status: 400, error: /element 0/ } },
  // --- JSON structure
  { name: 'deep JSON: 100 000 nested arrays in data', gateway: true, http: { body: `{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[1,16],"data":${deep(100_000)}}]}`, status: 400, error: /--max-json-depth/ } },
  // Without the depth limit this one overflowed the stack in the nested-data walk: a 500.
  { name: 'deep JSON: rank 100 000 with data nested as deep', http: { body: `{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[${Array(100_000).fill(1).join(',')}],"data":${deep(100_000, '1')}}]}`, status: 400, error: /--max-json-depth/ } },
  { name: 'deep JSON: 1 000 000 nested arrays as the body', http: { body: deep(1_000_000, ''), status: 400, error: /--max-json-depth/ } },
  { name: 'deep JSON: 70 nested objects in parameters', http: { body: `{"parameters":{"p":${deepObject(70)}},"inputs":[]}`, status: 400, error: /--max-json-depth/ } },
  { name: 'deep JSON: unclosed brackets', http: { body: '['.repeat(200_000), status: 400, error: /--max-json-depth/ } },
  { name: 'nesting within the limit in an unknown member is legal', http: { body: json({ ...validBody(), extra: JSON.parse(deep(50)) }), status: 200 } },
  { name: 'brackets inside strings do not count as depth', http: { body: json(validBody({ id: '['.repeat(1000) })), status: 200 } },
  { name: 'body is null', http: { body: 'null', status: 400, error: /must be a JSON object/ } },
  { name: 'body is an array', http: { body: '[]', status: 400, error: /must be a JSON object/ } },
  { name: 'body is a string', http: { body: '"inputs"', status: 400, error: /must be a JSON object/ } },
  { name: 'truncated JSON', http: { body: json(validBody()).slice(0, 40), status: 400, error: /malformed JSON/ } },
  { name: 'byte order mark before the JSON', http: { body: `\ufeff${json(validBody())}`, status: 400, error: /malformed JSON/ } },
  { name: 'empty body', gateway: true, http: { body: '', status: 400, error: /empty/ } },
  { name: 'inputs not an array', http: { body: json({ inputs: { INPUT0: 1 } }), status: 400, error: /'inputs' must be an array/ } },
  { name: 'inputs empty', http: { body: json({ inputs: [] }), status: 400, error: /'inputs' is empty/ },
    grpc: { request: { model_name: 'add_sub', inputs: [] }, code: INVALID_ARGUMENT, details: /no 'inputs'/ } },
  { name: 'an input that is a number', http: { body: json({ inputs: [7] }), status: 400, error: /inputs\[0\] must be an object/ } },
  // --- strings
  { name: 'input name over --max-string-bytes', gateway: true, http: { body: json(validBody({ inputs: [input(big(100_000)), input('INPUT1')] })), status: 400, error: /--max-string-bytes/ },
    grpc: { request: grpcInfer({ inputs: [grpcInput(big(100_000)), grpcInput('INPUT1')] }), code: INVALID_ARGUMENT, details: /--max-string-bytes/ } },
  { name: 'id over --max-string-bytes', http: { body: json(validBody({ id: big(10_000) })), status: 400, error: /--max-string-bytes/ },
    grpc: { request: grpcInfer({ id: big(10_000) }), code: INVALID_ARGUMENT, details: /--max-string-bytes/ } },
  { name: 'parameter value over --max-string-bytes', http: { body: json(validBody({ parameters: { note: big(5_000) } })), status: 400, error: /--max-string-bytes/ },
    grpc: { request: grpcInfer({ parameters: { note: { string_param: big(5_000) } } }), code: INVALID_ARGUMENT, details: /--max-string-bytes/ } },
  { name: 'parameter key over --max-string-bytes', http: { body: json(validBody({ parameters: { [big(5_000)]: 1 } })), status: 400, error: /--max-string-bytes/ },
    grpc: { request: grpcInfer({ parameters: { [big(5_000)]: { int64_param: 1 } } }), code: INVALID_ARGUMENT, details: /--max-string-bytes/ } },
  { name: 'multi-byte characters counted in UTF-8 bytes', http: { body: json(validBody({ id: '€'.repeat(1_400) })), status: 400, error: /4200 bytes/ } },
  { name: 'id of exactly --max-string-bytes is legal', http: { body: json(validBody({ id: big(4096) })), status: 200 } },
  { name: 'a large BYTES element is data, not a string limit', http: { body: json(validBody({ inputs: [input('INPUT0', { datatype: 'BYTES', shape: [1, 1], data: [big(100_000)] }), input('INPUT1')] })), status: 400, error: /datatype/ } },
  // --- UTF-8
  { name: 'invalid UTF-8 in a JSON string', gateway: true, http: { body: Buffer.concat([Buffer.from('{"id":"'), Buffer.from([0xff, 0xfe]), Buffer.from(`",${json(validBody()).slice(1)}`)]), status: 400, error: /UTF-8/ } },
  { name: 'truncated UTF-8 sequence in a JSON string', http: { body: Buffer.concat([Buffer.from('{"id":"'), Buffer.from([0xe2, 0x82]), Buffer.from(`",${json(validBody()).slice(1)}`)]), status: 400, error: /UTF-8/ } },
  { name: 'lone surrogate escape is legal JSON', http: { body: `{"id":"\\ud800",${json(validBody()).slice(1)}`, status: 200 } },
  { name: 'invalid UTF-8 in a binary header', http: { ...binaryUtf8Broken(), status: 400, error: /UTF-8/ } },
  { name: 'a valid binary request is legal', http: { ...binary({ inputs: [binInput('INPUT0'), binInput('INPUT1')] }, Buffer.concat([int32s(ints16), int32s(ints16)])), status: 200 } },
  { name: 'invalid UTF-8 in a gRPC input name', grpc: { bytes: (encode) => withBytesReplaced(encode(grpcInfer()), 'INPUT0', Buffer.from([0x49, 0x4e, 0x50, 0x55, 0xff, 0x30])), code: INVALID_ARGUMENT, details: /INPUT/ } },
  { name: 'arbitrary bytes in a BYTES element reach validation', grpc: { request: grpcInfer({ inputs: [grpcInput('INPUT0', { datatype: 'BYTES', contents: { bytes_contents: Array(16).fill(Buffer.from([0xff, 0x00, 0xc0])) } }), grpcInput('INPUT1')] }), code: INVALID_ARGUMENT, details: /datatype/ } },
  // --- datatypes and names
  { name: 'unknown datatype', gateway: true, http: { body: json(validBody({ inputs: [input('INPUT0', { datatype: 'FP128' }), input('INPUT1')] })), status: 400, error: /unknown datatype 'FP128'/ },
    grpc: { request: grpcInfer({ inputs: [grpcInput('INPUT0', { datatype: 'FP128' }), grpcInput('INPUT1')] }), code: INVALID_ARGUMENT, details: /unknown datatype 'FP128'/ } },
  { name: 'lower-case datatype', http: { body: json(validBody({ inputs: [input('INPUT0', { datatype: 'int32' }), input('INPUT1')] })), status: 400, error: /unknown datatype/ },
    grpc: { request: grpcInfer({ inputs: [grpcInput('INPUT0', { datatype: 'int32' }), grpcInput('INPUT1')] }), code: INVALID_ARGUMENT } },
  { name: 'datatype that is a number', http: { body: json(validBody({ inputs: [input('INPUT0', { datatype: 5 }), input('INPUT1')] })), status: 400, error: /unknown datatype/ } },
  { name: 'duplicate inputs', gateway: true, http: { body: json({ inputs: [input('INPUT0'), input('INPUT0'), input('INPUT1')] }), status: 400, error: /INPUT0/ },
    grpc: { request: grpcInfer({ inputs: [grpcInput('INPUT0'), grpcInput('INPUT0'), grpcInput('INPUT1')] }), code: INVALID_ARGUMENT, details: /INPUT0/ } },
  { name: 'missing input', http: { body: json({ inputs: [input('INPUT0')] }), status: 400, error: /INPUT1/ },
    grpc: { request: grpcInfer({ inputs: [grpcInput('INPUT0')] }), code: INVALID_ARGUMENT, details: /INPUT1/ } },
  { name: 'unknown input', http: { body: json({ inputs: [input('INPUT0'), input('INPUT1'), input('INPUT9')] }), status: 400, error: /INPUT9/ },
    grpc: { request: grpcInfer({ inputs: [grpcInput('INPUT0'), grpcInput('INPUT1'), grpcInput('INPUT9')] }), code: INVALID_ARGUMENT, details: /INPUT9/ } },
  { name: '10 000 inputs', http: { body: json({ inputs: Array.from({ length: 10_000 }, (_, i) => input(`IN${i}`, { shape: [1, 1], data: [1] })) }), status: 400, error: /IN/ },
    grpc: { request: grpcInfer({ inputs: Array.from({ length: 10_000 }, (_, i) => grpcInput(`IN${i}`, { shape: [1, 1], contents: { int_contents: [1] } })) }), code: INVALID_ARGUMENT } },
  { name: 'unknown requested output', http: { body: json(validBody({ outputs: [{ name: 'NOPE' }] })), status: 400, error: /NOPE/ },
    grpc: { request: grpcInfer({ outputs: [{ name: 'NOPE' }] }), code: INVALID_ARGUMENT, details: /NOPE/ } },
  { name: 'outputs not an array', http: { body: json(validBody({ outputs: 'OUTPUT0' })), status: 400, error: /'outputs' must be an array/ } },
  // --- models, versions and paths
  { name: 'unknown model', gateway: true, http: { path: '/v2/models/no_such_model/infer', body: json(validBody()), status: 404, error: /no_such_model/ },
    grpc: { request: grpcInfer({ model_name: 'no_such_model' }), code: NOT_FOUND, details: /no_such_model/ } },
  { name: 'unknown version', http: { path: '/v2/models/add_sub/versions/99/infer', body: json(validBody()), status: 404, error: /99/ },
    grpc: { request: grpcInfer({ model_version: '99' }), code: NOT_FOUND, details: /99/ } },
  { name: 'version that is not a number', http: { path: '/v2/models/add_sub/versions/latest%00/infer', body: json(validBody()), status: 404 },
    grpc: { request: grpcInfer({ model_version: 'latest\u0000' }), code: NOT_FOUND } },
  { name: 'malformed percent-encoding in the model name', http: { path: '/v2/models/add%zzsub/infer', body: json(validBody()), status: 400 } },
  { name: 'percent-encoded path traversal', http: { path: '/v2/models/..%2f..%2fetc%2fpasswd/infer', body: json(validBody()), status: 404 } },
  { name: 'metadata of a garbage-encoded model name', http: { method: 'GET', path: '/v2/models/%E0%A4%A', status: 400 },
    grpc: { method: 'ModelMetadata', request: { name: '\u0000../../x' }, code: NOT_FOUND } },
  { name: 'model name over --max-string-bytes in the path', http: { path: `/v2/models/${big(6_000)}/infer`, body: json(validBody()), status: 404 } },
  { name: 'DELETE on an infer path', http: { method: 'DELETE', path: INFER, status: 404 } },
  // --- parameters
  { name: 'parameters not an object', http: { body: json(validBody({ parameters: 'fast' })), status: 400, error: /'parameters' must be an object/ } },
  { name: 'parameter that is an object', http: { body: json(validBody({ parameters: { p: { q: 1 } } })), status: 400, error: /parameter 'p'/ } },
  { name: 'priority of the wrong type', gateway: true, http: { body: json(validBody({ parameters: { priority: 'high' } })), status: 400, error: /priority/ },
    grpc: { request: grpcInfer({ parameters: { priority: { string_param: 'high' } } }), code: INVALID_ARGUMENT, details: /priority/ } },
  { name: 'negative timeout', http: { body: json(validBody({ parameters: { timeout: -5 } })), status: 400, error: /timeout/ },
    grpc: { request: grpcInfer({ parameters: { timeout: { bool_param: true } } }), code: INVALID_ARGUMENT, details: /timeout/ } },
  { name: 'binary_data_output that is not a boolean', http: { body: json(validBody({ parameters: { binary_data_output: 'yes' } })), status: 400, error: /binary_data_output/ } },
  { name: 'shared memory asked for', http: { body: json(validBody({ inputs: [input('INPUT0', { parameters: { shared_memory_region: 'r' } }), input('INPUT1')] })), status: 501, error: /shared memory/ } },
  // --- binary tensor extension
  { name: 'Inference-Header-Content-Length beyond the body', gateway: true, http: { ...binary({ inputs: [binInput('INPUT0'), binInput('INPUT1')] }, Buffer.alloc(128), '100000'), status: 400, error: /Inference-Header-Content-Length/ } },
  { name: 'Inference-Header-Content-Length not a number', http: { ...binary({ inputs: [] }, Buffer.alloc(0), '12abc'), status: 400, error: /Inference-Header-Content-Length/ } },
  { name: 'Inference-Header-Content-Length negative', http: { ...binary({ inputs: [] }, Buffer.alloc(0), '-1'), status: 400, error: /Inference-Header-Content-Length/ } },
  { name: 'Inference-Header-Content-Length of 10^15', http: { ...binary({ inputs: [] }, Buffer.alloc(0), '999999999999999'), status: 400, error: /Inference-Header-Content-Length/ } },
  { name: 'binary_data_size does not match shape × datatype', http: { ...binary({ inputs: [binInput('INPUT0', 60), binInput('INPUT1')] }, Buffer.alloc(124)), status: 400, error: /INPUT0/ } },
  { name: 'binary_data_size beyond the body', http: { ...binary({ inputs: [binInput('INPUT0'), binInput('INPUT1', 1_000_000)] }, Buffer.alloc(128)), status: 400, error: /INPUT1/ } },
  { name: 'bytes left over after the last blob', http: { ...binary({ inputs: [binInput('INPUT0'), binInput('INPUT1')] }, Buffer.alloc(200)), status: 400 } },
  { name: 'binary_data_size and data both', http: { ...binary({ inputs: [binInput('INPUT0', 64, { data: ints16 }), binInput('INPUT1')] }, Buffer.alloc(128)), status: 400, error: /both/ } },
  { name: 'binary_data_size negative', http: { ...binary({ inputs: [binInput('INPUT0', -64), binInput('INPUT1')] }, Buffer.alloc(128)), status: 400, error: /binary_data_size/ } },
  { name: 'binary_data_size in a pure JSON body', http: { body: json({ inputs: [binInput('INPUT0'), binInput('INPUT1')] }), status: 400, error: /binary_data_size/ } },
  { name: 'raw binary body for a two-input model', http: { headers: { 'inference-header-content-length': '0' }, body: Buffer.alloc(64), status: 400, error: /exactly one input/ } },
  { name: 'deep JSON in a binary header', http: { ...binary(JSON.parse(`{"x":${deep(500)}}`), Buffer.alloc(0)), status: 400, error: /--max-json-depth/ } },
  { name: 'gRPC: raw_input_contents of the wrong size', grpc: { request: { model_name: 'add_sub', inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16] }, { name: 'INPUT1', datatype: 'INT32', shape: [1, 16] }], raw_input_contents: [Buffer.alloc(60), Buffer.alloc(64)] }, code: INVALID_ARGUMENT, details: /INPUT0/ } },
  { name: 'gRPC: fewer raw_input_contents than inputs', grpc: { request: { model_name: 'add_sub', inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16] }, { name: 'INPUT1', datatype: 'INT32', shape: [1, 16] }], raw_input_contents: [Buffer.alloc(64)] }, code: INVALID_ARGUMENT, details: /raw_input_contents/ } },
  { name: 'gRPC: garbage bytes as a ModelInferRequest', grpc: { bytes: () => Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]), code: INVALID_ARGUMENT, details: /malformed ModelInferRequest/ } },
  // --- content codings and types
  { name: 'gzip bomb', gateway: true, http: { headers: { 'content-encoding': 'gzip' }, body: gzipSync(Buffer.alloc(64 * 1024 * 1024)), status: 413, error: /--max-body-bytes/ } },
  { name: 'deflate bomb', http: { headers: { 'content-encoding': 'deflate' }, body: deflateSync(Buffer.alloc(64 * 1024 * 1024)), status: 413, error: /--max-body-bytes/ } },
  { name: 'gzip inside gzip bomb', http: { headers: { 'content-encoding': 'gzip, gzip' }, body: gzipSync(gzipSync(Buffer.alloc(64 * 1024 * 1024))), status: 413, error: /--max-body-bytes/ } },
  { name: 'body that is not what its gzip header says', http: { headers: { 'content-encoding': 'gzip' }, body: json(validBody()), status: 400, error: /gzip/ } },
  { name: 'unknown content coding', http: { headers: { 'content-encoding': 'br' }, body: json(validBody()), status: 400, error: /'br'/ } },
  { name: 'gzip of a valid body is legal', http: { headers: { 'content-encoding': 'gzip' }, body: gzipSync(json(validBody())), status: 200 } },
  { name: 'text/html', gateway: true, http: { headers: { 'content-type': 'text/html' }, body: json(validBody()), status: 415, error: /Content-Type/ } },
  { name: "text/plain JSON, what fetch sends for a string body, is legal", http: { headers: { 'content-type': 'text/plain;charset=UTF-8' }, body: json(validBody()), status: 200 } },
  { name: 'text/plain that is not JSON', http: { headers: { 'content-type': 'text/plain' }, body: 'add 1 and 2', status: 400, error: /malformed JSON/ } },
  { name: 'image/png', http: { headers: { 'content-type': 'image/png' }, body: Buffer.from([0x89, 0x50, 0x4e, 0x47]), status: 415, error: /Content-Type/ } },
  { name: 'multipart/form-data', http: { headers: { 'content-type': 'multipart/form-data; boundary=x' }, body: `--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n${json(validBody())}\r\n--x--\r\n`, status: 415, error: /Content-Type/ } },
  { name: 'application/xml', http: { headers: { 'content-type': 'application/xml' }, body: '<inputs/>', status: 415, error: /Content-Type/ } },
  { name: 'JSON in a charset other than UTF-8', http: { headers: { 'content-type': 'application/json; charset=iso-8859-1' }, body: json(validBody()), status: 415, error: /charset/ } },
  { name: 'a Content-Type with no slash', http: { headers: { 'content-type': 'json' }, body: json(validBody()), status: 415, error: /Content-Type/ } },
  { name: "curl -d's form type is read as JSON", http: { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: json(validBody()), status: 200 } },
  { name: 'a +json media type is JSON', http: { headers: { 'content-type': 'application/vnd.kserve+json' }, body: json(validBody()), status: 200 } },
  // --- sizes, headers and timing
  { name: 'Content-Length over --max-body-bytes', gateway: true, http: { raw: `POST ${INFER} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 999999999\r\n\r\n{`, status: 413, error: /--max-body-bytes/ } },
  { name: 'chunked body over --max-body-bytes', http: { raw: Buffer.concat([Buffer.from(`POST ${INFER} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n`), chunked(Buffer.alloc(5 * 1024 * 1024, 0x20))]), status: 413, error: /--max-body-bytes/ } },
  { name: 'headers over --max-header-bytes', gateway: true, http: { headers: { 'x-padding': big(20_000) }, body: json(validBody()), status: 431, error: /--max-header-bytes/ },
    grpc: { request: grpcInfer(), metadata: { 'x-padding': big(20_000) }, code: RESOURCE_EXHAUSTED, details: /--max-header-bytes/ } },
  { name: 'many small headers over --max-header-bytes', http: { headers: Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`x-h${i}`, 'yyyyyyyyyyyyyyyy'])), body: json(validBody()), status: 431, error: /--max-header-bytes/ },
    grpc: { request: grpcInfer(), metadata: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`x-h${i}`, big(100)])), code: RESOURCE_EXHAUSTED, details: /--max-header-bytes/ } },
  // Node's HTTP/2 layer takes at most 128 header fields (maxHeaderListPairs), before any interceptor runs.
  { name: 'gRPC: more than 128 metadata entries', grpc: { request: grpcInfer(), metadata: Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`x-h${i}`, 'y'])), code: RESOURCE_EXHAUSTED } },
  { name: 'headers never finished (slowloris)', http: { raw: `POST ${INFER} HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n`, status: 408, error: /--header-timeout-ms/ } },
  { name: 'body trickled past --body-timeout-ms', gateway: true, http: { body: json(validBody()), trickle: { pieces: 10, intervalMs: 400 }, status: 408, error: /--body-timeout-ms/ },
    grpc: { stalledStream: true, deadlineMs: 800, code: DEADLINE_EXCEEDED } },
  { name: 'body shorter than its Content-Length', http: { raw: `POST ${INFER} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"inputs":`, status: 408, error: /--body-timeout-ms/ } },
  { name: 'a trickled body that completes in time is legal', http: { body: json(validBody()), trickle: { pieces: 4, intervalMs: 100 }, status: 200 } },
  { name: 'malformed request line', http: { raw: 'GARBAGE\r\n\r\n', status: 400, error: /malformed HTTP request/ } },
  { name: 'Content-Length and Transfer-Encoding both (smuggling)', http: { raw: `POST ${INFER} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, status: 400, error: /malformed HTTP request/ } },
  { name: 'two Content-Length headers that differ', http: { raw: `POST ${INFER} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n{}{}{}`, status: 400, error: /malformed HTTP request/ } },
  { name: 'infergate-timeout-ms that is not a number', http: { headers: { 'infergate-timeout-ms': 'soon' }, body: json(validBody()), status: 400, error: /infergate-timeout-ms/ } },
  { name: 'gRPC message over --grpc-max-message-bytes', grpc: { request: grpcInfer({ inputs: [grpcInput('INPUT0', { datatype: 'BYTES', contents: { bytes_contents: [Buffer.alloc(HOSTILE_GRPC_MAX_MESSAGE_BYTES + 1024)] } }), grpcInput('INPUT1')] }), code: RESOURCE_EXHAUSTED } },
  // --- other JSON routes
  { name: 'deep JSON to repository load', http: { path: '/v2/repository/models/add_sub/load', body: `{"parameters":${deep(1000)}}`, status: 400, error: /--max-json-depth/ } },
  { name: 'malformed JSON to repository load', http: { path: '/v2/repository/models/add_sub/load', body: '{"parameters":', status: 400 } },
  { name: 'deep JSON to repository index', http: { path: '/v2/repository/index', body: deep(100_000), status: 400, error: /--max-json-depth/ } },
];

/** Chunked transfer coding of `body`, in 64 KiB chunks, with its last chunk. */
function chunked(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; at < body.length; at += 65_536) {
    const chunk = body.subarray(at, at + 65_536);
    parts.push(Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

function withBytesReplaced(message: Uint8Array, text: string, replacement: Buffer): Uint8Array {
  const bytes = Buffer.from(message);
  const at = bytes.indexOf(text);
  replacement.copy(bytes, at);
  return bytes;
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** The request a case describes, as bytes (a case's `raw` as it is). */
export function requestBytes(c: HttpCase): { head: Buffer; body: Buffer } {
  if (c.raw !== undefined) return { head: Buffer.from(c.raw), body: Buffer.alloc(0) };
  const body = c.body === undefined ? Buffer.alloc(0) : Buffer.from(c.body);
  const headers: Record<string, string> = { host: 'x', connection: 'close', 'content-type': 'application/json', ...c.headers };
  if (c.method !== 'GET' && c.method !== 'DELETE') headers['content-length'] = String(body.length);
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  return { head: Buffer.from(`${c.method ?? 'POST'} ${c.path ?? INFER} HTTP/1.1\r\n${lines}\r\n`), body };
}

/** Sends a case on a fresh socket and reads the answer until the server closes the connection. */
export function sendHttpCase(host: string, port: number, c: HttpCase, timeoutMs = 30_000): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host);
    const received: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('data', (chunk) => received.push(chunk));
    socket.on('error', () => undefined); // a reset after the answer: what came counts
    socket.on('close', () => {
      clearTimeout(timer);
      try {
        resolve(parseAnswer(Buffer.concat(received)));
      } catch (err) {
        reject(err);
      }
    });
    const { head, body } = requestBytes(c);
    socket.write(head);
    if (c.trickle) {
      const size = Math.ceil(body.length / c.trickle.pieces);
      let at = 0;
      const next = () => {
        if (socket.destroyed || at >= body.length) return;
        socket.write(body.subarray(at, at + size));
        at += size;
        setTimeout(next, c.trickle!.intervalMs);
      };
      next();
    } else if (body.length > 0) {
      socket.write(body);
    }
  });
}

function parseAnswer(bytes: Buffer): HttpAnswer {
  const end = bytes.indexOf('\r\n\r\n');
  if (end < 0) throw new Error(`no HTTP answer, got ${JSON.stringify(bytes.subarray(0, 200).toString('latin1'))}`);
  const [statusLine, ...lines] = bytes.subarray(0, end).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = bytes.subarray(end + 4);
  if (headers['content-length'] !== undefined) body = body.subarray(0, Number(headers['content-length']));
  return { status: Number(statusLine.split(' ')[1]), headers, body };
}

/** Metadata of a gRPC case. */
export function grpcMetadata(c: GrpcCase): Metadata {
  const metadata = new Metadata();
  for (const [k, v] of Object.entries(c.metadata ?? {})) metadata.set(k, v);
  return metadata;
}

export const GRPC_OK = OK;

/** Asserts one HTTP case's answer: its status, and the error shape (exactly `{"error": string}`) or a correct 200. */
export async function expectHttpCase(host: string, httpPort: number, c: HttpCase): Promise<void> {
  const answer = await sendHttpCase(host, httpPort, c);
  const text = answer.body.toString('utf8');
  expect(answer.status, text.slice(0, 300)).toBe(c.status);
  if (c.status === 200) {
    const body = JSON.parse(text) as { outputs: Array<{ name: string; data: number[] }> };
    expect(body.outputs.find((o) => o.name === 'OUTPUT0')?.data).toEqual(sums16);
    return;
  }
  const body = JSON.parse(text) as Record<string, unknown>;
  expect(Object.keys(body)).toEqual(['error']);
  expect(typeof body.error).toBe('string');
  if (c.error) expect(body.error).toMatch(c.error);
}

/** Runs one gRPC case; resolves with the status code and details it ended with (0 on success). */
export function runGrpcCase(grpc: GrpcTestClient, c: GrpcCase): Promise<{ code: number; details: string }> {
  const deadline = Date.now() + (c.deadlineMs ?? 30_000);
  const settle = (resolve: (v: { code: number; details: string }) => void) => (err: ServiceError | null) =>
    resolve(err ? { code: err.code, details: err.details } : { code: 0, details: '' });
  return new Promise((resolve) => {
    if (c.stalledStream) {
      const call = (grpc.inference as unknown as { ModelStreamInfer(m: unknown, o: object): NodeJS.EventEmitter }).ModelStreamInfer(grpcMetadata(c), { deadline });
      call.on('error', (err: ServiceError) => settle(resolve)(err));
      call.on('end', () => resolve({ code: 0, details: '' }));
      call.on('data', () => undefined);
      return;
    }
    if (c.bytes) {
      const bytes = Buffer.from(c.bytes(encodeInferRequestMessage));
      grpc.raw.makeUnaryRequest(MODEL_INFER_PATH, (b: Buffer) => b, (b: Buffer) => b, bytes, grpcMetadata(c), { deadline }, settle(resolve));
      return;
    }
    const method = (grpc.inference as unknown as Record<string, (...args: unknown[]) => void>)[c.method ?? 'ModelInfer'];
    method.call(grpc.inference, c.request, grpcMetadata(c), { deadline }, settle(resolve));
  });
}

export async function expectGrpcCase(grpc: GrpcTestClient, c: GrpcCase): Promise<void> {
  const { code, details } = await runGrpcCase(grpc, c);
  expect(code, details.slice(0, 300)).toBe(c.code);
  if (c.details) expect(details).toMatch(c.details);
}
