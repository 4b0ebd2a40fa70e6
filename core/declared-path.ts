/**
 * Paths a declaration names (model_file, labels, warmup data, processing dictionaries) stay inside
 * the model's directory. The lexical check (no absolute path, no `..`) comes first, before the file
 * system is asked, so a declaration cannot probe the host; the real-path check after it catches a
 * symlink inside the directory that points out of it.
 */
import { realpathSync } from 'node:fs';
import path from 'node:path';

/** Why `spec` cannot name a file under its directory, or undefined: absolute, or climbing with `..`. */
export function lexicalPathProblem(spec: string): string | undefined {
  if (path.isAbsolute(spec) || path.win32.isAbsolute(spec)) return 'an absolute path';
  if (spec.split(/[\\/]/).includes('..')) return "a path that leaves the directory with '..'";
  return undefined;
}

/**
 * The real path of an existing `file` when it lies outside the real path of `directory` (a
 * symlink out), else undefined.
 */
export function symlinkEscape(file: string, directory: string): string | undefined {
  const real = realpathSync(file);
  const relative = path.relative(realpathSync(directory), real);
  return relative === '' || relative.startsWith('..') || path.isAbsolute(relative) ? real : undefined;
}
