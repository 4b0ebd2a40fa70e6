/**
 * The key table's strict parsing, the token bucket's exact arithmetic and the access control's
 * decisions, on a clock the test moves by hand.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, InferError } from '../../core/errors.js';
import { AccessControl, KEY_CONCURRENCY_RETRY_AFTER_MS, presentedKey, type RefusalReason } from '../../service/access-control.js';
import { API_KEYS_ENV, loadAccessTable, parseAccessTable, sha256 } from '../../service/access-table.js';
import { fullBucket, takeToken } from '../../service/token-bucket.js';

const ALICE = 'alice-key-0123456789abcdef';
const BOB = 'bob-key-0123456789abcdef';

const TABLE = `
keys:
  - name: alice
    key: sha256:${sha256(ALICE).toString('hex')}
    groups: ['*']
  - name: bob
    key: ${BOB}
    groups: [inference, metadata]
    models: [identity]
    rate_limit: { requests_per_second: 2, burst: 3 }
    max_concurrent: 2
anonymous:
  groups: [health]
`;

function refusal(fn: () => unknown): InferError {
  try {
    fn();
  } catch (err) {
    if (err instanceof InferError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

function configError(text: string): string {
  try {
    parseAccessTable(text, 'keys.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('parseAccessTable', () => {
  it('reads YAML and JSON alike: names, digests, groups, models, limits', () => {
    const table = parseAccessTable(TABLE, 'keys.yaml');
    expect(table.keys.map((k) => k.name)).toEqual(['alice', 'bob']);
    expect(table.keys[0].digest).toEqual(sha256(ALICE));
    expect(table.keys[1].digest).toEqual(sha256(BOB));
    expect([...table.keys[0].groups]).toEqual(['health', 'metadata', 'inference', 'repository', 'statistics', 'operator']);
    expect([...table.keys[1].models!]).toEqual(['identity']);
    expect(table.keys[1].rateLimit).toEqual({ requestsPerSecond: 2, burst: 3 });
    expect(table.keys[1].maxConcurrent).toBe(2);
    expect([...table.anonymous.groups]).toEqual(['health']);
    const json = parseAccessTable(JSON.stringify({ keys: [{ name: 'c', key: ALICE, groups: ['inference'], rate_limit: { requests_per_second: 2.5 } }] }), 'env');
    // Without a burst: one second's worth, rounded up.
    expect(json.keys[0].rateLimit).toEqual({ requestsPerSecond: 2.5, burst: 3 });
    expect(json.anonymous.groups.size).toBe(0);
  });

  it('refuses an unknown group, naming it', () => {
    expect(configError(`keys: [{name: a, key: ${ALICE}, groups: [inference, admin]}]`)).toMatch(/keys\[0\] \(a\): unknown endpoint group 'admin'/);
    expect(configError(`keys: []\nanonymous: {groups: [helth]}`)).toMatch(/anonymous: unknown endpoint group 'helth'/);
  });

  it('refuses unknown fields, short clear keys, bad digests, duplicates and bad limits', () => {
    expect(configError(`keys: [{name: a, key: ${ALICE}, groups: [inference], model: [x]}]`)).toMatch(/unknown field 'model'/);
    expect(configError(`key: []`)).toMatch(/unknown field 'key'/);
    expect(configError(`keys: [{name: a, key: short, groups: [inference]}]`)).toMatch(/at least 16 characters/);
    expect(configError(`keys: [{name: a, key: "sha256:abc", groups: [inference]}]`)).toMatch(/64 hex digits/);
    expect(configError(`keys: [{name: a, key: ${ALICE}, groups: [inference]}, {name: a, key: ${BOB}, groups: [health]}]`)).toMatch(/'a' is used twice/);
    expect(configError(`keys: [{name: a, key: ${ALICE}, groups: [inference]}, {name: b, key: "sha256:${sha256(ALICE).toString('hex')}", groups: [health]}]`)).toMatch(/same key/);
    expect(configError(`keys: [{name: a, key: ${ALICE}, groups: [inference], max_concurrent: 0}]`)).toMatch(/max_concurrent must be a whole number ≥ 1/);
    expect(configError(`keys: [{name: a, key: ${ALICE}, groups: [inference], rate_limit: {requests_per_second: 0}}]`)).toMatch(/requests_per_second must be a number > 0/);
    expect(configError(`keys: [{name: "a b", key: ${ALICE}, groups: [inference]}]`)).toMatch(/'name' must be/);
    expect(configError(`keys: [{name: anonymous, key: ${ALICE}, groups: [inference]}]`)).toMatch(/reserved/);
  });

  it('never echoes a key from a file it cannot parse', () => {
    const message = configError(`keys: [{name: a, key: ${ALICE}, groups: [inference]`);
    expect(message).not.toContain(ALICE);
  });
});

describe('loadAccessTable', () => {
  it('reads --api-keys FILE first, else INFERGATE_API_KEYS, else nothing (open)', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'infergate-keys-'));
    try {
      const file = path.join(dir, 'keys.yaml');
      writeFileSync(file, TABLE);
      const env = { [API_KEYS_ENV]: JSON.stringify({ keys: [{ name: 'from-env', key: ALICE, groups: ['health'] }] }) };
      expect(loadAccessTable(file, env)!.keys.map((k) => k.name)).toEqual(['alice', 'bob']);
      expect(loadAccessTable(undefined, env)!.keys.map((k) => k.name)).toEqual(['from-env']);
      expect(loadAccessTable(undefined, {})).toBeUndefined();
      expect(() => loadAccessTable(path.join(dir, 'missing.yaml'), {})).toThrow(/--api-keys .*missing\.yaml/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('takeToken', () => {
  it('spends the burst, then says how long until the next token, and refills at the rate', () => {
    const limit = { requestsPerSecond: 4, burst: 2 };
    const bucket = fullBucket(limit, 0);
    expect(takeToken(bucket, limit, 0)).toBe(0);
    expect(takeToken(bucket, limit, 0)).toBe(0);
    expect(takeToken(bucket, limit, 0)).toBe(250);
    expect(takeToken(bucket, limit, 100)).toBe(150);
    expect(takeToken(bucket, limit, 250)).toBe(0);
    // A long pause refills no more than the burst.
    expect(takeToken(bucket, limit, 10_000)).toBe(0);
    expect(takeToken(bucket, limit, 10_000)).toBe(0);
    expect(takeToken(bucket, limit, 10_000)).toBe(250);
  });
});

describe('AccessControl', () => {
  function control() {
    let now = 1_000;
    const refusals: Array<[RefusalReason, string]> = [];
    const access = new AccessControl(parseAccessTable(TABLE, 'keys.yaml'), { clock: () => now, onRefusal: (r, k) => refusals.push([r, k]) });
    return { access, refusals, advance: (ms: number) => { now += ms; } };
  }

  it('lets the anonymous groups in without a key, and asks for a key elsewhere', () => {
    const { access, refusals } = control();
    expect(access.admit(undefined, { group: 'health' }).name).toBe('anonymous');
    const missing = refusal(() => access.admit(undefined, { group: 'inference', model: 'identity' }));
    expect([missing.code, missing.reason]).toEqual(['UNAUTHENTICATED', 'missing_key']);
    const wrong = refusal(() => access.admit('not-a-key-of-ours-at-all', { group: 'health' }));
    expect([wrong.code, wrong.reason]).toEqual(['UNAUTHENTICATED', 'wrong_key']);
    expect(wrong.message).not.toContain('not-a-key');
    expect(refusals).toEqual([['missing_key', 'anonymous'], ['wrong_key', 'unknown']]);
  });

  it('checks the group and the model of a key', () => {
    const { access } = control();
    expect(access.admit(ALICE, { group: 'repository', allModels: true }).name).toBe('alice');
    expect(access.admit(BOB, { group: 'inference', model: 'identity' }).name).toBe('bob');
    const group = refusal(() => access.admit(BOB, { group: 'statistics', model: 'identity' }));
    expect([group.code, group.reason, group.message]).toEqual(['PERMISSION_DENIED', 'forbidden_group', "key 'bob' may not use the statistics endpoints"]);
    const model = refusal(() => access.admit(BOB, { group: 'inference', model: 'add_sub' }));
    expect([model.code, model.reason]).toEqual(['PERMISSION_DENIED', 'forbidden_model']);
    const list = refusal(() => access.admit(BOB, { group: 'metadata', allModels: true }));
    expect([list.code, list.reason]).toEqual(['PERMISSION_DENIED', 'forbidden_model']);
  });

  it('limits a key to its rate, with the wait until its next token as retryAfterMs', () => {
    const { access, advance } = control();
    const wanted = { group: 'inference', model: 'identity' } as const;
    for (let i = 0; i < 3; i++) access.admit(BOB, wanted).release();
    const over = refusal(() => access.admit(BOB, wanted));
    expect([over.code, over.reason, over.retryAfterMs]).toEqual(['RESOURCE_EXHAUSTED', 'key_rate_limited', 500]);
    advance(499);
    expect(refusal(() => access.admit(BOB, wanted)).retryAfterMs).toBe(1);
    advance(1);
    expect(access.admit(BOB, wanted).name).toBe('bob');
    // Alice has no limit.
    for (let i = 0; i < 100; i++) access.admit(ALICE, wanted).release();
  });

  it('limits a key to its requests in flight; a release frees a slot, once', () => {
    const { access, advance } = control();
    const wanted = { group: 'inference', model: 'identity' } as const;
    const first = access.admit(BOB, wanted);
    access.admit(BOB, wanted);
    const over = refusal(() => access.admit(BOB, wanted));
    expect([over.code, over.reason, over.retryAfterMs]).toEqual(['RESOURCE_EXHAUSTED', 'key_concurrency', KEY_CONCURRENCY_RETRY_AFTER_MS]);
    first.release();
    first.release();
    advance(1_000);
    access.admit(BOB, wanted);
    expect(refusal(() => access.admit(BOB, wanted)).reason).toBe('key_concurrency');
  });
});

describe('presentedKey', () => {
  it('takes a Bearer token first, else x-api-key; another scheme is no key', () => {
    expect(presentedKey('Bearer abc', 'xyz')).toBe('abc');
    expect(presentedKey('bearer   abc  ', undefined)).toBe('abc');
    expect(presentedKey('Basic dXNlcjpwYXNz', undefined)).toBeUndefined();
    expect(presentedKey('Basic dXNlcjpwYXNz', 'xyz')).toBe('xyz');
    expect(presentedKey(undefined, undefined)).toBeUndefined();
  });
});
