/**
 * Database engine clients never hang, over real HTTP against the machine's PostgreSQL, MariaDB
 * and Redis. A server that accepts connections and never answers (a TCP relay that holds them),
 * a pooled connection that goes silent, and a statement blocked on a lock each fail or finish a
 * request after the config's timeout, with a clear error, leaving no lease or user behind and
 * the pool fit for the next request. Timeouts here are configuration (small, so the tests are
 * quick), never assertions; node:test's `timeout` only stops a test that would hang.
 * Every name carries a random suffix and is removed afterwards: CI shares these servers.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import pg from 'pg';
import { createScratchDatabase, MACHINE_PG, type ScratchDatabase } from '../helpers/pg-cluster.js';
import { eventually } from '../helpers/polling.js';
import { api, startTestServer, type TestServer } from '../helpers/server.js';
import { startTcpRelay, type TcpRelay } from '../helpers/tcp-relay.js';

const suffix = randomBytes(3).toString('hex');
/** Role names of 8 characters; users are named fx-<role>-<random> (see USERNAME_TEMPLATE). */
const roleName = (tag: string): string => `${tag}${suffix}`;
const USERNAME_TEMPLATE = 'fx-{{.RoleName}}-{{random 10}}';
/** Long enough for any background revocation here to be retried a few times. */
const SETTLE_MS = 20_000;
/** Stops a test that hangs; never reached by one that works. */
const HANG_GUARD = { timeout: 60_000 };

type PluginKey = 'pg' | 'maria' | 'redis';
const PLUGINS: readonly PluginKey[] = ['pg', 'maria', 'redis'];

