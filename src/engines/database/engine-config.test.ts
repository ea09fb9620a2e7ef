/**
 * Tests against the machine's PostgreSQL (trust authentication): config, roles and creds
 * paths, bad input, and that no password ever comes back. Each test makes its own database and
 * roles and removes them. Password checks live in engine-scram.test.ts.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { createScratchDatabase, freePort, MACHINE_PG, uniqueSuffix, type ScratchDatabase } from '../../../test/helpers/pg-cluster.js';
import { createDatabaseHarness, type DatabaseHarness } from './harness.js';
import { PER_OBJECT_GRANT_WARNING } from './path-roles.js';
import { WITHHELD_MESSAGE } from './plugin-secret-scrub.js';

const ADMIN_PASSWORD = 'Zq7-unused-by-trust-auth-1';
const GROUP_CREATE = (group: string): string[] => [
  `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}' IN ROLE "${group}";`,
];

interface Fixture {
  db: ScratchDatabase;
  h: DatabaseHarness;
  role: string;
  group: string;
  done(): Promise<void>;
}

/** A scratch database, a group role with SELECT on one table, and a harness configured for it. */
async function fixture(t: { after(fn: () => Promise<void>): void }): Promise<Fixture> {
  const db = await createScratchDatabase();
  const role = `r${uniqueSuffix(6)}`;
  const group = `coffer_grp_${uniqueSuffix(6)}`;
  await db.query(`CREATE TABLE items (id int); INSERT INTO items VALUES (1); CREATE ROLE "${group}" NOLOGIN; GRANT SELECT ON items TO "${group}"`);
  const h = createDatabaseHarness();
  const done = async (): Promise<void> => {
    await h.shutdown();
    await db.cleanup([`v-%-${role}-%`, group]);
  };
  t.after(done);
  await h.call('write', 'config/pg', {
    plugin_name: 'postgresql-database-plugin',
    connection_url: db.templateUrl.replace('{{username}}', MACHINE_PG.adminUser),
    username: MACHINE_PG.adminUser,
    password: ADMIN_PASSWORD,
    allowed_roles: `${role}, other-*`,
  });
  await h.call('write', `roles/${role}`, { db_name: 'pg', creation_statements: GROUP_CREATE(group), default_ttl: '1h', max_ttl: 7200 });
  return { db, h, role, group, done };
}

const activeSessions = async (db: ScratchDatabase): Promise<number> =>
  Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'coffer'`, [db.name]))[0]?.n);

/** A closed session leaves pg_stat_activity a moment after the client hangs up; poll briefly. */
async function sessionsDrainTo(db: ScratchDatabase, expected: number): Promise<number> {
  let n = await activeSessions(db);
  for (let i = 0; i < 50 && n !== expected; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    n = await activeSessions(db);
  }
  return n;
}

test('a config reads back without its password, and the URL password is masked', async (t) => {
  const { h, db } = await fixture(t);
  const read = await h.call('read', 'config/pg');
  const data = read?.data as Record<string, any>;
  assert.equal(data['plugin_name'], 'postgresql-database-plugin');
  assert.deepEqual(data['allowed_roles'].length, 2);
  assert.equal(data['verify_connection'], true);
  assert.equal(data['connection_details']['max_open_connections'], 4);
  assert.equal(data['connection_details']['username'], MACHINE_PG.adminUser);
  assert.ok(!JSON.stringify(read).includes(ADMIN_PASSWORD), 'the admin password never comes back');
  assert.ok(!('password' in data['connection_details']));

  const embedded = 'Emb3dded-pw-42';
  await h.call('write', 'config/pg', { connection_url: `postgresql://${MACHINE_PG.adminUser}:${embedded}@127.0.0.1:${MACHINE_PG.port}/${db.name}` });
  const again = await h.call('read', 'config/pg');
  assert.ok(!JSON.stringify(again).includes(embedded));
  assert.match((again?.data as any).connection_details.connection_url, /:\*{5}@127\.0\.0\.1/);
  assert.deepEqual((await h.call('list', 'config/'))?.data, { keys: ['pg'] });
  const stored = (await h.allKeys()).sort();
  assert.deepEqual(stored.map((k) => k.split('/').slice(2).join('/')), ['config/pg', `roles/${((await h.call('list', 'roles/'))?.data as { keys: string[] }).keys[0]}`]);
});

