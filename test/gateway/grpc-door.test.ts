/**
 * The gRPC front door over a real socket: an embedded node (the real engines on the bundled
 * models) with the gRPC door beside its HTTP app on a free port, and a grpc-js client generated
 * from the project's .proto. Every RPC with good and bad input; errors carry the codes of the
 * shared table and the same messages the HTTP door gives.
 */
import { status, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_SERVER_VERSION, type EmbeddedServer } from '../support/embedded-server.js';
import { bytesOf, failure, float32sOf, GrpcTestClient, int32sOf } from '../support/grpc-client.js';
import { startGrpcServer } from '../../gateway/grpc/server.js';
import { startGrpcNode, type GrpcNode } from '../support/grpc-node.js';

let node: GrpcNode;
let server: EmbeddedServer;
let client: GrpcTestClient;

beforeAll(async () => {
  node = await startGrpcNode();
  ({ server, client } = node);
});

afterAll(async () => {
  await node?.close();
});

const ints = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));
const FLOATS = ints(16, (i) => i / 4 - 1.5);


/** The HTTP door's answer to the same request, for comparing messages. */
async function httpError(method: 'GET' | 'POST', url: string, body?: unknown): Promise<{ status: number; error: string }> {
  const res = await server.app.inject({ method, url, ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) }) });
  return { status: res.statusCode, error: (res.json() as { error: string }).error };
}

function identityRaw(values = FLOATS, shape = [1, 16]) {
  return {
    model_name: 'identity',
    id: 'raw-1',
    inputs: [{ name: 'INPUT0', datatype: 'FP32', shape }],
    raw_input_contents: [bytesOf(Float32Array.from(values))],
  };
}

function addSubTyped(a: number[], b: number[]) {
  return {
    model_name: 'add_sub',
    inputs: [
      { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], contents: { int_contents: a } },
      { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], contents: { int_contents: b } },
    ],
  };
}

describe('server and health RPCs', () => {
  it('ServerLive, ServerReady and ServerMetadata answer as the HTTP door does', async () => {
    expect(await client.call('ServerLive', {})).toEqual({ live: true });
    expect(await client.call('ServerReady', {})).toEqual({ ready: true });
    const meta = await client.call('ServerMetadata', {});
    expect(meta).toEqual({ name: 'infergate', version: TEST_SERVER_VERSION, extensions: server.node.service.serverMetadata().extensions });
  });

  it('grpc.health.v1 Check: SERVING for the server and the inference service, NOT_FOUND for another service', async () => {
    expect(await client.check('')).toEqual({ status: 'SERVING' });
    expect(await client.check('inference.GRPCInferenceService')).toEqual({ status: 'SERVING' });
    const err = await failure(client.check('no.such.Service'));
    expect(err.code).toBe(status.NOT_FOUND);
    expect(err.details).toMatch(/unknown service 'no.such.Service'/);
  });

  it('grpc.health.v1 Watch is UNIMPLEMENTED', async () => {
    const watch = (client.health as unknown as { Watch(request: object): NodeJS.EventEmitter }).Watch({ service: '' });
    const err = await new Promise<ServiceError>((resolve) => watch.on('error', resolve));
    expect(err.code).toBe(status.UNIMPLEMENTED);
  });
});

