/**
 * One server per data directory. Two Coffer processes on one SQLite file would each trust their
 * own caches (tokens, plaintext values, mounts), so a token revoked through one would keep
 * working through the other; Vault's storage refuses a second process the same way.
 *
 * The lock is an exclusive transaction held open on a small SQLite file beside the database:
 * better-sqlite3 is already here, SQLite's POSIX locks are released by the OS when the process
 * dies (a kill -9 leaves no stale lock to clean up), and a second connection in the same process
 * is refused as well.
 *
 * Owns: the lock file `coffer.lock`. Must never: block waiting for the lock.
 */
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { CofferError } from '../errors.js';

export const LOCK_FILE = 'coffer.lock';

export interface DataDirLock {
  /** Lets another server use the directory. Idempotent. */
  release(): void;
}

export function lockDataDir(dataDir: string): DataDirLock {
  const path = join(dataDir, LOCK_FILE);
  const db = new Database(path, { timeout: 0 });
  try {
    chmodSync(path, 0o600);
    db.pragma('locking_mode = EXCLUSIVE');
    // The write lock is taken at BEGIN EXCLUSIVE and held until the connection closes.
    db.exec('BEGIN EXCLUSIVE');
  } catch (err) {
    db.close();
    const code = (err as { code?: unknown }).code;
    if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
      throw new CofferError('bad_request', `the data directory ${dataDir} is in use by another Coffer server; stop it first, or give this one its own --data directory`);
    }
    throw err;
  }
  let held = true;
  return {
    release() {
      if (!held) return;
      held = false;
      db.close();
    },
  };
}
