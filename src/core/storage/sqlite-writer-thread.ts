/**
 * The SQLite writer thread. Commits with synchronous=FULL wait for an fsync, which takes
 * milliseconds on real disks; on the main thread that wait would stall every request. Here it
 * stalls only this thread, and the main thread keeps queueing writes for the next group.
 *
 * Owns: the one write connection and its transactions. Protocol: the main thread posts
 * `{ kind: 'commit', id, groups }` (one group per caller, each applied atomically; a group's
 * values travel in one transferred buffer) and gets back `{ id, commits, deferredCommits,
 * results }` with `null` for every group that committed, or the error's message and SQLite code
 * for one that did not; `{ kind: 'close' }` closes the connection after everything posted
 * before it.
 * Commit requests already waiting when the thread picks one up join the same transaction (and
 * the same fsync), up to `maxBatchOps` operations: the main thread never holds writes back.
 * A transaction holding only `deferred` groups (BatchOptions.durability) commits with
 * synchronous=NORMAL, without an fsync: in WAL mode it reaches the disk with the next FULL
 * commit, whose fsync covers every frame before it, or with a checkpoint. So a deferred write
 * is never lost while an immediate write acknowledged after it survives.
 * Must never: report a group committed before its transaction has committed. Every change to
 * the entries must go through this thread once the storage is open: with change tracking on,
 * HTTP replicas learn what changed only from the change log written here, and treat a commit
 * that logged nothing as one they already applied (src/server/replicas/replica-core.ts).
 */
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { prepareChangeRecorder } from './sqlite-change-log.js';

/** 'p' put (its value is `l` bytes at offset `o` of the group's buffer), 'd' delete. */
export type WireOp = { t: 'p'; k: string; o: number; l: number } | { t: 'd'; k: string };

/** One caller's operations; `data` holds its values and is transferred, not copied. */
export interface WireGroup {
  ops: WireOp[];
  data: ArrayBuffer;
  /** The caller asked for BatchOptions.durability 'deferred': it need not wait for an fsync. */
  deferred: boolean;
}

export type WriterRequest = { kind: 'commit'; id: number; groups: WireGroup[] } | { kind: 'close' };
export type GroupOutcome = null | { message: string; code: string };
export interface WriterReply {
  id: number;
  commits: number;
  /** How many of `commits` ran without an fsync (only deferred groups in them). */
  deferredCommits: number;
  results: GroupOutcome[];
}

/**
 * Validated operations in the wire form: values copied into one fresh buffer (so the caller
 * may reuse its own at once, and the copy can be transferred to the thread without another).
 */
export function packGroup(ops: ReadonlyArray<{ type: 'put'; key: string; value: Uint8Array } | { type: 'delete'; key: string }>, deferred = false): WireGroup {
  let size = 0;
  for (const op of ops) if (op.type === 'put') size += op.value.byteLength;
  const data = new ArrayBuffer(size);
  const bytes = new Uint8Array(data);
  let offset = 0;
  const wire = ops.map((op): WireOp => {
    if (op.type === 'delete') return { t: 'd', k: op.key };
    bytes.set(op.value, offset);
    const packed: WireOp = { t: 'p', k: op.key, o: offset, l: op.value.byteLength };
    offset += op.value.byteLength;
    return packed;
  });
  return { ops: wire, data, deferred };
}

// Errors that come from the environment, not from one caller's operations: retrying each
// caller alone would fail the same way, and after a failed fsync (IOERR) a retry could even
// report success for data the kernel already dropped.
const ENVIRONMENTAL = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|READONLY|CORRUPT|NOTADB|CANTOPEN|NOMEM|PERM|PROTOCOL|INTERRUPT)/;

const WAL_AUTOCHECKPOINT_PAGES = 10_000;
/** PRAGMA synchronous levels as SQLite reports them. */
const SYNCHRONOUS_NORMAL = 1;
const SYNCHRONOUS_FULL = 2;
const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

