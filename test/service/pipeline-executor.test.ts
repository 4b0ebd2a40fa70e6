/**
 * The pipeline executor over a real node (the bundled identity model, onnxruntime-node): a step's
 * rows go as one request, split only where the model's max_batch_size (8) is smaller, and come
 * back in order; a cancelled request starts no further step; bad processing steps fail the build
 * with the file and field.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cancellation } from '../../core/cancellation.js';
import { deadlineExceeded } from '../../core/errors.js';
import type { InferCall, WireAnswer } from '../../core/infer-call.js';
import { DeclarationInvalid } from '../../core/model-repository.js';
import { parsePipelineDeclaration, type PipelineDeclaration } from '../../core/pipeline-declaration.js';
import { packageRoot } from '../../core/package-root.js';
import type { InferRequest } from '../../core/tensor.js';
import { PipelineExecutor, type StepTarget } from '../../service/pipeline-executor.js';
import { startEmbeddedServer, type EmbeddedServer } from '../support/embedded-server.js';

let server: EmbeddedServer;
let modelsDir: string;

beforeAll(async () => {
  modelsDir = mkdtempSync(path.join(tmpdir(), 'infergate-pipeline-'));
  cpSync(path.join(packageRoot(), 'models', 'identity'), path.join(modelsDir, 'identity'), { recursive: true });
  server = await startEmbeddedServer({ modelsDir });
});

afterAll(async () => {
  await server?.close();
  rmSync(modelsDir, { recursive: true, force: true });
});

/** Two identity calls in a row: INPUT0 → a → b. */
function twoIdentities(): PipelineDeclaration {
  const dir = path.join(modelsDir, 'twice');
  return parsePipelineDeclaration({
    name: 'twice',
    inputs: [{ name: 'x', datatype: 'FP32', dims: [-1, 16] }],
    outputs: [{ name: 'b', datatype: 'FP32', dims: [-1, 16] }],
    pipeline: {
      steps: [
        { model: 'identity', inputs: { INPUT0: 'x' }, outputs: { OUTPUT0: 'a' } },
        { model: 'identity', inputs: { INPUT0: 'a' }, outputs: { OUTPUT0: 'b' } },
      ],
    },
  }, path.join(dir, 'model.yaml'), dir);
}

/** The node's own serving target, with every step call it gets written down. */
function recordingTarget(onAnswer?: (call: InferCall) => void): StepTarget & { calls: string[] } {
  const service = server.node.service;
  const calls: string[] = [];
  return {
    calls,
    metadata: (model, version) => service.modelMetadata(model, version),
    infer: async (call): Promise<WireAnswer> => {
      calls.push(`${call.model}#${call.requestId}`);
      const answer = await service.infer({ model: call.model, requestId: call.requestId, cancellation: call.cancellation, payload: call.payload });
      onAnswer?.(call);
      return answer;
    },
  };
}

function request(rows: number): { request: InferRequest; call: InferCall; cancellation: Cancellation } {
  const data = Float32Array.from({ length: rows * 16 }, (_, i) => i);
  const cancellation = new Cancellation();
  const request: InferRequest = { modelName: 'twice', inputs: [{ name: 'x', datatype: 'FP32', shape: [rows, 16], data }] };
  const call: InferCall = {
    model: 'twice', requestId: 'r1', deadlineMs: Date.now() + 30_000, cancellation,
    payload: { format: 'kserve-http', body: Buffer.alloc(0) },
  };
  return { request, call, cancellation };
}

