/**
 * A large tensor over the gRPC door: 50 MiB of UINT8 through identity_types in raw contents both
 * ways (limits raised for this server and door only), with the client library. It comes back
 * identical, in a reasonable time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InferenceGrpcClient, type TensorInput } from '../../client/index.js';
import { startGrpcServer, type GrpcDoor } from '../../gateway/grpc/server.js';
import { startEmbeddedServer, type EmbeddedServer } from '../support/embedded-server.js';

const MiB = 1024 * 1024;
const TENSOR_BYTES = 50 * MiB;
/** Generous for a 2-core machine under other test files. */
const ROUND_TRIP_MAX_MS = 30_000;

let server: EmbeddedServer;
let door: GrpcDoor;
let client: InferenceGrpcClient;

beforeAll(async () => {
  server = await startEmbeddedServer({ limits: { maxBodyBytes: 128 * MiB, maxTensorElements: 64 * MiB } });
  door = await startGrpcServer({ service: server.node.service, host: '127.0.0.1', port: 0, maxMessageBytes: 128 * MiB });
  client = new InferenceGrpcClient(`127.0.0.1:${door.port}`, { timeoutMs: ROUND_TRIP_MAX_MS });
});

afterAll(async () => {
  client?.close();
  await door?.close();
  await server?.close();
});

describe('a large tensor over gRPC', () => {
  it('50 MiB of UINT8 through identity_types comes back identical', async () => {
    const large = new Uint8Array(TENSOR_BYTES);
    let x = 12345;
    for (let i = 0; i < large.length; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      large[i] = x >>> 24;
    }
    const meta = await client.modelMetadata('identity_types');
    const inputs: TensorInput[] = meta.inputs.map((t) => (t.name === 'IN_UINT8'
      ? { name: t.name, datatype: t.datatype, shape: [large.length], data: large }
      : { name: t.name, datatype: t.datatype, shape: [1], data: (t.datatype === 'BYTES' ? ['a'] : [1]) as never }));
    const startedAt = performance.now();
    const result = await client.infer('identity_types', inputs, { outputs: ['OUT_UINT8'] });
    const elapsedMs = performance.now() - startedAt;
    const out = result.output('OUT_UINT8');
    expect(out.shape).toEqual([TENSOR_BYTES]);
    expect(Buffer.compare(Buffer.from(out.data as Uint8Array), Buffer.from(large))).toBe(0);
    expect(elapsedMs).toBeLessThan(ROUND_TRIP_MAX_MS);
  });
});