test('an unknown plugin is refused with the list of valid names, and nothing is stored', async () => {
  const h = createDatabaseHarness();
  const err = await h.fail('write', 'config/x', { plugin_name: 'oracle-database-plugin', connection_url: 'postgresql://a@b/c' });
  assert.equal(err.code, 'bad_request');
  assert.match(err.message, /postgresql-database-plugin/);
  assert.deepEqual(await h.allKeys(), []);
});

test('an unreachable database fails the write with its message, stores nothing, and never shows the password', async () => {
  const h = createDatabaseHarness();
  const port = await freePort();
  const secret = 'Unre4chable-Secret-pw';
  const err = await h.fail('write', 'config/down', {
    plugin_name: 'postgresql-database-plugin',
    connection_url: `postgresql://{{username}}:{{password}}@127.0.0.1:${port}/postgres`,
    username: 'admin', password: secret, allowed_roles: '*',
  });
  assert.equal(err.code, 'bad_request');
  assert.match(err.message, /ECONNREFUSED/);
  assert.ok(!err.message.includes(secret));
  assert.deepEqual(await h.allKeys(), []);

  assert.equal(await h.call('write', 'config/down', {
    plugin_name: 'postgresql-database-plugin', connection_url: `postgresql://{{username}}:{{password}}@127.0.0.1:${port}/postgres`,
    username: 'admin', password: secret, allowed_roles: '*', verify_connection: false,
  }), null, 'verify_connection=false stores without connecting');
  await h.call('write', 'roles/ro', { db_name: 'down', creation_statements: 'CREATE ROLE "{{name}}"' });
  const creds = await h.fail('read', 'creds/ro');
  assert.equal(creds.code, 'upstream');
  assert.ok(!creds.message.includes(secret));
  await h.shutdown();
});

test('a wrong admin password for a reachable server is refused at write time without echoing it', async (t) => {
  const { h, db } = await fixture(t);
  // Trust auth accepts any password, so use a role that does not exist to make the server refuse.
  const err = await h.fail('write', 'config/bad', {
    plugin_name: 'postgresql-database-plugin', connection_url: db.templateUrl,
    username: 'no_such_user_x', password: 'Never-Shown-99',
  });
  assert.equal(err.code, 'bad_request');
  assert.match(err.message, /no_such_user_x/);
  assert.ok(!err.message.includes('Never-Shown-99'));
});

test('roles store statements and TTLs, read TTLs back as seconds, and refuse a TTL above max_ttl', async (t) => {
  const { h, role, group } = await fixture(t);
  const data = (await h.call('read', `roles/${role}`))?.data as Record<string, unknown>;
  assert.deepEqual(data, {
    db_name: 'pg', creation_statements: GROUP_CREATE(group), revocation_statements: [], renew_statements: [],
    rollback_statements: [], default_ttl: 3600, max_ttl: 7200, credential_type: 'password',
  });
  const err = await h.fail('write', 'roles/bad', { db_name: 'pg', default_ttl: '3h', max_ttl: '1h' });
  assert.equal(err.message, 'ttl cannot be greater than max_ttl');
  assert.equal((await h.fail('write', 'roles/bad', { creation_statements: 'x' })).message, 'empty database name attribute');
  await h.call('write', `roles/${role}`, { max_ttl: '3h' });
  assert.equal(((await h.call('read', `roles/${role}`))?.data as any).default_ttl, 3600, 'an update keeps fields it does not name');
  const warned = await h.call('write', 'roles/per-table', { db_name: 'pg', creation_statements: ['CREATE ROLE "{{name}}" LOGIN;', 'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{{name}}";'] });
  assert.deepEqual(warned?.warnings, [PER_OBJECT_GRANT_WARNING]);
  await h.call('delete', 'roles/per-table');
  // A misspelt field is ignored with Vault's warning, naming the fields and never their values,
  // when the write answers something (a role write answers 204, as in Vault, and warns nowhere).
  const typo = await h.call('write', 'roles/typo', { db_name: 'pg', creation_statements: ['CREATE ROLE "{{name}}" LOGIN;', 'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{{name}}";'], max_tll: 'secret-ish' });
  assert.deepEqual(typo?.warnings, [PER_OBJECT_GRANT_WARNING, 'Endpoint ignored these unrecognized parameters: [max_tll]']);
  assert.equal(await h.call('write', 'roles/typo2', { db_name: 'pg', creation_statment: ['CREATE ROLE "{{name}}" LOGIN;'] }), null, 'a 204 stays a 204');
  await h.call('delete', 'roles/typo2');
  await h.call('delete', 'roles/typo');
  assert.equal((await h.fail('read', 'roles/per-table')).code, 'not_found');
});

