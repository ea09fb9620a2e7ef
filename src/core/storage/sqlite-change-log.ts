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
 * Owns: the `changes` table (created when a storage opens with change tracking, outside the
 * schema version, so a build without it still opens the file). Sequence numbers are
 * SQLite rowids: one more than the largest, so they are contiguous as long as the newest row is
 * never deleted; pruning keeps the newest `retained` rows. A reader that finds a hole right
 * after the last number it applied (the rows it needed were pruned) must rebuild from scratch.
 * Must never: record a change outside the transaction that makes it.
 */
import type Database from 'better-sqlite3';

/** Rows kept; a replica further behind than this rebuilds its caches instead of catching up. */
export const CHANGE_LOG_RETAINED_ROWS = 20_000;

/** Run by the storage when it opens with change tracking; a no-op when the table exists. */
export const CREATE_CHANGE_LOG = 'CREATE TABLE IF NOT EXISTS changes (seq INTEGER PRIMARY KEY, key TEXT NOT NULL)';

export interface ChangeRecorder {
  /** Call inside the write transaction, once per put or delete. */
  record(key: string): void;
  /** Call once per transaction, inside it: drops the rows older than the retained window. */
  prune(): void;
}

export function prepareChangeRecorder(db: Database.Database, retainedRows = CHANGE_LOG_RETAINED_ROWS): ChangeRecorder {
  if (!Number.isInteger(retainedRows) || retainedRows < 1) throw new TypeError('retainedRows must be a positive integer');
  const insert = db.prepare<[string]>('INSERT INTO changes (key) VALUES (?)');
  // Bounded by the table's own newest row, never by a number remembered from a transaction
  // that may have rolled back: the newest row always stays, so numbering can never restart.
  const prune = db.prepare<[number]>('DELETE FROM changes WHERE seq <= (SELECT max(seq) FROM changes) - ?');
  return {
    record(key) {
      insert.run(key);
    },
    prune() {
      prune.run(retainedRows);
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
  // Prepared at first use: a file written without tracking has no table, and a reader that
  // never asks must still open it. Asking then throws (SQLite's "no such table").
  let statements: { newestSeq: Database.Statement<[], number>; rowsAfter: Database.Statement<[number, number], { seq: number; key: string }> } | undefined;
  const prepared = (): NonNullable<typeof statements> =>
    (statements ??= {
      newestSeq: db.prepare<[], number>('SELECT coalesce(max(seq), 0) FROM changes').pluck(),
      rowsAfter: db.prepare<[number, number], { seq: number; key: string }>('SELECT seq, key FROM changes WHERE seq > ? ORDER BY seq LIMIT ?'),
    });
  return {
    newest: () => prepared().newestSeq.get() as number,
    since(after, limit) {
      const { newestSeq, rowsAfter } = prepared();
      const rows = rowsAfter.all(after, limit + 1);
      if (rows.length > limit) return { kind: 'too-many' };
      const first = rows[0];
      // Nothing after `after`: fine, unless the log is behind `after` (numbering restarted).
      if (first === undefined) return (newestSeq.get() as number) < after ? { kind: 'gap' } : { kind: 'changes', keys: [], last: after };
      const last = (rows[rows.length - 1] as { seq: number }).seq;
      // Contiguous numbering: anything else means rows were pruned away (or a hole appeared).
      if (first.seq !== after + 1 || last - after !== rows.length) return { kind: 'gap' };
      return { kind: 'changes', keys: rows.map((row) => row.key), last };
    },
  };
}
