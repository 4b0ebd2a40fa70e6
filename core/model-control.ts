/**
 * Triton's model control modes, as far as infergate serves them: `none` (every declared model
 * loads at start, the repository's load/unload requests are refused) and `explicit` (only the
 * models named at start load; the rest load and unload on request). Triton's `poll` mode is not
 * served.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, invalidArg } from './errors.js';
import { DECLARATION_FILE_NAMES, type DeclaredModel } from './model-repository.js';

export type ModelControlMode = 'none' | 'explicit';
export const MODEL_CONTROL_MODES: readonly ModelControlMode[] = ['none', 'explicit'];
export const DEFAULT_MODEL_CONTROL_MODE: ModelControlMode = 'none';
/** `--load-model '*'` loads every declared model, as in Triton. */
export const ALL_MODELS = '*';

/** Triton's words in NONE mode, followed by what to do about it. */
export const MODEL_CONTROL_DISABLED_MESSAGE =
  'explicit model load / unload is not allowed: this node runs with --model-control-mode none (every declared model loads at start); start it with --model-control-mode explicit';

export function parseModelControlMode(text: string): ModelControlMode {
  if ((MODEL_CONTROL_MODES as readonly string[]).includes(text)) return text as ModelControlMode;
  if (text === 'poll') throw new ConfigError("--model-control-mode poll is not supported (use explicit and load models with POST /v2/repository/models/<m>/load)");
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
  if (mode === 'none') {
    if (names.length > 0) throw new ConfigError('--load-model needs --model-control-mode explicit (in none mode every declared model loads)');
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
