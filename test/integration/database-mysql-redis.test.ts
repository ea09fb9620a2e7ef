/**
 * Dynamic credentials for MariaDB and Redis over real HTTP, against the machine's servers.
 * Every name carries a random suffix and is removed afterwards: CI shares these servers.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { createConnection, type Connection } from 'mysql2/promise';
import { createManualClock } from '../../src/core/clock.js';
import { api, startTestServer, type TestServer } from '../helpers/server.js';

const suffix = randomBytes(4).toString('hex');

describe('dynamic MariaDB and Redis credentials', () => {
  const clock = createManualClock(Date.now());
  let server: TestServer;
  let root: string;
  let admin: Connection;
  let redisAdmin: Redis;
  const database = `coffer_it_${suffix}`;

  before(async () => {
    admin = await createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
    await admin.query(`CREATE DATABASE \`${database}\``);
    await admin.query(`CREATE TABLE \`${database}\`.items (id INT PRIMARY KEY)`);
    await admin.query(`INSERT INTO \`${database}\`.items VALUES (1)`);
    redisAdmin = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
    await redisAdmin.connect();
    await redisAdmin.set(`coffer-it-${suffix}`, 'value');
    server = await startTestServer({ dev: true, storage: 'memory', clock });
    root = server.rootToken as string;
    await api(server, 'POST', 'sys/mounts/database', { token: root, body: { type: 'database' } });
  });

  after(async () => {
    await server?.destroy();
    await admin?.query(`DROP DATABASE IF EXISTS \`${database}\``).catch(() => undefined);
    const [users] = (await admin.query("SELECT User FROM mysql.user WHERE User LIKE 'v-root-%'")) as unknown as [Array<{ User: string }>];
    for (const { User } of users) await admin.query(`DROP USER IF EXISTS '${User}'@'%'`).catch(() => undefined);
    await admin?.end();
    await redisAdmin?.del(`coffer-it-${suffix}`);
    for (const user of (await redisAdmin.call('ACL', 'USERS')) as string[]) {
      if (user.startsWith('v-root-')) await redisAdmin.call('ACL', 'DELUSER', user);
    }
    redisAdmin?.disconnect();
  });

  it('MariaDB: the credential logs in, may only SELECT, and is dropped on revoke and on expiry', async () => {
    const config = await api(server, 'POST', 'database/config/maria', {
      token: root,
      body: { plugin_name: 'mysql-database-plugin', connection_url: '{{username}}:{{password}}@tcp(127.0.0.1:3306)/', username: 'root', password: '', allowed_roles: ['reader'] },
    });
    assert.ok(config.status < 300, JSON.stringify(config.body));
    const role = await api(server, 'POST', 'database/roles/reader', {
      token: root,
      body: {
        db_name: 'maria',
        creation_statements: [`CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}'; GRANT SELECT ON \`${database}\`.* TO '{{name}}'@'%';`],
        default_ttl: '10m',
      },
    });
    assert.ok(role.status < 300, JSON.stringify(role.body));

    const issued = await api(server, 'GET', 'database/creds/reader', { token: root });
    assert.equal(issued.status, 200, JSON.stringify(issued.body));
    const { username, password } = issued.body.data;
    const user = await createConnection({ host: '127.0.0.1', port: 3306, user: username, password, database });
    assert.deepEqual(((await user.query('SELECT id FROM items')) as unknown as [Array<{ id: number }>])[0], [{ id: 1 }]);
    await assert.rejects(user.query('INSERT INTO items VALUES (2)'), /denied/);
    await user.end();
    await assert.rejects(createConnection({ host: '127.0.0.1', port: 3306, user: username, password: password + 'x', database }), /Access denied/);

    assert.equal((await api(server, 'PUT', 'sys/leases/revoke', { token: root, body: { lease_id: issued.body.lease_id } })).status, 204);
    await assert.rejects(createConnection({ host: '127.0.0.1', port: 3306, user: username, password, database }), /Access denied/);

    const second = await api(server, 'GET', 'database/creds/reader', { token: root });
    clock.advance(10 * 60_000 + 1000);
    await api(server, 'PUT', 'sys/leases/tidy', { token: root });
    const [rows] = (await admin.query('SELECT User FROM mysql.user WHERE User = ?', [second.body.data.username])) as unknown as [unknown[]];
    assert.equal(rows.length, 0);
  });

  it('Redis: the ACL user reads but cannot write, and is deleted on revoke', async () => {
    const config = await api(server, 'POST', 'database/config/cache', {
      token: root,
      body: { plugin_name: 'redis-database-plugin', connection_url: 'redis://{{username}}:{{password}}@127.0.0.1:6379', username: 'default', password: '', allowed_roles: ['cache-reader'] },
    });
    assert.ok(config.status < 300, JSON.stringify(config.body));
    await api(server, 'POST', 'database/roles/cache-reader', { token: root, body: { db_name: 'cache', default_ttl: '10m' } });
    const issued = await api(server, 'GET', 'database/creds/cache-reader', { token: root });
    assert.equal(issued.status, 200, JSON.stringify(issued.body));
    const { username, password } = issued.body.data;
    const client = new Redis({ host: '127.0.0.1', port: 6379, username, password, lazyConnect: true, retryStrategy: () => null });
    await client.connect();
    assert.equal(await client.get(`coffer-it-${suffix}`), 'value');
    await assert.rejects(client.set(`coffer-it-${suffix}`, 'changed'), /NOPERM/);
    client.disconnect();
    assert.equal((await api(server, 'PUT', 'sys/leases/revoke', { token: root, body: { lease_id: issued.body.lease_id } })).status, 204);
    const users = (await redisAdmin.call('ACL', 'USERS')) as string[];
    assert.equal(users.includes(username), false);
  });
});
