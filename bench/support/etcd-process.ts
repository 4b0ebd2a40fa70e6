/**
 * A one-member etcd on loopback for benches (Debian's `etcd-server`, binary `etcd`), in a temp
 * data dir, killed (SIGKILL) and removed by `close()`. The tests keep their own starter
 * (test/support/etcd.ts, with TLS and restarts); a bench needs only start and stop, and bench/
 * must not import from test/.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, sleep } from './cluster-processes.js';

/** Longest wait for etcd to answer /health after its start. */
export const ETCD_START_TIMEOUT_MS = 15_000;

/** The etcd binary on PATH, or undefined. */
export function findEtcd(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v etcd'], { encoding: 'utf8' });
  const bin = found.stdout.trim();
  return found.status === 0 && bin ? bin : undefined;
}

export class EtcdProcess {
  private constructor(readonly child: ChildProcess, readonly endpoint: string, readonly dir: string, readonly exited: Promise<void>) {}

  static async start(bin: string): Promise<EtcdProcess> {
    const dir = mkdtempSync(path.join(tmpdir(), 'infergate-bench-etcd-'));
    const endpoint = `http://127.0.0.1:${await freePort()}`;
    const peer = `http://127.0.0.1:${await freePort()}`;
    const log: string[] = [];
    const child = spawn(bin, [
      '--name', 'bench', '--data-dir', path.join(dir, 'data'),
      '--listen-client-urls', endpoint, '--advertise-client-urls', endpoint,
      '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `bench=${peer}`,
      '--log-level', 'warn',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    for (const s of [child.stdout!, child.stderr!]) s.on('data', (d: Buffer) => log.push(...d.toString().split('\n').slice(-20)));
    const etcd = new EtcdProcess(child, endpoint, dir, exited);
    const deadline = performance.now() + ETCD_START_TIMEOUT_MS;
    for (;;) {
      try {
        const response = await fetch(`${endpoint}/health`);
        if (response.ok && ((await response.json()) as { health?: string }).health === 'true') return etcd;
      } catch {
        // not up yet
      }
      if (child.exitCode !== null || performance.now() > deadline) {
        await etcd.close();
        throw new Error(`etcd did not answer /health within ${ETCD_START_TIMEOUT_MS} ms: ${log.slice(-10).join('\n')}`);
      }
      await sleep(50);
    }
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  async close(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
    rmSync(this.dir, { recursive: true, force: true });
  }
}
