/**
 * nginx as a keep-alive reverse proxy (1 worker) in front of one node: the reference proxy the
 * forwarding and added-latency benches compare the gateway with. Needs nginx on PATH or in /usr/sbin.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { findOnPath } from './load.js';
import { freePort, getJson, waitUntil, type BenchChildren } from './processes.js';


export async function startNginx(children: BenchChildren, upstream: string, host = '127.0.0.1'): Promise<{ url: string; pid: () => number | undefined; stop(): Promise<void> }> {
  const nginx = findOnPath('nginx') ?? (findOnPath('/usr/sbin/nginx') ? '/usr/sbin/nginx' : undefined) ?? '/usr/sbin/nginx';
  const dir = mkdtempSync(join(os.tmpdir(), 'infergate-nginx-'));
  children.onStop(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort(host);
  const target = new URL(upstream);
  writeFileSync(join(dir, 'nginx.conf'), `
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir};
  proxy_temp_path ${dir};
  client_max_body_size 64m;
  client_body_buffer_size 1m;
  upstream node { server ${target.hostname}:${target.port}; keepalive 128; }
  server {
    listen ${host}:${port};
    keepalive_requests 1000000;
    location / {
      proxy_pass http://node;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering on;
    }
  }
}
`);
  const child: ChildProcess = spawn(nginx, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const url = `http://${host}:${port}`;
  await waitUntil('nginx ready', async () => {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr}`);
    try {
      return (await getJson(`${url}/v2/health/ready`)).status === 200;
    } catch {
      return false;
    }
  }, []);
  const stop = async () => {
    if (child.exitCode !== null) return;
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  };
  children.onStop(() => child.kill('SIGKILL'));
  return { url, pid: () => child.pid, stop };
}

