/**
 * One dual-credential rotation each for MariaDB and Redis users, over real HTTP against the
 * machine's servers: the import locks the alternate out, a consumer switches and checks in, the
 * rotation waits for it, and then the replaced credential no longer logs in.
 * Every name carries a random suffix and is removed afterwards: CI shares these servers.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { createConnection, type Connection } from 'mysql2/promise';
import { Readable } from 'node:stream';
import { main } from '../../src/cli/main.js';
import type { CliStdin } from '../../src/cli/io.js';
import { api, startTestServer, type TestServer } from '../helpers/server.js';

const suffix = randomBytes(4).toString('hex');

interface Creds { username: string; password: string; version: number; previous?: { username: string; password: string; version: number } }

/**
 * Rotates `role` while one consumer holds version `from`: the consumer re-reads and checks in
 * once it sees the new version. Returns the rotate-role response data and the credentials.
 */
async function rotateWithConsumer(server: TestServer, token: string, role: string, works: (c: Creds) => Promise<boolean>) {
  const path = `database/static-creds/${role}`;
  const read = async (): Promise<Creds> => (await api(server, 'GET', path, { token })).body.data;
  const v1 = await read();
  const consumer = (await api(server, 'POST', 'sys/consumers/register', { token, body: { path, name: `${role}-app`, version: v1.version } })).body.data.consumer_id;
  const rotation = api(server, 'POST', `database/rotate-role/${role}`, { token });
  // Settled even if an assertion below fails first, so no request outlives the test.
  rotation.catch(() => undefined);
  let seen = v1;
  const during: boolean[] = [];
  for (let i = 0; i < 200 && seen.version === v1.version; i += 1) {
    during.push(await works(v1));
    await new Promise((resolve) => setTimeout(resolve, 20));
    seen = await read();
  }
  assert.equal(seen.version, v1.version + 1);
  assert.deepEqual(seen.previous, { username: v1.username, password: v1.password, version: v1.version }, 'the old credential is readable until revoked');
  assert.ok(await works(v1), 'the old credential still works before the consumer confirmed');
  assert.ok(await works(seen), 'the new one works before anyone confirmed');
  await api(server, 'POST', 'sys/consumers/checkin', { token, body: { consumer_id: consumer, path, version: seen.version } });
  const res = await rotation;
  assert.equal(res.status, 200, JSON.stringify(res.body));
  await api(server, 'POST', 'sys/consumers/deregister', { token, body: { consumer_id: consumer, path } });
  assert.ok(during.every(Boolean));
  return { data: res.body.data, v1, v2: await read() };
}

/** Runs the CLI in-process against `server`; returns the exit code and what it printed. */
async function cli(server: TestServer, token: string, argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, {
    env: { HOME: '/nonexistent', COFFER_ADDR: server.url, COFFER_TOKEN: token },
    stdout: { write: (t: string) => { stdout += t; return true; } },
    stderr: { write: (t: string) => { stderr += t; return true; } },
    stdin: Readable.from([]) as CliStdin,
  });
  return { code, stdout, stderr };
}

