import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createSqliteStorage } from './sqlite.js';
import { openSqliteReader, ReplicaWriteRefused } from './sqlite-reader.js';

test('a reader sees what the writer committed, notices every commit, and refuses to write', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'coffer-reader-'));
  const path = join(dir, 'coffer.db');
  const writer = createSqliteStorage({ path });
  try {
    await writer.put('a/one', Buffer.from('1'));
    const reader = openSqliteReader(path);
    try {
      assert.equal((await reader.get('a/one'))?.toString(), '1');
      const before = reader.dataVersion();
      assert.equal(reader.dataVersion(), before, 'no commit, no change');
      await writer.batch([{ type: 'put', key: 'a/two', value: Buffer.from('2') }, { type: 'delete', key: 'a/one' }]);
      assert.notEqual(reader.dataVersion(), before);
      assert.equal(await reader.get('a/one'), undefined);
      assert.deepEqual(await reader.list('a/'), ['two']);
      assert.deepEqual(await reader.listPage('a/', '', 10), ['two']);
      await assert.rejects(reader.put('a/three', Buffer.from('3')), ReplicaWriteRefused);
      await assert.rejects(reader.delete('a/two'), ReplicaWriteRefused);
      await assert.rejects(reader.batch([]), ReplicaWriteRefused);
      assert.equal((await writer.get('a/two'))?.toString(), '2');
    } finally {
      await reader.close();
    }
  } finally {
    await writer.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a reader needs an existing file', () => {
  assert.throws(() => openSqliteReader(join(tmpdir(), 'coffer-no-such-dir', 'coffer.db')), /no sqlite storage/);
});

test("a reader follows the writer's change log, and says when it cannot (pruned rows, too many)", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'coffer-reader-'));
  const path = join(dir, 'coffer.db');
  const writer = createSqliteStorage({ path, trackChanges: true, changeLogRetainedRows: 3 });
  try {
    const reader = openSqliteReader(path);
    try {
      const start = reader.changes.newest();
      assert.equal(start, 0);
      assert.deepEqual(reader.changes.since(start, 10), { kind: 'changes', keys: [], last: 0 });
      await writer.put('x/1', Buffer.from('1'));
      await writer.batch([{ type: 'delete', key: 'x/1' }, { type: 'put', key: 'x/2', value: Buffer.from('2') }]);
      assert.deepEqual(reader.changes.since(start, 10), { kind: 'changes', keys: ['x/1', 'x/1', 'x/2'], last: 3 });
      assert.deepEqual(reader.changes.since(1, 10), { kind: 'changes', keys: ['x/1', 'x/2'], last: 3 });
      assert.deepEqual(reader.changes.since(0, 2), { kind: 'too-many' });
      await writer.put('x/3', Buffer.from('3'));
      // Row 1 is pruned (3 kept): a reader that had applied nothing cannot know what changed.
      assert.deepEqual(reader.changes.since(0, 10), { kind: 'gap' });
      assert.deepEqual(reader.changes.since(1, 10), { kind: 'changes', keys: ['x/1', 'x/2', 'x/3'], last: 4 });
      assert.equal(reader.changes.newest(), 4);
      // A log whose numbering went behind what a reader applied is a gap too, never "nothing new".
      const raw = new Database(path);
      raw.exec('DELETE FROM changes');
      raw.close();
      assert.deepEqual(reader.changes.since(4, 10), { kind: 'gap' });
      await reader.close();
      assert.throws(() => reader.changes.newest(), /storage is closed/);
    } finally {
      await reader.close();
    }
  } finally {
    await writer.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
