/**
 * Tests against a throwaway PostgreSQL cluster with scram-sha-256 authentication, where a login
 * really proves a password: issued credentials work and do exactly what they were granted,
 * wrong passwords fail, revocation removes the user, renewal moves VALID UNTIL, rotate-root
 * leaves only Coffer knowing the admin password, and a database that goes down and comes back
 * is handled.
 */
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import pg from 'pg';
import { getJson } from '../../core/storage/storage.js';
import {
  adminQuery, createScratchDatabase, startPgCluster, tryLogin, uniqueSuffix, type PgCluster, type ScratchDatabase,
} from '../../../test/helpers/pg-cluster.js';
import type { DbConfig } from './config-store.js';
import { createDatabaseHarness, type DatabaseHarness, type HarnessOptions } from './harness.js';
import { createManualClock } from '../../core/clock.js';
import { startTcpRelay } from '../../../test/helpers/tcp-relay.js';
import { SCRAM_VERIFIER, scramVerifier } from './scram-verifier.js';

let cluster: PgCluster;

before(async () => {
  cluster = await startPgCluster();
});

after(async () => {
  await cluster.stop();
});

interface Setup {
  db: ScratchDatabase;
  h: DatabaseHarness;
  role: string;
  group: string;
  adminUser: string;
  adminPassword: string;
}

/**
 * A scratch database with a table, a reader group with SELECT on it, an admin login of the kind
 * asked for, and a harness configured with that admin and a group-member role.
 */
async function setup(
  t: { after(fn: () => Promise<void>): void },
  admin: 'SUPERUSER' | 'CREATEROLE' = 'SUPERUSER',
  roleFields: Record<string, unknown> = {},
  harness: HarnessOptions = {},
): Promise<Setup> {
  const db = await createScratchDatabase(cluster);
  const role = `r${uniqueSuffix(6)}`;
  const group = `readers_${uniqueSuffix(6)}`;
  const adminUser = `admin_${uniqueSuffix(6)}`;
  const adminPassword = `Init-${uniqueSuffix(12)}`;
  await db.query(`CREATE TABLE items (id int); INSERT INTO items VALUES (1), (2);
    CREATE ROLE "${group}" NOLOGIN; GRANT SELECT ON items TO "${group}";
    CREATE ROLE "${adminUser}" LOGIN ${admin} PASSWORD '${adminPassword}';
    GRANT "${group}" TO "${adminUser}" WITH ADMIN OPTION;
    GRANT ALL ON items TO "${adminUser}" WITH GRANT OPTION;`);
  const h = createDatabaseHarness(harness);
  t.after(async () => {
    await h.shutdown();
    await db.cleanup([`v-%-${role}-%`, group, adminUser]);
  });
  await h.call('write', 'config/pg', {
    plugin_name: 'postgresql-database-plugin', connection_url: db.templateUrl,
    username: adminUser, password: adminPassword, allowed_roles: [role],
  });
  await h.call('write', `roles/${role}`, {
    db_name: 'pg',
    creation_statements: [`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}' IN ROLE "${group}";`],
    default_ttl: '1h', max_ttl: '2h',
    ...roleFields,
  });
  return { db, h, role, group, adminUser, adminPassword };
}

/** Runs `sql` as `user`; resolves to undefined on success or the error message. */
async function runAs(db: ScratchDatabase, user: string, password: string, sql: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: db.url(user, password) });
  await client.connect();
  try {
    await client.query(sql);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  } finally {
    await client.end();
  }
}

test('an issued credential logs in and can read but not write; a wrong password is refused', async (t) => {
  const { db, h, role } = await setup(t);
  const { username, password } = await h.creds(role);
  assert.equal(await tryLogin(cluster, db.name, username, password), undefined);
  assert.equal(await runAs(db, username, password, 'SELECT count(*) FROM items'), undefined);
  assert.match(await runAs(db, username, password, 'INSERT INTO items VALUES (3)') ?? '', /permission denied for table items/);
  const wrong = `${password.slice(0, -1)}${password.endsWith('x') ? 'y' : 'x'}`;
  assert.match(await tryLogin(cluster, db.name, username, wrong) ?? '', /password authentication failed/);
});

