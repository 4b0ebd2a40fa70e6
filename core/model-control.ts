/**
 * Triton's model control modes: `none` (every declared model loads at start, the repository's
 * load/unload requests are refused), `explicit` (only the models named at start load; the rest
 * load and unload on request) and `poll` (every declared model loads at start; the repository
 * directory is watched and what changes in it is loaded, reloaded or unloaded; requests refused).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, invalidArg } from './errors.js';
import { DECLARATION_FILE_NAMES, type DeclaredModel } from './model-repository.js';

export type ModelControlMode = 'none' | 'explicit' | 'poll';
export const MODEL_CONTROL_MODES: readonly ModelControlMode[] = ['none', 'explicit', 'poll'];
/** Triton's --repository-poll-secs default. */
export const DEFAULT_REPOSITORY_POLL_SECS = 15;
export const DEFAULT_MODEL_CONTROL_MODE: ModelControlMode = 'none';
/** `--load-model '*'` loads every declared model, as in Triton. */
export const ALL_MODELS = '*';

/** Triton's words in NONE mode, followed by what to do about it. */
export function modelControlDisabledMessage(mode: ModelControlMode): string {
  const why = mode === 'poll'
    ? 'poll (the repository directory decides what is loaded: add, change or remove a model there)'
    : 'none (every declared model loads at start)';
  return `explicit model load / unload is not allowed: this node runs with --model-control-mode ${why}; start it with --model-control-mode explicit`;
}

export function parseModelControlMode(text: string): ModelControlMode {
  if ((MODEL_CONTROL_MODES as readonly string[]).includes(text)) return text as ModelControlMode;
  throw new ConfigError(`--model-control-mode expects one of ${MODEL_CONTROL_MODES.join(', ')}, got '${text}'`);
}

/**
 * The declared models that load at start: all of them in `none` mode; in `explicit` mode those
 * named by --load-model. A name with no declaration file at all is a configuration mistake; one
 * whose declaration was rejected is left to the repository index, which says why.
 */
export function modelsToLoadAtStart(
  mode: ModelControlMode,
  declared: DeclaredModel[],
  names: readonly string[],
  modelsDir: string,
): DeclaredModel[] {
  if (mode !== 'explicit') {
    if (names.length > 0) throw new ConfigError(`--load-model needs --model-control-mode explicit (in ${mode} mode every declared model loads)`);
    return declared;
  }
  if (names.includes(ALL_MODELS)) return declared;
  for (const name of names) {
    if (!declarationFileOf(modelsDir, name)) throw new ConfigError(`--load-model ${name}: no model.yaml for it in ${path.resolve(modelsDir)}`);
  }
  return declared.filter((m) => names.includes(m.declaration.name));
}

/** The model's declaration file in the repository, or undefined. Throws INVALID_ARG for a name that is not one. */
export function declarationFileOf(modelsDir: string, name: string): string | undefined {
  checkModelName(name);
  const dir = path.join(path.resolve(modelsDir), name);
  const fileName = DECLARATION_FILE_NAMES.find((f) => existsSync(path.join(dir, f)));
  return fileName ? path.join(dir, fileName) : undefined;
}

/** A model name is one directory of the repository: no path separators, no `.` or `..`. */
function checkModelName(name: string): void {
  if (!/^[A-Za-z0-9_.-]+$/.test(name) || name === '.' || name === '..') {
    throw invalidArg(`expected a model name of letters, digits, _ . -, got '${name}'`, 'bad_model_name');
  }
}

/**
 * What a model directory looks like now, to tell whether it changed since the last poll: every
 * file's path, size and mtime under it (the declaration and the version directories), one level of
 * subdirectories deep, as Triton compares modification times.
 */
export function modelFingerprint(modelsDir: string, name: string): string | undefined {
  const dir = path.join(path.resolve(modelsDir), name);
  if (!declarationFileOf(modelsDir, name)) return undefined;
  const parts: string[] = [];
  const visit = (folder: string, depth: number) => {
    for (const entry of readdirSync(folder, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(folder, entry.name);
      if (entry.isDirectory()) {
        if (depth < 1) visit(full, depth + 1);
        continue;
      }
      const stat = statSync(full, { throwIfNoEntry: false });
      if (stat) parts.push(`${path.relative(dir, full)}:${stat.size}:${stat.mtimeMs}`);
    }
  };
  visit(dir, 0);
  return parts.join('|');
}

/** The model names of the repository: its subdirectories that hold a declaration. */
export function declaredModelNames(modelsDir: string): string[] {
  const root = path.resolve(modelsDir);
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory() && /^[A-Za-z0-9_.-]+$/.test(e.name) && declarationFileOf(modelsDir, e.name) !== undefined)
    .map((e) => e.name)
    .sort();
}