describe('PipelineExecutor', () => {
  it('sends 5 rows as one request per step', async () => {
    const target = recordingTarget();
    const { request: req, call } = request(5);
    const { outputs, timings } = await new PipelineExecutor(twoIdentities()).run(req, call, target);
    expect(target.calls).toEqual(['identity#r1.0', 'identity#r1.1']);
    expect(outputs[0].shape).toEqual([5, 16]);
    expect(Array.from(outputs[0].data as Float32Array)).toEqual(Array.from(req.inputs[0].data as Float32Array));
    expect(timings.map((t) => t.step)).toEqual(['model:identity', 'model:identity']);
  });

  it('splits 20 rows at max_batch_size 8 into 8 + 8 + 4 and joins them back in order', async () => {
    const target = recordingTarget();
    const { request: req, call } = request(20);
    const { outputs } = await new PipelineExecutor(twoIdentities()).run(req, call, target);
    expect(target.calls).toEqual(['identity#r1.0.0', 'identity#r1.0.1', 'identity#r1.0.2', 'identity#r1.1.0', 'identity#r1.1.1', 'identity#r1.1.2']);
    expect(outputs[0].shape).toEqual([20, 16]);
    expect(Array.from(outputs[0].data as Float32Array)).toEqual(Array.from(req.inputs[0].data as Float32Array));
  });

  it('a request cancelled during step 0 never starts step 1, and fails with the reason', async () => {
    const { request: req, call, cancellation } = request(2);
    const target = recordingTarget(() => cancellation.cancel(deadlineExceeded()));
    await expect(new PipelineExecutor(twoIdentities()).run(req, call, target)).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    expect(target.calls).toEqual(['identity#r1.0']);
  });

  it('a step model error names the pipeline, the step and the model', async () => {
    const target = recordingTarget();
    const { request: req, call } = request(1);
    req.inputs[0] = { ...req.inputs[0], shape: [1, 8], data: new Float32Array(8) };
    await expect(new PipelineExecutor(twoIdentities()).run(req, call, target))
      .rejects.toMatchObject({ code: 'INVALID_ARG', message: expect.stringMatching(/^pipeline 'twice' step 0 \(model 'identity'\): .*shape/) });
  });
});

describe('building processing steps', () => {
  const dir = '/repo/models/p';
  const file = `${dir}/model.yaml`;
  const declare = (step: Record<string, unknown>) => parsePipelineDeclaration({
    name: 'p',
    inputs: [{ name: 'image', datatype: 'BYTES', dims: [1] }],
    outputs: [{ name: 'out', datatype: 'FP32', dims: [-1] }],
    pipeline: { steps: [step] },
  }, file, dir);
  const problems = (step: Record<string, unknown>) => {
    try {
      new PipelineExecutor(declare(step));
    } catch (err) {
      if (err instanceof DeclarationInvalid) return err.errors.map((e) => `${e.field}: ${e.message}`);
      throw err;
    }
    return [];
  };

  it.each([
    [{ process: 'text_boxs', inputs: { map: 'image' }, outputs: { boxes: 'out' } },
      [/^pipeline\.steps\[0\]\.process: unknown processing step 'text_boxs'; known: detection_image, text_boxes/]],
    [{ process: 'text_boxes', inputs: { map: 'image' }, outputs: { boxes: 'out' } },
      [/^pipeline\.steps\[0\]\.inputs\.image: expected this field: step 'text_boxes' reads 'image'/]],
    [{ process: 'text_boxes', inputs: { map: 'image', image: 'image' }, outputs: { box: 'out' } },
      [/^pipeline\.steps\[0\]\.outputs\.box: step 'text_boxes' has no output 'box'; its outputs: boxes/]],
    [{ process: 'text_boxes', parameters: { threshold: 3 }, inputs: { map: 'image', image: 'image' }, outputs: { boxes: 'out' } },
      [/^pipeline\.steps\[0\]\.parameters: parameter 'threshold': expected a number in \[0, 1\], got 3/]],
    [{ process: 'text_boxes', parameters: { treshold: 0.3 }, inputs: { map: 'image', image: 'image' }, outputs: { boxes: 'out' } },
      [/^pipeline\.steps\[0\]\.parameters: unknown parameter\(s\) treshold; expected among threshold, /]],
    [{ process: 'ctc_greedy_decode', parameters: { dictionary: 'keys.txt' }, inputs: { probabilities: 'image' }, outputs: { confidence: 'out' } },
      [/^pipeline\.steps\[0\]\.parameters: expected a file at \/repo\/models\/p\/keys\.txt/]],
  ])('%j → %j', (step, expected) => {
    const got = problems(step);
    expect(got).toHaveLength(expected.length);
    expected.forEach((re, i) => expect(got[i]).toMatch(re));
  });
});