test('after revocation the user is gone and cannot log in; revoking again succeeds', async (t) => {
  const { db, h, role } = await setup(t);
  const { username, password, lease } = await h.creds(role);
  await h.revoke(lease);
  assert.deepEqual(await db.roles(username), []);
  assert.match(await tryLogin(cluster, db.name, username, password) ?? '', /password authentication failed/);
  await h.revoke(lease);
});

test('the default revocation also removes per-table grants when the admin is not a superuser', async (t) => {
  const { db, h, role, adminUser } = await setup(t, 'CREATEROLE', {
    creation_statements: [`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`, 'GRANT SELECT ON items TO "{{name}}";'],
  });
  const { username, password, lease } = await h.creds(role);
  assert.equal(await runAs(db, username, password, 'SELECT * FROM items'), undefined);
  await h.revoke(lease);
  assert.deepEqual(await db.roles(username), []);
  const [acl] = await db.query<{ acl: string }>(`SELECT relacl::text AS acl FROM pg_class WHERE relname = 'items'`);
  assert.ok(!acl?.acl.includes(username), 'no ACL entry of the revoked user is left');
  assert.ok(acl?.acl.includes(adminUser));
});

test('renewal moves VALID UNTIL to the new lease end, never past max_ttl', async (t) => {
  const { db, h, role } = await setup(t);
  const { username, password, lease } = await h.creds(role);
  const validUntil = async (): Promise<number> =>
    new Date((await db.query<{ v: string }>('SELECT rolvaliduntil AS v FROM pg_roles WHERE rolname = $1', [username]))[0]?.v as string).getTime();
  assert.equal(await validUntil(), Math.floor(lease.expireTime / 1000) * 1000);
  h.clock.advance(30 * 60_000);
  await h.renew(lease, 3600);
  assert.equal(lease.expireTime, h.clock.now() + 3600_000);
  assert.equal(await validUntil(), Math.floor(lease.expireTime / 1000) * 1000);
  await h.renew(lease, 24 * 3600);
  assert.equal(lease.expireTime, lease.issueTime + 2 * 3600_000, 'capped at max_ttl');
  assert.equal(await validUntil(), Math.floor(lease.expireTime / 1000) * 1000);
  assert.equal(await tryLogin(cluster, db.name, username, password), undefined);
});

test('the database enforces {{expiration}}: a credential past its VALID UNTIL cannot log in', async (t) => {
  // Issued "two hours ago" with a one-hour TTL: the database's own clock says it has expired.
  const { db, h, role } = await setup(t, 'SUPERUSER', { max_ttl: '4h' }, { clock: createManualClock(Date.now() - 2 * 3600_000) });
  const { username, password, lease } = await h.creds(role);
  assert.match(await tryLogin(cluster, db.name, username, password) ?? '', /password authentication failed/);
  h.clock.set(Date.now());
  await h.renew(lease, 600);
  assert.equal(await tryLogin(cluster, db.name, username, password), undefined, 'renewal makes it valid again');
});

test('rotate-root changes the admin password: the old one stops working and creds still work', async (t) => {
  const { db, h, role, adminUser, adminPassword } = await setup(t);
  assert.equal(await h.call('write', 'rotate-root/pg', {}), null);
  assert.match(await tryLogin(cluster, db.name, adminUser, adminPassword) ?? '', /password authentication failed/);
  const stored = await getJson<DbConfig>(h.storage, 'config/pg');
  assert.ok(stored && stored.password !== adminPassword && stored.pendingPassword === undefined);
  assert.equal(await tryLogin(cluster, db.name, adminUser, stored.password), undefined, 'Coffer holds the new password');
  assert.ok(!JSON.stringify(await h.call('read', 'config/pg')).includes(stored.password));
  const { username, password, lease } = await h.creds(role);
  assert.equal(await tryLogin(cluster, db.name, username, password), undefined);
  await h.revoke(lease);
});

