/**
 * Fuzzing gRPC message handling: random and mutated protobuf bytes into the gateway's envelope
 * reader (peekInferTarget, on protobuf-wire.ts) and the node's decoder (decodeGrpcInferRequest,
 * core/kserve-grpc-codec.ts), then random ModelInferRequest messages against a real gRPC door on
 * loopback (an embedded node serving the bundled add_sub and identity models). Every case is a
 * valid request or a clean refusal: INVALID_ARG-class InferErrors from the decoders, and from the
 * door a status that is not INTERNAL / UNKNOWN / UNAVAILABLE (the answers a crash would give).
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATATYPES, elementCount } from '../../core/datatypes.js';
import { decodeGrpcInferRequest } from '../../core/kserve-grpc-codec.js';
import { peekInferTarget } from '../../core/kserve-grpc-envelope.js';
import type { ModelMetadata } from '../../core/model-metadata.js';
import { bundledModelsDir } from '../../core/package-root.js';
import { startGrpcNode, type GrpcNode } from '../support/grpc-node.js';
import { encodeInferRequestMessage } from '../support/grpc-client.js';
import { checkProperty, cleanOutcome } from './fuzz-settings.js';

const meta: ModelMetadata = {
  name: 'add_sub', versions: ['1'], platform: 'onnx', maxBatchSize: 8,
  inputs: [
    { name: 'INPUT0', datatype: 'INT32', shape: [-1, 16] },
    { name: 'INPUT1', datatype: 'INT32', shape: [-1, 16] },
  ],
  outputs: [
    { name: 'OUTPUT0', datatype: 'INT32', shape: [-1, 16] },
    { name: 'OUTPUT1', datatype: 'INT32', shape: [-1, 16] },
  ],
};
const limits = { maxTensorElements: 4096 };

// --- messages --------------------------------------------------------------------------------------

const int32Row = fc.array(fc.integer(), { minLength: 16, maxLength: 16 });

/** A ModelInferRequest object for add_sub, each field sometimes wrong. */
const requestObject = fc.record({
  model_name: fc.constantFrom('add_sub', 'identity', 'nope', ''),
  model_version: fc.constantFrom('', '1', '2', 'x'),
  id: fc.string({ maxLength: 6 }),
  parameters: fc.dictionary(
    fc.constantFrom('priority', 'timeout', 'binary_data_output', 'shared_memory_region', 'x'),
    fc.oneof(fc.record({ bool_param: fc.boolean() }), fc.record({ int64_param: fc.integer() }), fc.record({ string_param: fc.string({ maxLength: 4 }) }), fc.record({ double_param: fc.double() }), fc.constant({})),
    { maxKeys: 2 },
  ),
  inputs: fc.array(fc.record({
    name: fc.constantFrom('INPUT0', 'INPUT1', 'INPUT2', ''),
    datatype: fc.oneof({ weight: 5, arbitrary: fc.constant('INT32') }, { weight: 2, arbitrary: fc.constantFrom(...DATATYPES) }, { weight: 1, arbitrary: fc.string({ maxLength: 5 }) }),
    shape: fc.oneof(
      { weight: 5, arbitrary: fc.integer({ min: 0, max: 3 }).map((n) => [n, 16]) },
      { weight: 2, arbitrary: fc.array(fc.oneof(fc.integer({ min: -3, max: 20 }), fc.constantFrom(2 ** 40, -(2 ** 40), 2 ** 53, 2 ** 31)), { maxLength: 4 }) },
    ),
    contents: fc.option(fc.oneof(
      fc.array(int32Row, { maxLength: 3 }).map((rows) => ({ int_contents: rows.flat() })),
      fc.record({ fp32_contents: fc.array(fc.float({ noNaN: true }), { maxLength: 20 }) }),
      fc.record({ bytes_contents: fc.array(fc.uint8Array({ maxLength: 4 }), { maxLength: 4 }) }),
      fc.record({ int64_contents: fc.array(fc.integer(), { maxLength: 16 }), bool_contents: fc.array(fc.boolean(), { maxLength: 3 }) }),
    ), { nil: undefined }),
  }, { requiredKeys: ['name', 'datatype', 'shape'] }), { maxLength: 3 }),
  outputs: fc.array(fc.record({ name: fc.constantFrom('OUTPUT0', 'OUTPUT1', 'X', '') }), { maxLength: 2 }),
  raw_input_contents: fc.option(fc.array(fc.oneof(fc.uint8Array({ maxLength: 130 }), int32Row.map((r) => new Uint8Array(Int32Array.from(r).buffer))), { maxLength: 3 }), { nil: undefined }),
}, { requiredKeys: ['model_name', 'inputs'] });

function encoded(request: object): Buffer {
  return Buffer.from(encodeInferRequestMessage(request));
}

const VALID = encoded({
  model_name: 'add_sub',
  inputs: [
    { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], contents: { int_contents: Array.from({ length: 16 }, (_, i) => i) } },
    { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], contents: { int_contents: Array.from({ length: 16 }, (_, i) => 2 * i) } },
  ],
  outputs: [{ name: 'OUTPUT0' }],
});

