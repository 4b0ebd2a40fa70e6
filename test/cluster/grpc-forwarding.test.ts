/**
 * gRPC through a gateway, real processes: a gateway (its default workers, sharing one gRPC port)
 * in front of one backend node serving the real identity and add_sub ONNX models. The same
 * ModelInfer gets byte-identical response messages from the gateway's gRPC port and the node's
 * own (the gateway forwards the bytes to the gRPC address the node advertised); the node's errors
 * reach the client with the node's status and message. Both gateways run with --max-tensor-elements
 * 8, which only a decoder applies: the first gateway decodes nothing, so larger requests pass. A
 * second gateway that knows the node only as a static HTTP backend (no gRPC address) decodes and
 * re-encodes over HTTP: it applies its limit, and answers the same bytes as the node.
 */
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  GatewayProcess, clusterTest, gatewayWithRealNode, httpJson, waitForNodes, type Cluster, type InfergateProcess,
} from '../support/cluster.js';
import { bytesOf, decodeInferResponseMessage, encodeInferRequestMessage, failure, float32sOf, GrpcTestClient, int32sOf } from '../support/grpc-client.js';

// One cluster for the whole file (clusterTest's own clusters end with each test); the turn is still taken.
clusterTest();
/** Smaller than every identity/add_sub request here; a gateway that decoded them would refuse them. */
const GATEWAY_MAX_TENSOR_ELEMENTS = '8';
let cluster: Cluster;
let node: InfergateProcess;
let staticGateway: GatewayProcess | undefined;
let viaGateway: GrpcTestClient;
let direct: GrpcTestClient;
let viaStaticGateway: GrpcTestClient;

beforeAll(async () => {
  let gateway;
  ({ cluster, gateway, node } = await gatewayWithRealNode({ extraArgs: ['--max-tensor-elements', GATEWAY_MAX_TENSOR_ELEMENTS] }));
  viaGateway = new GrpcTestClient(await gateway.grpcStarted());
  direct = new GrpcTestClient(await node.grpcStarted());

  staticGateway = new GatewayProcess('static-gateway', 'gateway', [
    '--http-port', '0', '--grpc-port', '0', '--metrics-port', 'off', '--host', '127.0.0.1', '--workers', '1',
    '--slow-start-ms', '0', '--max-tensor-elements', GATEWAY_MAX_TENSOR_ELEMENTS, '--backend', node.url,
  ]);
  await staticGateway.started();
  await waitForNodes(staticGateway.url, [node.url], { model: 'identity' });
  await waitForNodes(staticGateway.url, [node.url]);
  viaStaticGateway = new GrpcTestClient(await staticGateway.grpcStarted());
}, 60_000);

afterAll(async () => {
  for (const client of [viaGateway, direct, viaStaticGateway]) client?.close();
  if (staticGateway?.running) staticGateway.child.kill('SIGKILL');
  await staticGateway?.exited;
  await cluster?.close();
});

const ints = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));

const ADD_SUB_RAW = encodeInferRequestMessage({
  model_name: 'add_sub',
  id: 'grpc-fwd-1',
  inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [2, 16] }, { name: 'INPUT1', datatype: 'INT32', shape: [2, 16] }],
  raw_input_contents: [bytesOf(Int32Array.from(ints(32, (i) => i * 5 - 40))), bytesOf(Int32Array.from(ints(32, () => 3)))],
});

const IDENTITY_TYPED = encodeInferRequestMessage({
  model_name: 'identity',
  model_version: '1',
  id: 'grpc-fwd-2',
  parameters: { priority: { int64_param: 3 } },
  inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [3, 16], contents: { fp32_contents: ints(48, (i) => i / 7) } }],
});

const SIM_ECHO = encodeInferRequestMessage({
  model_name: 'sim_echo',
  id: 'grpc-fwd-3',
  inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [4] }],
  raw_input_contents: [bytesOf(Float32Array.from([0.5, -1, 2, 4]))],
});

const UNKNOWN_INPUT = encodeInferRequestMessage({
  model_name: 'identity',
  inputs: [{ name: 'INPUT9', datatype: 'FP32', shape: [1, 16] }],
  raw_input_contents: [bytesOf(new Float32Array(16))],
});