describe('model RPCs', () => {
  it('ModelMetadata equals the HTTP metadata; an unknown model is NOT_FOUND with the HTTP message', async () => {
    const meta = await client.call('ModelMetadata', { name: 'identity' });
    const http = (await server.app.inject({ method: 'GET', url: '/v2/models/identity' })).json();
    expect(meta).toEqual(http);
    expect(await client.call('ModelMetadata', { name: 'add_sub', version: '1' })).toMatchObject({ name: 'add_sub', versions: ['1'] });
    const err = await failure(client.call('ModelMetadata', { name: 'no_such_model' }));
    const expected = await httpError('GET', '/v2/models/no_such_model');
    expect(expected.status).toBe(404);
    expect(err.code).toBe(status.NOT_FOUND);
    expect(err.details).toBe(expected.error);
  });

  it('ModelReady: true for a served model; NOT_FOUND for an unknown one or version', async () => {
    expect(await client.call('ModelReady', { name: 'identity' })).toEqual({ ready: true });
    expect(await client.call('ModelReady', { name: 'identity', version: '1' })).toEqual({ ready: true });
    const err = await failure(client.call('ModelReady', { name: 'identity', version: '7' }));
    expect(err.code).toBe(status.NOT_FOUND);
    expect(err.details).toBe((await httpError('GET', '/v2/models/identity/versions/7/ready')).error);
  });

  it('ModelConfig: the declaration as Triton\'s ModelConfig message', async () => {
    const { config } = await client.call('ModelConfig', { name: 'identity' });
    expect(config).toMatchObject({
      name: 'identity',
      platform: 'onnxruntime_onnx',
      backend: 'onnx',
      max_batch_size: 8,
      version_policy: { latest: { num_versions: 1 } },
      input: [{ name: 'INPUT0', data_type: 'TYPE_FP32', dims: [16] }],
      output: [{ name: 'OUTPUT0', data_type: 'TYPE_FP32', dims: [16] }],
      instance_group: [{ kind: 'KIND_CPU', count: 1 }],
    });
    expect(config.parameters['infergate.execution']).toEqual({ string_value: 'inline' });
    expect((await failure(client.call('ModelConfig', { name: 'nope' }))).code).toBe(status.NOT_FOUND);
  });

  it('RepositoryIndex equals the HTTP index; `ready` keeps only the ready models', async () => {
    const { models } = await client.call('RepositoryIndex', {});
    const http = (await server.app.inject({ method: 'POST', url: '/v2/repository/index' })).json();
    expect(models).toEqual(http);
    const ready = await client.call('RepositoryIndex', { ready: true });
    expect(ready.models.every((m: { state: string }) => m.state === 'READY')).toBe(true);
  });

  it('RepositoryModelLoad and RepositoryModelUnload are refused in none mode with the reason (explicit mode: grpc-repository.test.ts)', async () => {
    for (const [method, request] of [['RepositoryModelLoad', { model_name: 'identity' }], ['RepositoryModelUnload', { model_name: 'identity' }]] as const) {
      const err = await failure(client.call(method, request));
      expect(err.code, method).toBe(status.INVALID_ARGUMENT);
      expect(err.details, method).toMatch(/explicit model load \/ unload is not allowed/);
    }
  });
});

