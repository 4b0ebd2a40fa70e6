/**
 * Declared pre-processing in a cluster, real processes: a gateway in front of one backend node that
 * serves the image model (test/support/image-model.ts). The gateway learns the model's metadata from
 * the node (the image input as BYTES) and forwards the PNG untouched; the node decodes it and
 * answers what the plain model answers for the preprocessed tensor. A bad image is the node's 400,
 * passed on by the gateway.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Cluster, clusterTest, waitForNodes } from '../support/cluster.js';
import { IMAGE_MODEL_LABELS, IMAGE_MODEL_NAME, PATTERN_TENSOR, patternPng, writeImageModel } from '../support/image-model.js';
import { bombPng } from '../support/png-bytes.js';

// One cluster for the whole file (clusterTest's own clusters end with each test); the turn is still taken.
clusterTest();
let cluster: Cluster;
let gatewayUrl: string;

beforeAll(async () => {
  cluster = new Cluster({ bundled: ['tiny_cnn'] });
  writeImageModel(cluster.modelsDir);
  const gateway = await cluster.startGateway({ slowStartMs: 0 });
  await cluster.startBackend({ nodeId: 'n1' });
  for (const model of ['tiny_cnn', IMAGE_MODEL_NAME]) await waitForNodes(gateway.url, ['n1'], { model });
  gatewayUrl = gateway.url;
}, 60_000);
afterAll(async () => {
  await cluster?.close();
});

async function infer(model: string, body: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${gatewayUrl}/v2/models/${model}/infer`, { method: 'POST', body: JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

it('a PNG through the gateway: the same numbers as the preprocessed tensor; classification with labels', async () => {
  const meta = await (await fetch(`${gatewayUrl}/v2/models/${IMAGE_MODEL_NAME}`)).json() as { inputs: unknown[] };
  expect(meta.inputs).toEqual([{ name: 'INPUT', datatype: 'BYTES', shape: [-1, 1] }]);
  const reference = await infer('tiny_cnn', { inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [1, 1, 8, 8], data: PATTERN_TENSOR }] });
  expect(reference.status).toBe(200);
  const image = { name: 'INPUT', datatype: 'BYTES', shape: [1, 1], data: [(await patternPng(true)).toString('base64')] };
  const answer = await infer(IMAGE_MODEL_NAME, { inputs: [image] });
  expect(answer.status).toBe(200);
  expect(answer.json.outputs[0].data).toEqual(reference.json.outputs[0].data);
  const probs = reference.json.outputs[0].data as number[];
  const top = probs.indexOf(Math.max(...probs));
  const classified = await infer(IMAGE_MODEL_NAME, { inputs: [image], outputs: [{ name: 'PROBS', parameters: { classification: 1 } }] });
  expect(classified.json.outputs[0]).toEqual({ name: 'PROBS', datatype: 'BYTES', shape: [1, 1], data: [`${Math.fround(probs[top]).toFixed(6)}:${top}:${IMAGE_MODEL_LABELS[top]}`] });
}, 30_000);

it('a decompression bomb through the gateway is the node\'s 400', async () => {
  const bomb = await infer(IMAGE_MODEL_NAME, { inputs: [{ name: 'INPUT', datatype: 'BYTES', shape: [1, 1], data: [bombPng(100000, 100000).toString('base64')] }] });
  expect(bomb.status).toBe(400);
  expect(bomb.json.error).toContain('100000×100000 = 10000000000 pixels, over the limit max_image_pixels');
}, 30_000);
