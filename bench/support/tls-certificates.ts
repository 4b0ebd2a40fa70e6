/**
 * Throwaway certificates for the TLS tests and the TLS bench, made with the openssl CLI in a temp dir: a CA, a
 * server certificate it signed for 127.0.0.1 and localhost, a client certificate it signed, and a
 * second, untrusted CA with a client certificate of its own (what a stranger would present).
 * EC P-256 keys: quick to make on a busy machine.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface TestCertificates {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A CA nobody trusts, and a client certificate it signed. */
  strangerCa: string;
  strangerCert: string;
  strangerKey: string;
  /** File contents, for in-process clients. */
  pem(file: string): Buffer;
  remove(): void;
}

export function opensslAvailable(): boolean {
  return spawnSync('openssl', ['version'], { encoding: 'utf8' }).status === 0;
}

export const OPENSSL_MISSING = 'openssl not installed (apt-get install -y openssl): TLS tests skipped';

export function makeTestCertificates(): TestCertificates {
  const dir = mkdtempSync(path.join(tmpdir(), 'infergate-tls-'));
  const run = (args: string[]) => {
    const result = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${result.stderr}`);
  };
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const ca = (name: string) => run(['req', '-x509', ...key, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=infergate test ${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  const leaf = (name: string, signer: string, subject: string, ext: string) => {
    writeFileSync(path.join(dir, `${name}.ext`), ext);
    run(['req', ...key, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject]);
    run(['x509', '-req', '-in', `${name}.csr`, '-CA', `${signer}.pem`, '-CAkey', `${signer}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`]);
  };
  try {
    ca('ca');
    ca('stranger-ca');
    leaf('server', 'ca', '/CN=localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
    leaf('client', 'ca', '/CN=infergate-client', 'extendedKeyUsage=clientAuth\n');
    leaf('stranger', 'stranger-ca', '/CN=stranger', 'extendedKeyUsage=clientAuth\n');
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const at = (f: string) => path.join(dir, f);
  return {
    dir,
    ca: at('ca.pem'), serverCert: at('server.pem'), serverKey: at('server.key'), clientCert: at('client.pem'), clientKey: at('client.key'),
    strangerCa: at('stranger-ca.pem'), strangerCert: at('stranger.pem'), strangerKey: at('stranger.key'),
    pem: (file) => readFileSync(file),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