/** The valid message with bytes flipped, cut, inserted or duplicated. */
const mutatedBytes = fc.record({
  flips: fc.array(fc.record({ at: fc.nat(), value: fc.nat({ max: 255 }) }), { maxLength: 4 }),
  cut: fc.nat({ max: 40 }),
  insert: fc.option(fc.record({ at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }) }), { nil: undefined }),
  repeat: fc.boolean(),
}).map(({ flips, cut, insert, repeat }) => {
  let bytes = Buffer.from(VALID.subarray(0, Math.max(0, VALID.length - cut)));
  if (insert) {
    const at = insert.at % (bytes.length + 1);
    bytes = Buffer.concat([bytes.subarray(0, at), insert.bytes, bytes.subarray(at)]);
  }
  for (const f of flips) if (bytes.length > 0) bytes[f.at % bytes.length] = f.value;
  return repeat ? Buffer.concat([bytes, bytes]) : bytes;
});

const anyMessage = fc.oneof(
  { weight: 3, arbitrary: requestObject.map(encoded) },
  { weight: 3, arbitrary: mutatedBytes },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)) },
);

/** Both readers of a gRPC inference: the gateway's envelope peek and the node's full decode. */
function decodeBoth(bytes: Buffer): boolean {
  cleanOutcome(() => peekInferTarget(bytes));
  const outcome = cleanOutcome(() => decodeGrpcInferRequest(bytes, 'add_sub', undefined, meta, limits));
  if (outcome.ok) {
    for (const input of outcome.value.inputs) expect(input.data.length).toBe(elementCount(input.shape));
  }
  return outcome.ok;
}

describe('fuzz: gRPC messages, decoded in process', { timeout: 60_000 }, () => {
  it('the valid message the mutations start from decodes', () => {
    expect(decodeBoth(VALID)).toBe(true);
  });

  it('a parameters map entry without its value is INVALID_ARG, not a TypeError (found by this fuzzer)', () => {
    // Field 4 (parameters) as a varint: protobufjs decodes it as the entry {'': null}.
    const outcome = cleanOutcome(() => decodeGrpcInferRequest(Buffer.from([32, 0]), 'add_sub', undefined, meta, limits));
    expect(outcome.ok).toBe(false);
    expect(!outcome.ok && outcome.error.message).toBe("request: parameter '' has no value");
  });

  it('random ModelInferRequest messages: a valid request or a 4xx', async () => {
    await checkProperty('grpc: structured messages (decode)', fc.property(requestObject, (request) => {
      decodeBoth(encoded(request));
    }), 8000);
  });

  it('mutated protobuf bytes: a valid request or a 4xx', async () => {
    await checkProperty('grpc: mutated bytes (decode)', fc.property(mutatedBytes, (bytes) => {
      decodeBoth(bytes);
    }), 6000);
  });

  it('random bytes: a 4xx', async () => {
    await checkProperty('grpc: random bytes (decode)', fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
      decodeBoth(Buffer.from(bytes));
    }), 10000);
  });
});

/** Statuses a crash, a hang or a lost node would show as: none may answer a fuzzed request. */
const UNCLEAN = new Set<number>([GrpcStatus.INTERNAL, GrpcStatus.UNKNOWN, GrpcStatus.UNAVAILABLE, GrpcStatus.DEADLINE_EXCEEDED, GrpcStatus.DATA_LOSS]);

describe('fuzz: gRPC messages against a real gRPC door', { timeout: 60_000 }, () => {
  let node: GrpcNode;
  let repository: string;
  beforeAll(async () => {
    repository = mkdtempSync(path.join(os.tmpdir(), 'infergate-fuzz-grpc-'));
    for (const model of ['add_sub', 'identity']) cpSync(path.join(bundledModelsDir(), model), path.join(repository, model), { recursive: true });
    node = await startGrpcNode({ modelsDir: repository });
  }, 60_000);
  afterAll(async () => {
    await node?.close();
    rmSync(repository, { recursive: true, force: true });
  });

  it('a few hundred random and mutated ModelInfer messages: an answer or a clean status, and the door still serves', async () => {
    const seen = new Map<string, number>();
    await checkProperty('grpc: messages to a real door', fc.asyncProperty(anyMessage, async (bytes) => {
      try {
        await node.client.inferBytes(bytes, { deadline: Date.now() + 10_000 });
        seen.set('OK', (seen.get('OK') ?? 0) + 1);
      } catch (err) {
        const code = (err as ServiceError).code;
        seen.set(GrpcStatus[code], (seen.get(GrpcStatus[code]) ?? 0) + 1);
        expect(UNCLEAN.has(code), `status ${GrpcStatus[code]}: ${(err as ServiceError).details}`).toBe(false);
      }
    }), 1000);
    console.log(`[fuzz] grpc door answers: ${JSON.stringify(Object.fromEntries(seen))}`);
    const emptyEntry = await node.client.inferBytes(Buffer.from([32, 0])).then(() => undefined, (err: ServiceError) => err);
    expect(emptyEntry?.code).toBe(GrpcStatus.INVALID_ARGUMENT);
    // After all that, the valid request still gets its answer.
    expect((await node.client.inferBytes(VALID)).length).toBeGreaterThan(0);
  }, 120_000);
});
