/**
 * Membership from etcd: every node keeps a record under `<prefix>nodes/<id>`, bound to a lease it
 * keeps alive (node/etcd-registrar.ts); this gateway reads them all once and then follows a watch on
 * the prefix. A node that joins, changes state (drains) or changes models is a put; a node whose
 * lease expired (it died) or that revoked it (it left) is a delete.
 *
 * With a node secret only records signed with it count (core/node-signature.ts): a record with no
 * signature or a bad one is not a member, however it got into etcd; each such key is logged once.
 *
 * Static stability: when etcd stops answering, the view stays as it was and the gateway keeps
 * routing on it (transport failures still eject a dead node at once; load still arrives on
 * responses); the status says `stale` from that moment. When etcd answers again the whole prefix is
 * read anew and the view converges to it (nodes gone meanwhile are removed).
 */
import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import { parseLoadReport, type LoadReport } from '../core/load-report.js';
import { withoutLoad, type LoadFigures } from '../core/load-header.js';
import { connectEtcd } from '../node/etcd-client.js';
import { nodesPrefix, ETCD_MAX_RETRY_MS, type EtcdSettings } from '../core/etcd-settings.js';
import { openRecord, verifyNode, type SignatureRefusal } from '../core/node-signature.js';
import type { PoolSet } from './pool-set.js';
import { MemberTable, type KnownNode, type Membership, type MembershipStatus, type MemberTableOptions } from './membership.js';

export interface EtcdMembershipOptions extends MemberTableOptions {
  settings: EtcdSettings;
  /** The fleet's node secret: only records signed with it join. Undefined: every well-formed record joins. */
  secret?: Buffer;
  /** Told of every record refused for its signature (to count it). */
  onRefused?: (reason: SignatureRefusal, key: string) => void;
}

export class EtcdMembership implements Membership {
  readonly #table: MemberTable;
  readonly #client: Etcd3;
  readonly #prefix: string;
  #watcher?: Watcher;
  #state: MembershipStatus['state'] = 'connecting';
  #since = Date.now();
  #detail?: string;
  /** key → etcd revision of the last event seen for it (puts and deletes), so a read never undoes a newer event. */
  readonly #revisions = new Map<string, bigint>();
  #closed = false;
  #retry?: NodeJS.Timeout;
  #resyncing?: Promise<void>;
  /** Keys whose refused record was logged already: one line per key, not one per write. */
  readonly #refusedLogged = new Set<string>();

  constructor(pools: PoolSet, private readonly options: EtcdMembershipOptions) {
    this.#table = new MemberTable(pools, options);
    this.#client = connectEtcd(options.settings);
    this.#prefix = nodesPrefix(options.settings.prefix);
  }

  nodes(): ReadonlyArray<KnownNode> {
    return this.#table.nodes();
  }

  noteLoad(nodeId: string, load: LoadFigures): void {
    this.#table.noteLoad(nodeId, load);
  }

  status(): MembershipStatus {
    return {
      source: 'etcd', state: this.#state, since: this.#since, nodes: this.#table.size,
      detail: this.#detail ?? `${this.options.settings.hosts.join(',')} ${this.options.settings.prefix}`,
    };
  }

