import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
