/**
 * A new credential's user exists durably only once its lease is stored, against the machine's
 * PostgreSQL, MariaDB and Redis: the engine is handed a lease write the test holds, and the user
 * must not exist (committed) until it is released, nor ever if it fails. And a lease whose user
 * was never made (Coffer died before its commit) revokes cleanly, whatever its revocation
 * statements say about the missing user. Every name carries a random suffix and is removed.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { createScratchDatabase, MACHINE_PG, uniqueSuffix, type ScratchDatabase } from '../../../test/helpers/pg-cluster.js';
import { eventually, pause } from '../../../test/helpers/polling.js';
import { isCofferError } from '../../core/errors.js';
import { createDatabaseHarness, type DatabaseHarness, type FakeLease } from './harness.js';
import { startTcpRelay, type TcpRelay } from '../../../test/helpers/tcp-relay.js';

const suffix = uniqueSuffix(4);
/** 8 characters (what a generated username keeps of a role name), so cleanup can find them. */
const roleName = (tag: string): string => `fx${tag}${suffix}`;
/** Generated usernames of this file's roles: `v-[<display name>-]<role>-…`. */
const OURS = `v-%fx__${suffix}-%`;
/** How long a held lease write is watched for a user that must not appear (none may, ever). */
const WATCH_MS = 400;

/** Lease writes the test finishes by hand, one per issuance, in order. */
function heldLeaseWrites(): { leaseWrite: () => Promise<void>; release(): void; fail(): void; waiting(): number } {
  const pending: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  const next = (): { resolve: () => void; reject: (error: Error) => void } => {
    const write = pending.shift();
    if (write === undefined) throw new Error('no lease write is waiting');
    return write;
  };
  return {
    leaseWrite: () => new Promise<void>((resolve, reject) => pending.push({ resolve, reject })),
    release: () => next().resolve(),
    fail: () => next().reject(new Error('storage is closed')),
    waiting: () => pending.length,
  };
}

/** Polls `appeared` for WATCH_MS; true as soon as it holds. */
async function appearsWithin(appeared: () => Promise<boolean>): Promise<boolean> {
  const end = Date.now() + WATCH_MS;
  while (Date.now() < end) {
    if (await appeared()) return true;
    await pause(25);
  }
  return appeared();
}

/** A lease as issuance would have stored it, for a user whose creation never committed. */
function leaseOf(username: string, dbName: string, role: string, revocationStatements: string[]): FakeLease {
  return {
    id: `database/creds/${role}/never-made`,
    type: 'creds',
    internal: { username, db_name: dbName, role, revocation_statements: revocationStatements, renew_statements: [] },
    issueTime: 0,
    expireTime: 0,
    maxExpireTime: 0,
    revoked: false,
  };
}

