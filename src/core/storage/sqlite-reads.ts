/**
 * The read statements of Coffer's SQLite schema, shared by the server's own connection
 * (sqlite.ts) and the read-only connection of an HTTP replica (sqlite-reader.ts).
 *
 * Synchronous: each caller wraps them in its own promise and error handling.
 */
import type Database from 'better-sqlite3';
import { listChildrenBySeek, listChildrenPageBySeek } from './list-children.js';
import { assertListPrefix, assertStorableKey } from './write-ops.js';

export interface SqliteReads {
  get(key: string): Buffer | undefined;
  list(prefix: string): string[];
  listPage(prefix: string, after: string, limit: number): string[];
}

export function prepareReads(db: Database.Database): SqliteReads {
  const getValue = db.prepare<[string], Buffer>('SELECT value FROM entries WHERE key = ?').pluck();
  const keyAfter = db.prepare<[string], string>('SELECT key FROM entries WHERE key > ? ORDER BY key LIMIT 1').pluck();
  const keyFrom = db.prepare<[string], string>('SELECT key FROM entries WHERE key >= ? ORDER BY key LIMIT 1').pluck();
  const seek = (bound: string, inclusive: boolean): string | undefined => (inclusive ? keyFrom : keyAfter).get(bound);
  // A listing is many seeks; one read transaction makes them one snapshot, so a commit by another
  // connection can never land half-way through a listing.
  const snapshot = db.transaction(<T>(fn: () => T): T => fn());
  const inSnapshot = <T>(fn: () => T): T => snapshot(fn) as T;
  return {
    get(key) {
      assertStorableKey(key);
      // better-sqlite3 hands out a fresh Buffer per row, so the caller owns it.
      return getValue.get(key);
    },
    list(prefix) {
      assertListPrefix(prefix);
      return inSnapshot(() => listChildrenBySeek(seek, prefix));
    },
    listPage(prefix, after, limit) {
      assertListPrefix(prefix);
      return inSnapshot(() => listChildrenPageBySeek(seek, prefix, after, limit));
    },
  };
}