test('creds issues a user that exists in the database with the requested validity', async (t) => {
  const { h, db, role, group } = await fixture(t);
  const { username, password, lease } = await h.creds(role, { displayName: 'approle' });
  assert.match(username, new RegExp(`^v-approle-${role}-[a-z0-9]{20}-\\d{10}$`));
  assert.match(password, /^[A-Za-z0-9-]{20}$/);
  assert.equal(lease.expireTime - lease.issueTime, 3600_000);
  assert.equal(lease.maxExpireTime - lease.issueTime, 7200_000);
  assert.deepEqual(lease.internal, { username, db_name: 'pg', role, revocation_statements: [], renew_statements: [] });
  const [row] = await db.query<{ rolcanlogin: boolean; valid: string; member: boolean }>(
    `SELECT rolcanlogin, rolvaliduntil AS valid, pg_has_role(oid, $2, 'MEMBER') AS member FROM pg_roles WHERE rolname = $1`, [username, group]);
  assert.equal(row?.rolcanlogin, true);
  assert.equal(row?.member, true);
  assert.equal(new Date(row?.valid as string).getTime(), Math.floor(lease.expireTime / 1000) * 1000);
  await h.revoke(lease);
  assert.deepEqual(await db.roles(username), []);
  await h.revoke(lease);
});

test('a role that is missing or not in allowed_roles gets a 400 and creates nothing', async (t) => {
  const { h, db, role, group } = await fixture(t);
  assert.equal((await h.fail('read', 'creds/nope')).message, 'unknown role: nope');
  await h.call('write', 'roles/sneaky', { db_name: 'pg', creation_statements: GROUP_CREATE(group) });
  const err = await h.fail('read', 'creds/sneaky');
  assert.equal(err.code, 'bad_request');
  assert.equal(err.message, '"sneaky" is not an allowed role');
  await h.call('write', 'roles/other-ok', { db_name: 'pg', creation_statements: GROUP_CREATE(group) });
  const ok = await h.creds('other-ok');
  await h.revoke(ok.lease);
  await h.call('write', 'config/pg', { allowed_roles: [] });
  assert.equal((await h.fail('read', `creds/${role}`)).message, `"${role}" is not an allowed role`, 'empty allowed_roles allows none');
  assert.deepEqual(await db.roles('v-%-sneaky-%'), []);
});