describe('database clients under timeouts', () => {
  let server: TestServer;
  let root: string;
  let db: ScratchDatabase;
  let mysqlAdmin: Connection;
  let redisAdmin: Redis;
  const mysqlDb = `fx_to_${suffix}`;
  const pgTable = `fx_${suffix}`;
  const relays: TcpRelay[] = [];

  const TARGET_PORTS: Record<PluginKey, number> = { pg: MACHINE_PG.port, maria: 3306, redis: 6379 };

  /** A config body for `plugin` at 127.0.0.1:`port`, with `extra` fields. */
  const configBody = (plugin: PluginKey, port: number, extra: Record<string, unknown> = {}): Record<string, unknown> => {
    const common = { allowed_roles: ['*'], username_template: USERNAME_TEMPLATE, ...extra };
    switch (plugin) {
      case 'pg':
        return {
          plugin_name: 'postgresql-database-plugin',
          connection_url: `postgresql://{{username}}:{{password}}@127.0.0.1:${port}/${db.name}?sslmode=disable`,
          username: MACHINE_PG.adminUser, password: 'unused-by-trust', ...common,
        };
      case 'maria':
        return { plugin_name: 'mysql-database-plugin', connection_url: `{{username}}:{{password}}@tcp(127.0.0.1:${port})/`, username: 'root', password: '', ...common };
      case 'redis':
        return { plugin_name: 'redis-database-plugin', connection_url: `redis://{{username}}:{{password}}@127.0.0.1:${port}`, username: 'default', password: '', ...common };
    }
  };
  const creation: Record<PluginKey, string[]> = {
    pg: ['CREATE ROLE "{{name}}" LOGIN PASSWORD \'{{password}}\''],
    maria: ["CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}'"],
    redis: [],
  };

  const write = async (path: string, body: Record<string, unknown>): Promise<void> => {
    const response = await api(server, 'POST', path, { token: root, body });
    assert.ok(response.status < 300, `${path}: ${JSON.stringify(response.body)}`);
  };
  const relayTo = async (plugin: PluginKey): Promise<TcpRelay> => {
    const relay = await startTcpRelay({ host: '127.0.0.1', port: TARGET_PORTS[plugin] });
    relays.push(relay);
    return relay;
  };
  const leasesOf = async (role: string): Promise<string[]> => {
    const response = await api(server, 'LIST', `sys/leases/lookup/database/creds/${role}`, { token: root });
    return ((response.body?.data?.keys ?? []) as string[]).map((key) => `database/creds/${role}/${key}`);
  };
  const lookup = async (leaseId: string): Promise<{ status: number; data: Record<string, unknown> }> => {
    const response = await api(server, 'PUT', 'sys/leases/lookup', { token: root, body: { lease_id: leaseId } });
    return { status: response.status, data: response.body?.data ?? {} };
  };
  /** The database users made for `role` that exist now. */
  const usersOf = async (plugin: PluginKey, role: string): Promise<string[]> => {
    const prefix = `fx-${role}-`;
    if (plugin === 'pg') return db.roles(`${prefix}%`);
    if (plugin === 'maria') {
      const [rows] = await mysqlAdmin.query<RowDataPacket[]>('SELECT User FROM mysql.user WHERE User LIKE ?', [`${prefix}%`]);
      return rows.map((row) => String(row['User']));
    }
    return ((await redisAdmin.call('ACL', 'USERS')) as string[]).filter((user) => user.startsWith(prefix));
  };
  const issue = (role: string) => api(server, 'GET', `database/creds/${role}`, { token: root });

  before(async () => {
    db = await createScratchDatabase(MACHINE_PG, 'fx_');
    await db.query(`CREATE TABLE ${pgTable} (id int)`);
    mysqlAdmin = await createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
    await mysqlAdmin.query(`CREATE DATABASE \`${mysqlDb}\``);
    await mysqlAdmin.query(`CREATE TABLE \`${mysqlDb}\`.t (id int)`);
    redisAdmin = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
    await redisAdmin.connect();
    server = await startTestServer({ dev: true, storage: 'memory', leases: { retryBaseMs: 200, retryMaxMs: 1000 } });
    root = server.rootToken as string;
    await write('sys/mounts/database', { type: 'database' });
  });

  after(async () => {
    await server?.destroy();
    for (const relay of relays) await relay.close();
    await db?.cleanup([`fx-%${suffix}-%`]).catch(() => undefined);
    if (mysqlAdmin) {
      const [users] = await mysqlAdmin.query<RowDataPacket[]>('SELECT User, Host FROM mysql.user WHERE User LIKE ?', [`fx-%${suffix}-%`]);
      for (const row of users) await mysqlAdmin.query('DROP USER IF EXISTS ?@?', [row['User'], row['Host']]).catch(() => undefined);
      await mysqlAdmin.query(`DROP DATABASE IF EXISTS \`${mysqlDb}\``).catch(() => undefined);
      await mysqlAdmin.end();
    }
    if (redisAdmin) {
      for (const user of (await redisAdmin.call('ACL', 'USERS')) as string[]) {
        if (user.startsWith('fx-') && user.includes(suffix)) await redisAdmin.call('ACL', 'DELUSER', user);
      }
      redisAdmin.disconnect();
    }
  });

  for (const plugin of PLUGINS) {
    it(`${plugin}: verify_connection against a server that never answers is a 400 naming the timeout, and stores nothing`, HANG_GUARD, async () => {
      const blackhole = await relayTo(plugin);
      blackhole.holdNew(true);
      const secret = `Fx-Secret-${suffix}-pw`;
      const name = `bh-${plugin}`;
      const response = await api(server, 'POST', `database/config/${name}`, {
        token: root,
        body: { ...configBody(plugin, blackhole.port, { connect_timeout: '1s' }), password: secret },
      });
      assert.equal(response.status, 400, JSON.stringify(response.body));
      assert.match(response.body.errors[0], /error verifying connection: .*tim(?:e|ed )out/i);
      assert.ok(!JSON.stringify(response.body).includes(secret), 'the password never comes back');
      assert.equal((await api(server, 'GET', `database/config/${name}`, { token: root })).status, 404);
    });

    it(`${plugin}: creds against a server that never answers fail naming the timeout and leave no lease`, HANG_GUARD, async () => {
      const blackhole = await relayTo(plugin);
      blackhole.holdNew(true);
      const name = `bc-${plugin}`;
      const role = roleName(`b${plugin[0]}`);
      await write(`database/config/${name}`, configBody(plugin, blackhole.port, { connect_timeout: '1s', verify_connection: false }));
      await write(`database/roles/${role}`, { db_name: name, creation_statements: creation[plugin] });
      const response = await issue(role);
      assert.equal(response.status, 502, JSON.stringify(response.body));
      assert.match(response.body.errors[0], /tim(?:e|ed )out/i);
      assert.deepEqual(await leasesOf(role), []);
    });

    it(`${plugin}: a revocation that meets a server that never answers is kept and retried, and the pool works once the server is back`, HANG_GUARD, async () => {
      const relay = await relayTo(plugin);
      const name = `rv-${plugin}`;
      const role = roleName(`r${plugin[0]}`);
      await write(`database/config/${name}`, configBody(plugin, relay.port, { connect_timeout: '1s' }));
      await write(`database/roles/${role}`, { db_name: name, creation_statements: creation[plugin] });
      const issued = await issue(role);
      assert.equal(issued.status, 200, JSON.stringify(issued.body));
      const leaseId = issued.body.lease_id as string;
      assert.equal((await usersOf(plugin, role)).length, 1);
      // From now on the server accepts and says nothing; the pooled connections are gone.
      relay.holdNew(true);
      relay.cutAll();
      try {
        const revoked = await api(server, 'PUT', 'sys/leases/revoke', { token: root, body: { lease_id: leaseId } });
        assert.equal(revoked.status, 502, JSON.stringify(revoked.body));
        assert.match(revoked.body.errors[0], /tim(?:e|ed )out.*will be retried/i);
        const kept = await lookup(leaseId);
        assert.equal(kept.status, 200, 'the lease is kept');
        assert.ok(Number(kept.data['revocation_attempts'] ?? 0) >= 1, JSON.stringify(kept.data));
        assert.equal((await usersOf(plugin, role)).length, 1);
      } finally {
        relay.holdNew(false);
        relay.cutAll();
      }
      // The retry runs by itself, and finds the pool working again.
      await eventually(async () => (await lookup(leaseId)).status === 400, SETTLE_MS, 'the lease revoked by a retry');
      assert.deepEqual(await usersOf(plugin, role), []);
      const again = await issue(role);
      assert.equal(again.status, 200, JSON.stringify(again.body));
      assert.equal((await api(server, 'PUT', 'sys/leases/revoke', { token: root, body: { lease_id: again.body.lease_id } })).status, 204);
    });

    it(`${plugin}: a pooled connection that went silent is dropped, not reused, and the request goes on with a new one`, HANG_GUARD, async () => {
      const relay = await relayTo(plugin);
      const name = `mu-${plugin}`;
      const role = roleName(`m${plugin[0]}`);
      await write(`database/config/${name}`, configBody(plugin, relay.port, { connect_timeout: '1s', statement_timeout: '1s', max_open_connections: 1 }));
      await write(`database/roles/${role}`, { db_name: name, creation_statements: creation[plugin] });
      const first = await issue(role);
      assert.equal(first.status, 200, JSON.stringify(first.body));
      // The connection the pool keeps now drops everything, as behind a route that went away.
      relay.muteAll();
      const second = await issue(role);
      assert.equal(second.status, 200, JSON.stringify(second.body));
      const third = await issue(role);
      assert.equal(third.status, 200, JSON.stringify(third.body));
      const users = await usersOf(plugin, role);
      for (const response of [first, second, third]) assert.ok(users.includes(response.body.data.username), `${response.body.data.username} exists`);
      for (const response of [first, second, third]) {
        assert.equal((await api(server, 'PUT', 'sys/leases/revoke', { token: root, body: { lease_id: response.body.lease_id } })).status, 204);
      }
      assert.deepEqual(await usersOf(plugin, role), []);
    });
  }

  it('pg: a connect_timeout in the connection_url, as Vault takes it, wins over the config field', HANG_GUARD, async () => {
    const blackhole = await relayTo('pg');
    blackhole.holdNew(true);
    const body = configBody('pg', blackhole.port, { connect_timeout: '10m' });
    const response = await api(server, 'POST', 'database/config/bh-url', { token: root, body: { ...body, connection_url: `${String(body['connection_url'])}&connect_timeout=1` } });
    assert.equal(response.status, 400, JSON.stringify(response.body));
    assert.match(response.body.errors[0], /connection timeout/);
  });

  it('maria: a timeout=0s in the connection_url is a 400 naming it, not a request that waits for ever on a silent server', HANG_GUARD, async () => {
    const blackhole = await relayTo('maria');
    blackhole.holdNew(true);
    const body = configBody('maria', blackhole.port, { connect_timeout: '3s' });
    const response = await api(server, 'POST', 'database/config/bh-zero', { token: root, body: { ...body, connection_url: `${String(body['connection_url'])}?timeout=0s` } });
    assert.equal(response.status, 400, JSON.stringify(response.body));
    assert.match(response.body.errors[0], /timeout must be a duration from 1s to 24h/);
    // The name is free again: a later write to it answers.
    assert.equal((await api(server, 'DELETE', 'database/config/bh-zero', { token: root })).status, 204);
  });

  it('the expiry of a lease whose revocation waits on a silent server does not hold back another lease', HANG_GUARD, async () => {
    const slow = await relayTo('pg');
    const fast = await relayTo('pg');
    // Long enough that the held revocation is still waiting when the other lease falls due.
    await write('database/config/slow', configBody('pg', slow.port, { connect_timeout: '10m' }));
    await write('database/config/fast', configBody('pg', fast.port));
    const slowRole = roleName('ws');
    const fastRole = roleName('wf');
    await write(`database/roles/${slowRole}`, { db_name: 'slow', creation_statements: creation.pg });
    await write(`database/roles/${fastRole}`, { db_name: 'fast', creation_statements: creation.pg });
    const held = await issue(slowRole);
    assert.equal(held.status, 200, JSON.stringify(held.body));
    slow.holdNew(true);
    slow.cutAll();
    try {
      // Due now: the expiry worker takes it, and its revocation waits on a connection never answered.
      assert.equal((await api(server, 'PUT', 'sys/leases/revoke', { token: root, body: { lease_id: held.body.lease_id, sync: false } })).status, 202);
      await eventually(async () => slow.held > 0, SETTLE_MS, 'the revocation waiting on the silent server');
      const other = await issue(fastRole);
      assert.equal(other.status, 200, JSON.stringify(other.body));
      assert.equal((await api(server, 'PUT', 'sys/leases/revoke', { token: root, body: { lease_id: other.body.lease_id, sync: false } })).status, 202);
      await eventually(async () => (await usersOf('pg', fastRole)).length === 0, SETTLE_MS, 'the other lease revoked meanwhile');
      assert.equal((await lookup(other.body.lease_id)).status, 400);
      assert.equal((await usersOf('pg', slowRole)).length, 1, 'the held revocation is still waiting');
      assert.equal((await lookup(held.body.lease_id)).status, 200);
    } finally {
      slow.holdNew(false);
      slow.cutAll();
    }
    // Cut, the held attempt fails; its lease is kept and the retry revokes it.
    await eventually(async () => (await lookup(held.body.lease_id)).status === 400, SETTLE_MS, 'the held lease revoked by a retry');
    assert.deepEqual(await usersOf('pg', slowRole), []);
  });

  /**
   * GRANT takes no lock on the table it names (LOCK TABLE ... ACCESS EXCLUSIVE alone does not
   * hold it up): it waits for the table's catalog row, which an open transaction that altered
   * the table (a migration in progress) holds.
   */
  it('PostgreSQL: a GRANT blocked by a migration in progress fails after statement_timeout, leaves no role, and the next request works', HANG_GUARD, async () => {
    const role = roleName('lp');
    await write('database/config/pglock', configBody('pg', MACHINE_PG.port, { statement_timeout: '1s' }));
    await write(`database/roles/${role}`, {
      db_name: 'pglock',
      creation_statements: [...creation.pg, `GRANT SELECT ON ${pgTable} TO "{{name}}"`],
    });
    const locker = new pg.Client({ connectionString: db.url() });
    await locker.connect();
    try {
      await locker.query(`BEGIN; LOCK TABLE ${pgTable} IN ACCESS EXCLUSIVE MODE; ALTER TABLE ${pgTable} ADD COLUMN fx_pending int`);
      const response = await issue(role);
      assert.equal(response.status, 502, JSON.stringify(response.body));
      assert.match(response.body.errors[0], /statement timeout/);
      assert.deepEqual(await leasesOf(role), []);
      assert.deepEqual(await usersOf('pg', role), []);
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined);
      await locker.end();
    }
    const again = await issue(role);
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.deepEqual(await usersOf('pg', role), [again.body.data.username]);
    assert.equal((await api(server, 'PUT', 'sys/leases/revoke', { token: root, body: { lease_id: again.body.lease_id } })).status, 204);
  });

  /**
   * MariaDB's CREATE USER and GRANT wait for the privilege tables (mysql.global_priv,
   * mysql.tables_priv, ...; each of them opens all), not for the table a GRANT names: LOCK TABLES
   * t WRITE does not hold a GRANT ON t up. lock_wait_timeout does not end that wait either;
   * max_statement_time does. A lock on a privilege table holds up account changes on the whole
   * shared server, so it is held for one request only.
   */
  describe('MariaDB: creation statements blocked on a lock', () => {
    const config = 'marialock';
    let locker: Connection;

    before(async () => {
      await write(`database/config/${config}`, configBody('maria', 3306, { statement_timeout: '1s' }));
      locker = await createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
    });
    after(async () => {
      await locker?.query('UNLOCK TABLES').catch(() => undefined);
      await locker?.end();
    });

    /** Runs `work` while another session holds `lock` (a LOCK TABLES clause). */
    const whileLocked = async <T>(lock: string, work: () => Promise<T>): Promise<T> => {
      await locker.query(`LOCK TABLES ${lock}`);
      try {
        return await work();
      } finally {
        await locker.query('UNLOCK TABLES');
      }
    };

    it('a CREATE USER that cannot get the privilege tables fails after statement_timeout and leaves neither user nor lease', HANG_GUARD, async () => {
      const role = roleName('lc');
      await write(`database/roles/${role}`, { db_name: config, creation_statements: [...creation.maria, `GRANT SELECT ON \`${mysqlDb}\`.t TO '{{name}}'@'%'`] });
      const response = await whileLocked('mysql.global_priv READ', () => issue(role));
      assert.equal(response.status, 502, JSON.stringify(response.body));
      assert.match(response.body.errors[0], /max_statement_time exceeded/);
      assert.deepEqual(await leasesOf(role), []);
      assert.deepEqual(await usersOf('maria', role), []);
      const again = await issue(role);
      assert.equal(again.status, 200, JSON.stringify(again.body));
      assert.equal((await api(server, 'PUT', 'sys/leases/revoke', { token: root, body: { lease_id: again.body.lease_id } })).status, 204);
    });

    it('a statement after CREATE USER that waits on a table lock times out, and the cleanup drops the user it made', HANG_GUARD, async () => {
      const role = roleName('li');
      await write(`database/roles/${role}`, {
        db_name: config,
        creation_statements: [...creation.maria, `INSERT INTO \`${mysqlDb}\`.t VALUES (1)`],
      });
      const response = await whileLocked(`\`${mysqlDb}\`.t WRITE`, () => issue(role));
      assert.equal(response.status, 502, JSON.stringify(response.body));
      assert.match(response.body.errors[0], /Lock wait timeout exceeded|max_statement_time exceeded/);
      assert.deepEqual(await leasesOf(role), []);
      assert.deepEqual(await usersOf('maria', role), []);
      const again = await issue(role);
      assert.equal(again.status, 200, JSON.stringify(again.body));
      assert.equal((await api(server, 'PUT', 'sys/leases/revoke', { token: root, body: { lease_id: again.body.lease_id } })).status, 204);
      assert.deepEqual(await usersOf('maria', role), []);
    });
  });
});