test('a failed rotate-root keeps the old password working and leaves nothing pending', async (t) => {
  const { db, h, role, adminUser, adminPassword } = await setup(t);
  await h.call('write', 'config/pg', { root_rotation_statements: [`ALTER ROLE "{{name}}" WITH PASSWORD '{{password}}' VALID UNTIL 'never-a-date'`] });
  const err = await h.fail('write', 'rotate-root/pg', {});
  assert.equal(err.code, 'bad_request');
  assert.match(err.message, /^failed to rotate root credentials: invalid input syntax/);
  const stored = await getJson<DbConfig>(h.storage, 'config/pg');
  assert.equal(stored?.password, adminPassword);
  assert.equal(stored?.pendingPassword, undefined);
  assert.equal(await tryLogin(cluster, db.name, adminUser, adminPassword), undefined);
  const { lease } = await h.creds(role);
  await h.revoke(lease);
});

test('a rotate-root whose reply is lost after the database applied it does not lock Coffer out', async (t) => {
  const { db, h, role, adminUser, adminPassword } = await setup(t);
  const relay = await startTcpRelay({ host: '127.0.0.1', port: cluster.port });
  t.after(() => relay.close());
  await h.call('write', 'config/pg', {
    connection_url: db.templateUrl.replace(`:${cluster.port}/`, `:${relay.port}/`),
    root_rotation_statements: [`ALTER ROLE "{{name}}" WITH PASSWORD '{{password}}'`],
  });
  // PostgreSQL runs the whole batch, COMMIT included, and only then answers: that answer is lost.
  relay.loseReplyTo('ALTER ROLE');
  const rotation = h.call('write', 'rotate-root/pg', {}).then(() => 'rotated', (err: Error) => err.message);
  const outcome = await rotation;
  relay.loseReplyTo(undefined);
  // Once the change committed, the old password is refused; before the fix Coffer dropped the
  // new one on this error and was locked out for good.
  const end = Date.now() + 10_000;
  while ((await tryLogin(cluster, db.name, adminUser, adminPassword)) === undefined && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 100));
  assert.match(await tryLogin(cluster, db.name, adminUser, adminPassword) ?? '', /password authentication failed/, `rotation said: ${outcome}`);
  const { username, password, lease } = await h.creds(role);
  assert.equal(await tryLogin(cluster, db.name, username, password), undefined, `rotation said: ${outcome}`);
  await h.revoke(lease);
  const stored = await getJson<DbConfig>(h.storage, 'config/pg');
  assert.equal(stored?.pendingPassword, undefined);
  assert.equal(await tryLogin(cluster, db.name, adminUser, stored?.password ?? ''), undefined, 'Coffer holds the password in effect');
});

test('a rotate-root cut short between the database and storage is settled on next open', async (t) => {
  const { db, h, role, adminUser } = await setup(t);
  const pending = `Pend-${uniqueSuffix(14)}`;
  const stored = await getJson<DbConfig>(h.storage, 'config/pg') as DbConfig;
  // As if Coffer stopped right after ALTER ROLE: storage has the old password plus the pending one.
  await h.storage.put('config/pg', Buffer.from(JSON.stringify({ ...stored, pendingPassword: pending })));
  await adminQuery(cluster, db.name, `ALTER ROLE "${adminUser}" WITH PASSWORD '${pending}'`);
  await h.shutdown();
  const restarted = createDatabaseHarness({ physical: h.physical });
  t.after(() => restarted.shutdown());
  const { lease } = await restarted.creds(role);
  await restarted.revoke(lease);
  const settled = await getJson<DbConfig>(restarted.storage, 'config/pg');
  assert.equal(settled?.password, pending);
  assert.equal(settled?.pendingPassword, undefined);
});

test('revocation fails while the database is down and succeeds once it is back', async (t) => {
  const { db, h, role } = await setup(t);
  const { username, password, lease } = await h.creds(role);
  await cluster.stopServer();
  try {
    const err = await h.revoke(lease).then(() => undefined, (e: unknown) => e as Error & { code?: string });
    assert.equal(err?.code, 'upstream');
    assert.match(err?.message ?? '', /^failed to revoke user: /);
  } finally {
    await cluster.startServer();
  }
  await h.revoke(lease);
  assert.deepEqual(await db.roles(username), []);
  assert.match(await tryLogin(cluster, db.name, username, password) ?? '', /password authentication failed/);
});