describe('PostgreSQL: the user commits only after its lease is stored', () => {
  let db: ScratchDatabase;
  const group = `fx_readers_${suffix}`;
  const groupRole = [`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}' IN ROLE "${group}";`];

  before(async () => {
    db = await createScratchDatabase(MACHINE_PG, 'fx_');
    await db.query(`CREATE ROLE "${group}" NOLOGIN`);
    await db.query('CREATE TABLE items (id int)');
  });
  after(async () => {
    await db?.cleanup([OURS, group]);
  });

  const harness = async (t: { after(fn: () => Promise<void>): void }, role: string, fields: Record<string, unknown>, leaseWrite?: () => Promise<void>): Promise<DatabaseHarness> => {
    const h = createDatabaseHarness(leaseWrite ? { leaseWrite } : {});
    t.after(() => h.shutdown());
    await h.call('write', 'config/pg', {
      plugin_name: 'postgresql-database-plugin', connection_url: db.templateUrl, username: MACHINE_PG.adminUser, password: 'unused', allowed_roles: [role],
    });
    await h.call('write', `roles/${role}`, { db_name: 'pg', default_ttl: '1h', ...fields });
    return h;
  };
  const rolesOf = (role: string): Promise<string[]> => db.roles(`v-%${role}-%`);
  /** Sessions of Coffer's pool holding a transaction open on the scratch database. */
  const openTransactions = async (): Promise<number> =>
    Number((await db.query<{ n: string }>(
      "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'coffer' AND state = 'idle in transaction'",
      [db.name],
    ))[0]?.n ?? 0);

  for (const [tag, what, statements] of [
    ['pa', 'a group role', groupRole],
    ['pb', 'per-table GRANTs (the ACL lane)', [...groupRole, 'GRANT SELECT ON items TO "{{name}}";']],
  ] as const) {
    it(`runs the statements while the lease is written, and sends COMMIT only once it is stored, with ${what}`, async (t) => {
      const role = roleName(tag);
      const writes = heldLeaseWrites();
      const h = await harness(t, role, { creation_statements: statements }, writes.leaseWrite);
      const issuing = h.creds(role);
      await eventually(async () => (await openTransactions()) === 1, 10_000, 'the creation statements to run in an open transaction');
      assert.deepEqual(await rolesOf(role), [], 'no committed role while the lease is not stored');
      writes.release();
      const { username } = await issuing;
      assert.deepEqual(await rolesOf(role), [username]);
      assert.equal(await openTransactions(), 0);
    });
  }

  it('sends nothing before the lease is stored when the statements commit by themselves', async (t) => {
    const role = roleName('pc');
    const writes = heldLeaseWrites();
    const h = await harness(t, role, { creation_statements: [`${groupRole[0]} COMMIT; BEGIN; SELECT 1;`] }, writes.leaseWrite);
    const issuing = h.creds(role);
    await eventually(async () => writes.waiting() === 1, 10_000, 'the lease write');
    assert.equal(await appearsWithin(async () => (await rolesOf(role)).length > 0), false, 'no role while the lease is not stored');
    assert.equal(await openTransactions(), 0, 'not even an open transaction');
    writes.release();
    const { username } = await issuing;
    assert.deepEqual(await rolesOf(role), [username]);
  });

  /** A harness whose config reaches PostgreSQL through `relay`, with a 1 s statement_timeout. */
  const relayedHarness = async (
    t: { after(fn: () => Promise<void> | void): void },
    role: string,
    writes: ReturnType<typeof heldLeaseWrites>,
  ): Promise<{ h: DatabaseHarness; relay: TcpRelay }> => {
    const relay = await startTcpRelay(MACHINE_PG);
    t.after(() => relay.close());
    const h = createDatabaseHarness({ leaseWrite: writes.leaseWrite });
    t.after(() => h.shutdown());
    // A failed assertion must not leave an issuance waiting on a lease write forever.
    t.after(() => {
      while (writes.waiting() > 0) writes.fail();
    });
    await h.call('write', 'config/pg', {
      plugin_name: 'postgresql-database-plugin',
      connection_url: db.templateUrl.replace(`@${MACHINE_PG.host}:${MACHINE_PG.port}/`, `@127.0.0.1:${relay.port}/`),
      username: MACHINE_PG.adminUser, password: 'unused', allowed_roles: [role], statement_timeout: 1,
    });
    await h.call('write', `roles/${role}`, { db_name: 'pg', default_ttl: '1h', creation_statements: groupRole });
    return { h, relay };
  };

  it('a transaction held open for its lease is ended by PostgreSQL once Coffer goes silent, not hours later', async (t) => {
    // Coffer's host losing power, or a partition, leaves the server waiting on a client that never
    // answers; the uncommitted role (and the locks its creation took) would stay until TCP
    // keepalive noticed, two hours by default. statement_timeout bounds that wait too.
    const role = roleName('ph');
    const writes = heldLeaseWrites();
    const { h, relay } = await relayedHarness(t, role, writes);
    const issuing = h.creds(role);
    issuing.catch(() => undefined);
    await eventually(async () => (await openTransactions()) === 1, 10_000, 'the creation statements to run in an open transaction');
    relay.muteAll();
    await eventually(async () => (await openTransactions()) === 0, 10_000, 'PostgreSQL to end the session it heard nothing from');
    assert.deepEqual(await rolesOf(role), [], 'rolled back');
    writes.fail();
    relay.cutAll();
    await assert.rejects(issuing);
  });

  it('a lease write slower than statement_timeout costs a second run of the statements, not the credential', async (t) => {
    const role = roleName('pi');
    const writes = heldLeaseWrites();
    const { h } = await relayedHarness(t, role, writes);
    const issuing = h.creds(role);
    await eventually(async () => (await openTransactions()) === 1, 10_000, 'the creation statements to run in an open transaction');
    // The server ends the idle transaction after 1 s; the lease is stored only after that.
    await eventually(async () => (await openTransactions()) === 0, 10_000, 'PostgreSQL to end the idle transaction');
    assert.deepEqual(await rolesOf(role), []);
    writes.release();
    const { username } = await issuing;
    assert.deepEqual(await rolesOf(role), [username], 'made once, by the run after the lease was stored');
  });

  it('rolls the creation back when the lease cannot be stored, and the pooled connection stays usable', async (t) => {
    const role = roleName('pd');
    const writes = heldLeaseWrites();
    const h = await harness(t, role, { creation_statements: groupRole }, writes.leaseWrite);
    const issuing = h.creds(role);
    await eventually(async () => (await openTransactions()) === 1, 10_000, 'the creation statements to run in an open transaction');
    writes.fail();
    await assert.rejects(issuing, /storage is closed|not committed: the lease could not be stored/);
    assert.deepEqual(await rolesOf(role), []);
    assert.equal(await openTransactions(), 0, 'the transaction was rolled back');
    const next = h.creds(role);
    await eventually(async () => writes.waiting() === 1, 10_000, 'the next lease write');
    writes.release();
    const { username } = await next;
    assert.deepEqual(await rolesOf(role), [username]);
  });

  it('a creation that fails while its lease is written leaves no role, with the database error', async (t) => {
    const role = roleName('pe');
    const writes = heldLeaseWrites();
    const h = await harness(t, role, { creation_statements: [...groupRole, 'SELECT 1/0;'] }, writes.leaseWrite);
    await assert.rejects(h.creds(role), (err: unknown) => isCofferError(err) && err.code === 'bad_request' && /^failed to create user: division by zero/.test(err.message));
    assert.deepEqual(await rolesOf(role), []);
    assert.equal(await openTransactions(), 0);
  });

  it('revokes a lease whose role was never created, whatever its statements say about the missing role', async (t) => {
    const role = roleName('pf');
    const h = await harness(t, role, {
      creation_statements: groupRole,
      // Neither tolerates a missing role: the first fails with division by zero, the second with
      // "role does not exist".
      revocation_statements: ['SELECT 1 / (SELECT count(*) FROM pg_roles WHERE rolname = \'{{name}}\')::int;', 'DROP ROLE "{{name}}";'],
    });
    await h.revoke(leaseOf(`v-token-${role}-never-made`, 'pg', role, []));
    // A role that exists is still not taken for revoked when the statements fail.
    const { username, lease } = await h.creds(role);
    await h.call('write', `roles/${role}`, { revocation_statements: ['SELECT 1/0;'] });
    await assert.rejects(h.revoke(lease), /division by zero/);
    assert.deepEqual(await rolesOf(role), [username]);
  });
});