describe('ModelInfer', () => {
  it('identity with raw contents: the output is the input, in raw_output_contents', async () => {
    const res = await client.call('ModelInfer', identityRaw(), { requestId: 'grpc-raw' });
    expect(res).toMatchObject({ model_name: 'identity', model_version: '1', id: 'raw-1' });
    expect(res.outputs).toEqual([{ name: 'OUTPUT0', datatype: 'FP32', shape: [1, 16], parameters: {}, contents: null }]);
    expect(float32sOf(res.raw_output_contents[0])).toEqual(FLOATS);
  });

  it('identity with typed contents (fp32_contents), a batch of two', async () => {
    const values = [...FLOATS, ...FLOATS.map((v) => v * 3)];
    const res = await client.call('ModelInfer', {
      model_name: 'identity', model_version: '1',
      inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [2, 16], contents: { fp32_contents: values } }],
    });
    expect(res.outputs[0].shape).toEqual([2, 16]);
    expect(float32sOf(res.raw_output_contents[0])).toEqual(values);
  });

  it('add_sub (INT32): typed and raw contents give the same sums and differences; requested outputs only', async () => {
    const a = ints(16, (i) => i * 3 - 7);
    const b = ints(16, (i) => 100 - i);
    const typed = await client.call('ModelInfer', addSubTyped(a, b));
    expect(typed.outputs.map((o: { name: string }) => o.name)).toEqual(['OUTPUT0', 'OUTPUT1']);
    expect(int32sOf(typed.raw_output_contents[0])).toEqual(a.map((x, i) => x + b[i]));
    expect(int32sOf(typed.raw_output_contents[1])).toEqual(a.map((x, i) => x - b[i]));
    const raw = await client.call('ModelInfer', {
      model_name: 'add_sub',
      inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16] }, { name: 'INPUT1', datatype: 'INT32', shape: [1, 16] }],
      outputs: [{ name: 'OUTPUT1' }],
      raw_input_contents: [bytesOf(Int32Array.from(a)), bytesOf(Int32Array.from(b))],
    });
    expect(raw.outputs.map((o: { name: string }) => o.name)).toEqual(['OUTPUT1']);
    expect(raw.raw_output_contents[0]).toEqual(typed.raw_output_contents[1]);
  });

  it('an unknown model is NOT_FOUND, with the HTTP door\'s message', async () => {
    const err = await failure(client.call('ModelInfer', { ...identityRaw(), model_name: 'no_such_model' }));
    const http = await httpError('POST', '/v2/models/no_such_model/infer', { inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 16], data: FLOATS }] });
    expect(err.code).toBe(status.NOT_FOUND);
    expect(err.details).toBe(http.error);
  });

  it.each([
    ['an unknown input', { name: 'INPUT9', datatype: 'FP32', shape: [1, 16] }],
    ['a wrong datatype', { name: 'INPUT0', datatype: 'FP64', shape: [1, 8] }],
    ['a wrong shape', { name: 'INPUT0', datatype: 'FP32', shape: [1, 15] }],
    ['a batch over max_batch_size', { name: 'INPUT0', datatype: 'FP32', shape: [9, 16] }],
  ])('%s is INVALID_ARGUMENT, with the HTTP door\'s message', async (_what, input) => {
    const count = input.shape[0] * input.shape[1];
    const values = ints(count, (i) => i);
    const raw = input.datatype === 'FP64' ? bytesOf(Float64Array.from(values)) : bytesOf(Float32Array.from(values));
    const err = await failure(client.call('ModelInfer', { model_name: 'identity', inputs: [input], raw_input_contents: [raw] }));
    const http = await httpError('POST', '/v2/models/identity/infer', { inputs: [{ ...input, data: values }] });
    expect(http.status).toBe(400);
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toBe(http.error);
  });

  it.each([
    ['raw contents of the wrong size', { inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 16] }], raw_input_contents: [Buffer.alloc(60)] }, /binary data is 60 bytes, shape \[1,16\] of FP32 needs 64/],
    ['fewer raw contents than inputs', { inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 16] }], raw_input_contents: [Buffer.alloc(64), Buffer.alloc(64)] }, /2 raw_input_contents for 1 inputs/],
    ['typed contents of the wrong type', { inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 16], contents: { int_contents: ints(16, (i) => i) } }] }, /FP32 takes its elements in fp32_contents, got int_contents/],
    ['too few typed elements', { inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 16], contents: { fp32_contents: [1, 2] } }] }, /shape \[1,16\] needs 16 elements, fp32_contents has 2/],
    ['FP16 as typed contents', { inputs: [{ name: 'INPUT0', datatype: 'FP16', shape: [1, 16], contents: {} }] }, /FP16 has no typed contents field; send its data in raw_input_contents/],
    ['no data at all', { inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 16] }] }, /no data: give raw_input_contents/],
    ['an unknown datatype', { inputs: [{ name: 'INPUT0', datatype: 'FLOAT', shape: [1, 16] }], raw_input_contents: [Buffer.alloc(64)] }, /unknown datatype 'FLOAT'/],
    ['no inputs', { inputs: [] }, /request has no 'inputs'/],
  ])('%s is INVALID_ARGUMENT with a message that says what is wrong', async (_what, body, message) => {
    const err = await failure(client.call('ModelInfer', { model_name: 'identity', ...body }));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(message);
  });

  it('bytes that are not a ModelInferRequest are INVALID_ARGUMENT', async () => {
    const err = await failure(client.inferBytes(Buffer.from([0x0a, 0x7f, 0x01])));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/malformed ModelInferRequest/);
    const nameless = await failure(client.inferBytes(Buffer.alloc(0)));
    expect(nameless.details).toMatch(/ModelInferRequest has no model_name/);
  });

  it('a requested output that does not exist is INVALID_ARGUMENT, with the HTTP door\'s message', async () => {
    const err = await failure(client.call('ModelInfer', { ...identityRaw(), outputs: [{ name: 'NOPE' }] }));
    const http = await httpError('POST', '/v2/models/identity/infer', { inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 16], data: FLOATS }], outputs: [{ name: 'NOPE' }] });
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toBe(http.error);
  });
});

