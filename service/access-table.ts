/**
 * The API key table (`--api-keys FILE` or INFERGATE_API_KEYS): parsed and checked strictly at
 * boot, so a typo in a group name or a field fails the start instead of opening or closing a door
 * silently. Keys are kept only as SHA-256 digests; a key written in clear is hashed here and the
 * text is dropped.
 *
 *   keys:
 *     - name: ci-bench                 # in logs and metrics; the key itself never is
 *       key: sha256:9f86d08…           # or the key in clear (at least 16 characters)
 *       groups: [health, metadata, inference]
 *       models: [identity]             # optional: only these models
 *       rate_limit: { requests_per_second: 50, burst: 100 }   # optional
 *       max_concurrent: 8              # optional
 *   anonymous:                         # optional: what needs no key
 *     groups: [health]
 */
import * as crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../core/errors.js';
import type { RateLimit } from './token-bucket.js';

/** What a key may reach; every route and RPC of both doors belongs to exactly one group. */
export const ENDPOINT_GROUPS = ['health', 'metadata', 'inference', 'repository', 'statistics', 'operator'] as const;
export type EndpointGroup = (typeof ENDPOINT_GROUPS)[number];

/** The environment variable read when there is no --api-keys flag (the same YAML or JSON, inline). */
export const API_KEYS_ENV = 'INFERGATE_API_KEYS';
/** A key in clear shorter than this is refused at boot: it could be guessed. */
export const MIN_CLEAR_KEY_LENGTH = 16;
/** The name metrics give a request that came without a key. */
export const ANONYMOUS = 'anonymous';

export interface AccessEntry {
  /** Shown in logs and metrics (`key` label). */
  name: string;
  /** SHA-256 of the key; absent for the anonymous entry. */
  digest?: Buffer;
  groups: ReadonlySet<EndpointGroup>;
  /** Undefined: every model. */
  models?: ReadonlySet<string>;
  rateLimit?: RateLimit;
  maxConcurrent?: number;
}

export interface AccessTable {
  keys: AccessEntry[];
  /** What a request without a key may reach (no groups when the table has no `anonymous`). */
  anonymous: AccessEntry;
}

const NAME = /^[A-Za-z0-9._-]{1,64}$/;
const DIGEST = /^sha256:([0-9a-fA-F]{64})$/;
const ENTRY_FIELDS = new Set(['name', 'key', 'groups', 'models', 'rate_limit', 'max_concurrent']);
const ANONYMOUS_FIELDS = new Set(['groups', 'rate_limit', 'max_concurrent']);

/**
 * The one-shot `crypto.hash` (Node ≥ 20.12) takes half the time of a Hash object, and this runs on
 * every request that presents a key; older Node 20 releases fall back to createHash.
 */
const oneShot = (crypto as { hash?: typeof crypto.hash }).hash;

export function sha256(text: string): Buffer {
  return oneShot ? oneShot('sha256', text, 'buffer') : crypto.createHash('sha256').update(text, 'utf8').digest();
}

/**
 * The table from `--api-keys FILE`, else from INFERGATE_API_KEYS; undefined when neither is set
 * (the doors stay open, as without authentication).
 */
export function loadAccessTable(file: string | undefined, env: NodeJS.ProcessEnv = process.env): AccessTable | undefined {
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`--api-keys ${file}: ${(err as Error).message}`);
    }
    return parseAccessTable(text, `--api-keys ${file}`);
  }
  const inline = env[API_KEYS_ENV];
  if (inline === undefined || inline.trim() === '') return undefined;
  return parseAccessTable(inline, API_KEYS_ENV);
}

/** YAML (JSON is YAML too); `source` names where it came from in every error. */
export function parseAccessTable(text: string, source: string): AccessTable {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    // The parser quotes the offending line, which may hold a key: keep only its first line.
    throw new ConfigError(`${source}: not valid YAML or JSON (${(err as Error).message.split('\n')[0]})`);
  }
  const top = record(doc, source);
  for (const field of Object.keys(top)) {
    if (field !== 'keys' && field !== 'anonymous') throw new ConfigError(`${source}: unknown field '${field}' (expected 'keys' and 'anonymous')`);
  }
  if (!Array.isArray(top.keys)) throw new ConfigError(`${source}: 'keys' must be a list of {name, key, groups, …}`);
  const keys = top.keys.map((entry, i) => keyEntry(entry, `${source}: keys[${i}]`));
  const names = new Set<string>([ANONYMOUS]);
  const digests = new Set<string>();
  for (const entry of keys) {
    if (names.has(entry.name)) throw new ConfigError(`${source}: key name '${entry.name}' is used twice (or is the reserved '${ANONYMOUS}')`);
    names.add(entry.name);
    const hex = entry.digest!.toString('hex');
    // Two entries with one key: which rights would apply is ambiguous.
    if (digests.has(hex)) throw new ConfigError(`${source}: key '${entry.name}' has the same key as another entry`);
    digests.add(hex);
  }
  const anonymous = top.anonymous === undefined
    ? { name: ANONYMOUS, groups: new Set<EndpointGroup>() }
    : anonymousEntry(top.anonymous, `${source}: anonymous`);
  return { keys, anonymous };
}

