/**
 * `--api-keys FILE` (else INFERGATE_API_KEYS) as the access control both doors of a process share,
 * its refusals counted in the process's metrics. Undefined without either: the doors stay open.
 */
import { ConfigError } from '../core/errors.js';
import { AccessControl } from '../service/access-control.js';
import { API_KEYS_ENV, loadAccessTable } from '../service/access-table.js';
import type { Metrics } from '../service/metrics.js';
import type { Logger } from './logger.js';
import type { ParsedOptions } from './options.js';

/** `metrics`: read at each refusal, so a process may check its keys before its metrics exist. */
export function accessControlFrom(values: ParsedOptions, log: Logger, metrics: () => Metrics | undefined): AccessControl | undefined {
  const file = values['api-keys'] as string | undefined;
  const table = loadAccessTable(file);
  if (!table) return undefined;
  if (table.keys.length === 0 && table.anonymous.groups.size === 0) {
    throw new ConfigError(`${file !== undefined ? `--api-keys ${file}` : API_KEYS_ENV}: no key and no anonymous group: every request would be refused`);
  }
  const access = new AccessControl(table, {
    onRefusal: (reason, key) => metrics()?.authRefusals.inc({ reason, key }),
  });
  // Names only: a key never reaches the log.
  log.info(`API keys from ${file !== undefined ? file : API_KEYS_ENV}: ${access.keyNames.length} key(s) (${access.keyNames.join(', ')}); open without a key: ${access.anonymousGroups.join(', ') || 'nothing'}`);
  return access;
}
