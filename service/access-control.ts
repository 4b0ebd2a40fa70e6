/**
 * Who may call what: each request's key (or none) is matched against the key table, then its
 * endpoint group, its model, its key's rate and its key's requests in flight are checked. Both
 * doors call `admit` and turn the InferError it throws into their own answer (401, 403, 429).
 *
 * A presented key is hashed and compared with every stored digest in constant time, whichever
 * matches (or none), so the answer's timing says nothing about which key is close.
 */
import { timingSafeEqual } from 'node:crypto';
import { InferError } from '../core/errors.js';
import { ANONYMOUS, sha256, type AccessEntry, type AccessTable, type EndpointGroup } from './access-table.js';
import { fullBucket, takeToken, type TokenBucketState } from './token-bucket.js';

/**
 * Retry-After of a request over its key's concurrent-request limit: when a slot frees is not
 * known, and Retry-After's smallest value is one second anyway.
 */
export const KEY_CONCURRENCY_RETRY_AFTER_MS = 1_000;

/** Labels of infergate_auth_refusals_total. */
export type RefusalReason = 'missing_key' | 'wrong_key' | 'forbidden_group' | 'forbidden_model' | 'key_rate_limited' | 'key_concurrency';
/** The `key` label of a refusal of a key that matched no entry. */
export const UNKNOWN_KEY = 'unknown';

/** What a request asks for. */
export interface AccessRequest {
  group: EndpointGroup;
  /** The one model the request is about, if any. */
  model?: string;
  /** The request lists every model (repository index, all statistics): refused to a key limited to some. */
  allModels?: boolean;
}

/** A request let in; `release` (idempotent) when its answer is sent or it ends otherwise. */
export interface Admission {
  /** The key's name (or 'anonymous'): for logs and metrics, never the key. */
  readonly name: string;
  release(): void;
}

interface KeyState {
  entry: AccessEntry;
  bucket?: TokenBucketState;
  inFlight: number;
}

export interface AccessControlOptions {
  clock?: () => number;
  onRefusal?: (reason: RefusalReason, keyName: string) => void;
}

export class AccessControl {
  readonly #keys: KeyState[];
  readonly #anonymous: KeyState;
  readonly #clock: () => number;
  readonly #onRefusal: (reason: RefusalReason, keyName: string) => void;

  constructor(table: AccessTable, options: AccessControlOptions = {}) {
    this.#clock = options.clock ?? Date.now;
    this.#onRefusal = options.onRefusal ?? (() => {});
    const state = (entry: AccessEntry): KeyState => ({
      entry, inFlight: 0, ...(entry.rateLimit ? { bucket: fullBucket(entry.rateLimit, this.#clock()) } : {}),
    });
    this.#keys = table.keys.map(state);
    this.#anonymous = state(table.anonymous);
  }

  /** Key names, for the boot log line. */
  get keyNames(): string[] {
    return this.#keys.map((k) => k.entry.name);
  }

  /** The groups open without a key. */
  get anonymousGroups(): EndpointGroup[] {
    return [...this.#anonymous.entry.groups];
  }

  /**
   * Lets the request in or throws an InferError: UNAUTHENTICATED (no key where one is needed, or
   * an unknown key), PERMISSION_DENIED (the key may not use this group or model),
   * RESOURCE_EXHAUSTED with retryAfterMs (over the key's rate or concurrent-request limit).
   */
  admit(presentedKey: string | undefined, request: AccessRequest): Admission {
    const state = presentedKey === undefined ? this.#anonymous : this.#match(presentedKey);
    if (state === undefined) throw this.#refuse('UNAUTHENTICATED', 'wrong_key', UNKNOWN_KEY, 'the API key is not valid');
    const { entry } = state;
    if (!entry.groups.has(request.group)) {
      if (state === this.#anonymous) {
        throw this.#refuse('UNAUTHENTICATED', 'missing_key', ANONYMOUS, `the ${request.group} endpoints need an API key (Authorization: Bearer <key>, or x-api-key: <key>)`);
      }
      throw this.#refuse('PERMISSION_DENIED', 'forbidden_group', entry.name, `key '${entry.name}' may not use the ${request.group} endpoints`);
    }
    if (entry.models !== undefined) {
      if (request.model !== undefined && !entry.models.has(request.model)) {
        throw this.#refuse('PERMISSION_DENIED', 'forbidden_model', entry.name, `key '${entry.name}' may not use model '${request.model}'`);
      }
      if (request.allModels) {
        throw this.#refuse('PERMISSION_DENIED', 'forbidden_model', entry.name, `key '${entry.name}' is limited to some models and may not list every model`);
      }
    }
    // Concurrency first: a request turned away for it must not spend a token of the rate.
    if (entry.maxConcurrent !== undefined && state.inFlight >= entry.maxConcurrent) {
      throw this.#refuse('RESOURCE_EXHAUSTED', 'key_concurrency', entry.name,
        `key '${entry.name}' has ${state.inFlight} requests in flight, its limit (max_concurrent)`, KEY_CONCURRENCY_RETRY_AFTER_MS);
    }
    if (state.bucket !== undefined) {
      const waitMs = takeToken(state.bucket, entry.rateLimit!, this.#clock());
      if (waitMs > 0) {
        throw this.#refuse('RESOURCE_EXHAUSTED', 'key_rate_limited', entry.name,
          `key '${entry.name}' is over its rate limit (${entry.rateLimit!.requestsPerSecond} requests/s, burst ${entry.rateLimit!.burst})`, waitMs);
      }
    }
    state.inFlight++;
    let released = false;
    return {
      name: entry.name,
      release: () => {
        if (released) return;
        released = true;
        state.inFlight--;
      },
    };
  }

  /** Every digest is compared, matched or not, so the time does not depend on which key matched. */
  #match(presentedKey: string): KeyState | undefined {
    const digest = sha256(presentedKey);
    let found: KeyState | undefined;
    for (const state of this.#keys) {
      if (timingSafeEqual(digest, state.entry.digest!) && found === undefined) found = state;
    }
    return found;
  }

  #refuse(code: InferError['code'], reason: RefusalReason, keyName: string, message: string, retryAfterMs?: number): InferError {
    this.#onRefusal(reason, keyName);
    return new InferError(code, message, reason, retryAfterMs === undefined ? {} : { retryAfterMs });
  }
}

/**
 * The key a request presents: `Authorization: Bearer <key>` first, else `x-api-key: <key>`;
 * undefined when neither is there (another Authorization scheme counts as none).
 */
export function presentedKey(authorization: string | undefined, apiKey: string | undefined): string | undefined {
  if (authorization !== undefined) {
    const match = /^\s*bearer\s+(.*?)\s*$/i.exec(authorization);
    if (match) return match[1];
  }
  return apiKey === undefined ? undefined : apiKey.trim();
}