describe('dual-credential rotation for MariaDB and Redis users', () => {
  let server: TestServer;
  let root: string;
  let admin: Connection;
  let redisAdmin: Redis;
  const database = `coffer_rot_${suffix}`;
  const mysqlA = `coffer_ra_${suffix}`;
  const mysqlB = `coffer_rb_${suffix}`;
  const mysqlSolo = `coffer_rs_${suffix}`;
  const redisA = `coffer-ra-${suffix}`;
  const redisB = `coffer-rb-${suffix}`;

  before(async () => {
    admin = await createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
    await admin.query(`CREATE DATABASE \`${database}\``);
    for (const user of [mysqlA, mysqlB, mysqlSolo]) {
      await admin.query(`CREATE USER '${user}'@'%' IDENTIFIED BY 'Initial-${suffix}'`);
      await admin.query(`GRANT SELECT ON \`${database}\`.* TO '${user}'@'%'`);
    }
    redisAdmin = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
    await redisAdmin.connect();
    for (const user of [redisA, redisB]) await redisAdmin.call('ACL', 'SETUSER', user, 'on', `>Initial-${suffix}`, '~*', '+@read', '+ping');
    server = await startTestServer({ dev: true, storage: 'memory' });
    root = server.rootToken as string;
    await api(server, 'POST', 'sys/mounts/database', { token: root, body: { type: 'database' } });
  });

  after(async () => {
    await server?.destroy();
    for (const user of [mysqlA, mysqlB, mysqlSolo]) await admin?.query(`DROP USER IF EXISTS '${user}'@'%'`).catch(() => undefined);
    await admin?.query(`DROP DATABASE IF EXISTS \`${database}\``).catch(() => undefined);
    await admin?.end();
    for (const user of [redisA, redisB]) await redisAdmin?.call('ACL', 'DELUSER', user).catch(() => undefined);
    redisAdmin?.disconnect();
  });

  it('MariaDB: both users rotate in turn, and the replaced one stops logging in once the consumer switched', async () => {
    const works = async (c: { username: string; password: string }): Promise<boolean> => {
      try {
        const conn = await createConnection({ host: '127.0.0.1', port: 3306, user: c.username, password: c.password, database });
        await conn.query('SELECT 1');
        await conn.end();
        return true;
      } catch {
        return false;
      }
    };
    const config = await api(server, 'POST', 'database/config/maria', {
      token: root,
      body: { plugin_name: 'mysql-database-plugin', connection_url: '{{username}}:{{password}}@tcp(127.0.0.1:3306)/', username: 'root', password: '', allowed_roles: ['maria-app'] },
    });
    assert.ok(config.status < 300, JSON.stringify(config.body));
    const role = await api(server, 'POST', 'database/static-roles/maria-app', {
      token: root, body: { db_name: 'maria', username: mysqlA, alternate_username: mysqlB, rotation_period: '24h', rotation_policy: { verify_timeout: '30s' } },
    });
    assert.equal(role.status, 204, JSON.stringify(role.body));
    assert.equal(await works({ username: mysqlB, password: `Initial-${suffix}` }), false, 'the import locked the alternate out');

    const { data, v1, v2 } = await rotateWithConsumer(server, root, 'maria-app', works);
    assert.equal(data.status, 'completed');
    assert.equal(data.verify_outcome, 'confirmed');
    assert.equal(data.confirmed.length, 1);
    assert.deepEqual([v1.username, v2.username, v2.version], [mysqlA, mysqlB, 2]);
    assert.ok(await works(v2));
    assert.equal(await works(v1), false, 'the replaced credential is revoked');

    const status = await cli(server, root, ['rotation', 'status', 'maria-app']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /Last rotation/);
    assert.match(status.stdout, new RegExp(`versions\\s+1 \\(${mysqlA}\\) -> 2 \\(${mysqlB}\\)`));
    assert.match(status.stdout, new RegExp(`confirmed\\s+${data.confirmed[0].consumer_id}\\s+maria-app-app\\s+2`));
    assert.match(status.stdout, new RegExp(`${data.rotation_id}\\s+api\\s+completed\\s+1->2`));
    assert.ok(!status.stdout.includes(v2.password) && !status.stdout.includes(v1.password));
    const asJson = JSON.parse((await cli(server, root, ['rotation', 'status', '-format=json', 'maria-app'])).stdout);
    assert.equal(asJson.last.id, data.rotation_id);
    const all = await cli(server, root, ['rotation', 'status']);
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /^Role\s+Version\s+Status/);
    assert.match(all.stdout, /maria-app\s+2\s+completed\s+revoke/);
  });

  it('MariaDB, one user: a statement failing after ALTER USER committed leaves readers the password the server takes', async () => {
    const works = async (password: string): Promise<boolean> => {
      try {
        const conn = await createConnection({ host: '127.0.0.1', port: 3306, user: mysqlSolo, password, database });
        await conn.end();
        return true;
      } catch {
        return false;
      }
    };
    const config = await api(server, 'POST', 'database/config/maria-solo', {
      token: root,
      body: { plugin_name: 'mysql-database-plugin', connection_url: '{{username}}:{{password}}@tcp(127.0.0.1:3306)/', username: 'root', password: '', allowed_roles: ['maria-solo'] },
    });
    assert.ok(config.status < 300, JSON.stringify(config.body));
    // ALTER USER commits at once; the statement after it fails every time.
    const statements = ["ALTER USER '{{name}}'@'%' IDENTIFIED BY '{{password}}'", `SELECT 1 FROM \`${database}\`.missing_table`];
    const role = await api(server, 'POST', 'database/static-roles/maria-solo', {
      token: root, body: { db_name: 'maria-solo', username: mysqlSolo, rotation_period: '24h', rotation_statements: statements },
    });
    assert.equal(role.status, 204, JSON.stringify(role.body));
    const read = async (): Promise<Creds> => (await api(server, 'GET', 'database/static-creds/maria-solo', { token: root })).body.data;
    const v1 = await read();
    assert.ok(await works(v1.password), 'the imported password is the one the server takes');
    assert.equal(await works(`Initial-${suffix}`), false);

    const rotated = await api(server, 'POST', 'database/rotate-role/maria-solo', { token: root });
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    assert.equal(rotated.body.data.status, 'completed');
    const v2 = await read();
    assert.equal(v2.version, 2);
    assert.ok(await works(v2.password), 'readers get the password the server takes');
    assert.equal(await works(v1.password), false);
  });

  it('Redis: both ACL users rotate in turn, and the replaced one stops logging in once the consumer switched', async () => {
    const works = async (c: { username: string; password: string }): Promise<boolean> => {
      const client = new Redis({ host: '127.0.0.1', port: 6379, username: c.username, password: c.password, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, enableReadyCheck: false });
      client.on('error', () => undefined);
      try {
        await client.connect();
        return (await client.ping()) === 'PONG';
      } catch {
        return false;
      } finally {
        client.disconnect();
      }
    };
    const config = await api(server, 'POST', 'database/config/cache', {
      token: root,
      body: { plugin_name: 'redis-database-plugin', connection_url: 'redis://{{username}}:{{password}}@127.0.0.1:6379', username: 'default', password: '', allowed_roles: ['cache-app'] },
    });
    assert.ok(config.status < 300, JSON.stringify(config.body));
    const role = await api(server, 'POST', 'database/static-roles/cache-app', {
      token: root, body: { db_name: 'cache', username: redisA, alternate_username: redisB, rotation_period: '24h', rotation_policy: { verify_timeout: '30s' } },
    });
    assert.equal(role.status, 204, JSON.stringify(role.body));
    assert.equal(await works({ username: redisB, password: `Initial-${suffix}` }), false, 'the import locked the alternate out');

    const { data, v1, v2 } = await rotateWithConsumer(server, root, 'cache-app', works);
    assert.equal(data.status, 'completed');
    assert.equal(data.verify_outcome, 'confirmed');
    assert.deepEqual([v1.username, v2.username, v2.version], [redisA, redisB, 2]);
    assert.ok(await works(v2));
    assert.equal(await works(v1), false, 'the replaced credential is revoked');
    const rules = String(await redisAdmin.call('ACL', 'GETUSER', redisB).then((u) => JSON.stringify(u)));
    assert.match(rules, /\+@read/, 'the rotation changed the password only, not the permissions');
    assert.match(rules, /\+ping/);
  });
});
