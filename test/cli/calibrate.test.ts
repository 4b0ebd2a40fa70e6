/**
 * `infergate calibrate` as a real process (run `npx tsc -p tsconfig.json` first: it runs dist/) on
 * bundled models: the table's shape and positive figures, the JSON form, and a flag error.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../core/package-root.js';

const CLI = path.join(packageRoot(), 'dist', 'cli', 'infergate.js');

/** Asynchronous, so the test's own timeout (not a blocked event loop) bounds it. */
function run(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'calibrate', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('infergate calibrate', () => {
  it('prints one line per (model, card) with positive inferences/s and ms p50 ≤ p99', async () => {
    const { status, stdout, stderr } = await run('--model', 'tiny_cnn', '--model', 'ocr_cls', '--calibrate-ms', '100', '--batch', '2');
    expect(status, stderr).toBe(0);
    const [header, ...lines] = stdout.trim().split('\n');
    expect(header.split(/\s{2,}/)).toEqual(['model', 'version', 'card', 'engine', 'batch', 'inferences/s', 'ms p50', 'ms p99']);
    const rows = lines.map((l) => l.trim().split(/\s+/));
    expect(rows.map((r) => r.slice(0, 5))).toEqual([
      ['ocr_cls', '1', 'cpu', 'onnx', '2'],
      ['tiny_cnn', '1', 'cpu', 'onnx', '2'],
    ]);
    for (const r of rows) {
      const [perSec, p50, p99] = r.slice(5).map(Number);
      expect(perSec).toBeGreaterThan(0);
      expect(p50).toBeGreaterThan(0);
      expect(p99).toBeGreaterThanOrEqual(p50);
    }
  }, 60_000);

  it('--json gives the rows for scripts, and lists a simulated model as not measured', async () => {
    const { status, stdout, stderr } = await run('--model', 'identity', '--model', 'sim_echo', '--calibrate-ms', '50', '--json');
    expect(status, stderr).toBe(0);
    const body = JSON.parse(stdout);
    expect(body.calibrate_ms).toBe(50);
    expect(body.skipped).toEqual(['sim_echo']);
    expect(body.unavailable).toEqual([]);
    expect(body.rows).toHaveLength(1);
    expect(body.rows[0]).toMatchObject({ model: 'identity', version: '1', card: 'cpu', card_type: 'cpu-core', engine: 'onnx', instances: 1, batch: 1 });
    expect(body.rows[0].inferences_per_sec).toBeGreaterThan(0);
    expect(body.rows[0].executions).toBeGreaterThanOrEqual(3);
  }, 60_000);

  it('refuses a model the repository does not declare, and a bad budget, with exit code 2', async () => {
    const missing = await run('--model', 'nope');
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('--model: not declared in');
    const zero = await run('--calibrate-ms', '0');
    expect(zero.status).toBe(2);
    expect(zero.stderr).toContain("--calibrate-ms expects an integer ≥ 1, got '0'");
  }, 60_000);
});