describe('message size', () => {
  it('takes messages far above grpc-js\'s 4 MiB default: 8 MiB in and out (sim_echo)', async () => {
    const elements = 2 * 1024 * 1024;
    const values = new Float32Array(elements).map((_, i) => i % 1000);
    const res = await client.call('ModelInfer', { model_name: 'sim_echo', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [elements] }], raw_input_contents: [bytesOf(values)] });
    expect(res.outputs[0].shape).toEqual([elements]);
    expect(Buffer.compare(res.raw_output_contents[0], bytesOf(values))).toBe(0);
  });

  it('a message over the configured limit is RESOURCE_EXHAUSTED', async () => {
    const small = await startGrpcServer({ service: server.node.service, host: '127.0.0.1', port: 0, maxMessageBytes: 1024 });
    const smallClient = new GrpcTestClient(`127.0.0.1:${small.port}`);
    try {
      const fourKiB = bytesOf(new Float32Array(1024));
      const err = await failure(smallClient.call('ModelInfer', { model_name: 'sim_echo', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1024] }], raw_input_contents: [fourKiB] }));
      expect(err.code).toBe(status.RESOURCE_EXHAUSTED);
      expect(await smallClient.call('ModelInfer', identityRaw())).toMatchObject({ model_name: 'identity' });
    } finally {
      smallClient.close();
      await small.close();
    }
  });
});

describe('ModelStreamInfer', () => {
  it('answers every request in order; a bad one in the middle gets error_message and the stream goes on', async () => {
    const a = ints(16, (i) => i);
    const b = ints(16, () => 2);
    const responses = await client.stream([
      { ...identityRaw(), id: 'first' },
      { model_name: 'identity', id: 'second', inputs: [{ name: 'INPUT9', datatype: 'FP32', shape: [1, 16] }], raw_input_contents: [bytesOf(Float32Array.from(FLOATS))] },
      { ...addSubTyped(a, b), id: 'third' },
      { ...identityRaw(), model_name: 'no_such_model', id: 'fourth' },
      { ...identityRaw(), id: 'fifth' },
    ]);
    expect(responses).toHaveLength(5);
    const [first, second, third, fourth, fifth] = responses;
    expect(first.error_message).toBe('');
    expect(first.infer_response.id).toBe('first');
    expect(float32sOf(first.infer_response.raw_output_contents[0])).toEqual(FLOATS);
    expect(second.error_message).toMatch(/unknown input 'INPUT9' for model 'identity'/);
    expect(second.infer_response).toMatchObject({ model_name: 'identity', id: 'second' });
    expect(third.error_message).toBe('');
    expect(int32sOf(third.infer_response.raw_output_contents[0])).toEqual(a.map((x) => x + 2));
    expect(fourth.error_message).toMatch(/no_such_model/);
    expect(fifth.error_message).toBe('');
    expect(fifth.infer_response.id).toBe('fifth');
  });
});