if (parentPort) {
  const port = parentPort;
  const { file, busyTimeoutMs, maxBatchOps, trackChanges, changeLogRetainedRows } = workerData as {
    file: string;
    busyTimeoutMs: number;
    maxBatchOps: number;
    trackChanges: boolean;
    changeLogRetainedRows?: number;
  };
  const db = new Database(file, { timeout: busyTimeoutMs });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  // Checkpoints run inside the commit that crosses the threshold, stalling every writer in its
  // group. SQLite's default (1,000 pages) made them ~45 % of the commit time under group
  // commit: a 64-write group dirties ~130 pages, so one group in eight checkpointed, and pages
  // rewritten between checkpoints were copied again each time. 10,000 pages (~40 MB of WAL)
  // copies each hot page once per ten times as many commits: KV v2 writes +7-12 % (4 paired
  // runs). Commits are still fsync'd (synchronous=FULL); only the copy to the main file waits.
  // The price: the one commit in ~40 MB of writes that runs the checkpoint waits longer (about
  // 90 ms instead of 25 ms at p99.9 here). A checkpointer on its own connection would remove
  // that wait, but needs care not to starve (the WAL only restarts once fully checkpointed).
  db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
  // The WAL file keeps its ~40 MB and is reused; one grown past this limit by a huge
  // transaction is cut back to it after the next checkpoint.
  db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
  if (Number(db.pragma('synchronous', { simple: true })) !== SYNCHRONOUS_FULL) throw new Error('sqlite refused synchronous=FULL on the writer connection');

  // The level each transaction commits with, switched before it begins and read back from
  // SQLite after every switch (nothing but this thread uses this connection, so the reading
  // holds until the next switch). Through db.pragma every time, never a prepared statement:
  // SQLite applies a `PRAGMA synchronous = …` when the statement is PREPARED, and a re-run of a
  // prepared one does not apply it again until it is re-prepared, so a statement prepared up
  // front would switch the level at once and later switches would silently do nothing.
  let level = SYNCHRONOUS_FULL;
  /** Sets the level for the next transaction; returns whether it is FULL, as SQLite reported it. */
  const syncCommits = (wanted: boolean): boolean => {
    const want = wanted ? SYNCHRONOUS_FULL : SYNCHRONOUS_NORMAL;
    if (level !== want) {
      db.pragma(wanted ? 'synchronous = FULL' : 'synchronous = NORMAL');
      level = Number(db.pragma('synchronous', { simple: true }));
      // Fail closed: a write that needs its fsync is never committed without one.
      if (level !== want) throw new Error(`sqlite refused synchronous=${wanted ? 'FULL' : 'NORMAL'} on the writer connection`);
    }
    return level === SYNCHRONOUS_FULL;
  };
  const needsSync = (groups: readonly WireGroup[]): boolean => groups.some((group) => !group.deferred);

  const upsert = db.prepare<[string, Buffer]>('INSERT INTO entries (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
  const remove = db.prepare<[string]>('DELETE FROM entries WHERE key = ?');
  // Only while HTTP replicas read this file (sqlite-change-log.ts): one more insert per write.
  const changeLog = trackChanges ? prepareChangeRecorder(db, changeLogRetainedRows) : undefined;
  const apply = (group: WireGroup): void => {
    for (const op of group.ops) {
      if (op.t === 'p') upsert.run(op.k, Buffer.from(group.data, op.o, op.l));
      else remove.run(op.k);
      changeLog?.record(op.k);
    }
  };
  // IMMEDIATE takes the write lock up front, so a busy database waits in the busy handler.
  const commitGroups = db.transaction((groups: readonly WireGroup[]) => {
    for (const group of groups) apply(group);
    changeLog?.prune();
  }).immediate;
  const commitOne = db.transaction((group: WireGroup) => {
    apply(group);
    changeLog?.prune();
  }).immediate;

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

  /** Commits `groups` in one transaction; if that fails, each caller alone. */
  const commit = (groups: readonly WireGroup[]): { commits: number; deferredCommits: number; results: GroupOutcome[] } => {
    try {
      const synced = syncCommits(needsSync(groups));
      commitGroups(groups);
      return { commits: 1, deferredCommits: synced ? 0 : 1, results: groups.map(() => null) };
    } catch (err) {
      rollbackIfOpen();
      const failure = outcome(err);
      if (groups.length <= 1 || ENVIRONMENTAL.test(failure?.code ?? '')) return { commits: 0, deferredCommits: 0, results: groups.map(() => failure) };
      // Retry each caller alone, so only the faulty one fails.
      let commits = 0;
      let deferredCommits = 0;
      const results = groups.map((group) => {
        try {
          const synced = syncCommits(!group.deferred);
          commitOne(group);
          commits += 1;
          if (!synced) deferredCommits += 1;
          return null;
        } catch (single) {
          rollbackIfOpen();
          return outcome(single);
        }
      });
      return { commits, deferredCommits, results };
    }
  };

  const opCount = (request: { groups: readonly WireGroup[] }): number => request.groups.reduce((sum, group) => sum + group.ops.length, 0);

  const close = (): void => {
    db.close();
    port.close();
  };

  port.on('message', (first: WriterRequest) => {
    if (first.kind === 'close') return close();
    // What is already queued behind this request shares its transaction, up to maxBatchOps
    // operations (the rest waits for the next one, so no caller waits behind an unbounded group).
    const requests = [first];
    let ops = opCount(first);
    let closeAfter = false;
    while (ops < maxBatchOps) {
      const next = receiveMessageOnPort(port as MessagePort);
      if (next === undefined) break;
      const message = next.message as WriterRequest;
      if (message.kind === 'close') {
        closeAfter = true;
        break;
      }
      requests.push(message);
      ops += opCount(message);
    }
    const { commits, deferredCommits, results } = commit(requests.flatMap((request) => request.groups));
    let index = 0;
    requests.forEach((request, n) => {
      const reply: WriterReply = {
        id: request.id,
        commits: n === 0 ? commits : 0,
        deferredCommits: n === 0 ? deferredCommits : 0,
        results: results.slice(index, index + request.groups.length),
      };
      index += request.groups.length;
      port.postMessage(reply);
    });
    if (closeAfter) close();
  });
}
