import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { writeFileAtomic } from './atomic-file.js';

const dir = mkdtempSync(join(tmpdir(), 'coffer-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('creates the file with the requested mode, whatever the umask', async () => {
  const file = join(dir, 'new.env');
  const previous = process.umask(0o077);
  try {
    await writeFileAtomic(file, 'a=1\n', 0o640);
  } finally {
    process.umask(previous);
  }
  assert.equal(readFileSync(file, 'utf8'), 'a=1\n');
  assert.equal(statSync(file).mode & 0o777, 0o640);
});

test('replaces an existing file by rename (a new inode), tightening its mode, and leaves no temporary file', async () => {
  const file = join(dir, 'existing.env');
  writeFileSync(file, 'old', { mode: 0o644 });
  const before = statSync(file).ino;
  await writeFileAtomic(file, 'new content', 0o600);
  assert.equal(readFileSync(file, 'utf8'), 'new content');
  assert.notEqual(statSync(file).ino, before, 'the old inode was not written in place');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(dir).filter((n) => n.endsWith('.tmp')), []);
});

test('a failed write leaves the old file and no temporary file', async () => {
  const sub = join(dir, 'sub');
  const file = join(sub, 'x');
  await assert.rejects(writeFileAtomic(file, 'data', 0o600), /ENOENT/);
  const target = join(dir, 'is-a-dir');
  rmSync(target, { force: true, recursive: true });
  // rename() over a non-empty directory fails after the temporary file was written.
  const { mkdirSync } = await import('node:fs');
  mkdirSync(join(target, 'inner'), { recursive: true });
  await assert.rejects(writeFileAtomic(target, 'data', 0o600));
  assert.deepEqual(readdirSync(dir).filter((n) => n.endsWith('.tmp')), []);
});
