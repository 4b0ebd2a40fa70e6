/**
 * The arrival tap as the scale-out bench runs it: a child process in front of a real HTTP server,
 * forwarding answers and their headers unchanged and noting when each infer POST arrived; and the
 * bench's reading of a process's CPU time.
 */
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../../core/package-root.js';
import { NodeProcess, freePort, httpJson, waitFor } from '../../../bench/support/cluster-processes.js';
import { processCpuMicros } from '../../../bench/support/process-cpu.js';

const script = path.join(packageRoot(), 'dist', 'bench', 'support', 'arrival-tap.js');
let upstream: Server;
let tap: NodeProcess;
let tapUrl: string;

beforeAll(async () => {
  upstream = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'infergate-load': 'f=1,q=0,s=2,u=0.5,st=20,l=21,r=10,e=0,w=1000,d=0' });
      res.end(JSON.stringify({ path: req.url, body }));
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const { port } = upstream.address() as { port: number };
  const tapPort = await freePort();
  tapUrl = `http://127.0.0.1:${tapPort}`;
  tap = new NodeProcess('tap', script, ['--port', String(tapPort), '--target', `http://127.0.0.1:${port}`], { url: tapUrl });
  await waitFor('tap', async () => ((await httpJson(`${tapUrl}/infergate-tap/arrivals`)).status === 200 ? true : undefined), { timeoutMs: 10_000 });
});

afterAll(async () => {
  tap?.child.kill('SIGKILL');
  await tap?.exited;
  await new Promise((resolve) => upstream?.close(resolve));
});

describe('arrival tap (real child process)', () => {
  it('forwards answers and headers, notes infer POSTs only, and clears on POST', async () => {
    const before = Date.now();
    const answer = await fetch(`${tapUrl}/v2/models/m/infer`, { method: 'POST', body: '{"x":1}' });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('infergate-load')).toMatch(/^f=1,/);
    expect(await answer.json()).toEqual({ path: '/v2/models/m/infer', body: '{"x":1}' });
    await (await fetch(`${tapUrl}/v2/models/m`)).text(); // metadata: forwarded, not an arrival
    await (await fetch(`${tapUrl}/v2/models/m/infer`, { method: 'POST', body: '{}' })).text();
    const { body } = await httpJson<{ arrivals: number[] }>(`${tapUrl}/infergate-tap/arrivals`);
    expect(body.arrivals).toHaveLength(2);
    expect(body.arrivals[0]).toBeGreaterThanOrEqual(before - 5);
    expect(body.arrivals[1]).toBeGreaterThan(body.arrivals[0]);
    await httpJson(`${tapUrl}/infergate-tap/arrivals`, 'POST', {});
    expect((await httpJson<{ arrivals: number[] }>(`${tapUrl}/infergate-tap/arrivals`)).body.arrivals).toEqual([]);
  });

  it('an unreachable target is a 502 with a reason', async () => {
    const port = await freePort();
    const lonely = new NodeProcess('tap2', script, ['--port', String(port), '--target', `http://127.0.0.1:${await freePort()}`], { url: `http://127.0.0.1:${port}` });
    try {
      const answer = await waitFor('tap2', async () => fetch(`http://127.0.0.1:${port}/v2/models/m/infer`, { method: 'POST', body: '{}' }), { timeoutMs: 10_000 });
      expect(answer.status).toBe(502);
      expect(await answer.text()).toMatch(/^arrival tap: /);
    } finally {
      lonely.child.kill('SIGKILL');
      await lonely.exited;
    }
  });

  it('processCpuMicros reads a process\'s CPU time, as process.cpuUsage counts it', () => {
    const a = processCpuMicros(process.pid);
    const u0 = process.cpuUsage();
    // Spin until the kernel has counted 30 ms of CPU for this process (however busy the machine is).
    let used = 0;
    while (used < 30_000) {
      for (let i = 0; i < 1e5; i++) Math.sqrt(i);
      const u = process.cpuUsage(u0);
      used = u.user + u.system;
    }
    const b = processCpuMicros(process.pid);
    // Both count the same on-CPU time; vitest's own threads may add a little: within 15 ms.
    expect(b - a).toBeGreaterThan(used - 15_000);
    expect(b - a).toBeLessThan(used + 15_000);
    expect(processCpuMicros(tap.pid)).toBeGreaterThan(0);
  });
});
