/**
 * deploy/kubernetes/ and deploy/Dockerfile, checked without a cluster or an image build (neither
 * exists on this machine): every object is valid against the Kubernetes OpenAPI schemas (the
 * `kubernetes-models` package bundles them, compiled, so this runs offline); every verb and flag in
 * the Pods' args exists in the CLI's --help; ports are the CLI's defaults; the probes and the
 * Prometheus scrape target answer 200 on a real `serve`; the backend's preStop hook stops a real
 * process cleanly; grace periods outlast the drain.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { Deployment } from 'kubernetes-models/apps/v1';
import { ConfigMap, Service } from 'kubernetes-models/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { bundledModelsDir, packageRoot } from '../../core/package-root.js';

const ROOT = packageRoot();
const DIR = path.join(ROOT, 'deploy', 'kubernetes');
const CLI = path.join(ROOT, 'dist', 'cli', 'infergate.js');

/** The one validator per kind these manifests use; a kind outside it fails the test. */
const VALIDATORS: Record<string, (o: object) => void> = {
  'apps/v1/Deployment': (o) => new Deployment(o as never).validate(),
  'v1/Service': (o) => new Service(o as never).validate(),
  'v1/ConfigMap': (o) => new ConfigMap(o as never).validate(),
  'policy/v1/PodDisruptionBudget': (o) => new PodDisruptionBudget(o as never).validate(),
};

// Loose shapes: the schema test above is what checks them.
interface Port { name: string; containerPort: number }
interface Probe { httpGet: { path: string; port: string | number } }
interface Container {
  name: string; args: string[]; ports: Port[];
  env?: { name: string }[];
  readinessProbe?: Probe; livenessProbe?: Probe; startupProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  resources: { requests?: Record<string, string | number>; limits?: Record<string, string | number> };
}
interface K8sObject {
  apiVersion: string; kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: any; data?: Record<string, string>;
}

