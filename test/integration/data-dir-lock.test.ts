/**
 * One Coffer server per data directory: a second one (in this process or another) is refused
 * with a clear message, and the directory is free again once the first server stops or dies.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { isCofferError } from '../../src/core/errors.js';
import { startTestServer, tempDir } from '../helpers/server.js';

const LOCK_MODULE = fileURLToPath(new URL('../../src/core/storage/data-dir-lock.js', import.meta.url));

describe('data directory lock', () => {
  const dataDir = tempDir('coffer-lock-');
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('refuses a second server on the same directory until the first one closes', async () => {
    const first = await startTestServer({ dev: true, dataDir, keepDataDir: true });
    try {
      await assert.rejects(startTestServer({ dev: true, dataDir, keepDataDir: true }), (err: unknown) =>
        isCofferError(err) && /is in use by another Coffer server/.test(err.message));
      // Another process is refused too (the lock is the operating system's, not this process's).
      const other = spawnSync(process.execPath, ['--input-type=module', '-e', `
        const { lockDataDir } = await import(${JSON.stringify(`file://${LOCK_MODULE}`)});
        try { lockDataDir(${JSON.stringify(dataDir)}); console.log('locked'); } catch (e) { console.log('refused: ' + e.message); }
      `], { encoding: 'utf8' });
      assert.match(other.stdout, /^refused: the data directory .* is in use by another Coffer server/, other.stderr);
    } finally {
      await first.destroy();
    }
    const second = await startTestServer({ dev: true, dataDir, keepDataDir: true });
    await second.destroy();
  });

  it('tightens a data directory of its own to 0700, and leaves a shared one mode as it is', async () => {
    const own = tempDir('coffer-mode-own-');
    chmodSync(own, 0o755);
    const shared = tempDir('coffer-mode-shared-');
    chmodSync(shared, 0o1777);
    writeFileSync(join(shared, 'someone-elses-file'), 'x');
    try {
      for (const dir of [own, shared]) await (await startTestServer({ dev: true, storage: 'sqlite', dataDir: dir, keepDataDir: true })).destroy();
      assert.equal(statSync(own).mode & 0o7777, 0o700);
      assert.equal(statSync(shared).mode & 0o7777, 0o1777, 'a directory holding other files is the operator own');
      assert.equal(statSync(join(shared, 'coffer.db')).mode & 0o777, 0o600, 'Coffer files in it are 0600 anyway');
    } finally {
      rmSync(own, { recursive: true, force: true });
      rmSync(shared, { recursive: true, force: true });
    }
  });

  it('frees the directory when a start fails', async () => {
    const dir = tempDir('coffer-lock-fail-');
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    try {
      // The port is taken: the start fails after the lock was taken.
      const port = (busy.address() as AddressInfo).port;
      await assert.rejects(startTestServer({ dataDir: dir, keepDataDir: true, listen: `127.0.0.1:${port}` }), /EADDRINUSE/);
      const again = await startTestServer({ dataDir: dir, keepDataDir: true });
      await again.destroy();
    } finally {
      await new Promise<void>((resolve) => busy.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
