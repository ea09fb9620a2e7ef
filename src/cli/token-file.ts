/**
 * The file `~/.coffer-token`, where `coffer login` keeps the token for later commands.
 *
 * Owns: its location, reading it, and writing it with mode 0600 atomically (temp file + rename,
 * so a crash never leaves a half-written or world-readable token behind).
 * Must never: create the file with broader permissions, even for an instant.
 */
import { chmodSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

export function tokenFilePath(env: Readonly<Record<string, string | undefined>>): string {
  return join(env['HOME'] || homedir(), '.coffer-token');
}

/** The stored token, or undefined when there is no file (or it is empty). */
export function readTokenFile(path: string): string | undefined {
  try {
    const token = readFileSync(path, 'utf8').trim();
    return token === '' ? undefined : token;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export function writeTokenFile(path: string, token: string): void {
  const temp = join(dirname(path), `.coffer-token.${randomBytes(6).toString('hex')}.tmp`);
  try {
    // `wx` refuses to follow a pre-planted file or symlink at the temp name.
    writeFileSync(temp, token, { mode: 0o600, flag: 'wx' });
    chmodSync(temp, 0o600);
    renameSync(temp, path);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
}
