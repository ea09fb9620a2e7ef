/**
 * SQLite physical storage: one WAL-mode database file, durable when a write is acknowledged,
 * with group commit so that concurrent writers share one transaction and one fsync.
 *
 * Owns: the database file and its permissions, its schema version, and the write queue.
 * Must never: acknowledge a write before its transaction is committed with synchronous=FULL
 * (a batch the caller marked `durability: 'deferred'` excepted: committed is enough for it);
 * apply part of one caller's batch; let an exception escape into the event loop; put a key or
 * a value into an error message.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { CofferError, isCofferError } from '../errors.js';
import type { BatchOptions, PhysicalStorage, WriteOp } from './storage.js';
import { prepareReads } from './sqlite-reads.js';
import { validateWriteOps } from './write-ops.js';
import { Worker } from 'node:worker_threads';
import { packGroup, type WireGroup, type WriterReply, type WriterRequest } from './sqlite-writer-thread.js';
import { CREATE_CHANGE_LOG } from './sqlite-change-log.js';

export interface SqliteStorageOptions {
  /** The database file. Its directory is created with mode 0700 when missing. */
  readonly path: string;
  /** How long a statement waits for a lock held by another connection. Default 5000. */
  readonly busyTimeoutMs?: number;
  /**
   * Send queued writes to the writer at once when this many operations are waiting, without
   * waiting for the next turn; also the most operations the writer joins into one transaction
   * (one caller's batch is never split). Default 1000.
   */
  readonly maxBatchOps?: number;
  /**
   * Record every changed key in the file's change log (sqlite-change-log.ts), for HTTP replica
   * processes that read the file and must drop what they cached of it. Default false.
   */
  readonly trackChanges?: boolean;
  /** Test hook: change-log rows kept (default CHANGE_LOG_RETAINED_ROWS). */
  readonly changeLogRetainedRows?: number;
}

/** Counters since open, for tests and metrics. */
export interface SqliteStorageStats {
  /** Transactions committed: one per group, plus one per caller retried alone after a failed group. */
  readonly commits: number;
  /** Write operations committed (a batch of n counts n). */
  readonly ops: number;
  /**
   * Of `commits`, those made without an fsync: every batch in them was 'deferred'. Counted from
   * the level SQLite reported for the writer's connection when it was last switched.
   */
  readonly deferredCommits: number;
}

/** What the connection actually runs with, read back from SQLite rather than assumed. */
export interface SqliteDurabilitySettings {
  readonly journalMode: string;
  readonly synchronous: 'off' | 'normal' | 'full' | 'extra';
}

export interface SqliteStorage extends PhysicalStorage {
  readonly kind: 'sqlite';
  stats(): SqliteStorageStats;
  settings(): SqliteDurabilitySettings;
}

const DEFAULT_BUSY_TIMEOUT_MS = 5000;
const DEFAULT_MAX_BATCH_OPS = 1000;
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

type Db = Database.Database;

/**
 * Schema migrations; entry i upgrades version i to i + 1 inside the opening transaction. Append
 * only: a shipped migration is never edited.
 */
const MIGRATIONS: ReadonlyArray<(db: Db) => void> = [
  (db) => db.exec('CREATE TABLE entries (key TEXT PRIMARY KEY COLLATE BINARY, value BLOB NOT NULL) WITHOUT ROWID'),
];
const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Opens (creating if needed) the database at `options.path`. A write's promise resolves only
 * after the transaction holding it is committed with synchronous=FULL; reads see committed data
 * only, so a write is not visible before its promise can resolve.
 *
 * `put`, `delete` and `batch` are queued and committed together by the writer thread: a group is
 * sent at the next event-loop turn (or at once when `maxBatchOps` operations are waiting), and
 * every group waiting when the thread starts a transaction joins it. If a shared transaction
 * fails, each caller is retried in a transaction of its own, so only the faulty caller's promise
 * rejects.
 */
