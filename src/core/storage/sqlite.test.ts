/**
 * SQLite storage: the shared conformance suite, file permissions, schema version, group commit,
 * and durability of acknowledged writes across kill -9 of a writer process.
 * Must never leave files behind: every database lives in its own mkdtemp directory, removed after.
 */
import { after, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { createSqliteStorage, type SqliteStorage } from './sqlite.js';
import { runStorageConformance } from './conformance.js';
import { isCofferError } from '../errors.js';

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-'));
  tempDirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

const mode = (file: string): number => fs.statSync(file).mode & 0o777;

runStorageConformance('sqlite', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-'));
  const storage = createSqliteStorage({ path: path.join(dir, 'coffer.db') });
  return {
    storage,
    cleanup: async () => {
      await storage.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('sqlite storage: files and settings', () => {
  it('creates a missing directory 0700 and keeps the database, -wal and -shm files 0600', async () => {
    const file = path.join(tempDir(), 'new', 'nested', 'coffer.db');
    const storage = createSqliteStorage({ path: file });
    try {
      await storage.put('k', Buffer.from('v'));
      assert.equal(mode(path.dirname(file)), 0o700);
      assert.equal(mode(path.dirname(path.dirname(file))), 0o700);
      for (const f of [file, `${file}-wal`, `${file}-shm`]) {
        assert.ok(fs.existsSync(f), `${path.basename(f)} should exist while open`);
        assert.equal(mode(f), 0o600, path.basename(f));
      }
    } finally {
      await storage.close();
    }
  });

  it('tightens an existing database file that others could read', async () => {
    const file = path.join(tempDir(), 'coffer.db');
    fs.writeFileSync(file, '');
    fs.chmodSync(file, 0o644);
    const storage = createSqliteStorage({ path: file });
    await storage.close();
    assert.equal(mode(file), 0o600);
  });

  it('runs in WAL mode with synchronous=FULL', async () => {
    const storage = createSqliteStorage({ path: path.join(tempDir(), 'coffer.db') });
    try {
      assert.deepEqual(storage.settings(), { journalMode: 'wal', synchronous: 'full' });
      assert.equal(storage.kind, 'sqlite');
    } finally {
      await storage.close();
    }
  });

  it('records schema version 1 and keeps data across reopen', async () => {
    const file = path.join(tempDir(), 'coffer.db');
    const first = createSqliteStorage({ path: file });
    await first.put('kept/key', Buffer.from([0, 1, 2]));
    await first.close();
    const second = createSqliteStorage({ path: file });
    try {
      assert.deepEqual(await second.get('kept/key'), Buffer.from([0, 1, 2]));
    } finally {
      await second.close();
    }
    const raw = new Database(file, { readonly: true });
    try {
      assert.equal(raw.prepare("SELECT value FROM meta WHERE name = 'schema_version'").pluck().get(), '1');
    } finally {
      raw.close();
    }
  });

  it('adds the change log to an existing file when tracking starts, without changing its schema version', async () => {
    const file = path.join(tempDir(), 'coffer.db');
    const old = new Database(file);
    old.exec('CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID');
    old.exec('CREATE TABLE entries (key TEXT PRIMARY KEY COLLATE BINARY, value BLOB NOT NULL) WITHOUT ROWID');
    old.prepare("INSERT INTO meta VALUES ('schema_version', '1')").run();
    old.prepare('INSERT INTO entries VALUES (?, ?)').run('kept/key', Buffer.from([7]));
    old.close();
    const storage = createSqliteStorage({ path: file, trackChanges: true });
    try {
      assert.deepEqual(await storage.get('kept/key'), Buffer.from([7]));
      await storage.put('new/key', Buffer.from([8]));
    } finally {
      await storage.close();
    }
    const raw = new Database(file, { readonly: true });
    try {
      assert.equal(raw.prepare("SELECT value FROM meta WHERE name = 'schema_version'").pluck().get(), '1');
      assert.deepEqual(raw.prepare('SELECT key FROM changes ORDER BY seq').pluck().all(), ['new/key']);
    } finally {
      raw.close();
    }
  });

  it('logs every changed key in commit order only when asked, and keeps the newest rows', async () => {
    const file = path.join(tempDir(), 'coffer.db');
    const untracked = createSqliteStorage({ path: file });
    await untracked.put('quiet', Buffer.from([0]));
    await untracked.close();
    const changeLog = (): Array<{ seq: number; key: string }> => {
      const raw = new Database(file, { readonly: true });
      try {
        return raw.prepare<[], { seq: number; key: string }>('SELECT seq, key FROM changes ORDER BY seq').all();
      } finally {
        raw.close();
      }
    };
    const probe = new Database(file, { readonly: true });
    try {
      assert.equal(probe.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'changes'").pluck().get(), 0, 'no change log unless asked');
    } finally {
      probe.close();
    }

    const storage = createSqliteStorage({ path: file, trackChanges: true, changeLogRetainedRows: 4 });
    try {
      await storage.put('a', Buffer.from([1]));
      await storage.batch([
        { type: 'put', key: 'b', value: Buffer.from([2]) },
        { type: 'delete', key: 'a' },
      ]);
      assert.deepEqual(changeLog(), [
        { seq: 1, key: 'a' },
        { seq: 2, key: 'b' },
        { seq: 3, key: 'a' },
      ]);
      // A refused batch logs nothing.
      await assert.rejects(storage.batch([{ type: 'put', key: 'c', value: Buffer.from([3]) }, { type: 'put', key: '', value: Buffer.from([3]) }]));
      await Promise.all(['d', 'e', 'f'].map((key) => storage.put(key, Buffer.from([4]))));
      assert.deepEqual(changeLog(), [
        { seq: 3, key: 'a' },
        { seq: 4, key: 'd' },
        { seq: 5, key: 'e' },
        { seq: 6, key: 'f' },
      ]);
    } finally {
      await storage.close();
    }
  });

  it('refuses a database written by a newer schema, saying what to do', async () => {
    const file = path.join(tempDir(), 'coffer.db');
    await createSqliteStorage({ path: file }).close();
    const raw = new Database(file);
    raw.prepare("UPDATE meta SET value = '99' WHERE name = 'schema_version'").run();
    raw.close();
    assert.throws(() => createSqliteStorage({ path: file }), /schema version 99, newer than this build supports \(1\); run a newer Coffer/);
  });

  it('validates its options when built', () => {
    const file = path.join(tempDir(), 'coffer.db');
    assert.throws(() => createSqliteStorage({ path: ':memory:' }), /use createMemoryStorage/);
    assert.throws(() => createSqliteStorage({ path: '' }), /needs a file path/);
    assert.throws(() => createSqliteStorage({ path: file, maxBatchOps: 0 }), /maxBatchOps/);
    assert.throws(() => createSqliteStorage({ path: file, busyTimeoutMs: -1 }), /busyTimeoutMs/);
    assert.equal(fs.existsSync(file), false, 'a rejected configuration must not create the file');
  });
});

describe('sqlite storage: group commit', () => {
  const open = (options: { maxBatchOps?: number } = {}): SqliteStorage =>
    createSqliteStorage({ path: path.join(tempDir(), 'coffer.db'), ...options });

  it('commits 500 concurrent puts in far fewer transactions than writes', async () => {
    const storage = open();
    try {
      const before = storage.stats();
      await Promise.all(Array.from({ length: 500 }, (_, i) => storage.put(`g/${i}`, Buffer.from(`v${i}`))));
      const after = storage.stats();
      assert.equal(after.ops - before.ops, 500);
      assert.ok(after.commits - before.commits <= 5, `500 puts took ${after.commits - before.commits} commits`);
      assert.equal((await storage.list('g/')).length, 500);
    } finally {
      await storage.close();
    }
  });

  it('sends a group as soon as maxBatchOps operations are queued, and never joins more than that into one transaction', async () => {
    const storage = open({ maxBatchOps: 100 });
    try {
      const writes = Array.from({ length: 250 }, (_, i) => storage.put(`m/${i}`, Buffer.from('v')));
      assert.equal(await storage.get('m/0'), undefined, 'a queued write must not be visible before it commits');
      await Promise.all(writes);
      const stats = storage.stats();
      assert.equal(stats.ops, 250);
      // 100 went at once, 100 more at once, the last 50 at the next turn; each of the first two
      // fills a transaction, so the writer commits three times.
      assert.equal(stats.commits, 3);
      assert.deepEqual(await storage.get('m/249'), Buffer.from('v'));
    } finally {
      await storage.close();
    }
  });

  it('keeps a large batch atomic even when it exceeds maxBatchOps', async () => {
    const storage = open({ maxBatchOps: 10 });
    try {
      const ops = Array.from({ length: 35 }, (_, i) => ({ type: 'put' as const, key: `big/${i}`, value: Buffer.from('v') }));
      await storage.batch(ops);
      assert.deepEqual(storage.stats(), { commits: 1, ops: 35, deferredCommits: 0 });
    } finally {
      await storage.close();
    }
  });

  it('commits a deferred batch without an fsync of its own, visible at once and kept across a reopen', async () => {
    const file = path.join(tempDir(), 'coffer.db');
    let storage = createSqliteStorage({ path: file });
    try {
      await storage.put('d/kept', Buffer.from('before'));
      await storage.batch([{ type: 'delete', key: 'd/kept' }, { type: 'put', key: 'd/new', value: Buffer.from('n') }], { durability: 'deferred' });
      assert.deepEqual(storage.stats(), { commits: 2, ops: 3, deferredCommits: 1 });
      assert.deepEqual(await storage.list('d/'), ['new'], 'a deferred batch is visible once its promise resolves');

      // The writer goes back to synchronous=FULL for the next immediate write.
      await storage.put('d/after', Buffer.from('a'));
      assert.deepEqual(storage.stats(), { commits: 3, ops: 4, deferredCommits: 1 });
    } finally {
      await storage.close();
    }
    storage = createSqliteStorage({ path: file });
    try {
      assert.deepEqual(await storage.list('d/'), ['after', 'new']);
      assert.equal(storage.settings().synchronous, 'full');
    } finally {
      await storage.close();
    }
  });

  it('switches the writer between the two levels as often as the batches alternate', async () => {
    // SQLite applies `PRAGMA synchronous` when the statement is prepared: a writer that reused a
    // prepared one would stay on whichever level it prepared last. The counter comes from the
    // level SQLite reports after each switch.
    const storage = open();
    try {
      for (let round = 0; round < 3; round += 1) {
        await storage.put(`alt/${round}`, Buffer.from('immediate'));
        await storage.batch([{ type: 'delete', key: `alt/${round}` }], { durability: 'deferred' });
        await storage.put(`alt/${round}`, Buffer.from('immediate again'));
      }
      assert.deepEqual(storage.stats(), { commits: 9, ops: 9, deferredCommits: 3 });
    } finally {
      await storage.close();
    }
  });

  it('gives a transaction shared by a deferred and an immediate batch its fsync', async () => {
    const storage = open();
    try {
      await Promise.all([
        storage.batch([{ type: 'put', key: 's/deferred', value: Buffer.from('1') }], { durability: 'deferred' }),
        storage.batch([{ type: 'put', key: 's/immediate', value: Buffer.from('2') }]),
        storage.batch([{ type: 'delete', key: 's/none' }], { durability: 'immediate' }),
      ]);
      assert.deepEqual(storage.stats(), { commits: 1, ops: 3, deferredCommits: 0 });
      // Deferred batches alone in a turn share one transaction, and it skips the fsync.
      await Promise.all(Array.from({ length: 20 }, (_, i) => storage.batch([{ type: 'delete', key: `s/${i}` }], { durability: 'deferred' })));
      assert.deepEqual(storage.stats(), { commits: 2, ops: 23, deferredCommits: 1 });
    } finally {
      await storage.close();
    }
  });

  it('rejects only the faulty caller when a shared transaction fails', async () => {
    const file = path.join(tempDir(), 'coffer.db');
    const storage = createSqliteStorage({ path: file });
    try {
      // A trigger added through a second connection makes one key fail inside SQLite itself.
      const raw = new Database(file);
      raw.exec("CREATE TRIGGER poison BEFORE INSERT ON entries WHEN NEW.key = 'bad/poison' BEGIN SELECT RAISE(ABORT, 'trigger text'); END");
      raw.close();

      const before = storage.stats();
      const good1 = storage.put('good/1', Buffer.from('1'));
      const faulty = storage.batch([
        { type: 'put', key: 'bad/partner', value: Buffer.from('x') },
        { type: 'put', key: 'bad/poison', value: Buffer.from('x') },
      ]);
      const good2 = storage.batch([
        { type: 'put', key: 'good/2', value: Buffer.from('2') },
        { type: 'delete', key: 'good/1' },
        { type: 'put', key: 'good/1', value: Buffer.from('1 again') },
      ]);
      const outcomes = await Promise.allSettled([good1, faulty, good2]);
      assert.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'rejected', 'fulfilled']);
      const reason: unknown = (outcomes[1] as PromiseRejectedResult).reason;
      if (!isCofferError(reason)) throw new Error('expected a CofferError');
      assert.equal(reason.code, 'internal');
      assert.equal(reason.message, 'storage write failed');
      assert.doesNotMatch(reason.message, /trigger text|poison|partner/);

      assert.equal(await storage.get('bad/partner'), undefined, 'the faulty batch must apply nothing');
      assert.deepEqual(await storage.get('good/1'), Buffer.from('1 again'));
      assert.deepEqual(await storage.get('good/2'), Buffer.from('2'));
      // The failed group rolled back; each good caller then committed on its own.
      assert.deepEqual(storage.stats(), { commits: before.commits + 2, ops: before.ops + 4, deferredCommits: 0 });

      // The storage keeps working for later groups.
      await storage.put('after', Buffer.from('ok'));
      assert.deepEqual(await storage.get('after'), Buffer.from('ok'));
    } finally {
      await storage.close();
    }
  });

  it('rejects the whole group while another connection holds the write lock, then recovers', async () => {
    const file = path.join(tempDir(), 'coffer.db');
    const storage = createSqliteStorage({ path: file, busyTimeoutMs: 0 });
    const other = new Database(file);
    try {
      other.exec('BEGIN IMMEDIATE');
      const outcomes = await Promise.allSettled([storage.put('l/1', Buffer.from('1')), storage.put('l/2', Buffer.from('2'))]);
      assert.deepEqual(outcomes.map((o) => o.status), ['rejected', 'rejected']);
      assert.deepEqual(storage.stats(), { commits: 0, ops: 0, deferredCommits: 0 });
      other.exec('ROLLBACK');
      await storage.put('l/3', Buffer.from('3'));
      assert.deepEqual(await storage.list('l/'), ['3']);
    } finally {
      if (other.inTransaction) other.exec('ROLLBACK');
      other.close();
      await storage.close();
    }
  });

  it('joins writes sent on later turns into the transaction the writer starts next', async () => {
    const file = path.join(tempDir(), 'coffer.db');
    const storage = createSqliteStorage({ path: file, busyTimeoutMs: 10_000 });
    const other = new Database(file);
    try {
      // The writer thread takes the first put and then waits for the lock; five more puts are
      // sent to it one event-loop turn apart meanwhile.
      other.exec('BEGIN IMMEDIATE');
      const writes = [storage.put('j/0', Buffer.from('0'))];
      for (let i = 1; i <= 5; i += 1) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        writes.push(storage.put(`j/${i}`, Buffer.from(String(i))));
      }
      other.exec('ROLLBACK');
      await Promise.all(writes);
      const stats = storage.stats();
      assert.equal(stats.ops, 6);
      assert.ok(stats.commits <= 2, `six writes sent separately took ${stats.commits} commits`);
      assert.deepEqual(await storage.list('j/'), ['0', '1', '2', '3', '4', '5']);
    } finally {
      if (other.inTransaction) other.exec('ROLLBACK');
      other.close();
      await storage.close();
    }
  });

  it('close commits queued writes first, then refuses reads and writes', async () => {
    const file = path.join(tempDir(), 'coffer.db');
    const storage = createSqliteStorage({ path: file });
    const pending = [storage.put('q/1', Buffer.from('1')), storage.batch([{ type: 'put', key: 'q/2', value: Buffer.from('2') }])];
    await storage.close();
    await Promise.all(pending);
    await assert.rejects(storage.put('q/3', Buffer.from('3')), /storage is closed/);
    await assert.rejects(storage.batch([]), /storage is closed/);
    await assert.rejects(storage.get('q/1'), /storage is closed/);
    await assert.rejects(storage.list(''), /storage is closed/);
    await storage.close();

    const reopened = createSqliteStorage({ path: file });
    try {
      assert.deepEqual(await reopened.list('q/'), ['1', '2']);
    } finally {
      await reopened.close();
    }
  });
});

describe('sqlite storage: durability', () => {
  // The child writes without pause from 4 concurrent writers (puts and 3-key batches) and
  // prints each key only after its promise resolved. The parent kills it with SIGKILL mid-stream.
  const child = `
    const { createSqliteStorage } = await import(process.env.COFFER_SQLITE_MODULE);
    const storage = createSqliteStorage({ path: process.env.COFFER_SQLITE_PATH });
    const writer = async (w) => {
      for (let i = 0; i < 1e6; i += 1) {
        if (i % 2 === 0) {
          const key = 'w' + w + '/' + i;
          await storage.put(key, Buffer.from(key));
          process.stdout.write('acked ' + key + '\\n');
        } else {
          const keys = ['a', 'b', 'c'].map((s) => 'w' + w + '/' + i + '/' + s);
          await storage.batch(keys.map((key) => ({ type: 'put', key, value: Buffer.from(key) })));
          process.stdout.write(keys.map((key) => 'acked ' + key + '\\n').join(''));
        }
      }
    };
    await Promise.all([0, 1, 2, 3].map(writer));
  `;

  it('keeps every acknowledged write, and every batch whole, after kill -9', { timeout: 60_000 }, async () => {
    const file = path.join(tempDir(), 'coffer.db');
    const proc = spawn(process.execPath, ['--input-type=module', '-e', child], {
      env: { ...process.env, COFFER_SQLITE_MODULE: new URL('./sqlite.js', import.meta.url).href, COFFER_SQLITE_PATH: file },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const acked: string[] = [];
    let stderr = '';
    let buffered = '';
    const exited = new Promise<NodeJS.Signals | null>((resolve) => proc.on('exit', (_code, signal) => resolve(signal)));
    try {
      proc.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString('utf8');
      });
      proc.stdout.on('data', (chunk: Buffer) => {
        buffered += chunk.toString('utf8');
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        for (const line of lines) {
          assert.match(line, /^acked /);
          acked.push(line.slice('acked '.length));
        }
        if (acked.length >= 600 && proc.exitCode === null && !proc.killed) proc.kill('SIGKILL');
      });
      const signal = await exited;
      assert.equal(signal, 'SIGKILL', `child ended on its own: ${stderr}`);
    } finally {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    }
    assert.ok(acked.length >= 600);

    const storage = createSqliteStorage({ path: file });
    try {
      for (const key of acked) {
        const value = await storage.get(key);
        assert.equal(value?.toString('utf8'), key, `acknowledged key ${key} was lost or changed`);
      }
      // A batch may have committed without being acknowledged, but never in part.
      for (let w = 0; w < 4; w += 1) {
        for (const folder of (await storage.list(`w${w}/`)).filter((c) => c.endsWith('/'))) {
          assert.deepEqual(await storage.list(`w${w}/${folder}`), ['a', 'b', 'c'], `batch w${w}/${folder} is partial`);
        }
      }
    } finally {
      await storage.close();
    }
  });
});
