/**
 * The layer check can fail: in a scratch tree laid out like the project's, an import up the layer
 * order and an import circle are each reported, and the same tree without them passes. (npm test
 * runs the check on the real tree; this proves the rules bite.)
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { packageRoot } from '../../core/package-root.js';

const DEPCRUISE = path.join(packageRoot(), 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');
let tree: string | undefined;

function scratch(files: Record<string, string>): string {
  tree = mkdtempSync(path.join(os.tmpdir(), 'infergate-layers-'));
  copyFileSync(path.join(packageRoot(), '.dependency-cruiser.cjs'), path.join(tree, '.dependency-cruiser.cjs'));
  writeFileSync(path.join(tree, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext' } }));
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(tree, file)), { recursive: true });
    writeFileSync(path.join(tree, file), text);
  }
  return tree;
}

function check(dir: string) {
  const folders = ['core', 'node', 'gateway'].filter((f) => existsSync(path.join(dir, f)));
  // No colours (CI=true makes its terminal library add them); and strip any that come anyway.
  const out = spawnSync(process.execPath, [DEPCRUISE, '--config', '.dependency-cruiser.cjs', ...folders], {
    cwd: dir, encoding: 'utf8', timeout: 60_000, env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
  });
  return { ...out, stdout: out.stdout.replace(/\u001b\[[0-9;]*m/g, '') };
}

afterEach(() => {
  if (tree) rmSync(tree, { recursive: true, force: true });
  tree = undefined;
});

describe('layer check', () => {
  it('passes imports that go down the layers', () => {
    const out = check(scratch({
      'gateway/door.ts': "import { run } from '../node/queue.js';\nexport const door = run;\n",
      'node/queue.ts': "import { t } from '../core/types.js';\nexport const run = t;\n",
      'core/types.ts': 'export const t = 1;\n',
    }));
    expect(out.status, out.stdout + out.stderr).toBe(0);
  });

  it('fails on an import up the layers, naming the rule and the files', () => {
    const out = check(scratch({
      'gateway/door.ts': 'export const door = 1;\n',
      'core/types.ts': "import { door } from '../gateway/door.js';\nexport const t = door;\n",
    }));
    expect(out.status).not.toBe(0);
    expect(out.stdout).toMatch(/no-import-up-from-core: core\/types\.ts → gateway\/door\.ts/);
  });

  it('fails on an import circle inside one layer', () => {
    const out = check(scratch({
      'node/a.ts': "import { b } from './b.js';\nexport const a = () => b;\n",
      'node/b.ts': "import { a } from './a.js';\nexport const b = () => a;\n",
    }));
    expect(out.status).not.toBe(0);
    expect(out.stdout).toMatch(/no-circular/);
  });
});