export function createSqliteStorage(options: SqliteStorageOptions): SqliteStorage {
  const { path, busyTimeoutMs, maxBatchOps } = validateOptions(options);
  const trackChanges = options.trackChanges === true;
  const { changeLogRetainedRows } = options;
  const db = openDatabase(path, busyTimeoutMs);
  // Outside the schema version on purpose: a file stays readable by a build without the change
  // log (rolling back stays possible), which ignores the extra table. Created here, before the
  // writer thread or any replica opens the file.
  if (trackChanges) {
    try {
      db.exec(CREATE_CHANGE_LOG);
    } catch (err) {
      db.close();
      throw storageError(`cannot create the change log in sqlite storage at ${resolve(path)}`, err);
    }
  }

  const reads = prepareReads(db);

  // Commits run on a writer thread with its own connection, so their fsync never stalls the
  // event loop; reads stay here (WAL lets them run beside a commit and see only committed data).
  const writer = new Worker(new URL('./sqlite-writer-thread.js', import.meta.url), {
    workerData: { file: resolve(path), busyTimeoutMs, maxBatchOps, trackChanges, ...(changeLogRetainedRows === undefined ? {} : { changeLogRetainedRows }) },
    // The parent's flags (--input-type, --eval, test runner options) do not apply to this file.
    execArgv: [],
  });
  writer.unref();

  interface Waiter {
    readonly group: WireGroup;
    readonly resolve: () => void;
    readonly reject: (err: unknown) => void;
  }
  let queue: Waiter[] = [];
  let queuedOps = 0;
  let scheduled: NodeJS.Immediate | undefined;
  let closed = false;
  let commits = 0;
  let deferredCommits = 0;
  let committedOps = 0;
  // Each event-loop turn's writes go to the writer thread as one request; requests that arrive
  // while it commits join its next transaction, so the group size follows the load (group
  // commit without a timer) and the thread never waits for the main thread to send more.
  const inFlight = new Map<number, Waiter[]>();
  let nextId = 0;
  let writerFailure: unknown;
  let drained: (() => void) | undefined;

  const settleFailure = (err: unknown): void => {
    writerFailure ??= err;
    const waiting = [...[...inFlight.values()].flat(), ...queue];
    inFlight.clear();
    queue = [];
    queuedOps = 0;
    for (const waiter of waiting) waiter.reject(storageError('storage write failed', err));
    drained?.();
  };
  writer.on('error', settleFailure);
  writer.on('exit', (code) => {
    if (!closed || inFlight.size > 0) settleFailure(new Error(`sqlite writer thread exited with code ${code}`));
  });

  // Runs from setImmediate, from a write that fills the queue, from a finished commit and from
  // close(). It must never throw: every outcome goes to the waiters' promises.
  const flush = (): void => {
    if (scheduled !== undefined) {
      clearImmediate(scheduled);
      scheduled = undefined;
    }
    if (queue.length === 0) return;
    const group = queue;
    queue = [];
    queuedOps = 0;
    nextId += 1;
    inFlight.set(nextId, group);
    writer.ref();
    const request: WriterRequest = { kind: 'commit', id: nextId, groups: group.map((waiter) => waiter.group) };
    writer.postMessage(request, group.map((waiter) => waiter.group.data));
  };

  writer.on('message', (reply: WriterReply) => {
    const group = inFlight.get(reply.id);
    if (group === undefined) return;
    inFlight.delete(reply.id);
    if (inFlight.size === 0) writer.unref();
    commits += reply.commits;
    deferredCommits += reply.deferredCommits;
    group.forEach((waiter, index) => {
      const result = reply.results[index];
      if (result === null) {
        committedOps += waiter.group.ops.length;
        waiter.resolve();
      } else {
        const cause = Object.assign(new Error(result?.message ?? 'write failed'), { code: result?.code ?? '' });
        waiter.reject(storageError('storage write failed', cause));
      }
    });
    if (inFlight.size === 0 && queue.length === 0) drained?.();
  });

  const enqueue = (ops: readonly WriteOp[], options?: BatchOptions): Promise<void> => {
    if (closed) return Promise.reject(closedError());
    if (writerFailure !== undefined) return Promise.reject(storageError('storage write failed', writerFailure));
    let group: WireGroup;
    try {
      // Validated and copied now: a bad batch is refused whole before it can join a group,
      // and the caller may reuse its buffers as soon as this returns.
      validateWriteOps(ops);
      group = packGroup(ops, options?.durability === 'deferred');
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<void>((resolveWrite, rejectWrite) => {
      queue.push({ group, resolve: resolveWrite, reject: rejectWrite });
      queuedOps += group.ops.length;
      if (queuedOps >= maxBatchOps) flush();
      else scheduled ??= setImmediate(flush);
    });
  };

  const read = <T>(fn: () => T): Promise<T> => {
    try {
      if (closed) throw closedError();
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(storageError('storage read failed', err));
    }
  };

  return {
    kind: 'sqlite',
    get: (key) => read(() => reads.get(key)),
    list: (prefix) => read(() => reads.list(prefix)),
    listPage: (prefix, after, limit) => read(() => reads.listPage(prefix, after, limit)),
    put: (key, value) => enqueue([{ type: 'put', key, value }]),
    delete: (key) => enqueue([{ type: 'delete', key }]),
    batch: (ops, options) => enqueue(ops, options),
    close: async () => {
      if (closed) return;
      closed = true;
      // Commit what is queued, then let the writer close its connection.
      await new Promise<void>((resolveDrain) => {
        drained = resolveDrain;
        flush();
        if (inFlight.size === 0 && queue.length === 0) resolveDrain();
      });
      drained = undefined;
      if (writerFailure === undefined) {
        const exited = new Promise<void>((resolveExit) => writer.once('exit', () => resolveExit()));
        const request: WriterRequest = { kind: 'close' };
        writer.postMessage(request);
        writer.ref();
        await exited;
      } else {
        await writer.terminate();
      }
      try {
        db.close();
      } catch (err) {
        throw storageError('storage close failed', err);
      }
    },
    stats: () => ({ commits, ops: committedOps, deferredCommits }),
    settings: () => {
      if (closed) throw closedError();
      return readSettings(db);
    },
  };
}

function validateOptions(options: SqliteStorageOptions): Required<Pick<SqliteStorageOptions, 'path' | 'busyTimeoutMs' | 'maxBatchOps'>> {
  const { path, busyTimeoutMs = DEFAULT_BUSY_TIMEOUT_MS, maxBatchOps = DEFAULT_MAX_BATCH_OPS } = options ?? {};
  if (typeof path !== 'string' || path === '' || path === ':memory:' || path.startsWith('file:')) {
    throw new CofferError('internal', 'sqlite storage needs a file path; use createMemoryStorage() for a throwaway store');
  }
  if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0 || busyTimeoutMs > 2 ** 31 - 1) {
    throw new CofferError('internal', 'sqlite busyTimeoutMs must be an integer number of milliseconds, 0 or more');
  }
  if (!Number.isInteger(maxBatchOps) || maxBatchOps < 1) {
    throw new CofferError('internal', 'sqlite maxBatchOps must be an integer, 1 or more');
  }
  return { path, busyTimeoutMs, maxBatchOps };
}

