/**
 * Dynamic batching over real sockets: an `infergate serve` process on a temp repository with the
 * bundled tiny_cnn and identity models declared three ways (dynamic batching with a delay, none,
 * and a held queue with a size limit and a queue timeout). Requests arriving within the delay run
 * as one execution (the statistics extension says so), with the numbers the unbatched model gives;
 * without dynamic_batching, rows (not requests) bound a run; a full queue is 503 at once; a request
 * queued past default_queue_timeout_us is 504.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BenchChildren, startServe, type BenchChild } from '../../bench/support/processes.js';
import { bundledModelsDir } from '../../core/package-root.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'infergate-dynamic-batching-'));
const children = new BenchChildren();
let server: BenchChild;

/** Copies a bundled model under a new name with YAML appended (a later key of the same name is refused by no one: the copy's own lines are edited). */
function declare(source: string, name: string, edit: (yaml: string) => string): void {
  cpSync(path.join(bundledModelsDir(), source), path.join(dir, name), { recursive: true });
  const file = path.join(dir, name, 'model.yaml');
  writeFileSync(file, edit(readFileSync(file, 'utf8').replace(`name: ${source}`, `name: ${name}`)));
}

beforeAll(async () => {
  declare('tiny_cnn', 'tiny_batched', (y) => `${y}dynamic_batching:\n  max_queue_delay_us: 400000\n`);
  declare('tiny_cnn', 'tiny_plain', (y) => y);
  declare('identity', 'identity_held', (y) => `${y.replace('max_queue_size: 256\n', '')}dynamic_batching:\n  max_queue_delay_us: 1000000\n  max_queue_size: 2\n  default_queue_timeout_us: 200000\n`);
  server = await startServe(children, { host: '127.0.0.1', modelsDir: dir });
}, 60_000);

afterAll(async () => {
  await children.stopAll();
  rmSync(dir, { recursive: true, force: true });
});

interface Answer { status: number; body: any; ms: number }

async function infer(model: string, rows: number, seed: number, values = 64): Promise<Answer> {
  const startedAt = performance.now();
  const data = Array.from({ length: rows * values }, (_, i) => Math.sin(i * 0.37 + seed));
  const name = model.startsWith('identity') ? 'INPUT0' : 'INPUT';
  const shape = model.startsWith('identity') ? [rows, 16] : [rows, 1, 8, 8];
  const res = await fetch(`${server.url}/v2/models/${model}/infer`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id: `r${seed}`, inputs: [{ name, datatype: 'FP32', shape, data: data.slice(0, shape.reduce((a, b) => a * b, 1)) }] }),
  });
  return { status: res.status, body: await res.json(), ms: performance.now() - startedAt };
}

async function stats(model: string): Promise<{ execution_count: number; inference_count: number; batch_stats: { batch_size: number }[] }> {
  const res = await fetch(`${server.url}/v2/models/${model}/stats`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { model_stats: any[] }).model_stats[0];
}

describe('dynamic batching over HTTP on a serve process', () => {
  it('four 1-row requests arriving within the delay run as one execution, with the unbatched numbers', async () => {
    const before = await stats('tiny_batched');
    const answers = await Promise.all([0, 1, 2, 3].map((seed) => infer('tiny_batched', 1, seed)));
    const after = await stats('tiny_batched');
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    expect(after.execution_count - before.execution_count).toBe(1);
    expect(after.inference_count - before.inference_count).toBe(4);
    expect(after.batch_stats.map((b) => b.batch_size)).toContain(4);
    // The same requests one at a time on the same model without batching.
    for (const [seed, a] of answers.entries()) {
      const alone = await infer('tiny_plain', 1, seed);
      expect(a.body.id).toBe(`r${seed}`);
      expect(a.body.outputs[0].shape).toEqual([1, 3]);
      expect(a.body.outputs[0].data).toEqual(alone.body.outputs[0].data);
    }
  });

  it('a partial batch runs when the delay has passed', async () => {
    const before = await stats('tiny_batched');
    const answers = await Promise.all([infer('tiny_batched', 1, 10), infer('tiny_batched', 2, 11)]);
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    // Held for the declared 400 ms (minus the time the second took to arrive).
    expect(Math.max(...answers.map((a) => a.ms))).toBeGreaterThanOrEqual(350);
    const after = await stats('tiny_batched');
    expect(after.execution_count - before.execution_count).toBe(1);
    expect(after.inference_count - before.inference_count).toBe(3);
  });

  it('without dynamic_batching, four concurrent max-rows requests are four executions (rows bound a run)', async () => {
    const before = await stats('tiny_plain');
    const answers = await Promise.all([0, 1, 2, 3].map((seed) => infer('tiny_plain', 4, seed)));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    const after = await stats('tiny_plain');
    expect(after.execution_count - before.execution_count).toBe(4);
    expect(after.inference_count - before.inference_count).toBe(16);
  });

  it('a full queue answers 503 at once; requests queued past default_queue_timeout_us get 504', async () => {
    const held = [infer('identity_held', 1, 1), infer('identity_held', 1, 2)];
    // Let both reach the queue before the third.
    await new Promise((r) => setTimeout(r, 50));
    const refused = await infer('identity_held', 1, 3);
    expect(refused.status).toBe(503);
    expect(refused.body.error).toMatch(/queue is full \(max_queue_size 2\)/);
    expect(refused.ms).toBeLessThan(150);
    const timedOut = await Promise.all(held);
    for (const t of timedOut) {
      expect(t.status).toBe(504);
      expect(t.body.error).toMatch(/default_queue_timeout_us \(200000 µs\)/);
      // Not the 1 s delay: the queue timeout answered them.
      expect(t.ms).toBeGreaterThanOrEqual(190);
      expect(t.ms).toBeLessThan(900);
    }
    expect((await stats('identity_held')).execution_count).toBe(0);
  });

  it('GET .../config shows dynamic_batching under Triton\'s field names', async () => {
    const config = await (await fetch(`${server.url}/v2/models/identity_held/config`)).json() as { dynamic_batching: unknown };
    expect(config.dynamic_batching).toEqual({
      preferred_batch_size: [], max_queue_delay_microseconds: 1_000_000, priority_levels: 0, default_priority_level: 0,
      default_queue_policy: { timeout_action: 'REJECT', default_timeout_microseconds: 200_000, allow_timeout_override: false, max_queue_size: 2 },
    });
  });
});
