/**
 * A small network of real hosts for fault tests: one Linux network namespace per host, all on one
 * bridge (the "switch", a namespace of its own), each with its own address, port space and
 * firewall. The test process itself stays in the root namespace and reaches one chosen host (the
 * gateway's) over a point-to-point veth link, as a client on another network would.
 *
 * Faults are real kernel mechanisms inside the hosts:
 * - loss and partitions: nftables rules in a host's namespace (`numgen random mod 100 < N drop`;
 *   a partition drops every packet to and from the peer: connections hang, nothing is reset);
 * - latency: netem on the host's interface when the kernel has it (`hasNetem()`); otherwise the
 *   test puts a delaying TCP relay (bench/support/delay-relay.ts) on a host between the two.
 *
 * Everything is torn down (processes killed, namespaces deleted) by `close()`, on process exit, and
 * namespaces left by a run that died are deleted by the next one. Needs root (CAP_NET_ADMIN), `ip`
 * and `nft`; `netnsUnavailable()` says why not, for a skip.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { sleep } from '../../bench/support/cluster-processes.js';

/** Names of namespaces this helper made start with this, then the owner's pid in base 36. */
const NAMESPACE_PREFIX = 'igt';
/** Fabric addresses: 10.213.<k>.<host>/24; the client link: 10.214.<k>.{1,2}/30. */
const FABRIC_NET = '10.213';
const CLIENT_NET = '10.214';
/** The nftables table every fault lives in, one per host. */
const FAULT_TABLE = 'infergate_fault';

function run(command: string, args: string[], input?: string): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim();
    throw new Error(`${command} ${args.join(' ')} failed: ${stderr || (err as Error).message}`);
  }
}

function commandExists(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
}

/** Why this machine cannot make namespaces, or undefined when it can. */
export function netnsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'network namespaces need root (CAP_NET_ADMIN): network fault tests skipped';
  if (!commandExists('ip')) return 'iproute2 (`ip`) not installed: network fault tests skipped';
  if (!commandExists('nft')) return 'nftables (`nft`) not installed (apt-get install -y nftables): network fault tests skipped';
  const probe = `${NAMESPACE_PREFIX}probe${process.pid.toString(36)}`;
  const made = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (made.status !== 0) return `cannot create a network namespace (${made.stderr.trim()}): network fault tests skipped`;
  spawnSync('ip', ['netns', 'del', probe]);
  return undefined;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Deletes namespaces of earlier runs whose owner process is gone (a killed test run). */
function removeOrphanNamespaces(): void {
  let names: string[];
  try {
    names = readdirSync('/run/netns');
  } catch {
    return;
  }
  for (const name of names) {
    const match = new RegExp(`^${NAMESPACE_PREFIX}([0-9a-z]+)-`).exec(name);
    if (match && !pidAlive(parseInt(match[1], 36))) deleteNamespace(name);
  }
}

