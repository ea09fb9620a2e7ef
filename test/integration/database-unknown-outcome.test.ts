/**
 * A credential whose creation failed, but may have been made all the same, over real HTTP against
 * the machine's PostgreSQL, MariaDB and Redis: the client gets the error, and the lease is kept
 * and revoked, so no database user is left that Coffer does not track. A creation that failed
 * cleanly still leaves neither a lease nor a user. Connections are cut through a TCP relay.
 * Every name carries a random suffix and is removed afterwards: CI shares these servers.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { createManualClock } from '../../src/core/clock.js';
import { createScratchDatabase, MACHINE_PG, type ScratchDatabase } from '../helpers/pg-cluster.js';
import { api, startTestServer, type TestServer } from '../helpers/server.js';
import { startTcpRelay, type TcpRelay } from '../helpers/tcp-relay.js';

const suffix = randomBytes(3).toString('hex');
/** Role names of 8 characters, the part of a role name that generated usernames keep. */
const roleName = (tag: string): string => `${tag}${suffix}`;
const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it holds, for at most 15 s (a background revocation, a lost commit). */
async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 300; i += 1) {
    if (await check()) return;
    await pause(50);
  }
  assert.fail(`never happened: ${what}`);
}

describe('credentials whose creation failed with an unknown outcome', () => {
  const clock = createManualClock(Date.now());
  let server: TestServer;
  let root: string;
  let db: ScratchDatabase;
  let pgRelay: TcpRelay;
  let mysqlRelay: TcpRelay;
  let redisRelay: TcpRelay;
  let mysqlAdmin: Connection;
  let redisAdmin: Redis;
  const mysqlDb = `coffer_uo_${suffix}`;

  const write = async (path: string, body: Record<string, unknown>): Promise<void> => {
    const response = await api(server, 'POST', path, { token: root, body });
    assert.ok(response.status < 300, `${path}: ${JSON.stringify(response.body)}`);
  };
  const leasesOf = async (role: string): Promise<string[]> => {
    const response = await api(server, 'LIST', `sys/leases/lookup/database/creds/${role}`, { token: root });
    return ((response.body?.data?.keys ?? []) as string[]).map((key) => `database/creds/${role}/${key}`);
  };
  const lookup = async (leaseId: string): Promise<{ status: number; data: Record<string, unknown> }> => {
    const response = await api(server, 'PUT', 'sys/leases/lookup', { token: root, body: { lease_id: leaseId } });
    return { status: response.status, data: response.body?.data ?? {} };
  };
  const pgRoles = (role: string): Promise<string[]> => db.roles(`v-%${role}-%`);
  const mysqlUsers = async (role: string): Promise<string[]> => {
    const [rows] = await mysqlAdmin.query<RowDataPacket[]>('SELECT User FROM mysql.user WHERE User LIKE ?', [`v-%${role}-%`]);
    return rows.map((row) => String(row['User']));
  };

  before(async () => {
    db = await createScratchDatabase(MACHINE_PG);
    await db.query('CREATE TABLE probe (id int)');
    pgRelay = await startTcpRelay(MACHINE_PG);
    mysqlRelay = await startTcpRelay({ host: '127.0.0.1', port: 3306 });
    redisRelay = await startTcpRelay({ host: '127.0.0.1', port: 6379 });
    mysqlAdmin = await createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
    await mysqlAdmin.query(`CREATE DATABASE \`${mysqlDb}\``);
    redisAdmin = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
    await redisAdmin.connect();
    server = await startTestServer({ dev: true, storage: 'memory', clock });
    root = server.rootToken as string;
    await write('sys/mounts/database', { type: 'database' });
    const relayed = db.templateUrl.replace(`@${MACHINE_PG.host}:${MACHINE_PG.port}/`, `@127.0.0.1:${pgRelay.port}/`);
    await write('database/config/pg', { plugin_name: 'postgresql-database-plugin', connection_url: relayed, username: MACHINE_PG.adminUser, password: 'unused', allowed_roles: ['*'] });
    await write('database/config/maria', {
      plugin_name: 'mysql-database-plugin', connection_url: `{{username}}:{{password}}@tcp(127.0.0.1:${mysqlRelay.port})/`, username: 'root', password: '', allowed_roles: ['*'],
    });
    await write('database/config/cache', {
      plugin_name: 'redis-database-plugin', connection_url: `redis://{{username}}:{{password}}@127.0.0.1:${redisRelay.port}`, username: 'default', password: '', allowed_roles: ['*'],
    });
  });

  after(async () => {
    await server?.destroy();
    await pgRelay?.close();
    await mysqlRelay?.close();
    await redisRelay?.close();
    await db?.cleanup([`v-%${suffix}-%`]).catch(() => undefined);
    if (mysqlAdmin) {
      const [users] = await mysqlAdmin.query<RowDataPacket[]>('SELECT User, Host FROM mysql.user WHERE User LIKE ?', [`v-%${suffix}-%`]);
      for (const row of users) await mysqlAdmin.query('DROP USER IF EXISTS ?@?', [row['User'], row['Host']]).catch(() => undefined);
      await mysqlAdmin.query(`DROP DATABASE IF EXISTS \`${mysqlDb}\``).catch(() => undefined);
      await mysqlAdmin.end();
    }
    if (redisAdmin) {
      for (const user of (await redisAdmin.call('ACL', 'USERS')) as string[]) {
        if (user.includes(`${suffix}-`)) await redisAdmin.call('ACL', 'DELUSER', user);
      }
      redisAdmin.disconnect();
    }
  });

  it('PostgreSQL: a statement error in a transaction that rolled back leaves neither a lease nor a user', async () => {
    const role = roleName('pk');
    await write(`database/roles/${role}`, { db_name: 'pg', creation_statements: ['CREATE ROLE "{{name}}" LOGIN PASSWORD \'{{password}}\'; SELECT 1/0;'] });
    const response = await api(server, 'GET', `database/creds/${role}`, { token: root });
    assert.equal(response.status, 400);
    assert.match(response.body.errors[0], /division by zero/);
    assert.deepEqual(await leasesOf(role), []);
    assert.deepEqual(await pgRoles(role), []);
  });

  it('PostgreSQL: a failed cleanup keeps the lease, which the role revocation_statements, once fixed, revoke', async () => {
    const role = roleName('pc');
    await write(`database/roles/${role}`, {
      db_name: 'pg',
      // The GRANT, committed by the statements themselves, keeps the default cleanup (DROP ROLE) from working.
      creation_statements: ['CREATE ROLE "{{name}}" LOGIN PASSWORD \'{{password}}\'; COMMIT; BEGIN; GRANT SELECT ON probe TO "{{name}}"; COMMIT; BEGIN; SELECT 1/0;'],
      // Fails at first, so the kept lease can be seen before it is revoked.
      revocation_statements: ['SELECT 1/0;'],
    });
    const response = await api(server, 'GET', `database/creds/${role}`, { token: root });
    assert.equal(response.status, 400, JSON.stringify(response.body));
    assert.match(response.body.errors[0], /division by zero.*may remain; it is revoked/);
    const [username] = await pgRoles(role);
    assert.ok(username !== undefined, 'the user the statements committed is there');
    const [leaseId, ...others] = await leasesOf(role);
    assert.ok(leaseId !== undefined && others.length === 0, 'its lease is kept');
    await eventually(async () => Number((await lookup(leaseId)).data['revocation_attempts'] ?? 0) >= 1, 'a revocation attempt, due at once');
    await write(`database/roles/${role}`, { revocation_statements: [] });
    assert.equal((await api(server, 'PUT', 'sys/leases/revoke', { token: root, body: { lease_id: leaseId } })).status, 204);
    assert.deepEqual(await pgRoles(role), []);
    assert.equal((await lookup(leaseId)).status, 400);
  });

  it('PostgreSQL: a connection lost with the database out of reach keeps the lease, and the user its lost run committed is revoked', async () => {
    const role = roleName('pl');
    await write(`database/roles/${role}`, { db_name: 'pg', creation_statements: ['CREATE ROLE "{{name}}" LOGIN PASSWORD \'{{password}}\';', 'SELECT pg_sleep(1);'] });
    const issuing = api(server, 'GET', `database/creds/${role}`, { token: root });
    await eventually(async () => {
      const rows = await db.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND query LIKE '%pg_sleep(1)%' AND pid <> pg_backend_pid()", [db.name]);
      return Number(rows[0]?.n ?? 0) > 0;
    }, 'the creation reached pg_sleep');
    // Cut with no way back: Coffer cannot ask whether the lost run committed.
    pgRelay.refuseNew(true);
    pgRelay.cutAll();
    try {
      const response = await issuing;
      assert.equal(response.status, 502, JSON.stringify(response.body));
      assert.match(response.body.errors[0], /may exist; it is revoked/);
      // PostgreSQL finishes the query string it received, COMMIT included.
      await eventually(async () => (await pgRoles(role)).length === 1, 'the lost run committed');
      const [leaseId] = await leasesOf(role);
      assert.ok(leaseId !== undefined, 'its lease is kept');
    } finally {
      pgRelay.refuseNew(false);
    }
    const [leaseId] = await leasesOf(role);
    assert.equal((await api(server, 'PUT', 'sys/leases/revoke', { token: root, body: { lease_id: leaseId } })).status, 204);
    assert.deepEqual(await pgRoles(role), []);
  });

  it('PostgreSQL: a lost run is ended before Coffer asks whether it committed, so none commits after Coffer gave up', async () => {
    const role = roleName('pt');
    const relayed = db.templateUrl.replace(`@${MACHINE_PG.host}:${MACHINE_PG.port}/`, `@127.0.0.1:${pgRelay.port}/`);
    // One connection: Coffer runs the creation again once, and gives up when that is lost too.
    await write('database/config/pg1', {
      plugin_name: 'postgresql-database-plugin', connection_url: relayed, username: MACHINE_PG.adminUser, password: 'unused', allowed_roles: [role], max_open_connections: 1,
    });
    await write(`database/roles/${role}`, { db_name: 'pg1', creation_statements: ['CREATE ROLE "{{name}}" LOGIN PASSWORD \'{{password}}\';', 'SELECT pg_sleep(2);'] });
    const runs = async (): Promise<number[]> => {
      const rows = await db.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = $1 AND query LIKE '%pg_sleep(2)%' AND pid <> pg_backend_pid()", [db.name]);
      return rows.map((row) => row.pid);
    };
    // A session of the same admin user, busy in a transaction of its own: ending lost runs
    // must never touch it.
    const bystander = new pg.Client({ host: MACHINE_PG.host, port: MACHINE_PG.port, user: MACHINE_PG.adminUser, database: db.name });
    await bystander.connect();
    await bystander.query('BEGIN');
    await bystander.query('SELECT 1');
    try {
      const issuing = api(server, 'GET', `database/creds/${role}`, { token: root });
      let first: number | undefined;
      await eventually(async () => (first = (await runs())[0]) !== undefined, 'the creation reached pg_sleep');
      pgRelay.cutAll();
      // The second run: it sleeps too, or (were the first still running) waits for its CREATE ROLE.
      await eventually(async () => (await runs()).some((pid) => pid !== first), 'the creation ran again');
      pgRelay.cutAll();
      const response = await issuing;
      assert.equal(response.status, 502, JSON.stringify(response.body));
      assert.match(response.body.errors[0], /may exist; it is revoked/);
      await eventually(async () => (await runs()).length === 0, 'no run left');
      // Past the end of both sleeps: a run left going would have committed by now.
      await pause(2_500);
      assert.deepEqual(await pgRoles(role), [], 'no run committed after Coffer gave up');
      await eventually(async () => (await leasesOf(role)).length === 0, 'the kept lease is revoked');
      assert.deepEqual((await bystander.query('SELECT 2 AS n')).rows, [{ n: 2 }], 'the bystander session is alive');
    } finally {
      await bystander.end().catch(() => undefined);
    }
  });

  it('MariaDB: a failed cleanup keeps the lease, and the default revocation drops the user', async () => {
    const role = roleName('mc');
    await write(`database/roles/${role}`, {
      db_name: 'maria',
      creation_statements: [`CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}'; SELECT * FROM \`${mysqlDb}\`.no_such_table;`],
      // Runs without error and drops nothing: the user remains, so the outcome is unknown.
      rollback_statements: ['DO 0'],
      revocation_statements: [`SELECT * FROM \`${mysqlDb}\`.no_such_table`],
    });
    const response = await api(server, 'GET', `database/creds/${role}`, { token: root });
    assert.equal(response.status, 400, JSON.stringify(response.body));
    assert.match(response.body.errors[0], /no_such_table.*may remain in the database; it is revoked/);
    assert.equal((await mysqlUsers(role)).length, 1);
    const [leaseId] = await leasesOf(role);
    assert.ok(leaseId !== undefined, 'its lease is kept');
    await write(`database/roles/${role}`, { revocation_statements: [] });
    assert.equal((await api(server, 'PUT', 'sys/leases/revoke', { token: root, body: { lease_id: leaseId } })).status, 204);
    assert.deepEqual(await mysqlUsers(role), []);
  });

  it('MariaDB: a lost reply keeps the lease, whose revocation of the user the cleanup already dropped succeeds', async () => {
    const role = roleName('ml');
    const marker = `lose-${suffix}`;
    await write(`database/roles/${role}`, {
      db_name: 'maria',
      creation_statements: [`CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}' /* ${marker} */`],
      revocation_statements: [`SELECT * FROM \`${mysqlDb}\`.no_such_table`],
    });
    mysqlRelay.loseReplyTo(marker);
    let response;
    try {
      response = await api(server, 'GET', `database/creds/${role}`, { token: root });
    } finally {
      mysqlRelay.loseReplyTo(undefined);
    }
    assert.equal(response.status, 502, JSON.stringify(response.body));
    assert.match(response.body.errors[0], /may exist; it is revoked/);
    const [leaseId] = await leasesOf(role);
    assert.ok(leaseId !== undefined, 'its lease is kept');
    await write(`database/roles/${role}`, { revocation_statements: [] });
    assert.equal((await api(server, 'PUT', 'sys/leases/revoke', { token: root, body: { lease_id: leaseId } })).status, 204);
    assert.deepEqual(await mysqlUsers(role), []);
  });

  it('Redis: a lost reply to ACL SETUSER keeps the lease, and the user Redis made is deleted', async () => {
    const role = roleName('rl');
    await write(`database/roles/${role}`, { db_name: 'cache', default_ttl: '10m' });
    redisRelay.loseReplyTo('SETUSER');
    let response;
    try {
      response = await api(server, 'GET', `database/creds/${role}`, { token: root });
    } finally {
      redisRelay.loseReplyTo(undefined);
    }
    assert.equal(response.status, 502, JSON.stringify(response.body));
    assert.match(response.body.errors[0], /may exist; it is revoked/);
    const users = async (): Promise<string[]> => ((await redisAdmin.call('ACL', 'USERS')) as string[]).filter((u) => u.includes(`-${role}-`));
    // Revoked in the background, at once: the worker was woken for it.
    await eventually(async () => (await users()).length === 0 && (await leasesOf(role)).length === 0, 'the user Redis made is deleted with its lease');
  });
});
