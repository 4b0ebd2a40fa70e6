/**
 * Where a declaration's `native.plugin` points. A plugin is code the server will run, so the path
 * is confined: relative to the model directory, and resolving (symlinks followed) to a file inside
 * the model repository, the directory that holds the model directories. An absolute path or one
 * that climbs out is refused, so a declaration cannot load an arbitrary library of the host.
 */
import { existsSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';

export function resolvePluginPath(plugin: string, modelDirectory: string, modelName: string): string {
  const who = `model '${modelName}': native.plugin`;
  if (path.isAbsolute(plugin) || path.win32.isAbsolute(plugin)) {
    throw new Error(`${who} must be relative to the model directory, got the absolute path '${plugin}'; copy or link the plugin into the model repository`);
  }
  const lexicalRepository = path.dirname(path.resolve(modelDirectory));
  const candidate = path.resolve(modelDirectory, plugin);
  // Refused before the file system is asked: a declaration must not probe the host's files.
  if (!isInside(lexicalRepository, candidate)) {
    throw new Error(`${who} '${plugin}' leaves the model repository ${lexicalRepository}; plugins must live inside it`);
  }
  if (!existsSync(candidate)) {
    throw new Error(`${who}: no file at ${candidate} ('${plugin}' relative to ${modelDirectory})${builtHint(plugin)}`);
  }
  const repository = realpathSync(lexicalRepository);
  const real = realpathSync(candidate);
  if (!isInside(repository, real)) {
    throw new Error(`${who} '${plugin}' resolves to ${real}, outside the model repository ${repository}; plugins must live inside it`);
  }
  if (!statSync(real).isFile()) throw new Error(`${who} '${plugin}' is not a file (${real})`);
  return real;
}

/** The bundled model's plugin is a build output: say how to make it. */
function builtHint(plugin: string): string {
  return plugin.endsWith('.so') ? "; if this is the bundled reference plugin, run 'npm run build:native'" : '';
}

function isInside(dir: string, file: string): boolean {
  const relative = path.relative(dir, file);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}
