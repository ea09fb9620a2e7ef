/**
 * Tests: what a role's statements do to a credential's life on the machine's PostgreSQL: renewal
 * and revocation follow the role's statements as they are now, placeholders the grammar does not
 * know are refused before they can name a user, and a creation whose statements commit part of
 * their work is cleaned up when a later one fails. Each test makes its own database and role
 * names, and removes them.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { createScratchDatabase, MACHINE_PG, uniqueSuffix, type ScratchDatabase } from '../../../test/helpers/pg-cluster.js';
import { isCofferError } from '../../core/errors.js';
import { createDatabaseHarness, type DatabaseHarness } from './harness.js';

interface Setup {
  db: ScratchDatabase;
  h: DatabaseHarness;
  role: string;
}

const CREATE = `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`;

async function setup(t: { after(fn: () => Promise<void>): void }, roleFields: Record<string, unknown> = {}): Promise<Setup> {
  const db = await createScratchDatabase(MACHINE_PG);
  const role = `r${uniqueSuffix(6)}`;
  const h = createDatabaseHarness();
  t.after(async () => {
    await h.shutdown();
    await db.cleanup([`v-%-${role}-%`]);
  });
  await h.call('write', 'config/pg', {
    plugin_name: 'postgresql-database-plugin', connection_url: db.templateUrl,
    username: MACHINE_PG.adminUser, password: 'unused', allowed_roles: [role],
  });
  await h.call('write', `roles/${role}`, { db_name: 'pg', default_ttl: '1h', creation_statements: [CREATE], ...roleFields });
  return { db, h, role };
}

const validUntil = async (db: ScratchDatabase, user: string): Promise<string | undefined> =>
  (await db.query<{ v: Date | null }>('SELECT rolvaliduntil AS v FROM pg_roles WHERE rolname = $1', [user]))[0]?.v?.toISOString();

test('fixing a role revocation_statements rescues a lease whose revocation kept failing', async (t) => {
  const missing = `no_such_group_${uniqueSuffix(6)}`;
  const { db, h, role } = await setup(t, { revocation_statements: [`REVOKE "${missing}" FROM "{{name}}";`, 'DROP ROLE "{{name}}";'] });
  const { username, lease } = await h.creds(role);
  await assert.rejects(h.revoke(lease), (err: unknown) => isCofferError(err) && err.message.includes(`role "${missing}" does not exist`));
  await h.call('write', `roles/${role}`, { revocation_statements: ['DROP ROLE IF EXISTS "{{name}}";'] });
  await h.revoke(lease);
  assert.deepEqual(await db.roles(username), []);
});

test('renewal runs the role renew_statements as they are now', async (t) => {
  const { db, h, role } = await setup(t, { renew_statements: ['SELECT 1/0;'] });
  const { username, lease } = await h.creds(role);
  await assert.rejects(h.renew(lease, 600), (err: unknown) => isCofferError(err) && /division by zero/.test(err.message));
  await h.call('write', `roles/${role}`, { renew_statements: [`ALTER ROLE "{{name}}" VALID UNTIL '{{expiration}}';`] });
  h.clock.advance(60_000);
  await h.renew(lease, 600);
  assert.equal(await validUntil(db, username), new Date(Math.floor(lease.expireTime / 1000) * 1000).toISOString());
});

test('a role that now names another config does not lend its statements: the copy taken at issuance revokes', async (t) => {
  const { db, h, role } = await setup(t);
  const { username, lease } = await h.creds(role);
  // Pointed elsewhere, with statements that would fail here: the user lives in the database "pg" names.
  await h.call('write', `roles/${role}`, { db_name: 'elsewhere', revocation_statements: ['SELECT 1/0;'] });
  await h.revoke(lease);
  assert.deepEqual(await db.roles(username), []);
});

test('refuses at role write creation statements that never name the user, or use a placeholder Coffer does not fill', async (t) => {
  const { db, h, role } = await setup(t);
  const refused = async (fields: Record<string, unknown>, pattern: RegExp): Promise<void> => {
    const err = await h.fail('write', `roles/${role}`, fields);
    assert.equal(err.code, 'bad_request');
    assert.match(err.message, pattern);
  };
  await refused({ creation_statements: ['CREATE ROLE "{{Name}}" WITH LOGIN PASSWORD \'{{password}}\';'] }, /"\{\{Name\}\}", which is not a placeholder/);
  await refused({ creation_statements: ['CREATE ROLE "fixed" WITH LOGIN;'] }, /must name the new user/);
  await refused({ revocation_statements: ['DROP ROLE "{{ Username }}";'] }, /^revocation_statements contain "\{\{ Username \}\}"/);
  // Spaces inside the braces are the same placeholder.
  await h.call('write', `roles/${role}`, { creation_statements: [`CREATE ROLE "{{ name }}" WITH LOGIN PASSWORD '{{ password }}' VALID UNTIL '{{ expiration }}';`] });
  const { username, password } = await h.creds(role);
  assert.deepEqual(await db.roles(username), [username]);
  assert.match(password, /^[A-Za-z0-9-]+$/);
  assert.deepEqual(await db.roles('{{%'), [], 'no role named after a placeholder');
});

test('refuses at issuance creation statements written before their config existed, creating nothing', async (t) => {
  const db = await createScratchDatabase(MACHINE_PG);
  const role = `r${uniqueSuffix(6)}`;
  const h = createDatabaseHarness();
  t.after(async () => {
    await h.shutdown();
    await db.cleanup([`v-%-${role}-%`, '{{%']);
  });
  // Without a config the plugin is not known, so the role is stored as written.
  await h.call('write', `roles/${role}`, { db_name: 'pg', creation_statements: ['CREATE ROLE "{{Name}}" WITH LOGIN PASSWORD \'{{password}}\';'] });
  await h.call('write', 'config/pg', { plugin_name: 'postgresql-database-plugin', connection_url: db.templateUrl, username: MACHINE_PG.adminUser, password: 'unused', allowed_roles: [role] });
  const err = await h.fail('read', `creds/${role}`);
  assert.equal(err.code, 'bad_request');
  assert.match(err.message, /^failed to create user: creation_statements contain "\{\{Name\}\}"/);
  assert.deepEqual(await db.roles('{{%'), []);
});

test('a PostgreSQL role without creation statements (a misspelt field) issues nothing, as in Vault, instead of a default login', async (t) => {
  const { db, h, role } = await setup(t, { creation_statements: [] });
  await h.call('write', `roles/${role}`, { db_name: 'pg', creation_statment: [CREATE], creation_statements: ['  '] });
  const err = await h.fail('read', `creds/${role}`);
  assert.equal(err.code, 'bad_request');
  assert.match(err.message, /postgresql-database-plugin needs creation statements/);
  assert.deepEqual(await db.roles(`v-%-${role}-%`), []);
  assert.equal(h.leases.size, 0);
});

test('statements that commit part of a creation leave no user behind when a later one fails', async (t) => {
  const { db, h, role } = await setup(t, { creation_statements: [`${CREATE} COMMIT; BEGIN; SELECT 1/0;`] });
  const err = await h.fail('read', `creds/${role}`);
  assert.equal(err.code, 'bad_request');
  assert.match(err.message, /division by zero/);
  assert.equal(err.outcomeUnknown, false, 'the cleanup dropped the committed role, so the outcome is known');
  assert.deepEqual(await db.roles(`v-%-${role}-%`), []);
});

test('a creation whose cleanup fails too reports an unknown outcome, so its lease is kept and revoked', async (t) => {
  const { db, h, role } = await setup(t, { creation_statements: [`${CREATE} COMMIT; BEGIN; GRANT SELECT ON probe TO "{{name}}"; COMMIT; BEGIN; SELECT 1/0;`] });
  await db.query('CREATE TABLE probe (id int)');
  const err = await h.fail('read', `creds/${role}`);
  assert.equal(err.code, 'bad_request');
  assert.match(err.message, /division by zero.*cleanup failed as well, so user "v-[^"]+" may remain; it is revoked/);
  assert.equal(err.outcomeUnknown, true);
  // The default cleanup cannot drop a role that holds privileges; the default revocation can.
  const [left] = await db.roles(`v-%-${role}-%`);
  assert.ok(left !== undefined);
  await h.revoke({ id: 'l', type: 'creds', internal: { username: left, db_name: 'pg', role, revocation_statements: [], renew_statements: [] }, issueTime: 0, expireTime: 0, maxExpireTime: 0, revoked: false });
  assert.deepEqual(await db.roles(`v-%-${role}-%`), []);
});

test('a failed creation never drops a role of the same name that someone else made', async (t) => {
  const db = await createScratchDatabase(MACHINE_PG);
  const role = `r${uniqueSuffix(6)}`;
  const theirs = `theirs-${uniqueSuffix(6)}`;
  const h = createDatabaseHarness();
  t.after(async () => {
    await h.shutdown();
    await db.cleanup([theirs]);
  });
  await db.query(`CREATE ROLE "${theirs}" LOGIN`);
  await h.call('write', 'config/pg', {
    plugin_name: 'postgresql-database-plugin', connection_url: db.templateUrl, username: MACHINE_PG.adminUser, password: 'unused',
    allowed_roles: [role], username_template: theirs,
  });
  await h.call('write', `roles/${role}`, { db_name: 'pg', creation_statements: [CREATE] });
  const err = await h.fail('read', `creds/${role}`);
  assert.match(err.message, /already exists/);
  assert.deepEqual(await db.roles(theirs), [theirs]);
});
