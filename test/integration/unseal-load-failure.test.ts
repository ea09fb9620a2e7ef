/**
 * An unseal whose loading fails (here: a stored policy that no longer authenticates) leaves the
 * server sealed, consistently in every status answer, and a later unseal retries the loading:
 * no restart is needed once the cause is repaired.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { send } from '../helpers/raw-http.js';

describe('an unseal whose loading fails', () => {
  let server: TestServer;
  let keys: string[];
  let dbFile: string;
  let original: Buffer;

  /** Flips (or restores) the last byte of the stored default policy, behind the server's back. */
  const setPolicyBlob = (value: Buffer): void => {
    const db = new Database(dbFile);
    try {
      db.prepare('UPDATE entries SET value = ? WHERE key = ?').run(value, 'sys/policy/acl/default');
    } finally {
      db.close();
    }
  };

  before(async () => {
    server = await startTestServer({ storage: 'sqlite' });
    dbFile = join(server.dataDir, 'coffer.db');
    const init = await send(server, 'PUT', 'sys/init', { body: { secret_shares: 1, secret_threshold: 1 } });
    assert.equal(init.status, 200, init.text);
    keys = init.body.keys as string[];
    const db = new Database(dbFile, { readonly: true });
    try {
      original = (db.prepare('SELECT value FROM entries WHERE key = ?').get('sys/policy/acl/default') as { value: Buffer }).value;
    } finally {
      db.close();
    }
  });
  after(async () => {
    await server.destroy();
  });

  it('answers the failure, stays sealed in every answer, and unseals once the cause is repaired', async () => {
    const tampered = Buffer.from(original);
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] as number) ^ 0xff;
    setPolicyBlob(tampered);
    const failed = await send(server, 'PUT', 'sys/unseal', { body: { key: keys[0] } });
    assert.equal(failed.status, 500, failed.text);
    assert.equal((await send(server, 'GET', 'sys/seal-status')).body.sealed, true);
    assert.equal((await send(server, 'GET', 'sys/health')).status, 503);
    const again = await send(server, 'PUT', 'sys/unseal', { body: { key: keys[0] } });
    assert.equal(again.status, 500, 'a second share retries the loading, which still fails');
    assert.equal((await send(server, 'GET', 'sys/seal-status')).body.sealed, true);

    setPolicyBlob(original);
    const unsealed = await send(server, 'PUT', 'sys/unseal', { body: { key: keys[0] } });
    assert.equal(unsealed.status, 200, unsealed.text);
    assert.equal(unsealed.body.sealed, false);
    assert.equal((await send(server, 'GET', 'sys/health')).status, 200);
  });
});
