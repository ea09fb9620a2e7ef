/**
 * A read-only view of a SQLite storage file that another process writes: what an HTTP replica
 * process (src/server/replicas/) reads secrets through.
 *
 * Owns: one read-only connection and the file's change counter.
 * Must never: write (every write refuses with ReplicaWriteRefused, so the request that tried it
 * is answered by the primary instead); report a stale `dataVersion` after a commit it can see.
 *
 * `dataVersion()` is SQLite's `PRAGMA data_version`: it changes whenever another connection
 * commits, which is how a replica knows its caches may be stale without any message from the
 * primary (the primary's writer commits before it acknowledges a write, so a change a client was
 * told about is always visible here).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import Database from 'better-sqlite3';
import { CofferError, isCofferError } from '../errors.js';
import type { PhysicalStorage } from './storage.js';
import { prepareReads } from './sqlite-reads.js';
import { prepareChangeReader, type ChangeReader } from './sqlite-change-log.js';

/** Thrown by every write to a read-only view: the request must go to the primary. */
export class ReplicaWriteRefused extends CofferError {
  constructor() {
    super('internal', 'this process cannot write; the request belongs to the primary');
  }
}

export interface SqliteReader extends PhysicalStorage {
  readonly kind: 'sqlite-reader';
  /** Changes after every commit made by another connection. */
  dataVersion(): number;
  /** The file's change log (written while the primary runs with replicas). Synchronous. */
  readonly changes: ChangeReader;
}

export function openSqliteReader(path: string): SqliteReader {
  const file = resolve(path);
  if (!existsSync(file)) throw new CofferError('internal', `no sqlite storage at ${file}`);
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new CofferError('internal', `cannot open sqlite storage at ${file} for reading`, { cause: err });
  }
  const reads = prepareReads(db);
  const dataVersion = db.prepare<[], number>('PRAGMA data_version').pluck();
  const changes = prepareChangeReader(db);
  let closed = false;

  const read = <T>(fn: () => T): Promise<T> => {
    try {
      if (closed) throw new CofferError('internal', 'storage is closed');
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(isCofferError(err) ? err : new CofferError('internal', 'storage read failed', { cause: err }));
    }
  };
  const refuse = (): Promise<never> => Promise.reject(new ReplicaWriteRefused());

  return {
    kind: 'sqlite-reader',
    dataVersion: () => dataVersion.get() as number,
    changes: {
      newest: () => {
        if (closed) throw new CofferError('internal', 'storage is closed');
        return changes.newest();
      },
      since: (after, limit) => {
        if (closed) throw new CofferError('internal', 'storage is closed');
        return changes.since(after, limit);
      },
    },
    get: (key) => read(() => reads.get(key)),
    list: (prefix) => read(() => reads.list(prefix)),
    listPage: (prefix, after, limit) => read(() => reads.listPage(prefix, after, limit)),
    put: refuse,
    delete: refuse,
    batch: refuse,
    close: async () => {
      if (closed) return;
      closed = true;
      db.close();
    },
  };
}
