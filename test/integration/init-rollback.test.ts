/**
 * An initialisation that fails after its keyring was written (the disk filled up while the core
 * loaded, say) is undone: its shares were never shown to anyone, so keeping the keyring would
 * leave a store initialised for good with keys nobody holds. The server answers the failure,
 * reports itself uninitialised, holds nothing of the attempt, and a new `sys/init` works.
 *
 * The failure is real: a SQLite trigger, added behind the server's back, refuses one of the
 * writes the initialisation makes, the way a full disk would (the write fails in the writer
 * thread and the error travels up through the barrier).
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { createLogger } from '../../src/core/logger.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { send } from '../helpers/raw-http.js';

const REFUSAL = 'refused by the test (as by a full disk)';

function sql(server: TestServer, statement: string): void {
  const db = new Database(join(server.dataDir, 'coffer.db'));
  try {
    db.exec(statement);
  } finally {
    db.close();
  }
}

function storedKeys(server: TestServer): string[] {
  const db = new Database(join(server.dataDir, 'coffer.db'), { readonly: true });
  try {
    return (db.prepare('SELECT key FROM entries ORDER BY key').all() as Array<{ key: string }>).map((row) => row.key);
  } finally {
    db.close();
  }
}

/** Makes every insert of a key matching `pattern` (SQL LIKE) fail. */
function refuseInserts(server: TestServer, pattern: string): void {
  sql(server, `CREATE TRIGGER refuse_insert BEFORE INSERT ON entries WHEN NEW.key LIKE '${pattern}' BEGIN SELECT RAISE(ABORT, '${REFUSAL}'); END;`);
}

describe('an initialisation that fails after its keyring was written', () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.destroy();
    server = undefined;
  });

  /** The attempt fails with 500, saying it was undone, and leaves no key behind. */
  async function failedInit(started: TestServer): Promise<void> {
    const failed = await send(started, 'PUT', 'sys/init', { body: { secret_shares: 3, secret_threshold: 2 } });
    assert.equal(failed.status, 500, failed.text);
    const message = String(failed.body.errors?.[0] ?? '');
    assert.match(message, /initialization failed and was undone/);
    assert.doesNotMatch(failed.text, /"keys"/, 'no share is shown for an attempt that was undone');
    const status = await send(started, 'GET', 'sys/seal-status');
    assert.equal(status.body.initialized, false, status.text);
    assert.equal((await send(started, 'GET', 'sys/init')).body.initialized, false);
    assert.deepEqual(storedKeys(started), [], 'nothing of the attempt is kept');
  }

  /** Once the cause is gone, a new init, unseal and root token work as on a fresh store. */
  async function initAgain(started: TestServer): Promise<void> {
    sql(started, 'DROP TRIGGER refuse_insert');
    const init = await send(started, 'PUT', 'sys/init', { body: { secret_shares: 3, secret_threshold: 2 } });
    assert.equal(init.status, 200, init.text);
    const keys = init.body.keys as string[];
    assert.equal(keys.length, 3);
    await send(started, 'PUT', 'sys/unseal', { body: { key: keys[2] } });
    const unsealed = await send(started, 'PUT', 'sys/unseal', { body: { key: keys[0] } });
    assert.equal(unsealed.body.sealed, false, unsealed.text);
    const self = await send(started, 'GET', 'auth/token/lookup-self', { token: init.body.root_token as string });
    assert.equal(self.status, 200, self.text);
    assert.deepEqual(self.body.data.policies, ['root']);
  }

  it("is undone when the root token cannot be stored, and the log has the database's own reason", async () => {
    const logs: string[] = [];
    server = await startTestServer({ storage: 'sqlite', logger: createLogger({ level: 'info', write: (line) => void logs.push(line) }) });
    refuseInserts(server, 'sys/token/id/%');
    await failedInit(server);
    const logged = logs.find((line) => line.includes('"initialization failed and was undone"'));
    assert.ok(logged, logs.join('\n'));
    assert.match(logged, new RegExp(`storage write failed: .*${REFUSAL.replace(/[()]/g, '\\$&')}`));
    await initAgain(server);
  });

  it('is undone when the keyring just written cannot be opened (inside the seal, before the core loads)', async () => {
    server = await startTestServer({ storage: 'sqlite' });
    // Stands in for a torn write or a read error right after the keyring was written.
    sql(server, "CREATE TRIGGER refuse_insert AFTER INSERT ON entries WHEN NEW.key = 'core/keyring' BEGIN UPDATE entries SET value = X'000102' WHERE key = 'core/keyring'; END;");
    await failedInit(server);
    await initAgain(server);
  });

  it('is undone when loading the core fails (the mount table cannot be stored)', async () => {
    server = await startTestServer({ storage: 'sqlite' });
    refuseInserts(server, 'sys/core-mounts');
    await failedInit(server);
    await initAgain(server);
  });

  it('says the data must be removed when undoing it fails too', async () => {
    server = await startTestServer({ storage: 'sqlite' });
    refuseInserts(server, 'sys/token/id/%');
    sql(server, `CREATE TRIGGER refuse_delete BEFORE DELETE ON entries BEGIN SELECT RAISE(ABORT, '${REFUSAL}'); END;`);
    const failed = await send(server, 'PUT', 'sys/init', { body: { secret_shares: 1, secret_threshold: 1 } });
    assert.equal(failed.status, 500, failed.text);
    assert.match(String(failed.body.errors?.[0]), /undoing it failed too.*remove its data/);
    assert.doesNotMatch(failed.text, /"keys"/);
    // Nothing was deleted (one atomic batch), and the server holds no key in memory.
    assert.ok(storedKeys(server).includes('core/keyring'));
    const status = await send(server, 'GET', 'sys/seal-status');
    assert.equal(status.body.sealed, true, status.text);
  });
});
