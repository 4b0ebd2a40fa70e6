/**
 * Builds the native pieces (`npm run build:native`, part of `npm run build`): the N-API addon
 * (native/addon, with node-gyp) and the reference dense plugin (native/plugins/dense, with make),
 * then writes the bundled dense_native model's weights. Outputs: native/addon/build/,
 * native/build/ and models/dense_native/plugin/, all gitignored.
 *
 * Works offline: node-gyp is pointed at the headers of the Node that runs this script
 * (`<prefix>/include/node`, as distribution packages and the official tarballs install them), so it
 * downloads nothing. Where those headers are missing, node-gyp falls back to its own cache or a
 * download. Set INFERGATE_SKIP_NATIVE=1 to skip the native build: the `native` engine is then
 * simply not registered and everything else works.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../core/package-root.js';

/** The Node install prefix holding include/node/node_api.h and common.gypi, if this Node has one. */
export function localNodeDir(execPath = process.execPath): string | undefined {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = path.resolve(path.dirname(execPath), '..');
  const headers = path.join(prefix, 'include', 'node');
  return existsSync(path.join(headers, 'node_api.h')) && existsSync(path.join(headers, 'common.gypi')) ? prefix : undefined;
}

/** node-gyp's entry script: the one npm names for its scripts, or the copy bundled with npm. */
export function nodeGypScript(execPath = process.execPath): string | undefined {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return fromNpm;
  const bundled = path.resolve(path.dirname(execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  return existsSync(bundled) ? bundled : undefined;
}

function run(command: string, args: string[], cwd: string): void {
  console.log(`build:native: ${path.basename(command)} ${args.join(' ')} (in ${path.relative(packageRoot(), cwd) || '.'})`);
  const result = spawnSync(command, args, { cwd, stdio: 'inherit' });
  if (result.error) throw new Error(`cannot run ${command}: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed with exit code ${result.status}`);
}

function main(): void {
  if (process.env.INFERGATE_SKIP_NATIVE === '1') {
    console.log('build:native: skipped (INFERGATE_SKIP_NATIVE=1); the native engine will not be available');
    return;
  }
  const root = packageRoot();
  const gyp = nodeGypScript();
  if (!gyp) throw new Error('build:native: cannot find node-gyp (run through npm, which bundles it, or install node-gyp)');
  const nodedir = localNodeDir();
  const gypArgs = [gyp, 'rebuild', '--loglevel=warn', ...(nodedir ? [`--nodedir=${nodedir}`] : [])];
  run(process.execPath, gypArgs, path.join(root, 'native', 'addon'));
  run('make', ['--no-print-directory', '-s'], path.join(root, 'native', 'plugins', 'dense'));
}

main();