function loadManifests(): { file: string; obj: K8sObject }[] {
  const kustomization = parseYaml(readFileSync(path.join(DIR, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
  return kustomization.resources.flatMap((file) => parseAllDocuments(readFileSync(path.join(DIR, file), 'utf8')).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0].message}`);
    return { file, obj: doc.toJS() as K8sObject };
  }));
}

const manifests = loadManifests();
const deployments = manifests.map((m) => m.obj).filter((o) => o.kind === 'Deployment');
const podSpec = (d: K8sObject) => d.spec.template.spec;
const containerOf = (d: K8sObject): Container => podSpec(d).containers[0];

/** Flags as `infergate <verb> --help` lists them, with their defaults. */
function cliHelp(verb?: string): string {
  const out = spawnSync(process.execPath, verb ? [CLI, verb, '--help'] : [CLI, '--help'], { encoding: 'utf8', timeout: 20_000 });
  if (out.status !== 0) throw new Error(`infergate ${verb ?? ''} --help exited ${out.status}: ${out.stderr}`);
  return out.stdout;
}
function helpFlags(help: string): Map<string, string | undefined> {
  const flags = new Map<string, string | undefined>();
  for (const m of help.matchAll(/^ {2}(--[a-z0-9-]+)(.*)$/gm)) flags.set(m[1], /\(default ([^)]+)\)\s*$/.exec(m[2])?.[1]);
  return flags;
}
/** The value after `--flag` in a Pod's args, or the CLI's default. */
function flagValue(c: Container, flag: string, help: Map<string, string | undefined>): string | undefined {
  const i = c.args.indexOf(flag);
  return i >= 0 ? c.args[i + 1] : help.get(flag);
}

describe('deploy/kubernetes manifests', () => {
  it('lists every manifest file in kustomization.yaml, and each exists', () => {
    const listed = new Set(manifests.map((m) => m.file));
    const onDisk = readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    expect([...listed].sort()).toEqual(onDisk.sort());
  });

  it('holds the objects issue 17 asks for', () => {
    const names = manifests.map((m) => `${m.obj.kind}/${m.obj.metadata.name}`).sort();
    expect(names).toEqual([
      'ConfigMap/infergate-etcd',
      'Deployment/infergate-backend-cpu', 'Deployment/infergate-backend-gpu', 'Deployment/infergate-gateway',
      'PodDisruptionBudget/infergate-backend-cpu', 'PodDisruptionBudget/infergate-backend-gpu', 'PodDisruptionBudget/infergate-gateway',
      'Service/infergate',
    ]);
  });

  it('every object is valid against the Kubernetes OpenAPI schema of its kind', () => {
    for (const { file, obj } of manifests) {
      const validate = VALIDATORS[`${obj.apiVersion}/${obj.kind}`];
      expect(validate, `${file}: no validator for ${obj.apiVersion} ${obj.kind}`).toBeDefined();
      expect(() => validate(obj), `${file}: ${obj.kind}/${obj.metadata.name}`).not.toThrow();
    }
  });

  it('the validator is live: a broken copy is rejected', () => {
    const broken = structuredClone(deployments[0]);
    containerOf(broken).ports[0].containerPort = 'eight thousand' as never;
    expect(() => VALIDATORS['apps/v1/Deployment'](broken)).toThrow(/containerPort must be integer/);
    const noSelector = structuredClone(deployments[0]);
    delete noSelector.spec.selector;
    expect(() => VALIDATORS['apps/v1/Deployment'](noSelector)).toThrow(/selector/);
  });

  it('selectors match: Deployments their Pods, PDBs and the Service a Deployment', () => {
    const labelsOf = (d: K8sObject) => d.spec.template.metadata.labels as Record<string, string>;
    const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
      Object.entries(selector).every(([k, v]) => labels[k] === v);
    for (const d of deployments) expect(matches(d.spec.selector.matchLabels, labelsOf(d))).toBe(true);
    for (const o of manifests.map((m) => m.obj)) {
      const selector = o.kind === 'PodDisruptionBudget' ? o.spec.selector.matchLabels : o.kind === 'Service' ? o.spec.selector : undefined;
      if (!selector) continue;
      const selected = deployments.filter((d) => matches(selector, labelsOf(d)));
      expect(selected.map((d) => d.metadata.name), `${o.kind}/${o.metadata.name}`).toHaveLength(1);
    }
  });

  it('the gateway Service exposes HTTP, gRPC and metrics on container ports that exist', () => {
    const service = manifests.map((m) => m.obj).find((o) => o.kind === 'Service')!;
    const gateway = containerOf(deployments.find((d) => d.metadata.name === 'infergate-gateway')!);
    const byName = new Map(gateway.ports.map((p) => [p.name, p.containerPort]));
    const ports = (service.spec.ports as { name: string; port: number; targetPort: string }[]).map((p) => [p.name, p.port, byName.get(p.targetPort)]);
    expect(ports).toEqual([['http', 8000, 8000], ['grpc', 8001, 8001], ['metrics', 8002, 8002]]);
  });

  it('GPU backends request and limit nvidia.com/gpu; every container requests CPU and memory', () => {
    for (const d of deployments) {
      const { requests = {}, limits = {} } = containerOf(d).resources;
      expect(requests.cpu, d.metadata.name).toBeDefined();
      expect(requests.memory, d.metadata.name).toBeDefined();
      const gpus = limits['nvidia.com/gpu'];
      if (d.metadata.name === 'infergate-backend-gpu') {
        expect(gpus).toBe(1);
        expect(requests['nvidia.com/gpu']).toBe(gpus); // Kubernetes: extended resources may not overcommit
        expect(podSpec(d).tolerations).toContainEqual({ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' });
      } else {
        expect(gpus, d.metadata.name).toBeUndefined();
      }
    }
  });

  it('every Pod is scraped by Prometheus on its metrics port', () => {
    for (const d of deployments) {
      const annotations = d.spec.template.metadata.annotations as Record<string, string>;
      const metrics = containerOf(d).ports.find((p) => p.name === 'metrics')!;
      expect(annotations).toEqual({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(metrics.containerPort), 'prometheus.io/path': '/metrics' });
    }
  });

  it('etcd is referenced from the ConfigMap, with endpoints the CLI accepts', () => {
    const config = manifests.map((m) => m.obj).find((o) => o.kind === 'ConfigMap')!;
    for (const url of config.data!.ETCD_ENDPOINTS.split(',')) expect(url).toMatch(/^https?:\/\/[^/\s]+:\d+$/);
    expect(config.data!.ETCD_PREFIX).toMatch(/^\/.*\/$/);
    for (const d of deployments) {
      const c = containerOf(d);
      expect(c.args.slice(c.args.indexOf('--etcd'), c.args.indexOf('--etcd') + 2)).toEqual(['--etcd', '$(ETCD_ENDPOINTS)']);
      const env = c.env as { name: string; valueFrom?: { configMapKeyRef?: { name: string; key: string } } }[];
      for (const key of ['ETCD_ENDPOINTS', 'ETCD_PREFIX']) {
        expect(env.find((e) => e.name === key)?.valueFrom?.configMapKeyRef).toEqual({ name: config.metadata.name, key });
      }
    }
  });
});

describe('deploy/kubernetes against the CLI', () => {
  const verbs = [...cliHelp().matchAll(/^ {2}(\w+) {2,}/gm)].map((m) => m[1]);
  const help = new Map(['gateway', 'backend', 'serve'].map((v) => [v, helpFlags(cliHelp(v))]));

  it.each(deployments.map((d) => [d.metadata.name, d] as const))('%s: the verb and every flag exist in `infergate <verb> --help`', (_name, d) => {
    const c = containerOf(d);
    const verb = c.args[0];
    expect(verbs).toContain(verb);
    const flags = help.get(verb)!;
    for (let i = 1; i < c.args.length; i += 2) {
      expect(flags.has(c.args[i]), `${c.args[i]} in infergate ${verb} --help`).toBe(true);
      expect(c.args[i + 1], `${c.args[i]} needs a value`).toBeDefined();
      expect(c.args[i + 1].startsWith('--'), `${c.args[i]} needs a value`).toBe(false);
    }
  });

  it.each(deployments.map((d) => [d.metadata.name, d] as const))('%s: every $(VAR) in args is defined in env (Kubernetes leaves unknown ones verbatim)', (_name, d) => {
    const c = containerOf(d);
    const defined = new Set((c.env ?? []).map((e) => e.name));
    const used = c.args.flatMap((a) => [...a.matchAll(/\$\(([A-Z_][A-Z0-9_]*)\)/g)].map((m) => m[1]));
    expect(used.length).toBeGreaterThan(0);
    for (const v of used) expect(defined.has(v), v).toBe(true);
  });

  it.each(deployments.map((d) => [d.metadata.name, d] as const))('%s: container ports are the CLI defaults and the args say the same', (_name, d) => {
    const c = containerOf(d);
    const flags = help.get(c.args[0])!;
    const byName = Object.fromEntries(c.ports.map((p) => [p.name, p.containerPort]));
    for (const [name, flag] of [['http', '--http-port'], ['grpc', '--grpc-port'], ['metrics', '--metrics-port']] as const) {
      expect(String(byName[name])).toBe(flags.get(flag));
      expect(flagValue(c, flag, flags)).toBe(flags.get(flag));
    }
  });

  it('backends: the grace period outlasts the drain (grace + timeout); the gateway: preStop + its shutdown wait, which outlasts the longest request', () => {
    for (const d of deployments) {
      const c = containerOf(d);
      const flags = help.get(c.args[0])!;
      const graceS = podSpec(d).terminationGracePeriodSeconds as number;
      if (c.args[0] === 'backend') {
        // Drain, then the doors' last wait (--shutdown-timeout-ms) for what the drain left.
        const drainMs = Number(flagValue(c, '--drain-grace-ms', flags)) + Number(flagValue(c, '--drain-timeout-ms', flags)) +
          Number(flagValue(c, '--shutdown-timeout-ms', flags));
        // The lease TTL too: the revoke is one call, but a node that cannot reach etcd waits for expiry.
        const leaseMs = Number(flagValue(c, '--etcd-lease-ttl-s', flags)) * 1000;
        expect(graceS * 1000, d.metadata.name).toBeGreaterThan(drainMs + leaseMs);
      } else {
        const sleepS = Number(c.lifecycle!.preStop!.exec!.command[1]);
        const shutdownMs = Number(flagValue(c, '--shutdown-timeout-ms', flags));
        expect(shutdownMs).toBeGreaterThanOrEqual(Number(flagValue(c, '--request-timeout-ms', flags)));
        expect(graceS * 1000).toBeGreaterThan(sleepS * 1000 + shutdownMs);
      }
    }
  });

  it('backends: preStop sends SIGTERM, the signal `infergate backend --help` says drains', () => {
    expect(cliHelp('backend')).toMatch(/--drain-grace-ms <value>\s+on SIGTERM, time to keep serving after announcing draining/);
    for (const d of deployments.filter((x) => containerOf(x).args[0] === 'backend')) {
      const command = containerOf(d).lifecycle!.preStop!.exec!.command;
      expect(command.slice(0, 2)).toEqual(['/bin/sh', '-c']);
      expect(command[2]).toMatch(/^pid=1; kill -TERM \$pid; /);
    }
  });

  it('the image: Node 20 slim (sh, kill, sleep for the hooks), the CLI as exec-form ENTRYPOINT so node is PID 1', () => {
    const dockerfile = readFileSync(path.join(ROOT, 'deploy', 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^ARG RUNTIME_BASE=node:20-bookworm-slim$/m);
    expect(dockerfile).toMatch(/^FROM node:20-bookworm-slim AS build$/m);
    expect(dockerfile).toMatch(/^RUN npm ci/m);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "dist\/cli\/infergate\.js"\]$/m);
    expect(dockerfile).toMatch(/^EXPOSE 8000 8001 8002$/m);
    // The entry point the image runs is the one package.json publishes.
    expect(JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).bin.infergate).toBe('dist/cli/infergate.js');
  });

  describe('on a real serve process', () => {
    const models = mkdtempSync(path.join(os.tmpdir(), 'infergate-k8s-'));
    cpSync(path.join(bundledModelsDir(), 'add_sub'), path.join(models, 'add_sub'), { recursive: true });
    let child: ReturnType<typeof spawn>;
    /** Container port → the port this test's serve listens on. */
    const portMap = new Map<number, number>();
    let httpUrl = '';

    beforeAll(async () => {
      child = spawn(process.execPath, [CLI, 'serve', '--models', models, '--http-port', '0', '--grpc-port', '0', '--metrics-port', '0', '--host', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] });
      const line = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (chunk) => {
          out += chunk;
          const match = /KServe v2 HTTP on [^"]*metrics on port \d+/.exec(out);
          if (match) resolve(match[0]);
        });
        child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${out}`)));
      });
      httpUrl = /HTTP on (http:\/\/[^,]+)/.exec(line)![1];
      portMap.set(8000, Number(new URL(httpUrl).port));
      portMap.set(8002, Number(/metrics on port (\d+)/.exec(line)![1]));
    }, 60_000);
    afterAll(() => {
      child?.kill('SIGKILL');
      rmSync(models, { recursive: true, force: true });
    });

    it.each(deployments.map((d) => [d.metadata.name, d] as const))('%s: every probe answers 200 on the port and path it names', async (_name, d) => {
      const c = containerOf(d);
      const probes = [c.readinessProbe, c.livenessProbe, c.startupProbe].filter((p): p is Probe => p !== undefined);
      expect(probes.length).toBeGreaterThanOrEqual(2);
      for (const { httpGet } of probes) {
        const containerPort = typeof httpGet.port === 'number' ? httpGet.port : c.ports.find((p) => p.name === httpGet.port)!.containerPort;
        const res = await fetch(`http://127.0.0.1:${portMap.get(containerPort)}${httpGet.path}`);
        expect(res.status, `${httpGet.path} on ${httpGet.port}`).toBe(200);
      }
      // Backends: ready = their models are loaded. Gateways: live (see gateway.yaml for why not ready).
      expect(c.readinessProbe!.httpGet.path).toBe(c.args[0] === 'gateway' ? '/v2/health/live' : '/v2/health/ready');
      expect(c.livenessProbe!.httpGet.path).toBe('/v2/health/live');
    });

    it('the Prometheus scrape target answers with infergate metrics', async () => {
      const annotations = deployments[0].spec.template.metadata.annotations as Record<string, string>;
      const res = await fetch(`http://127.0.0.1:${portMap.get(Number(annotations['prometheus.io/port']))}${annotations['prometheus.io/path']}`);
      expect(res.status).toBe(200);
      expect(await res.text()).toMatch(/^# HELP infergate_/m);
    });

    it('the backend preStop script, aimed at this process, stops it cleanly (exit 0) and returns only once it is gone', async () => {
      const script = containerOf(deployments.find((d) => d.metadata.name === 'infergate-backend-cpu')!).lifecycle!.preStop!.exec!.command[2];
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      // Async: this process must keep reaping its child, or the hook's `kill -0` would see a zombie.
      const hook = spawn('/bin/sh', ['-c', script.replace(/^pid=1;/, `pid=${child.pid};`)], { stdio: 'ignore' });
      const hookCode = await new Promise<number | null>((resolve) => hook.once('exit', resolve));
      expect(hookCode).toBe(0);
      expect(child.exitCode).toBe(0); // already gone when the hook returned
      expect(await exited).toBe(0);
    });
  });
});