function openDatabase(path: string, busyTimeoutMs: number): Db {
  const file = resolve(path);
  // Only a directory we create is given 0700; an existing one (say /var/lib) is the operator's.
  const dir = dirname(file);
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: DIR_MODE });
  // Create the file ourselves with 0600 so it is never readable by others, not even briefly;
  // SQLite then gives the -wal and -shm files the same mode as the database file.
  closeSync(openSync(file, 'a', FILE_MODE));
  restrictMode(file);

  let db: Db;
  try {
    db = new Database(file, { timeout: busyTimeoutMs });
  } catch (err) {
    throw storageError(`cannot open sqlite storage at ${file}`, err);
  }
  try {
    if (db.pragma('journal_mode = WAL', { simple: true }) !== 'wal') {
      throw new CofferError('internal', `sqlite storage at ${file} cannot use WAL journaling`);
    }
    // better-sqlite3 builds SQLite with NORMAL as the WAL default, which may lose the last
    // commits on power loss. An acknowledged secret write must survive that.
    db.pragma('synchronous = FULL');
    if (readSettings(db).synchronous !== 'full') {
      throw new CofferError('internal', `sqlite storage at ${file} refused synchronous=FULL`);
    }
    migrate(db, file);
    for (const suffix of ['', '-wal', '-shm']) {
      if (existsSync(file + suffix)) restrictMode(file + suffix);
    }
    return db;
  } catch (err) {
    db.close();
    throw isCofferError(err) ? err : storageError(`cannot open sqlite storage at ${file}`, err);
  }
}

function migrate(db: Db, file: string): void {
  db.transaction(() => {
    db.exec('CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID');
    const stored = db.prepare<[], string>("SELECT value FROM meta WHERE name = 'schema_version'").pluck().get();
    const version = stored === undefined ? 0 : Number(stored);
    if (!Number.isInteger(version) || version < 0) {
      throw new CofferError('internal', `sqlite storage at ${file} has an unreadable schema version`);
    }
    if (version > SCHEMA_VERSION) {
      throw new CofferError(
        'internal',
        `sqlite storage at ${file} has schema version ${version}, newer than this build supports (${SCHEMA_VERSION}); run a newer Coffer`,
      );
    }
    for (let v = version; v < SCHEMA_VERSION; v += 1) MIGRATIONS[v]?.(db);
    db.prepare("INSERT INTO meta (name, value) VALUES ('schema_version', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value").run(
      String(SCHEMA_VERSION),
    );
  }).immediate();
}

function readSettings(db: Db): SqliteDurabilitySettings {
  const journalMode = String(db.pragma('journal_mode', { simple: true }));
  const level = Number(db.pragma('synchronous', { simple: true }));
  const names = ['off', 'normal', 'full', 'extra'] as const;
  const synchronous = names[level];
  if (synchronous === undefined) throw new CofferError('internal', 'sqlite reported an unknown synchronous level');
  return { journalMode, synchronous };
}

function restrictMode(file: string): void {
  try {
    chmodSync(file, FILE_MODE);
  } catch (err) {
    throw storageError(`cannot set mode 0600 on ${file}`, err);
  }
}

function closedError(): CofferError {
  return new CofferError('internal', 'storage is closed');
}

// SQLite's own message stays in `cause` for the server log; it never reaches a client.
function storageError(message: string, err: unknown): CofferError {
  return isCofferError(err) ? err : new CofferError('internal', message, { cause: err });
}
