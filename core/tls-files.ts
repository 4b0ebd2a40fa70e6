/**
 * TLS material named on the command line, read and checked once at boot: the server side of the
 * doors (`--tls-cert`, `--tls-key`, `--tls-client-ca`) and the client side of a connection this
 * process opens (`--backend-ca/-cert/-key` on a gateway, `--gateway-ca/-cert/-key` on a backend).
 * A file that is missing, unreadable, not PEM, or a key that does not belong to its certificate
 * fails the boot with the flag's name, never the first handshake.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** What a server needs to speak TLS; `clientCa` set: a client must present a certificate it signed (mutual TLS). */
export interface ServerTls {
  cert: Buffer;
  key: Buffer;
  clientCa?: Buffer;
}

/** What a client needs: the CA it trusts instead of the system's, and its own certificate for mutual TLS. */
export interface ClientTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

type Values = Record<string, unknown>;

/** `--tls-cert`/`--tls-key`/`--tls-client-ca`; undefined when TLS is off. Throws naming the bad flag. */
export function serverTlsFrom(values: Values): ServerTls | undefined {
  const certFile = values['tls-cert'] as string | undefined;
  const keyFile = values['tls-key'] as string | undefined;
  const caFile = values['tls-client-ca'] as string | undefined;
  if (certFile === undefined && keyFile === undefined) {
    if (caFile !== undefined) throw new Error('--tls-client-ca needs --tls-cert and --tls-key (client certificates are asked for over TLS only)');
    return undefined;
  }
  if (certFile === undefined || keyFile === undefined) throw new Error('--tls-cert and --tls-key go together');
  const pair = keyPair('tls-cert', certFile, 'tls-key', keyFile);
  return { ...pair, ...(caFile !== undefined ? { clientCa: certificates('tls-client-ca', caFile) } : {}) };
}

/**
 * `--<side>-ca`, `--<side>-cert`, `--<side>-key` (`tls`: the bench's own `--tls-ca/-cert/-key`);
 * undefined when none is given. Throws naming the bad flag.
 */
export function clientTlsFrom(values: Values, side: 'backend' | 'gateway' | 'tls'): ClientTls | undefined {
  const caFile = values[`${side}-ca`] as string | undefined;
  const certFile = values[`${side}-cert`] as string | undefined;
  const keyFile = values[`${side}-key`] as string | undefined;
  if ((certFile === undefined) !== (keyFile === undefined)) throw new Error(`--${side}-cert and --${side}-key go together`);
  if (caFile === undefined && certFile === undefined) return undefined;
  return {
    ...(caFile !== undefined ? { ca: certificates(`${side}-ca`, caFile) } : {}),
    ...(certFile !== undefined ? keyPair(`${side}-cert`, certFile, `${side}-key`, keyFile!) : {}),
  };
}

function readFlagFile(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`--${flag} ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** A PEM file holding one or more certificates (a CA bundle, a chain). */
function certificates(flag: string, file: string): Buffer {
  const pem = readFlagFile(flag, file);
  try {
    new X509Certificate(pem);
  } catch (err) {
    throw new Error(`--${flag} ${file}: not a PEM certificate (${(err as Error).message})`);
  }
  return pem;
}

function keyPair(certFlag: string, certFile: string, keyFlag: string, keyFile: string): { cert: Buffer; key: Buffer } {
  const cert = certificates(certFlag, certFile);
  const key = readFlagFile(keyFlag, keyFile);
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw new Error(`--${keyFlag} ${keyFile}: not a PEM private key, or an encrypted one (${(err as Error).message})`);
  }
  if (!new X509Certificate(cert).checkPrivateKey(privateKey)) {
    throw new Error(`--${keyFlag} ${keyFile} is not the key of the certificate in --${certFlag} ${certFile}`);
  }
  return { cert, key };
}