test('broken SQL fails with the database message, leaves no role behind, and never shows the password', async (t) => {
  const { h, db, role, group } = await fixture(t);
  await h.call('write', `roles/${role}`, {
    creation_statements: [
      ...GROUP_CREATE(group),
      `GRANT SELECT ON no_such_table TO "{{name}}";`,
    ],
  });
  const err = await h.fail('read', `creds/${role}`);
  assert.equal(err.code, 'bad_request');
  assert.match(err.message, /^failed to create user: relation "no_such_table" does not exist/);
  assert.deepEqual(await db.roles(`v-%-${role}-%`), [], 'the CREATE ROLE was rolled back');

  // An unquoted password: PostgreSQL quotes the token it choked on, the password's first run of
  // letters and digits (of random length). A run of 8 or more withholds the whole message; a
  // shorter one may show: a piece of a password the failed creation never set, too short to
  // probe for (plugin-secret-scrub.ts).
  await h.call('write', `roles/${role}`, { creation_statements: `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD {{password}} VALID UNTIL '{{expiration}}'` });
  const leaky = await h.fail('read', `creds/${role}`);
  assert.ok(leaky.message === `failed to create user: ${WITHHELD_MESSAGE}` || /^failed to create user: .* at or near "/.test(leaky.message), leaky.message);
  assert.doesNotMatch(leaky.message, /near "[A-Za-z0-9]{8,}/, 'no long piece of the password is echoed');
  assert.deepEqual(await db.roles(`v-%-${role}-%`), []);
});

test('rollback statements run after a failed creation', async (t) => {
  const { h, db, role, group } = await fixture(t);
  await db.query('CREATE TABLE audit_log (who text)');
  await h.call('write', `roles/${role}`, {
    creation_statements: [...GROUP_CREATE(group), 'SELECT 1/0'],
    rollback_statements: [`INSERT INTO audit_log VALUES ('rolled back {{name}}')`],
  });
  const err = await h.fail('read', `creds/${role}`);
  assert.match(err.message, /division by zero/);
  const rows = await db.query<{ who: string }>('SELECT who FROM audit_log');
  assert.equal(rows.length, 1);
  assert.match(rows[0]?.who ?? '', new RegExp(`^rolled back v-token-${role}-`));
});

test('a changed config reopens its pool, delete closes it, and reset reopens it', async (t) => {
  const { h, db, role } = await fixture(t);
  const first = await h.creds(role);
  assert.ok(await activeSessions(db) >= 1);
  await h.call('write', 'config/pg', { max_open_connections: 2 });
  assert.equal(((await h.call('read', 'config/pg'))?.data as any).connection_details.max_open_connections, 2);
  await h.call('write', 'reset/pg', {});
  const second = await h.creds(role);
  await h.revoke(first.lease);
  await h.revoke(second.lease);
  await h.call('delete', 'config/pg');
  assert.equal(await sessionsDrainTo(db, 0), 0, 'deleting the config closed its pool');
  const err = await h.fail('read', `creds/${role}`);
  assert.equal(err.message, 'database config "pg" not found');
  assert.deepEqual(await h.allKeys().then((keys) => keys.filter((k) => k.includes('config/'))), []);
});

test('revocation works from the lease snapshot after the role is deleted, with custom statements', async (t) => {
  const { h, db, role, group } = await fixture(t);
  await h.call('write', `roles/${role}`, { revocation_statements: ['REVOKE "' + group + '" FROM "{{name}}"; DROP ROLE "{{name}}";'] });
  const { username, lease } = await h.creds(role);
  await h.call('delete', `roles/${role}`);
  await h.revoke(lease);
  assert.deepEqual(await db.roles(username), []);
  await h.revoke(lease);
});

test('connect_timeout and statement_timeout read back as seconds, survive updates, and must be from 1s to 24h', async (t) => {
  const { h } = await fixture(t);
  const details = async (): Promise<Record<string, unknown>> => ((await h.call('read', 'config/pg'))?.data as any).connection_details;
  assert.equal((await details())['connect_timeout'], 10);
  assert.equal((await details())['statement_timeout'], 60);
  await h.call('write', 'config/pg', { connect_timeout: '5s', statement_timeout: '2m' });
  assert.equal((await details())['connect_timeout'], 5);
  assert.equal((await details())['statement_timeout'], 120);
  await h.call('write', 'config/pg', { max_open_connections: 3 });
  assert.equal((await details())['connect_timeout'], 5, 'an update keeps the timeouts it does not name');
  for (const [field, value] of [['connect_timeout', 0], ['statement_timeout', '0s'], ['connect_timeout', '25h'], ['statement_timeout', 'soon']] as const) {
    const err = await h.fail('write', 'config/pg', { [field]: value });
    assert.equal(err.code, 'bad_request');
    assert.match(err.message, new RegExp(`^invalid ${field}`));
  }
  assert.equal((await details())['statement_timeout'], 120, 'a refused write changes nothing');
});

test('a creation statement that runs past statement_timeout is cancelled by the server, fails as a 502, and leaves no role', async (t) => {
  const { h, db, role, group } = await fixture(t);
  await h.call('write', 'config/pg', { statement_timeout: '1s' });
  await h.call('write', `roles/${role}`, { creation_statements: [...GROUP_CREATE(group), 'SELECT pg_sleep(5)'] });
  const err = await h.fail('read', `creds/${role}`);
  assert.equal(err.code, 'upstream');
  assert.match(err.message, /^failed to create user: canceling statement due to statement timeout/);
  assert.deepEqual(await db.roles(`v-%-${role}-%`), []);
  await h.call('write', `roles/${role}`, { creation_statements: GROUP_CREATE(group) });
  const { lease } = await h.creds(role);
  await h.revoke(lease);
});

test('a Redis role whose ACL rules the plugin would refuse is refused when it is written, not at its first creds', async () => {
  const h = createDatabaseHarness();
  await h.call('write', 'config/rd', { plugin_name: 'redis-database-plugin', connection_url: 'redis://127.0.0.1:6379', verify_connection: false, allowed_roles: ['r'] });
  const err = await h.fail('write', 'roles/r', { db_name: 'rd', creation_statements: ['["~*","nopass"]'], default_ttl: '1h' });
  assert.equal(err.code, 'bad_request');
  assert.match(err.message, /nopass/);
  assert.equal(await h.call('read', 'roles/r').catch(() => undefined), undefined);
  assert.equal(await h.call('write', 'roles/r', { db_name: 'rd', creation_statements: ['["~app:*","+get"]'], default_ttl: '1h' }), null);
  await h.shutdown();
});

test('root_rotation_statements that would not set the new password are refused when written, and nothing is stored', async () => {
  const h = createDatabaseHarness();
  try {
    const base = {
      plugin_name: 'mysql-database-plugin',
      connection_url: '{{username}}:{{password}}@tcp(127.0.0.1:1)/',
      username: 'admin',
      password: ADMIN_PASSWORD,
      verify_connection: false,
    };
    const cases: Array<[string[], RegExp]> = [
      [[`ALTER USER '{{username}}'@'%' IDENTIFIED BY '{{Password}}'`], /root_rotation_statements contain "\{\{Password\}\}", which is not a placeholder/],
      [['SELECT 1'], /root_rotation_statements must set the new password with \{\{password\}\}/],
    ];
    for (const [statements, message] of cases) {
      const err = await h.fail('write', 'config/strict', { ...base, root_rotation_statements: statements });
      assert.equal(err.code, 'bad_request', JSON.stringify(statements));
      assert.match(err.message, message);
    }
    assert.deepEqual(await h.allKeys(), [], 'nothing stored');
    await h.call('write', 'config/strict', { ...base, root_rotation_statements: [`ALTER USER '{{username}}'@'%' IDENTIFIED BY '{{password}}'`] });
    assert.notDeepEqual(await h.allKeys(), []);
    // Redis ignores the statements (ACL SETUSER sets the password): nothing to check there.
    await h.call('write', 'config/redis', { plugin_name: 'redis-database-plugin', connection_url: 'redis://{{username}}:{{password}}@127.0.0.1:1', username: 'admin', password: ADMIN_PASSWORD, verify_connection: false, root_rotation_statements: ['ignored by redis'] });
  } finally {
    await h.shutdown();
  }
});

test("max_open_connections 0 means the default of 4, as in Vault; below 0 or above 1000 is refused", async () => {
  const h = createDatabaseHarness();
  try {
    const base = { plugin_name: 'mysql-database-plugin', connection_url: '{{username}}:{{password}}@tcp(127.0.0.1:1)/', username: 'admin', password: ADMIN_PASSWORD, verify_connection: false };
    await h.call('write', 'config/zero', { ...base, max_open_connections: 0 });
    const read = await h.call('read', 'config/zero');
    assert.equal((read?.data as any).connection_details.max_open_connections, 4);
    for (const bad of [-1, 1001]) assert.equal((await h.fail('write', 'config/zero', { ...base, max_open_connections: bad })).code, 'bad_request');
  } finally {
    await h.shutdown();
  }
});
