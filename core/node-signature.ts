/**
 * Node registration signed with a shared secret: a backend proves it holds the fleet's secret by
 * an HMAC-SHA256 over (node id, timestamp, body), on every heartbeat and leave (a header) and on its
 * etcd record (a field). The gateway checks it in constant time. The timestamp bounds a replay:
 * a heartbeat older (or newer) than NODE_SIGNATURE_MAX_SKEW_MS is refused, and within the window a
 * node's timestamps must grow (ReplayGuard). The secret itself never travels and is never logged.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** Header carrying `t=<ms since epoch>,v1=<hex HMAC-SHA256>`. */
export const NODE_SIGNATURE_HEADER = 'infergate-node-signature';
/** Header naming the node the signature is for; the body's node id must be the same. */
export const NODE_ID_HEADER = 'infergate-node-id';
/** A signed heartbeat is accepted this far from the gateway's clock, either way (clock skew + transit). */
export const NODE_SIGNATURE_MAX_SKEW_MS = 30_000;
/** A shorter secret is refused at boot: 16 bytes is the least an HMAC key should carry. */
export const MIN_NODE_SECRET_BYTES = 16;
/** Where the secret comes from when --node-secret-file is not given. */
export const NODE_SECRET_ENV = 'INFERGATE_NODE_SECRET';

export type SignatureRefusal = 'missing' | 'malformed' | 'bad_signature' | 'stale' | 'replayed' | 'node_mismatch';

export type SignatureCheck = { ok: true; timestampMs: number } | { ok: false; reason: SignatureRefusal };

/**
 * `--node-secret-file FILE` (its content, without the trailing newline) or INFERGATE_NODE_SECRET;
 * undefined when neither is set. Throws naming the flag or the variable when the secret is unusable.
 */
export function nodeSecretFrom(values: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): Buffer | undefined {
  const file = values['node-secret-file'] as string | undefined;
  let secret: string;
  let source: string;
  if (file !== undefined) {
    try {
      secret = readFileSync(file, 'utf8');
    } catch (err) {
      throw new Error(`--node-secret-file ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    source = `--node-secret-file ${file}`;
  } else if (env[NODE_SECRET_ENV] !== undefined) {
    secret = env[NODE_SECRET_ENV]!;
    source = NODE_SECRET_ENV;
  } else {
    return undefined;
  }
  const bytes = Buffer.from(secret.replace(/\r?\n$/, ''), 'utf8');
  if (bytes.length < MIN_NODE_SECRET_BYTES) throw new Error(`${source}: the node secret must be at least ${MIN_NODE_SECRET_BYTES} bytes, got ${bytes.length}`);
  return bytes;
}

/** The signature value for a message from `nodeId` at `timestampMs`: `t=<ms>,v1=<hex>`. */
export function signNode(secret: Buffer, nodeId: string, timestampMs: number, body: string | Buffer): string {
  return `t=${timestampMs},v1=${mac(secret, nodeId, timestampMs, body).toString('hex')}`;
}

/**
 * Checks a signature value for `nodeId` over `body`. `maxSkewMs`: how far the signed time may be
 * from `nowMs` (Infinity: no bound, for records that are written once and stay).
 */
export function verifyNode(
  secret: Buffer, nodeId: string, signature: string | undefined, body: string | Buffer, nowMs: number,
  maxSkewMs = NODE_SIGNATURE_MAX_SKEW_MS,
): SignatureCheck {
  if (signature === undefined || signature === '') return { ok: false, reason: 'missing' };
  const parsed = /^t=(\d{1,16}),v1=([0-9a-f]{64})$/.exec(signature);
  if (!parsed) return { ok: false, reason: 'malformed' };
  const timestampMs = Number(parsed[1]);
  // The MAC first: a forged message learns nothing from whether its time was in the window.
  if (!timingSafeEqual(Buffer.from(parsed[2], 'hex'), mac(secret, nodeId, timestampMs, body))) return { ok: false, reason: 'bad_signature' };
  if (Math.abs(nowMs - timestampMs) > maxSkewMs) return { ok: false, reason: 'stale' };
  return { ok: true, timestampMs };
}

/**
 * Within the skew window a captured heartbeat could be sent again: each node's signed times must
 * grow. Entries older than the window are dropped (anything at or before them is stale anyway).
 */
export class ReplayGuard {
  readonly #last = new Map<string, number>();

  constructor(private readonly maxSkewMs = NODE_SIGNATURE_MAX_SKEW_MS) {}

  /** True (and remembered) when `timestampMs` is newer than the last one accepted from `nodeId`. */
  accept(nodeId: string, timestampMs: number, nowMs: number): boolean {
    const last = this.#last.get(nodeId);
    if (last !== undefined && timestampMs <= last) return false;
    this.#last.set(nodeId, timestampMs);
    if (this.#last.size > 1_024) {
      for (const [id, t] of this.#last) if (t < nowMs - this.maxSkewMs) this.#last.delete(id);
    }
    return true;
  }
}

/**
 * An etcd record signed: the record's JSON text with a last field `"signature":"t=…,v1=…"` over
 * the text without it. The field is spliced in as text (not by re-serializing) so that the reader
 * checks exactly the bytes that were signed, and a gateway without a secret reads it as before.
 */
export function signRecord(secret: Buffer, nodeId: string, text: string, nowMs: number): string {
  if (!text.endsWith('}')) throw new Error('a record to sign must be a JSON object');
  const signature = signNode(secret, nodeId, nowMs, text);
  return `${text.slice(0, -1)}${text === '{}' ? '' : ','}"signature":${JSON.stringify(signature)}}`;
}

/** Splits a record into the text that was signed and its signature (undefined when it has none). */
export function openRecord(value: string): { text: string; signature?: string } {
  const match = /,?"signature":"([^"\\]*)"\}$/.exec(value);
  if (!match) return { text: value };
  const text = `${value.slice(0, match.index)}}`;
  return { text, signature: match[1] };
}

function mac(secret: Buffer, nodeId: string, timestampMs: number, body: string | Buffer): Buffer {
  // A JSON array as the prefix: no node id can be chosen to make two different messages read the same.
  return createHmac('sha256', secret).update(`${JSON.stringify([nodeId, timestampMs])}\n`).update(body).digest();
}
