/**
 * A large tensor over a real socket: 50 MiB of UINT8 through identity_types with the binary tensor
 * extension both ways, on the embedded server listening on 127.0.0.1:0 (limits raised for this
 * server only: --max-body-bytes 128 MiB, --max-tensor-elements 64 Mi). The tensor comes back
 * identical, in a reasonable time. Memory is not measured here.
 */
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Datatype, NumericArray } from '../../core/datatypes.js';
import { BINARY_CONTENT_TYPE } from '../../core/http-headers.js';
import { encodeInferRequest, parseBinaryInferResponse, parseInferenceHeaderLength } from '../../core/infer-binary.js';
import type { InferRequest, Tensor } from '../../core/tensor.js';
import { startEmbeddedServer, type EmbeddedServer } from '../support/embedded-server.js';

const MiB = 1024 * 1024;
const TENSOR_BYTES = 50 * MiB;
/** Generous for a 2-core machine under other test files: the round trip itself takes about a second. */
const ROUND_TRIP_MAX_MS = 20_000;

const client = new Agent({ connections: 1, bodyTimeout: ROUND_TRIP_MAX_MS, headersTimeout: ROUND_TRIP_MAX_MS });
let server: EmbeddedServer;
let base: string;

beforeAll(async () => {
  server = await startEmbeddedServer({ limits: { maxBodyBytes: 128 * MiB, maxTensorElements: 64 * MiB } });
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await client.close();
  await server?.close();
});

/** Every input of identity_types a single element, but IN_UINT8, which carries `large`. */
function typesRequest(large: Uint8Array): InferRequest {
  const one: Record<string, NumericArray | Uint8Array[]> = {
    BOOL: new Uint8Array([1]), UINT16: new Uint16Array([1]), UINT32: new Uint32Array([1]), UINT64: new BigUint64Array([1n]),
    INT8: new Int8Array([1]), INT16: new Int16Array([1]), INT32: new Int32Array([1]), INT64: new BigInt64Array([1n]),
    FP16: new Uint16Array([0x3c00]), FP32: new Float32Array([1]), FP64: new Float64Array([1]), BYTES: [new Uint8Array([97])],
  };
  const inputs: Tensor[] = Object.entries(one).map(([t, data]) => ({ name: `IN_${t}`, datatype: t as Datatype, shape: [data.length], data }));
  inputs.push({ name: 'IN_UINT8', datatype: 'UINT8', shape: [large.length], data: large });
  return { modelName: 'identity_types', inputs, outputs: [{ name: 'OUT_UINT8', binaryData: true }] };
}

/** Every byte value, in an order no run-length trick reproduces. */
function pattern(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let x = 12345;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    bytes[i] = x >>> 24;
  }
  return bytes;
}

describe('a large tensor over a real socket', () => {
  it('50 MiB of UINT8 through identity_types comes back identical', async () => {
    const large = pattern(TENSOR_BYTES);
    const encoded = encodeInferRequest(typesRequest(large), { binaryOutputs: true });
    expect(encoded.body.byteLength).toBeGreaterThan(TENSOR_BYTES);

    const startedAt = performance.now();
    const r = await request(`${base}/v2/models/identity_types/infer`, {
      method: 'POST',
      dispatcher: client,
      headers: { 'content-type': BINARY_CONTENT_TYPE, 'inference-header-content-length': String(encoded.headerLength) },
      body: encoded.body,
    });
    const body = Buffer.from(await r.body.arrayBuffer());
    const ms = performance.now() - startedAt;

    expect(r.statusCode, body.subarray(0, 300).toString()).toBe(200);
    const response = parseBinaryInferResponse(body, parseInferenceHeaderLength(r.headers['inference-header-content-length']));
    expect(response.outputs.map((o) => o.name)).toEqual(['OUT_UINT8']);
    const out = response.outputs[0];
    expect(out.shape).toEqual([TENSOR_BYTES]);
    expect(Buffer.compare(Buffer.from(out.data as Uint8Array), Buffer.from(large))).toBe(0);
    console.log(`[large] 50 MiB UINT8 round trip: ${ms.toFixed(0)} ms`);
    expect(ms).toBeLessThan(ROUND_TRIP_MAX_MS);
  });
});
