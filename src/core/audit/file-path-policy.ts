/**
 * Where a file audit device may write (CVE-2025-6000 / OpenBao CVE-2025-54997: a `sys/audit`
 * writer pointed a file device at the plugin directory, /etc/cron.d or a shell profile).
 *
 * Owns: two rules on a device's `file_path`, decided on the real path of its directory (symlinks
 * resolved) before the device creates the file:
 * - never inside the server's data directory, whoever asks: an audit device must not create
 *   files beside the storage (an SQLite journal, the lock file, the dev unseal-key file);
 * - for a device created through the API, inside one of `audit_file_dirs` when that is set.
 *   The operator wrote the config file, so devices it declares are not held to that list.
 * The file device itself refuses symlinks, executable and non-regular files, and existing files
 * that are not its own chain (file-device.ts). This module must never create or open a file.
 *
 * The check and the open are separate steps: someone who can change the directories on the
 * server's disk between them is not who this guards against (that is an API caller).
 */
import { realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, sep } from 'node:path';
import { badRequest } from '../errors.js';
import { DISCARD_TARGET, STDOUT_TARGET } from './file-device.js';

/** Who asked for the device: a `sys/audit` caller, or the server's config file. */
export type AuditDeviceOrigin = 'api' | 'config';

export interface AuditFilePolicy {
  /**
   * Throws bad_request when a file device created by `origin` may not write to `filePath`.
   * `stdout` and `discard` (no file is created), and paths the file device refuses on its own
   * (relative ones), pass through.
   */
  check(filePath: string, origin: AuditDeviceOrigin): void;
}

export interface AuditFilePolicyOptions {
  /** The server's data directory; nothing to protect while it does not exist (memory storage). */
  dataDir: string;
  /** Absolute directories API-created devices may write in; empty: anywhere but the data directory. */
  allowedDirs: readonly string[];
}

function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The real path of `dir`, or undefined when it does not exist. */
function realDir(dir: string): string | undefined {
  try {
    return realpathSync.native(dir);
  } catch {
    return undefined;
  }
}

/** True when `path` is `dir` or lies below it (both real, absolute paths). */
export function isWithin(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  if (rel === '') return true;
  // Split, so a file named "..x" directly in `dir` is still inside it.
  return !isAbsolute(rel) && rel.split(sep)[0] !== '..';
}

/**
 * `filePath` with its directory resolved to a real path, as the kernel will find it: `..` after
 * a symlink is resolved from the link's target, which a lexical normalisation would get wrong.
 */
function realFilePath(filePath: string): string {
  const name = basename(filePath);
  if (filePath.endsWith('/') || name === '' || name === '.' || name === '..') {
    throw badRequest(`file audit device: file_path "${filePath}" must name a file, not a directory`);
  }
  let dir: string;
  try {
    // The native call (realpath(3)): fs.realpathSync first normalises "..", lexically.
    dir = realpathSync.native(dirname(filePath));
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') throw badRequest(`file audit device: the directory of file_path "${filePath}" does not exist`);
    throw badRequest(`file audit device: cannot resolve the directory of file_path "${filePath}" (${code ?? 'error'})`);
  }
  return join(dir, name);
}

export function createAuditFilePolicy(options: AuditFilePolicyOptions): AuditFilePolicy {
  const allowedDirs = [...options.allowedDirs];
  return {
    check(filePath, origin) {
      if (filePath === STDOUT_TARGET || filePath === DISCARD_TARGET || !isAbsolute(filePath)) return;
      const real = realFilePath(filePath);
      // Resolved at every check: the directories may be created, or re-pointed, after start.
      const data = realDir(options.dataDir);
      if (data !== undefined && isWithin(real, data)) {
        throw badRequest(`file audit device: file_path "${filePath}" is inside the server's data directory; audit files must be written elsewhere`);
      }
      if (origin !== 'api' || allowedDirs.length === 0) return;
      const allowed = allowedDirs.some((dir) => {
        const realAllowed = realDir(dir);
        return realAllowed !== undefined && isWithin(real, realAllowed);
      });
      if (!allowed) {
        throw badRequest(`file audit device: file_path "${filePath}" is outside the directories allowed for audit files (audit_file_dirs): ${allowedDirs.join(', ')}`);
      }
    },
  };
}