/** Kills whatever still runs in a namespace (only processes of ours live there), then deletes it. */
function deleteNamespace(name: string): void {
  const pids = spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).stdout ?? '';
  for (const pid of pids.split('\n').map(Number).filter((p) => Number.isInteger(p) && p > 0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  spawnSync('ip', ['netns', 'del', name]);
}

export interface NetHost {
  name: string;
  /** The namespace the host is. */
  namespace: string;
  /** Its address on the fabric (where the other hosts reach it). */
  address: string;
  /** Its interface on the fabric. */
  device: string;
  /** Set on the host linked to the test process: its address on that link. */
  clientAddress?: string;
}

/** `ip netns exec NS`: the prefix that runs a command on a host (it execs, so pids are the command's). */
export function onHost(host: NetHost): string[] {
  return ['ip', 'netns', 'exec', host.namespace];
}

interface Fault {
  /** nftables rules for the input and output chains. */
  input: string;
  output: string;
}

/**
 * The network. `new NetLab(['gw', 'n1', …], 'gw')` makes the hosts, links them, and links the test
 * process to `clientHost`.
 */
export class NetLab {
  readonly id: string;
  readonly hosts = new Map<string, NetHost>();
  readonly #namespaces: string[] = [];
  readonly #children = new Set<ChildProcess>();
  readonly #faults = new Map<string, Map<string, Fault>>();
  readonly #netemHosts = new Set<string>();
  #netem?: boolean;
  #closed = false;
  readonly #onExit = () => this.#teardown();

  constructor(names: readonly string[], clientHost: string) {
    if (!names.includes(clientHost)) throw new Error(`client host ${clientHost} is not one of ${names.join(', ')}`);
    removeOrphanNamespaces();
    this.id = `${NAMESPACE_PREFIX}${process.pid.toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
    process.once('exit', this.#onExit);
    try {
      const subnet = this.#freeSubnet();
      const sw = this.#namespace('switch');
      run('ip', ['-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
      run('ip', ['-n', sw, 'link', 'set', 'br0', 'up']);
      names.forEach((name, i) => {
        const namespace = this.#namespace(name);
        const address = `${FABRIC_NET}.${subnet}.${i + 1}`;
        const port = `p${i}`;
        run('ip', ['link', 'add', 'eth0', 'netns', namespace, 'type', 'veth', 'peer', 'name', port, 'netns', sw]);
        run('ip', ['-n', sw, 'link', 'set', port, 'master', 'br0', 'up']);
        run('ip', ['-n', namespace, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
        run('ip', ['-n', namespace, 'link', 'set', 'eth0', 'up']);
        run('ip', ['-n', namespace, 'link', 'set', 'lo', 'up']);
        this.hosts.set(name, { name, namespace, address, device: 'eth0' });
      });
      // The client link: a veth from the root namespace into the client host.
      const host = this.host(clientHost);
      const rootEnd = `${this.id.replace('-', '')}`.slice(0, 13) + 'c';
      const rootAddress = `${CLIENT_NET}.${subnet}.1`;
      host.clientAddress = `${CLIENT_NET}.${subnet}.2`;
      run('ip', ['link', 'add', rootEnd, 'type', 'veth', 'peer', 'name', 'eth1', 'netns', host.namespace]);
      run('ip', ['addr', 'add', `${rootAddress}/30`, 'dev', rootEnd]);
      run('ip', ['link', 'set', rootEnd, 'up']);
      run('ip', ['-n', host.namespace, 'addr', 'add', `${host.clientAddress}/30`, 'dev', 'eth1']);
      run('ip', ['-n', host.namespace, 'link', 'set', 'eth1', 'up']);
    } catch (err) {
      this.#teardown();
      throw err;
    }
  }

  host(name: string): NetHost {
    const host = this.hosts.get(name);
    if (!host) throw new Error(`no host ${name}`);
    return host;
  }

  /** Whether the kernel has netem (CONFIG_NET_SCH_NETEM): tried once on the switch's loopback. */
  hasNetem(): boolean {
    if (this.#netem === undefined) {
      const sw = `${this.id}-switch`;
      this.#netem = spawnSync('ip', ['netns', 'exec', sw, 'tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms']).status === 0;
      if (this.#netem) spawnSync('ip', ['netns', 'exec', sw, 'tc', 'qdisc', 'del', 'dev', 'lo', 'root']);
    }
    return this.#netem;
  }

  /** Starts `command args…` on a host; it is killed (SIGKILL) by close(). */
  spawn(hostName: string, command: string, args: string[], options: { stdin?: boolean } = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.host(hostName).namespace, command, ...args], {
      stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    this.adopt(child);
    return child;
  }

  /** Makes close() kill a child started elsewhere (e.g. an InfergateProcess launched with onHost()). */
  adopt(child: ChildProcess): void {
    this.#children.add(child);
    child.once('exit', () => this.#children.delete(child));
  }

  /** Drops every packet between `host` and `peer` (filtered on `host`), both ways; connections hang. */
  partition(hostName: string, peerName: string): void {
    const peer = this.host(peerName).address;
    this.#setFault(hostName, `partition:${peerName}`, { input: `ip saddr ${peer} drop`, output: `ip daddr ${peer} drop` });
  }

  /** Drops `percent` % of the packets between `host` and `peer`, each way, at random. */
  loss(hostName: string, peerName: string, percent: number): void {
    if (!(percent > 0 && percent < 100)) throw new Error(`loss must be in (0, 100) %, got ${percent}`);
    const peer = this.host(peerName).address;
    const drop = `numgen random mod 100 < ${Math.round(percent)} drop`;
    this.#setFault(hostName, `loss:${peerName}`, { input: `ip saddr ${peer} ${drop}`, output: `ip daddr ${peer} ${drop}` });
  }

  /** Adds `ms` of delay to every packet `host` sends (netem; check hasNetem() first). */
  latency(hostName: string, ms: number): void {
    const host = this.host(hostName);
    run('ip', ['netns', 'exec', host.namespace, 'tc', 'qdisc', 'replace', 'dev', host.device, 'root', 'netem', 'delay', `${ms}ms`]);
    this.#netemHosts.add(hostName);
  }

  /** Removes every fault on a host (all hosts when none is named). */
  heal(hostName?: string): void {
    for (const name of hostName ? [hostName] : [...this.hosts.keys()]) {
      const host = this.host(name);
      if (this.#faults.get(name)?.size) {
        this.#faults.delete(name);
        run('ip', ['netns', 'exec', host.namespace, 'nft', 'delete', 'table', 'inet', FAULT_TABLE]);
      }
      if (this.#netemHosts.delete(name)) run('ip', ['netns', 'exec', host.namespace, 'tc', 'qdisc', 'del', 'dev', host.device, 'root']);
    }
  }

  /** Kills every process started on the hosts and deletes the namespaces (links go with them). */
  async close(): Promise<void> {
    const exits = [...this.#children].map((child) => new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve(undefined);
      child.once('exit', resolve);
    }));
    for (const child of this.#children) child.kill('SIGKILL');
    await Promise.race([Promise.all(exits), sleep(5_000)]);
    this.#teardown();
  }

  #teardown(): void {
    if (this.#closed) return;
    this.#closed = true;
    process.removeListener('exit', this.#onExit);
    for (const child of this.#children) child.kill('SIGKILL');
    // Deleting a namespace takes its veth ends with it, and so the root end of the client link.
    for (const namespace of this.#namespaces) deleteNamespace(namespace);
  }

  #namespace(name: string): string {
    const namespace = `${this.id}-${name}`;
    run('ip', ['netns', 'add', namespace]);
    this.#namespaces.push(namespace);
    return namespace;
  }

  /** A third octet no address of the root namespace uses in 10.213/16 or 10.214/16. */
  #freeSubnet(): number {
    const used = run('ip', ['-o', 'addr', 'show']);
    for (let tries = 0; tries < 64; tries++) {
      const k = 1 + Math.floor(Math.random() * 254);
      if (!used.includes(`${FABRIC_NET}.${k}.`) && !used.includes(`${CLIENT_NET}.${k}.`)) return k;
    }
    throw new Error('no free 10.213.x/10.214.x subnet');
  }

  /** Rewrites the host's fault table atomically with the faults now set (add + delete + add: no window without rules). */
  #setFault(hostName: string, key: string, fault: Fault): void {
    const host = this.host(hostName);
    const faults = this.#faults.get(hostName) ?? new Map<string, Fault>();
    faults.set(key, fault);
    this.#faults.set(hostName, faults);
    const rules = (chain: 'input' | 'output') => [...faults.values()].map((f) => `    ${f[chain]}`).join('\n');
    const script = [
      `table inet ${FAULT_TABLE} {}`,
      `delete table inet ${FAULT_TABLE}`,
      `table inet ${FAULT_TABLE} {`,
      '  chain input {',
      '    type filter hook input priority -10; policy accept;',
      rules('input'),
      '  }',
      '  chain output {',
      '    type filter hook output priority -10; policy accept;',
      rules('output'),
      '  }',
      '}',
    ].join('\n');
    run('ip', ['netns', 'exec', host.namespace, 'nft', '-f', '-'], script + '\n');
  }
}
