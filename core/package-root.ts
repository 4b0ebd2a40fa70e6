import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The installed infergate package's root, found upward from this file (works from src and dist). */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, 'package.json');
    if (existsSync(candidate) && JSON.parse(readFileSync(candidate, 'utf8')).name === 'infergate') return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cannot find the infergate package root');
    dir = parent;
  }
}

export function packageVersion(): string {
  return JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')).version as string;
}

/** The example models that ship with the package: what `infergate serve` runs with no flags. */
export function bundledModelsDir(): string {
  return path.join(packageRoot(), 'models');
}
