/**
 * The change log of a SQLite storage file: the key of every put and delete, numbered in commit
 * order, written by the writer thread in the same transaction as the change itself.
 *
 * Why: an HTTP replica process keeps caches of what it read from the file (decrypted values,
 * token entries). `PRAGMA data_version` tells it that another connection committed, not what
 * changed; without this log it must throw every cache away on every commit, so under a steady
 * stream of writes it hardly ever serves. With it, the replica drops exactly the changed keys.
 * Because a row commits with its change, a reader that sees a change also sees its row.
 *
 * Owns: the `changes` table (created by the storage's schema migration). Sequence numbers are
 * SQLite rowids: one more than the largest, so they are contiguous as long as the newest row is
 * never deleted; pruning keeps the newest `retained` rows. A reader that finds a hole right
 * after the last number it applied (the rows it needed were pruned) must rebuild from scratch.
 * Must never: record a change outside the transaction that makes it.
 */
import type Database from 'better-sqlite3';

/** Rows kept; a replica further behind than this rebuilds its caches instead of catching up. */
export const CHANGE_LOG_RETAINED_ROWS = 20_000;

export const CREATE_CHANGE_LOG = 'CREATE TABLE changes (seq INTEGER PRIMARY KEY, key TEXT NOT NULL)';

export interface ChangeRecorder {
  /** Call inside the write transaction, once per put or delete. */
  record(key: string): void;
  /** Call once per transaction, inside it: drops the rows older than the retained window. */
  prune(): void;
}

export function prepareChangeRecorder(db: Database.Database, retainedRows = CHANGE_LOG_RETAINED_ROWS): ChangeRecorder {
  if (!Number.isInteger(retainedRows) || retainedRows < 1) throw new TypeError('retainedRows must be a positive integer');
  const insert = db.prepare<[string]>('INSERT INTO changes (key) VALUES (?)');
  const removeUpTo = db.prepare<[number]>('DELETE FROM changes WHERE seq <= ?');
  let newest = 0;
  return {
    record(key) {
      newest = Number(insert.run(key).lastInsertRowid);
    },
    prune() {
      // Rows at or below this bound are outside the window; the newest row always stays.
      if (newest > retainedRows) removeUpTo.run(newest - retainedRows);
    },
  };
}

/** What changed after a given sequence number, or why the caller must start over. */
export type ChangesSince =
  | { readonly kind: 'changes'; readonly keys: readonly string[]; readonly last: number }
  | { readonly kind: 'gap' }
  | { readonly kind: 'too-many' };

export interface ChangeReader {
  /** The newest sequence number (0 for an empty log). Read it BEFORE loading anything it covers. */
  newest(): number;
  /** The keys changed after `after` (one snapshot), in commit order; at most `limit` of them. */
  since(after: number, limit: number): ChangesSince;
}

export function prepareChangeReader(db: Database.Database): ChangeReader {
  const newestSeq = db.prepare<[], number>('SELECT coalesce(max(seq), 0) FROM changes').pluck();
  const rowsAfter = db.prepare<[number, number], { seq: number; key: string }>('SELECT seq, key FROM changes WHERE seq > ? ORDER BY seq LIMIT ?');
  return {
    newest: () => newestSeq.get() as number,
    since(after, limit) {
      const rows = rowsAfter.all(after, limit + 1);
      if (rows.length > limit) return { kind: 'too-many' };
      const first = rows[0];
      if (first === undefined) return { kind: 'changes', keys: [], last: after };
      // Contiguous numbering: anything but the next number means rows were pruned away.
      if (first.seq !== after + 1) return { kind: 'gap' };
      return { kind: 'changes', keys: rows.map((row) => row.key), last: (rows[rows.length - 1] as { seq: number }).seq };
    },
  };
}
