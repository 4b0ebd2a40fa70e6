/**
 * A real etcd for the membership tests (Debian's `etcd-server`, binary `etcd`): one member on
 * loopback ports in a temp dir, killed (SIGKILL) and restarted on the same data and ports to test
 * an outage. Tests that need it skip, saying why, when the binary is missing.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect } from 'node:net';
import { freePort, sleep } from '../../bench/support/cluster-processes.js';

/** The etcd binary on PATH, or undefined. */
export function etcdBinary(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v etcd'], { encoding: 'utf8' });
  const bin = found.stdout.trim();
  return found.status === 0 && bin ? bin : undefined;
}

export const ETCD_MISSING = 'etcd not installed (apt-get install -y etcd-server): etcd membership tests skipped';

export class EtcdServer {
  #child?: ChildProcess;
  #exited?: Promise<void>;
  #log: string[] = [];

  private constructor(
    readonly bin: string, readonly dir: string, readonly clientPort: number, readonly peerPort: number, readonly tls?: TlsFiles,
  ) {}

  /** `tls`: serve clients over TLS with this server certificate, and ask for a client certificate signed by its CA. */
  static async start(bin: string, tls?: TlsFiles): Promise<EtcdServer> {
    const server = new EtcdServer(bin, mkdtempSync(path.join(tmpdir(), 'infergate-etcd-')), await freePort(), await freePort(), tls);
    await server.restart();
    return server;
  }

  get endpoint(): string {
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.clientPort}`;
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  /** Starts etcd (again) on the same data dir and ports; resolves when it answers /health. */
  async restart(): Promise<void> {
    if (this.#child) throw new Error('etcd already running');
    const peer = `http://127.0.0.1:${this.peerPort}`;
    const child = spawn(this.bin, [
      '--name', 'test', '--data-dir', path.join(this.dir, 'data'),
      '--listen-client-urls', this.endpoint, '--advertise-client-urls', this.endpoint,
      '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `test=${peer}`,
      '--log-level', 'warn',
      ...(this.tls ? ['--cert-file', this.tls.serverCert, '--key-file', this.tls.serverKey, '--trusted-ca-file', this.tls.ca, '--client-cert-auth'] : []),
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
    for (const s of [child.stdout!, child.stderr!]) s.on('data', (d: Buffer) => this.#log.push(...d.toString().split('\n').slice(-20)));
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        if (this.tls) {
          // /health wants a client certificate here: a TCP connect is enough to know it listens.
          if (await listening(this.clientPort)) return;
        } else {
          const response = await fetch(`${this.endpoint}/health`);
          if (response.ok && ((await response.json()) as { health?: string }).health === 'true') return;
        }
      } catch {
        // not up yet
      }
      if (this.#child !== child || child.exitCode !== null) throw new Error(`etcd exited at start: ${this.#log.slice(-10).join('\n')}`);
      if (Date.now() > deadline) throw new Error(`etcd did not answer /health within 15 s: ${this.#log.slice(-10).join('\n')}`);
      await sleep(50);
    }
  }

  /** SIGKILL: etcd is gone at once, as in a crash or a partition. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = undefined;
    child.kill('SIGKILL');
    await this.#exited;
  }

  async close(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export interface TlsFiles {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/**
 * A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, made with the
 * openssl CLI in `dir`; undefined when openssl is missing.
 */
export function makeTlsFiles(dir: string): TlsFiles | undefined {
  const run = (args: string[]) => spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  if (run(['version']).status !== 0) return undefined;
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const steps: string[][] = [
    ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=infergate-test-ca'],
    ['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1'],
    ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '1', '-extfile', 'server.ext'],
    ['req', ...ec, '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=infergate'],
    ['x509', '-req', '-in', 'client.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'client.pem', '-days', '1', '-extfile', 'client.ext'],
  ];
  writeFileSync(path.join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n');
  writeFileSync(path.join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const step of steps) {
    const result = run(step);
    if (result.status !== 0) throw new Error(`openssl ${step[0]} failed: ${result.stderr}`);
  }
  const at = (f: string) => path.join(dir, f);
  return { ca: at('ca.pem'), serverCert: at('server.pem'), serverKey: at('server.key'), clientCert: at('client.pem'), clientKey: at('client.key') };
}