test('scramVerifier derives what PostgreSQL stores for the same password and salt', async () => {
  const name = `rv_scram_${uniqueSuffix(6)}`;
  const password = `Pw-${uniqueSuffix(16)}`;
  await adminQuery(cluster, 'postgres', `SET password_encryption = 'scram-sha-256'; CREATE ROLE "${name}" LOGIN PASSWORD '${password}'`);
  try {
    const [row] = await adminQuery<{ rolpassword: string }>(cluster, 'postgres', 'SELECT rolpassword FROM pg_authid WHERE rolname = $1', [name]);
    const stored = row?.rolpassword ?? '';
    const match = /^SCRAM-SHA-256\$(\d+):([^$]+)\$/.exec(stored);
    assert.ok(match, 'PostgreSQL stored a SCRAM verifier');
    assert.equal(await scramVerifier(password, Buffer.from(match[2] as string, 'base64'), Number(match[1])), stored);
    assert.match(await scramVerifier(password), SCRAM_VERIFIER);
    await assert.rejects(scramVerifier('pässword'), /printable ASCII/);
  } finally {
    await adminQuery(cluster, 'postgres', `DROP ROLE IF EXISTS "${name}"`);
  }
});

test('password_authentication=scram-sha-256: the database only ever sees a verifier, and the password logs in', async (t) => {
  const { db, h, role, group, adminUser } = await setup(t);
  // The second statement keeps what Coffer sent in place of {{password}}, to be looked at.
  await db.query('CREATE TABLE sent (name text, password text)');
  await h.call('write', `roles/${role}`, {
    creation_statements: [
      `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}' IN ROLE "${group}";`,
      `INSERT INTO sent VALUES ('{{name}}', '{{password}}');`,
    ],
  });
  const config = await h.call('read', 'config/pg');
  assert.equal((config?.data?.['connection_details'] as Record<string, unknown>)['password_authentication'], 'password');
  await h.call('write', 'config/pg', { password_authentication: 'scram-sha-256' });
  const details = (await h.call('read', 'config/pg'))?.data?.['connection_details'] as Record<string, unknown>;
  assert.equal(details['password_authentication'], 'scram-sha-256');

  const { username, password, lease } = await h.creds(role);
  const [sent] = await db.query<{ password: string }>('SELECT password FROM sent WHERE name = $1', [username]);
  assert.match(sent?.password ?? '', SCRAM_VERIFIER);
  assert.ok(!(sent?.password ?? '').includes(password));
  const [authid] = await db.query<{ rolpassword: string }>('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [username]);
  assert.equal(authid?.rolpassword, sent?.password, 'PostgreSQL stored the verifier as it is');
  assert.equal(await tryLogin(cluster, db.name, username, password), undefined);
  assert.match(await tryLogin(cluster, db.name, username, `${password}x`) ?? '', /password authentication failed/);
  await h.revoke(lease);

  // rotate-root's default statement gets a verifier too, and Coffer still logs in with the password.
  assert.equal(await h.call('write', 'rotate-root/pg', {}), null);
  const stored = await getJson<DbConfig>(h.storage, 'config/pg');
  const [admin] = await db.query<{ rolpassword: string }>('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [adminUser]);
  assert.match(admin?.rolpassword ?? '', SCRAM_VERIFIER);
  assert.equal(await tryLogin(cluster, db.name, adminUser, stored?.password ?? ''), undefined);
  const again = await h.creds(role);
  assert.equal(await tryLogin(cluster, db.name, again.username, again.password), undefined);
  await h.revoke(again.lease);
});

test('password_authentication takes only password or scram-sha-256, and only for PostgreSQL', async (t) => {
  const { h } = await setup(t);
  const bad = await h.fail('write', 'config/pg', { password_authentication: 'md5' });
  assert.equal(bad.code, 'bad_request');
  assert.match(bad.message, /password_authentication/);
  const other = await h.fail('write', 'config/other', {
    plugin_name: 'redis-database-plugin', connection_url: 'redis://127.0.0.1:6379', password_authentication: 'scram-sha-256', verify_connection: false,
  });
  assert.equal(other.code, 'bad_request');
  assert.match(other.message, /postgresql-database-plugin only/);
});
