/**
 * Where a fleet's membership lives in etcd and how to reach it: the settings both `gateway` and
 * `backend` take from the command line, and the key layout. No etcd client here, so the CLI can
 * read flags without loading one (node/etcd-client.ts connects).
 */
export const DEFAULT_ETCD_PREFIX = '/infergate/';
/** A node's lease: etcd deletes its key this long after its last keep-alive. */
export const DEFAULT_LEASE_TTL_S = 3;
/** Longest wait between two tries to reach an etcd that is down. */
export const ETCD_MAX_RETRY_MS = 1_000;

export interface EtcdSettings {
  /** Endpoints, `http(s)://host:port` or `host:port`. */
  hosts: string[];
  /** Key prefix, ends with `/`. */
  prefix: string;
  /** PEM files: the CA that signed etcd's certificate, and this client's certificate and key (mutual TLS). */
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  user?: string;
  password?: string;
}

/**
 * From the flags `--etcd`, `--etcd-prefix`, `--etcd-ca`, `--etcd-cert`, `--etcd-key`, `--etcd-user`
 * and the environment's ETCD_PASSWORD (a password never goes on a command line, where `ps` shows
 * it). Undefined when `--etcd` is not given. Throws a message naming the bad flag.
 */
export function etcdSettingsFrom(values: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): EtcdSettings | undefined {
  const endpoints = values.etcd as string | undefined;
  if (endpoints === undefined) {
    for (const flag of ['etcd-ca', 'etcd-cert', 'etcd-key', 'etcd-user']) {
      if (values[flag] !== undefined) throw new Error(`--${flag} needs --etcd URL[,URL…]`);
    }
    return undefined;
  }
  const hosts = endpoints.split(',').map((h) => h.trim()).filter(Boolean);
  if (hosts.length === 0) throw new Error('--etcd expects URL[,URL…] (e.g. http://127.0.0.1:2379)');
  for (const h of hosts) {
    if (!/^(https?:\/\/)?[A-Za-z0-9._\-[\]:]+:\d{1,5}\/?$/.test(h)) throw new Error(`--etcd expects http(s)://host:port entries, got '${h}'`);
  }
  const prefix = String(values['etcd-prefix'] ?? DEFAULT_ETCD_PREFIX);
  if (!prefix.startsWith('/') || !prefix.endsWith('/')) throw new Error(`--etcd-prefix must start and end with '/', got '${prefix}'`);
  const certFile = values['etcd-cert'] as string | undefined;
  const keyFile = values['etcd-key'] as string | undefined;
  if ((certFile === undefined) !== (keyFile === undefined)) throw new Error('--etcd-cert and --etcd-key go together');
  const user = values['etcd-user'] as string | undefined;
  const password = env.ETCD_PASSWORD;
  if (user !== undefined && password === undefined) throw new Error('--etcd-user needs the password in the ETCD_PASSWORD environment variable');
  return { hosts, prefix, caFile: values['etcd-ca'] as string | undefined, certFile, keyFile, user, password };
}

/** Where each node's record lives: `<prefix>nodes/<nodeId>`. */
export function nodesPrefix(prefix: string): string {
  return `${prefix}nodes/`;
}

export function nodeKey(prefix: string, nodeId: string): string {
  return `${nodesPrefix(prefix)}${nodeId}`;
}
