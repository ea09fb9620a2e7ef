/**
 * The SQLite writer thread. Commits with synchronous=FULL wait for an fsync, which takes
 * milliseconds on real disks; on the main thread that wait would stall every request. Here it
 * stalls only this thread, and the main thread keeps queueing writes for the next group.
 *
 * Owns: the one write connection and its transactions. Protocol: the main thread posts
 * `{ kind: 'commit', id, groups }` (one group per caller, each applied atomically) and gets back
 * `{ id, commits, results }` with `null` for every group that committed, or the error's message
 * and SQLite code for one that did not; `{ kind: 'close' }` closes the connection.
 * Must never: report a group committed before its transaction has committed.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

export interface WireOp {
  /** 'p' put, 'd' delete. */
  t: 'p' | 'd';
  k: string;
  v?: Uint8Array;
}

export type WriterRequest = { kind: 'commit'; id: number; groups: WireOp[][] } | { kind: 'close' };
export type GroupOutcome = null | { message: string; code: string };
export interface WriterReply {
  id: number;
  commits: number;
  results: GroupOutcome[];
}

// Errors that come from the environment, not from one caller's operations: retrying each
// caller alone would fail the same way, and after a failed fsync (IOERR) a retry could even
// report success for data the kernel already dropped.
const ENVIRONMENTAL = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|READONLY|CORRUPT|NOTADB|CANTOPEN|NOMEM|PERM|PROTOCOL|INTERRUPT)/;

if (parentPort) {
  const port = parentPort;
  const { file, busyTimeoutMs } = workerData as { file: string; busyTimeoutMs: number };
  const db = new Database(file, { timeout: busyTimeoutMs });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  if (Number(db.pragma('synchronous', { simple: true })) !== 2) throw new Error('sqlite refused synchronous=FULL on the writer connection');

  const upsert = db.prepare<[string, Buffer]>('INSERT INTO entries (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
  const remove = db.prepare<[string]>('DELETE FROM entries WHERE key = ?');
  const apply = (ops: readonly WireOp[]): void => {
    for (const op of ops) {
      if (op.t === 'p') {
        const value = op.v as Uint8Array;
        upsert.run(op.k, Buffer.from(value.buffer, value.byteOffset, value.byteLength));
      } else {
        remove.run(op.k);
      }
    }
  };
  // IMMEDIATE takes the write lock up front, so a busy database waits in the busy handler.
  const commitGroups = db.transaction((groups: readonly WireOp[][]) => {
    for (const group of groups) apply(group);
  }).immediate;
  const commitOne = db.transaction(apply).immediate;

  const rollbackIfOpen = (): void => {
    try {
      if (db.inTransaction) db.exec('ROLLBACK');
    } catch {
      // The next BEGIN IMMEDIATE reports the connection's state.
    }
  };
  const outcome = (err: unknown): GroupOutcome => {
    const code = (err as { code?: unknown } | null)?.code;
    return { message: err instanceof Error ? err.message : String(err), code: typeof code === 'string' ? code : '' };
  };

  port.on('message', (message: WriterRequest) => {
    if (message.kind === 'close') {
      db.close();
      port.close();
      return;
    }
    const { id, groups } = message;
    let commits = 0;
    let results: GroupOutcome[];
    try {
      commitGroups(groups);
      commits = 1;
      results = groups.map(() => null);
    } catch (err) {
      rollbackIfOpen();
      const failure = outcome(err);
      if (groups.length > 1 && !ENVIRONMENTAL.test(failure?.code ?? '')) {
        // Retry each caller alone, so only the faulty one fails.
        results = groups.map((group) => {
          try {
            commitOne(group);
            commits += 1;
            return null;
          } catch (single) {
            rollbackIfOpen();
            return outcome(single);
          }
        });
      } else {
        results = groups.map(() => failure);
      }
    }
    const reply: WriterReply = { id, commits, results };
    port.postMessage(reply);
  });
}