describe('gRPC through a gateway (real processes)', () => {
  it('add_sub with raw contents and no version: the gateway\'s response message is byte for byte the node\'s', async () => {
    const fromNode = await direct.inferBytes(ADD_SUB_RAW);
    const fromGateway = await viaGateway.inferBytes(ADD_SUB_RAW, { requestId: 'fwd-req-1' });
    expect(fromGateway.equals(fromNode)).toBe(true);
    const decoded = decodeInferResponseMessage(fromGateway);
    expect(decoded).toMatchObject({ model_name: 'add_sub', model_version: '1', id: 'grpc-fwd-1' });
    expect(int32sOf(decoded.raw_output_contents[0])).toEqual(ints(32, (i) => i * 5 - 40 + 3));
  });

  it('the node advertises its gRPC door in its load report', async () => {
    const { body } = await httpJson<{ report: { grpcUrl?: string } }>(`${node.url}/infergate/node`);
    expect(body.report.grpcUrl).toBe(`grpc://${node.grpcAddress}`);
  });

  it('identity with typed contents, a version and parameters: byte for byte the node\'s', async () => {
    const fromNode = await direct.inferBytes(IDENTITY_TYPED);
    const fromGateway = await viaGateway.inferBytes(IDENTITY_TYPED);
    expect(fromGateway.equals(fromNode)).toBe(true);
    expect(float32sOf(decodeInferResponseMessage(fromGateway).raw_output_contents[0])).toEqual(Array.from(Float32Array.from(ints(48, (i) => i / 7))));
  });

  it('a node\'s error reaches the client with the node\'s status and message', async () => {
    const fromNode = await failure(direct.inferBytes(UNKNOWN_INPUT));
    const fromGateway = await failure(viaGateway.inferBytes(UNKNOWN_INPUT));
    expect(fromNode.code).toBe(status.INVALID_ARGUMENT);
    expect(fromNode.details).toMatch(/unknown input 'INPUT9' for model 'identity'/);
    expect(fromGateway.code).toBe(fromNode.code);
    expect(fromGateway.details).toBe(fromNode.details);
    const bigBatch = encodeInferRequestMessage({
      model_name: 'identity', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [9, 16] }], raw_input_contents: [bytesOf(new Float32Array(144))],
    });
    const tooLarge = await failure(viaGateway.inferBytes(bigBatch));
    expect(tooLarge.code).toBe(status.INVALID_ARGUMENT);
    expect(tooLarge.details).toBe((await failure(direct.inferBytes(bigBatch))).details);
  });

  it('an unknown model is NOT_FOUND at the gateway', async () => {
    const err = await failure(viaGateway.inferBytes(encodeInferRequestMessage({ model_name: 'no_such_model', inputs: [] })));
    expect(err.code).toBe(status.NOT_FOUND);
    expect(err.details).toMatch(/no_such_model/);
  });

  it('a stream through the gateway: a bad request in the middle answers with error_message, the rest go on', async () => {
    const responses = await viaGateway.stream([
      { model_name: 'identity', id: 's1', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 16], contents: { fp32_contents: ints(16, (i) => i) } }] },
      { model_name: 'identity', id: 's2', inputs: [{ name: 'INPUT9', datatype: 'FP32', shape: [1, 16] }], raw_input_contents: [bytesOf(new Float32Array(16))] },
      { model_name: 'add_sub', id: 's3', inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], contents: { int_contents: ints(16, (i) => i) } },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], contents: { int_contents: ints(16, () => 1) } },
      ] },
    ]);
    expect(responses.map((r) => [r.error_message === '', r.infer_response.id])).toEqual([[true, 's1'], [false, 's2'], [true, 's3']]);
    expect(responses[1].error_message).toMatch(/unknown input 'INPUT9'/);
    expect(int32sOf(responses[2].infer_response.raw_output_contents[1])).toEqual(ints(16, (i) => i - 1));
  });

  it('metadata and config through the gateway equal the node\'s', async () => {
    expect(await viaGateway.call('ModelMetadata', { name: 'add_sub' })).toEqual(await direct.call('ModelMetadata', { name: 'add_sub' }));
    expect(await viaGateway.call('ModelConfig', { name: 'identity' })).toEqual(await direct.call('ModelConfig', { name: 'identity' }));
    expect(await viaGateway.call('ModelReady', { name: 'identity', version: '1' })).toEqual({ ready: true });
    expect(await viaGateway.check('')).toEqual({ status: 'SERVING' });
  });

  it('a node known only over HTTP (a static --backend): the gateway re-encodes, and the answer is the same bytes', async () => {
    expect((await viaStaticGateway.inferBytes(SIM_ECHO)).equals(await direct.inferBytes(SIM_ECHO))).toBe(true);
    // This gateway decodes, so its own limit applies; the forwarding gateway above passed the same request on.
    const decodedHere = await failure(viaStaticGateway.inferBytes(IDENTITY_TYPED));
    expect(decodedHere.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(decodedHere.details).toMatch(/over the limit --max-tensor-elements = 8/);
  });
});
