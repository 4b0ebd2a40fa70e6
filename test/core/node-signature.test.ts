import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  MIN_NODE_SECRET_BYTES, NODE_SIGNATURE_MAX_SKEW_MS, ReplayGuard, nodeSecretFrom, openRecord, signNode, signRecord, verifyNode,
} from '../../core/node-signature.js';

const SECRET = Buffer.from('a-fleet-secret-of-enough-bytes');
const OTHER = Buffer.from('another-secret-entirely-here!!');
const NOW = 1_700_000_000_000;
const BODY = '{"nodeId":"n1","state":"ready"}';

describe('signNode / verifyNode', () => {
  it('accepts what was signed with the same secret, for the same node and body', () => {
    const signature = signNode(SECRET, 'n1', NOW, BODY);
    expect(signature).toMatch(/^t=1700000000000,v1=[0-9a-f]{64}$/);
    expect(verifyNode(SECRET, 'n1', signature, Buffer.from(BODY), NOW + 5)).toEqual({ ok: true, timestampMs: NOW });
  });

  it('refuses a missing, malformed, wrong-secret, other-node or changed-body signature', () => {
    const signature = signNode(SECRET, 'n1', NOW, BODY);
    expect(verifyNode(SECRET, 'n1', undefined, BODY, NOW)).toEqual({ ok: false, reason: 'missing' });
    expect(verifyNode(SECRET, 'n1', 'sha256=abc', BODY, NOW)).toEqual({ ok: false, reason: 'malformed' });
    expect(verifyNode(SECRET, 'n1', signNode(OTHER, 'n1', NOW, BODY), BODY, NOW)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verifyNode(SECRET, 'n2', signature, BODY, NOW)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verifyNode(SECRET, 'n1', signature, BODY.replace('ready', 'draining'), NOW)).toEqual({ ok: false, reason: 'bad_signature' });
    // The time is signed too: moving it forward breaks the MAC.
    expect(verifyNode(SECRET, 'n1', signature.replace(`t=${NOW}`, `t=${NOW + 1}`), BODY, NOW)).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it(`refuses a signature more than ${NODE_SIGNATURE_MAX_SKEW_MS} ms away, either way`, () => {
    const signature = signNode(SECRET, 'n1', NOW, BODY);
    expect(verifyNode(SECRET, 'n1', signature, BODY, NOW + NODE_SIGNATURE_MAX_SKEW_MS).ok).toBe(true);
    expect(verifyNode(SECRET, 'n1', signature, BODY, NOW + NODE_SIGNATURE_MAX_SKEW_MS + 1)).toEqual({ ok: false, reason: 'stale' });
    expect(verifyNode(SECRET, 'n1', signature, BODY, NOW - NODE_SIGNATURE_MAX_SKEW_MS - 1)).toEqual({ ok: false, reason: 'stale' });
    expect(verifyNode(SECRET, 'n1', signature, BODY, NOW + 86_400_000, Infinity).ok).toBe(true);
  });
});

describe('ReplayGuard', () => {
  it('takes each node\'s signed times only while they grow', () => {
    const guard = new ReplayGuard();
    expect(guard.accept('n1', NOW, NOW)).toBe(true);
    expect(guard.accept('n1', NOW, NOW)).toBe(false);
    expect(guard.accept('n1', NOW - 1, NOW)).toBe(false);
    expect(guard.accept('n2', NOW - 1, NOW)).toBe(true);
    expect(guard.accept('n1', NOW + 1, NOW)).toBe(true);
  });
});

describe('signRecord / openRecord', () => {
  it('adds a last field over the exact text, which openRecord splits off again', () => {
    const value = signRecord(SECRET, 'n1', BODY, NOW);
    expect(JSON.parse(value)).toMatchObject({ nodeId: 'n1', state: 'ready', signature: expect.stringMatching(/^t=\d+,v1=/) });
    const { text, signature } = openRecord(value);
    expect(text).toBe(BODY);
    expect(verifyNode(SECRET, 'n1', signature, text, NOW + 1e9, Infinity).ok).toBe(true);
  });

  it('reads an unsigned record as it is', () => {
    expect(openRecord(BODY)).toEqual({ text: BODY });
  });

  it('a record edited after signing no longer verifies', () => {
    const value = signRecord(SECRET, 'n1', BODY, NOW).replace('ready', 'drainin');
    const { text, signature } = openRecord(value);
    expect(verifyNode(SECRET, 'n1', signature, text, NOW, Infinity)).toEqual({ ok: false, reason: 'bad_signature' });
  });
});

describe('nodeSecretFrom', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'infergate-secret-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the file without its trailing newline, else the environment, else none', () => {
    const file = path.join(dir, 'secret');
    writeFileSync(file, 'a-fleet-secret-of-enough-bytes\n');
    expect(nodeSecretFrom({ 'node-secret-file': file }, {})).toEqual(SECRET);
    expect(nodeSecretFrom({}, { INFERGATE_NODE_SECRET: 'another-secret-entirely-here!!' })).toEqual(OTHER);
    expect(nodeSecretFrom({}, {})).toBeUndefined();
  });

  it('refuses a short secret and an unreadable file, naming where it came from', () => {
    expect(() => nodeSecretFrom({}, { INFERGATE_NODE_SECRET: 'short' })).toThrow(`INFERGATE_NODE_SECRET: the node secret must be at least ${MIN_NODE_SECRET_BYTES} bytes, got 5`);
    expect(() => nodeSecretFrom({ 'node-secret-file': path.join(dir, 'nope') }, {})).toThrow(/--node-secret-file .*nope: cannot read it \(ENOENT\)/);
  });
});
