/**
 * The TLS and node-secret flags turned into what the layers below take, every failure a
 * ConfigError naming the flag: read once at boot, so a bad file stops the process before it listens.
 */
import { readFileSync } from 'node:fs';
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

/** Where a gateway reads its key for nodes when --backend-api-key-file is not given (keeps it off the command line). */
export const BACKEND_API_KEY_ENV = 'INFERGATE_BACKEND_API_KEY';

/**
 * The key a gateway presents to nodes started with --api-keys: `--backend-api-key-file` (its
 * content, a trailing newline dropped) or INFERGATE_BACKEND_API_KEY; undefined for none.
 */
export function backendApiKeyOf(values: ParsedOptions, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const file = values['backend-api-key-file'];
  let key: string | undefined;
  if (typeof file === 'string') {
    try {
      key = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new ConfigError(`--backend-api-key-file ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  } else {
    key = env[BACKEND_API_KEY_ENV] || undefined;
  }
  if (key !== undefined && (key.length === 0 || /\s/.test(key))) {
    throw new ConfigError(`${typeof file === 'string' ? '--backend-api-key-file' : BACKEND_API_KEY_ENV}: the key must be one word with no spaces`);
  }
  return key;
}

/** `--node-secret-file` or INFERGATE_NODE_SECRET. */
export function nodeSecretOf(values: ParsedOptions): Buffer | undefined {
  return asConfigError(() => nodeSecretFrom(values));
}
