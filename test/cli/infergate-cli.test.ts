/**
 * The CLI contract: verbs, help, flag errors, and a real `serve` process that answers on the
 * ports it was given and stops cleanly on SIGTERM.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bundledModelsDir, packageRoot } from '../../core/package-root.js';

const CLI = path.join(packageRoot(), 'dist', 'cli', 'infergate.js');
const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 20_000 });

describe('infergate CLI', () => {
  it('lists exactly the verbs that work today', () => {
    const out = run('--help');
    expect(out.status).toBe(0);
    const verbs = [...out.stdout.matchAll(/^ {2}(\w+) {2,}/gm)].map((m) => m[1]);
    expect(verbs).toEqual(['serve', 'backend', 'gateway', 'bench', 'devices', 'calibrate']);
  });

  it.each(['serve', 'backend', 'gateway'])('%s --help shows the port flags with Triton’s defaults', (verb) => {
    const out = run(verb, '--help');
    expect(out.status).toBe(0);
    expect(out.stdout).toMatch(/--http-port <value>.*\(default 8000\)/);
    expect(out.stdout).toMatch(/--metrics-port <value>.*\(default 8002\)/);
    expect(out.stdout).toMatch(/--grpc-port <value>.*\(default 8001\)/);
  });

  it('refuses an unknown verb and an unknown flag with exit code 2', () => {
    const verb = run('frobnicate');
    expect(verb.status).toBe(2);
    expect(verb.stderr).toMatch(/unknown verb 'frobnicate'/);
    const flag = run('serve', '--no-such-flag');
    expect(flag.status).toBe(2);
    expect(flag.stderr).toMatch(/no-such-flag/);
  });

  it('refuses a bad number and a backend without gateways, exit code 1, with the flag named', () => {
    const port = run('serve', '--http-port', 'eighty');
    expect(port.status).toBe(1);
    expect(port.stderr).toMatch(/--http-port expects an integer/);
    const policy = run('gateway', '--policy', 'fastest', '--http-port', '0', '--metrics-port', 'off');
    expect(policy.status).toBe(1);
    expect(policy.stderr).toMatch(/unknown routing policy 'fastest'/);
    const backend = run('backend', '--http-port', '0', '--metrics-port', 'off');
    expect(backend.status).toBe(1);
    expect(backend.stderr).toMatch(/needs --gateway/);
  });

  describe('serve as a real process', () => {
    const models = mkdtempSync(path.join(os.tmpdir(), 'infergate-cli-'));
    cpSync(path.join(bundledModelsDir(), 'add_sub'), path.join(models, 'add_sub'), { recursive: true });
    afterAll(() => rmSync(models, { recursive: true, force: true }));

    it('serves KServe v2 and metrics on the ports it reports, and exits 0 on SIGTERM', async () => {
      const child = spawn(process.execPath, [CLI, 'serve', '--models', models, '--http-port', '0', '--grpc-port', '0', '--metrics-port', '0', '--host', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] });
      try {
        const line = await new Promise<string>((resolve, reject) => {
          let out = '';
          child.stdout.on('data', (chunk) => {
            out += chunk;
            const match = /KServe v2 HTTP on [^"]*metrics on port \d+/.exec(out);
            if (match) resolve(match[0]);
          });
          child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${out}`)));
        });
        const httpUrl = /HTTP on (http:\/\/[^,]+)/.exec(line)![1];
        const metricsPort = /metrics on port (\d+)/.exec(line)![1];
        const ready = await fetch(`${httpUrl}/v2/health/ready`);
        expect(ready.status).toBe(200);
        const infer = await fetch(`${httpUrl}/v2/models/add_sub/infer`, {
          method: 'POST',
          body: JSON.stringify({ inputs: [
            { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: Array.from({ length: 16 }, (_, i) => i) },
            { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: Array(16).fill(10) },
          ] }),
        });
        const body = (await infer.json()) as { outputs: { name: string; data: number[] }[] };
        expect(body.outputs.find((o) => o.name === 'OUTPUT0')!.data).toEqual(Array.from({ length: 16 }, (_, i) => i + 10));
        const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
        expect(metrics).toMatch(/infergate_request_success_total\{model="add_sub",version="1"\} 1/);
        const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        expect(await exited).toBe(0);
      } finally {
        child.kill('SIGKILL');
      }
    });
  });
});