  /** Reads the view and starts the watch; resolves when the first read is done or has failed (then retries). */
  async start(): Promise<void> {
    try {
      const revision = await this.#resync();
      const watcher = await this.#client.watch().prefix(this.#prefix).startRevision(String(revision + 1n)).create();
      if (this.#closed) {
        await watcher.cancel();
        return;
      }
      this.#watcher = watcher;
      watcher.on('put', (kv) => this.#onPut(kv));
      watcher.on('delete', (kv) => this.#onDelete(kv));
      watcher.on('disconnected', (err) => this.#setState('stale', `etcd unreachable: ${err.message}`));
      // Back after an outage: read everything again, so that whatever happened meanwhile is seen.
      watcher.on('connected', () => {
        if (this.#state !== 'live') void this.#resyncAfterOutage();
      });
      watcher.on('error', (err) => this.options.log?.(`etcd watch error: ${err.message}`));
      this.#setState('live');
    } catch (err) {
      const detail = `etcd unreachable: ${(err as Error).message}`;
      // Log the first failure to connect, and not one line per retry after it.
      if (this.#state === 'connecting' && this.#detail === undefined) this.options.log?.(`membership: ${detail}; no view yet, retrying every ${ETCD_MAX_RETRY_MS} ms`);
      this.#setState(this.#state === 'connecting' ? 'connecting' : 'stale', detail);
      if (!this.#closed) this.#retry = setTimeout(() => void this.start(), ETCD_MAX_RETRY_MS);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    await this.#watcher?.cancel().catch(() => {});
    this.#client.close();
    await this.#table.close();
  }

  async #resyncAfterOutage(): Promise<void> {
    this.#resyncing ??= (async () => {
      try {
        await this.#resync();
        this.#setState('live');
      } catch (err) {
        // The watch says connected but a read failed: stay stale, the next 'connected' tries again.
        this.options.log?.(`etcd read after reconnect failed: ${(err as Error).message}`);
        if (!this.#closed) this.#retry = setTimeout(() => void this.#resyncAfterOutage(), ETCD_MAX_RETRY_MS);
      } finally {
        this.#resyncing = undefined;
      }
    })();
    return this.#resyncing;
  }

  /** Reads every record under the prefix and makes the view equal to it; returns the read's revision. */
  async #resync(): Promise<bigint> {
    const response = await this.#client.getAll().prefix(this.#prefix).exec();
    const revision = BigInt(response.header.revision);
    const present = new Set<string>();
    for (const kv of response.kvs) {
      const key = kv.key.toString();
      present.add(key);
      if ((this.#revisions.get(key) ?? -1n) > BigInt(kv.mod_revision)) continue;
      this.#onPut(kv);
    }
    for (const node of this.#table.nodes()) {
      const key = this.#prefix + node.nodeId;
      if (present.has(key) || (this.#revisions.get(key) ?? -1n) > revision) continue;
      this.#table.remove(node.nodeId, 'no longer registered in etcd');
    }
    return revision;
  }

  #onPut(kv: IKeyValue): void {
    const key = kv.key.toString();
    this.#revisions.set(key, BigInt(kv.mod_revision));
    const { text, signature } = openRecord(kv.value.toString());
    const secret = this.options.secret;
    if (secret) {
      // Records stay as written until the node changes them: no time window, only the MAC.
      const check = verifyNode(secret, key.slice(this.#prefix.length), signature, text, Date.now(), Infinity);
      if (!check.ok) {
        this.options.onRefused?.(check.reason, key);
        if (!this.#refusedLogged.has(key)) {
          this.#refusedLogged.add(key);
          this.options.log?.(`etcd record ${key} ignored: ${check.reason === 'missing' ? 'not signed' : `signature refused (${check.reason})`}; this gateway takes only nodes holding its node secret`);
        }
        this.#table.remove(key.slice(this.#prefix.length), 'its etcd record is no longer signed with the node secret');
        return;
      }
      this.#refusedLogged.delete(key);
    }
    let report: LoadReport;
    try {
      report = withoutLoad(parseLoadReport(JSON.parse(text)));
      if (this.#prefix + report.nodeId !== key) throw new Error(`nodeId '${report.nodeId}' does not match the key`);
    } catch (err) {
      this.options.log?.(`etcd record ${key} ignored: ${(err as Error).message}`);
      return;
    }
    this.#table.apply(report, { keepLoad: true }).catch((err) => {
      this.options.log?.(`node ${report.nodeId} from etcd not joined: ${(err as Error).message}`);
    });
  }

  #onDelete(kv: IKeyValue): void {
    const key = kv.key.toString();
    this.#refusedLogged.delete(key);
    this.#revisions.set(key, BigInt(kv.mod_revision));
    this.#table.remove(key.slice(this.#prefix.length), 'lease expired or revoked in etcd');
  }

  #setState(state: MembershipStatus['state'], detail?: string): void {
    if (state === this.#state) {
      if (detail !== undefined) this.#detail = detail;
      return;
    }
    this.#state = state;
    this.#since = Date.now();
    this.#detail = detail;
    if (state === 'stale') this.options.log?.(`membership: ${detail}; routing on the last view (${this.#table.size} node(s))`);
    else if (state === 'live') this.options.log?.(`membership: etcd reachable, view of ${this.#table.size} node(s) follows the watch`);
  }
}
