/**
 * rotate-root against the machine's MariaDB, which checks passwords: a custom statement list
 * whose first statement (ALTER USER, which commits at once) applied before a later one failed
 * must not leave Coffer holding the old password. Uses its own admin user, dropped at the end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createConnection } from 'mysql2/promise';
import { createDatabaseHarness } from './harness.js';

const HOST = '127.0.0.1';
const PORT = 3306;

test('a rotate-root whose later statement fails after ALTER USER committed keeps the new password', async (t) => {
  const root = await createConnection({ host: HOST, port: PORT, user: 'root', password: '' });
  const admin = `rv-rot-${randomBytes(4).toString('hex')}`;
  const original = `A1a-${randomBytes(12).toString('hex')}`;
  const h = createDatabaseHarness();
  t.after(async () => {
    await h.shutdown();
    await root.query(`DROP USER IF EXISTS '${admin}'@'%'`);
    await root.end();
  });
  await root.query(`CREATE USER '${admin}'@'%' IDENTIFIED BY '${original}'`);
  await root.query(`GRANT ALL PRIVILEGES ON *.* TO '${admin}'@'%' WITH GRANT OPTION`);
  await h.call('write', 'config/my', {
    plugin_name: 'mysql-database-plugin', connection_url: `{{username}}:{{password}}@tcp(${HOST}:${PORT})/`, username: admin, password: original,
    root_rotation_statements: [`ALTER USER '{{name}}'@'%' IDENTIFIED BY '{{password}}'`, 'SELECT no_such_function_in_coffer_tests()'],
  });
  // Whether the call reports success or not, Coffer must end up holding the password in effect.
  await h.call('write', 'rotate-root/my', {}).catch(() => undefined);
  await assert.rejects(createConnection({ host: HOST, port: PORT, user: admin, password: original }), /Access denied/, 'ALTER USER committed');
  const stored = JSON.parse(String(await h.storage.get('config/my'))) as { password: string; pendingPassword?: string };
  assert.notEqual(stored.password, original);
  assert.equal(stored.pendingPassword, undefined);
  const check = await createConnection({ host: HOST, port: PORT, user: admin, password: stored.password });
  await check.end();
  await h.call('write', 'reset/my', {});
});