function keyEntry(value: unknown, where: string): AccessEntry {
  const fields = record(value, where);
  checkFields(fields, ENTRY_FIELDS, where);
  if (typeof fields.name !== 'string' || !NAME.test(fields.name)) throw new ConfigError(`${where}: 'name' must be 1–64 letters, digits, '.', '_' or '-'`);
  const named = `${where} (${fields.name})`;
  return {
    name: fields.name,
    digest: digestOf(fields.key, named),
    ...rights(fields, named),
    ...(fields.models !== undefined ? { models: models(fields.models, named) } : {}),
  };
}

function anonymousEntry(value: unknown, where: string): AccessEntry {
  const fields = record(value, where);
  checkFields(fields, ANONYMOUS_FIELDS, where);
  return { name: ANONYMOUS, ...rights(fields, where) };
}

function rights(fields: Record<string, unknown>, where: string): Pick<AccessEntry, 'groups' | 'rateLimit' | 'maxConcurrent'> {
  return {
    groups: groups(fields.groups, where),
    ...(fields.rate_limit !== undefined ? { rateLimit: rateLimit(fields.rate_limit, where) } : {}),
    ...(fields.max_concurrent !== undefined ? { maxConcurrent: positiveInteger(fields.max_concurrent, `${where}: max_concurrent`) } : {}),
  };
}

function digestOf(key: unknown, where: string): Buffer {
  if (typeof key !== 'string' || key === '') throw new ConfigError(`${where}: 'key' must be the key in clear or sha256:<64 hex digits>`);
  const hashed = DIGEST.exec(key);
  if (hashed) return Buffer.from(hashed[1], 'hex');
  if (key.startsWith('sha256:')) throw new ConfigError(`${where}: 'key' sha256: must be followed by 64 hex digits`);
  if (key.length < MIN_CLEAR_KEY_LENGTH) throw new ConfigError(`${where}: a key in clear must have at least ${MIN_CLEAR_KEY_LENGTH} characters`);
  return sha256(key);
}

function groups(value: unknown, where: string): Set<EndpointGroup> {
  if (!Array.isArray(value) || value.some((g) => typeof g !== 'string')) {
    throw new ConfigError(`${where}: 'groups' must be a list of endpoint groups (${ENDPOINT_GROUPS.join(', ')}, or '*' for all)`);
  }
  const result = new Set<EndpointGroup>();
  for (const group of value as string[]) {
    if (group === '*') ENDPOINT_GROUPS.forEach((g) => result.add(g));
    else if ((ENDPOINT_GROUPS as readonly string[]).includes(group)) result.add(group as EndpointGroup);
    else throw new ConfigError(`${where}: unknown endpoint group '${group}' (known: ${ENDPOINT_GROUPS.join(', ')}, or '*')`);
  }
  return result;
}

function models(value: unknown, where: string): Set<string> {
  if (!Array.isArray(value) || value.length === 0 || value.some((m) => typeof m !== 'string' || m === '')) {
    throw new ConfigError(`${where}: 'models' must be a non-empty list of model names (leave it out for every model)`);
  }
  return new Set(value as string[]);
}

function rateLimit(value: unknown, where: string): RateLimit {
  const fields = record(value, `${where}: rate_limit`);
  checkFields(fields, new Set(['requests_per_second', 'burst']), `${where}: rate_limit`);
  const rate = fields.requests_per_second;
  if (typeof rate !== 'number' || !(rate > 0) || !Number.isFinite(rate)) throw new ConfigError(`${where}: rate_limit.requests_per_second must be a number > 0`);
  // Without a burst, one second's worth (at least one request).
  const burst = fields.burst === undefined ? Math.max(1, Math.ceil(rate)) : positiveInteger(fields.burst, `${where}: rate_limit.burst`);
  return { requestsPerSecond: rate, burst };
}

function positiveInteger(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw new ConfigError(`${where} must be a whole number ≥ 1`);
  return value;
}

function record(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError(`${where}: expected a mapping`);
  return value as Record<string, unknown>;
}

function checkFields(fields: Record<string, unknown>, known: Set<string>, where: string): void {
  for (const field of Object.keys(fields)) {
    if (!known.has(field)) throw new ConfigError(`${where}: unknown field '${field}' (known: ${[...known].join(', ')})`);
  }
}