describe('MariaDB and Redis: the user is created only after its lease is stored', () => {
  let mysqlAdmin: Connection;
  let redisAdmin: Redis;
  const database = `fx_io_${suffix}`;

  before(async () => {
    mysqlAdmin = await createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
    await mysqlAdmin.query(`CREATE DATABASE \`${database}\``);
    redisAdmin = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
    await redisAdmin.connect();
  });
  after(async () => {
    if (mysqlAdmin) {
      const [users] = await mysqlAdmin.query<RowDataPacket[]>('SELECT User, Host FROM mysql.user WHERE User LIKE ?', [OURS]);
      for (const row of users) await mysqlAdmin.query('DROP USER IF EXISTS ?@?', [row['User'], row['Host']]);
      await mysqlAdmin.query(`DROP DATABASE IF EXISTS \`${database}\``);
      await mysqlAdmin.end();
    }
    if (redisAdmin) {
      const ours = ((await redisAdmin.call('ACL', 'USERS')) as string[]).filter((u) => u.includes(suffix));
      if (ours.length > 0) await redisAdmin.call('ACL', 'DELUSER', ...ours);
      redisAdmin.disconnect();
    }
  });

  const harness = async (t: { after(fn: () => Promise<void>): void }, role: string, config: Record<string, unknown>, fields: Record<string, unknown>, leaseWrite?: () => Promise<void>): Promise<DatabaseHarness> => {
    const h = createDatabaseHarness(leaseWrite ? { leaseWrite } : {});
    t.after(() => h.shutdown());
    await h.call('write', 'config/target', { ...config, allowed_roles: [role] });
    await h.call('write', `roles/${role}`, { db_name: 'target', default_ttl: '1h', ...fields });
    return h;
  };
  const MARIA = { plugin_name: 'mysql-database-plugin', connection_url: '{{username}}:{{password}}@tcp(127.0.0.1:3306)/', username: 'root', password: '' };
  const REDIS = { plugin_name: 'redis-database-plugin', connection_url: 'redis://127.0.0.1:6379', username: '', password: '' };
  const mysqlUsers = async (role: string): Promise<string[]> => {
    const [rows] = await mysqlAdmin.query<RowDataPacket[]>('SELECT User FROM mysql.user WHERE User LIKE ?', [`v-%${role}-%`]);
    return rows.map((row) => String(row['User']));
  };
  const redisUsers = async (role: string): Promise<string[]> => ((await redisAdmin.call('ACL', 'USERS')) as string[]).filter((u) => u.includes(`-${role}-`));

  for (const [tag, name, config, fields, users] of [
    ['ma', 'MariaDB', MARIA, { creation_statements: [`CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}'; GRANT SELECT ON \`${database}\`.* TO '{{name}}'@'%';`] }, mysqlUsers],
    ['ra', 'Redis', REDIS, {}, redisUsers],
  ] as const) {
    it(`${name}: creates nothing before the lease is stored, and the user once it is`, async (t) => {
      const role = roleName(tag);
      const writes = heldLeaseWrites();
      const h = await harness(t, role, config, fields, writes.leaseWrite);
      const issuing = h.creds(role);
      await eventually(async () => writes.waiting() === 1, 10_000, 'the lease write');
      assert.equal(await appearsWithin(async () => (await users(role)).length > 0), false, 'no user while the lease is not stored');
      writes.release();
      const { username } = await issuing;
      assert.deepEqual(await users(role), [username]);
    });

    it(`${name}: creates nothing when the lease cannot be stored`, async (t) => {
      const role = roleName(`${tag[0]}b`);
      const writes = heldLeaseWrites();
      const h = await harness(t, role, config, fields, writes.leaseWrite);
      const issuing = h.creds(role);
      await eventually(async () => writes.waiting() === 1, 10_000, 'the lease write');
      writes.fail();
      await assert.rejects(issuing, /storage is closed/);
      assert.equal(await appearsWithin(async () => (await users(role)).length > 0), false);
    });
  }

  it('MariaDB: revokes a lease whose user was never created, with statements that fail for a missing user', async (t) => {
    const role = roleName('mc');
    const h = await harness(t, role, MARIA, {
      creation_statements: [`CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}';`],
      // SET PASSWORD for a missing account fails (1133), not among the errors revocation lets pass.
      revocation_statements: ["SET PASSWORD FOR '{{name}}'@'%' = PASSWORD('Locked-0')", "DROP USER '{{name}}'@'%'"],
    });
    await h.revoke(leaseOf(`v-token-${role}-never-made`, 'target', role, []));
    // A user that exists is still not taken for revoked when the statements fail.
    const { username, lease } = await h.creds(role);
    await h.call('write', `roles/${role}`, { revocation_statements: [`SELECT * FROM \`${database}\`.no_such_table`] });
    await assert.rejects(h.revoke(lease), /no_such_table/);
    assert.deepEqual(await mysqlUsers(role), [username]);
  });
});
