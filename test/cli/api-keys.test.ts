/**
 * A bad key table fails the boot of every verb that serves, before any model loads, with a
 * message naming the mistake (and never the key); from --api-keys and from INFERGATE_API_KEYS.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../core/package-root.js';

const CLI = path.join(packageRoot(), 'dist', 'cli', 'infergate.js');
const KEY = 'a-clear-key-that-must-not-be-echoed';
const dir = mkdtempSync(path.join(os.tmpdir(), 'infergate-api-keys-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function boot(verb: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [CLI, verb, '--http-port', '0', '--grpc-port', 'off', '--metrics-port', 'off', '--host', '127.0.0.1', ...args], {
    encoding: 'utf8', timeout: 30_000, env: { ...process.env, ...env },
  });
}

describe('--api-keys at boot', () => {
  const bad = path.join(dir, 'bad.yaml');
  writeFileSync(bad, `keys:\n  - name: ci\n    key: ${KEY}\n    groups: [inference, admin]\n`);

  for (const verb of ['serve', 'gateway']) {
    it(`${verb}: an unknown group fails the start, naming it`, () => {
      const result = boot(verb, ['--api-keys', bad, ...(verb === 'gateway' ? ['--workers', '1'] : [])]);
      expect(result.status).not.toBe(0);
      expect(result.stderr).toContain(`--api-keys ${bad}: keys[0] (ci): unknown endpoint group 'admin'`);
      expect(result.stderr + result.stdout).not.toContain(KEY);
    });
  }

  it('INFERGATE_API_KEYS is checked the same way; a missing file is named', () => {
    const fromEnv = boot('gateway', ['--workers', '1'], { INFERGATE_API_KEYS: `{"keys": [{"name": "ci", "key": "short", "groups": ["health"]}]}` });
    expect(fromEnv.status).not.toBe(0);
    expect(fromEnv.stderr).toContain('INFERGATE_API_KEYS: keys[0] (ci): a key in clear must have at least 16 characters');
    const missing = boot('gateway', ['--workers', '1', '--api-keys', path.join(dir, 'none.yaml')]);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toMatch(/--api-keys .*none\.yaml: ENOENT/);
  });
});
