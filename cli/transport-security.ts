/**
 * The TLS and node-secret flags turned into what the layers below take, every failure a
 * ConfigError naming the flag: read once at boot, so a bad file stops the process before it listens.
 */
import { ConfigError } from '../core/errors.js';
import { nodeSecretFrom } from '../core/node-signature.js';
import { clientTlsFrom, serverTlsFrom, type ClientTls, type ServerTls } from '../core/tls-files.js';
import type { ParsedOptions } from './options.js';

function asConfigError<T>(read: () => T): T {
  try {
    return read();
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

/** `--tls-cert`, `--tls-key`, `--tls-client-ca`: the doors' TLS, or undefined for plaintext. */
export function doorTlsOf(values: ParsedOptions): ServerTls | undefined {
  return asConfigError(() => serverTlsFrom(values));
}

/** `--backend-*` on a gateway, `--gateway-*` on a backend. */
export function peerTlsOf(values: ParsedOptions, side: 'backend' | 'gateway'): ClientTls | undefined {
  return asConfigError(() => clientTlsFrom(values, side));
}

/** `--node-secret-file` or INFERGATE_NODE_SECRET. */
export function nodeSecretOf(values: ParsedOptions): Buffer | undefined {
  return asConfigError(() => nodeSecretFrom(values));
}
