/** How adapters run a vendor tool; tests pass a double that replays a recorded output. */
import { execFile } from 'node:child_process';

/** Runs a program and resolves with its stdout; rejects with `code: 'ENOENT'` when it is missing. */
export type CommandRunner = (file: string, args: readonly string[], timeoutMs: number) => Promise<string>;

export const runCommand: CommandRunner = (file, args, timeoutMs) =>
  new Promise((resolve, reject) => {
    execFile(file, [...args], { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout) => {
      if (err) reject(err);
      else resolve(stdout);
    });
  });
