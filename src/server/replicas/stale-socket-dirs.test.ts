/**
 * Tests: only socket directories whose server is gone are swept; a live one, or one holding
 * anything else, stays.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { removeStaleSocketDirs } from './stale-socket-dirs.js';

const root = mkdtempSync(join(tmpdir(), 'coffer-sweep-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

test('removes a socket directory whose server was killed, and keeps a live one and a foreign one', async () => {
  const stale = join(root, 'coffer-Stale1');
  const live = join(root, 'coffer-Live22');
  const foreign = join(root, 'coffer-Other3');
  for (const dir of [stale, live, foreign]) mkdirSync(dir, { mode: 0o700 });
  // A server killed with SIGKILL leaves its socket file behind.
  const killed = spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(join(stale, 'primary.sock'))}, () => process.kill(process.pid, 'SIGKILL'))`]);
  assert.equal(killed.signal, 'SIGKILL');
  assert.ok(existsSync(join(stale, 'primary.sock')));
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(join(live, 'primary.sock'), resolve));
  writeFileSync(join(foreign, 'notes.txt'), 'not a socket directory');
  try {
    assert.deepEqual(await removeStaleSocketDirs(root), [stale]);
    assert.ok(!existsSync(stale));
    assert.ok(existsSync(join(live, 'primary.sock')), 'a server listens there');
    assert.ok(existsSync(join(foreign, 'notes.txt')));
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
