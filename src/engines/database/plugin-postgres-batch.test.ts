/**
 * How the PostgreSQL plugin runs statement batches, on the machine's PostgreSQL: one
 * transaction sent in one round trip (a failing statement leaves nothing behind, a trailing
 * comment swallows nothing), revocation that is idempotent without asking the catalog first,
 * and issuance that survives the server dropping pooled connections without creating a user
 * twice. Each test makes its own database, group and role names, and removes them.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { createScratchDatabase, MACHINE_PG, uniqueSuffix, type ScratchDatabase } from '../../../test/helpers/pg-cluster.js';
import { isCofferError } from '../../core/errors.js';
import { createDatabaseHarness, type DatabaseHarness } from './harness.js';
import { startTcpRelay } from '../../../test/helpers/tcp-relay.js';

interface Setup {
  db: ScratchDatabase;
  h: DatabaseHarness;
  role: string;
  group: string;
}

const CREATE = (group: string): string[] => [`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}' IN ROLE "${group}";`];

async function setup(t: { after(fn: () => Promise<void>): void }, roleFields: (group: string) => Record<string, unknown>): Promise<Setup> {
  const db = await createScratchDatabase(MACHINE_PG);
  const role = `r${uniqueSuffix(6)}`;
  const group = `readers_${uniqueSuffix(6)}`;
  const h = createDatabaseHarness();
  t.after(async () => {
    await h.shutdown();
    await db.cleanup([`v-%-${role}-%`, group]);
  });
  await db.query(`CREATE ROLE "${group}" NOLOGIN`);
  await h.call('write', 'config/pg', {
    plugin_name: 'postgresql-database-plugin', connection_url: db.templateUrl,
    username: MACHINE_PG.adminUser, password: 'unused', allowed_roles: [role],
  });
  await h.call('write', `roles/${role}`, { db_name: 'pg', default_ttl: '1h', ...roleFields(group) });
  return { db, h, role, group };
}

const memberOf = async (db: ScratchDatabase, user: string, group: string): Promise<boolean> =>
  (await db.query<{ ok: boolean }>('SELECT pg_has_role($1, $2, \'MEMBER\') AS ok', [user, group]))[0]?.ok === true;

test('revoking a user that is already gone succeeds with statements that fail for a missing role', async (t) => {
  const { db, h, role, group } = await setup(t, (g) => ({
    creation_statements: CREATE(g),
    // Neither statement tolerates a missing role: REVOKE and DROP ROLE without IF EXISTS.
    revocation_statements: [`REVOKE "${g}" FROM "{{name}}";`, 'DROP ROLE "{{name}}";'],
  }));
  const { username, lease } = await h.creds(role);
  assert.ok(await memberOf(db, username, group));
  await h.revoke(lease);
  assert.deepEqual(await db.roles(username), []);
  await h.revoke(lease);
});

test('a revocation that fails because another object is missing is reported, and the user stays', async (t) => {
  const { db, h, role } = await setup(t, (g) => ({
    creation_statements: CREATE(g),
    revocation_statements: [`REVOKE "no_such_group_${uniqueSuffix(6)}" FROM "{{name}}";`, 'DROP ROLE "{{name}}";'],
  }));
  const { username, lease } = await h.creds(role);
  await assert.rejects(h.revoke(lease), (err: unknown) => isCofferError(err) && /^failed to revoke user: role "no_such_group_\w+" does not exist/.test(err.message));
  assert.deepEqual(await db.roles(username), [username], 'not mistaken for an already-revoked user');
});

test('a failing statement leaves nothing of the user behind, and the next issuance works', async (t) => {
  const { db, h, role, group } = await setup(t, (g) => ({
    creation_statements: [...CREATE(g), 'GRANT SELECT ON no_such_table TO "{{name}}";'],
  }));
  await assert.rejects(h.creds(role), (err: unknown) => isCofferError(err) && /^failed to create user: relation "no_such_table" does not exist/.test(err.message));
  assert.deepEqual(await db.roles(`v-%-${role}-%`), [], 'the CREATE ROLE before it was rolled back');
  await h.call('write', `roles/${role}`, { creation_statements: CREATE(group) });
  const { username } = await h.creds(role);
  assert.ok(await memberOf(db, username, group), 'the pooled connection left no aborted transaction behind');
});

test('a user kept by a COMMIT among the statements is cleaned up when a later statement meets another existing object', async (t) => {
  const { db, h, role } = await setup(t, (g) => ({
    // The group exists already: its CREATE ROLE fails with 42710, as a taken name would, but the
    // name it is about is not the new user's.
    creation_statements: [...CREATE(g), 'COMMIT;', `CREATE ROLE "${g}";`],
  }));
  await assert.rejects(h.creds(role), (err: unknown) => isCofferError(err) && /already exists/.test(err.message));
  assert.deepEqual(await db.roles(`v-%-${role}-%`), [], 'the committed user was dropped by the cleanup');
});

test('a template ending in a line comment does not swallow the statement after it', async (t) => {
  const { db, h, role, group } = await setup(t, (g) => ({
    creation_statements: [`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}' -- the login`, `GRANT "${g}" TO "{{name}}"`],
  }));
  const { username } = await h.creds(role);
  assert.ok(await memberOf(db, username, group));
});

test('issuance survives the server dropping the pooled connections, and creates each user once', async (t) => {
  const { db, h, role } = await setup(t, (g) => ({ creation_statements: CREATE(g) }));
  await h.creds(role);
  const dropped = await db.query<{ n: string }>(
    "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE application_name = 'coffer' AND datname = $1",
    [db.name],
  );
  t.diagnostic(`pooled connections dropped: ${dropped[0]?.n}`);
  const second = await h.creds(role);
  assert.deepEqual(await db.roles(second.username), [second.username]);
  assert.equal((await db.roles(`v-%-${role}-%`)).length, 2);
});

test('a connection lost in the middle of a creation is retried once it is clear nothing committed', async (t) => {
  const { db, h, role } = await setup(t, (g) => ({ creation_statements: [...CREATE(g), 'SELECT pg_sleep(0.5);'] }));
  const issuing = h.creds(role);
  // Ends the session while its transaction sleeps, before COMMIT: nothing of it may remain.
  let killed = 0;
  for (let i = 0; i < 100 && killed === 0; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    const rows = await db.query<{ n: string }>(
      "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE application_name = 'coffer' AND datname = $1 AND query LIKE '%pg_sleep%'",
      [db.name],
    );
    killed = Number(rows[0]?.n ?? 0);
  }
  assert.equal(killed, 1, 'the creating session was found and ended');
  const { username } = await issuing;
  assert.deepEqual(await db.roles(`v-%-${role}-%`), [username], 'created exactly once');
});

test('a connection cut in the middle of a statement fails that request and leaves the server running', async (t) => {
  const db = await createScratchDatabase(MACHINE_PG);
  const role = `r${uniqueSuffix(6)}`;
  const relay = await startTcpRelay(MACHINE_PG);
  const h = createDatabaseHarness();
  t.after(async () => {
    await h.shutdown();
    await relay.close();
    await db.cleanup([`v-%-${role}-%`]);
  });
  const url = db.templateUrl.replace(`@${MACHINE_PG.host}:${MACHINE_PG.port}/`, `@127.0.0.1:${relay.port}/`);
  await h.call('write', 'config/pg', { plugin_name: 'postgresql-database-plugin', connection_url: url, username: MACHINE_PG.adminUser, password: 'unused', allowed_roles: [role] });
  await h.call('write', `roles/${role}`, {
    db_name: 'pg',
    default_ttl: '1h',
    creation_statements: [`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`, 'SELECT pg_sleep(1);'],
  });
  const pending = h.creds(role);
  await new Promise((resolve) => setTimeout(resolve, 300));
  // Before the fix, pg emitted an unhandled 'error' here and the process (this test runner) died.
  relay.cutAll();
  // PostgreSQL runs the statements it already received to the end (COMMIT included), so the
  // outcome is unknown to Coffer until it asks: it either hands out the user that committed, or
  // fails and leaves no user behind. Never a user without a credential.
  const outcome = await pending.then(
    (creds) => ({ ok: true as const, username: creds.username }),
    (err: unknown) => ({ ok: false as const, coffer: isCofferError(err) }),
  );
  if (outcome.ok) {
    assert.deepEqual(await db.roles(`v-%-${role}-%`), [outcome.username]);
  } else {
    assert.ok(outcome.coffer, 'a clear Coffer error');
    const deadline = Date.now() + 10_000;
    while ((await db.roles(`v-%-${role}-%`)).length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(await db.roles(`v-%-${role}-%`), []);
  }
  // New connections through the relay work: the pool dropped the cut client.
  const { username } = await h.creds(role);
  assert.ok((await db.roles(username)).includes(username));
});

test('a credential whose role was deleted is not renewed (as in Vault), and is still revoked', async (t) => {
  const { db, h, role } = await setup(t, (g) => ({ creation_statements: CREATE(g) }));
  const { username, lease } = await h.creds(role);
  await h.call('delete', `roles/${role}`);
  await assert.rejects(h.renew(lease, 600), (err: unknown) => isCofferError(err) && err.code === 'bad_request' && err.message === `error during renew: could not find role with name "${role}"`);
  await h.revoke(lease);
  assert.deepEqual(await db.roles(username), []);
});

test('rotate-root that fails against a server taking any password reports the failure and keeps the old one', async (t) => {
  // The machine's PostgreSQL trusts local logins: both passwords "work", so logging in proves
  // nothing about which one is in effect, and the database's error must stand.
  const db = await createScratchDatabase(MACHINE_PG);
  const admin = `rv_admin_${uniqueSuffix(6)}`;
  const h = createDatabaseHarness();
  t.after(async () => {
    await h.shutdown();
    await db.cleanup([admin]);
  });
  await db.query(`CREATE ROLE "${admin}" LOGIN CREATEROLE PASSWORD 'orig-${uniqueSuffix(8)}'`);
  const [before] = await db.query<{ p: string }>('SELECT rolpassword AS p FROM pg_authid WHERE rolname = $1', [admin]);
  await h.call('write', 'config/pg', {
    plugin_name: 'postgresql-database-plugin', connection_url: db.templateUrl, username: admin, password: 'old-password',
    verify_connection: false,
    // 53300 (too_many_connections) is a connection-class error, not the statement's refusal.
    root_rotation_statements: [`ALTER ROLE "{{name}}" WITH PASSWORD '{{password}}'`, `DO $$ BEGIN RAISE EXCEPTION 'refused' USING ERRCODE = '53300'; END $$`],
  });
  const err = await h.fail('write', 'rotate-root/pg', {});
  assert.match(err.message, /^failed to rotate root credentials/);
  const [after] = await db.query<{ p: string }>('SELECT rolpassword AS p FROM pg_authid WHERE rolname = $1', [admin]);
  assert.equal(after?.p, before?.p, 'the database kept its password');
  const stored = JSON.parse(String(await h.storage.get('config/pg'))) as { password: string; pendingPassword?: string };
  assert.equal(stored.password, 'old-password');
  assert.equal(stored.pendingPassword, undefined);
});
