/**
 * Tests: the MySQL/MariaDB plugin against the machine's MariaDB (127.0.0.1:3306, root with an
 * empty password). Every test works in its own database and on users named with a random
 * suffix, and removes all of them afterwards, even when it fails.
 */
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import type { DatabasePlugin, NewUserRequest } from './plugin.js';
import { createMysqlPlugin } from './plugin-mysql.js';
import { WITHHELD_MESSAGE } from './plugin-secret-scrub.js';

const HOST = '127.0.0.1';
const PORT = 3306;
const suffix = randomBytes(4).toString('hex');
const database = `coffer_t_${suffix}`;
const ADMIN_URL = '{{username}}:{{password}}@tcp(127.0.0.1:3306)/';
let counter = 0;
/** MariaDB answers a login for a missing user with 1045 or 1698, so that users cannot be probed. */
const ACCESS_DENIED = /^ER_ACCESS_DENIED_(?:NO_PASSWORD_)?ERROR$/;

let admin: Connection;
let plugin: DatabasePlugin;

/** A unique username inside the 32-character limit. */
const newName = (): string => `t-${suffix}-${(counter += 1)}`;
/** Passwords in the alphabet of Vault's default policy, distinctive enough to search for. */
const newPassword = (): string => `A1a-${randomBytes(12).toString('hex')}`;

const CREATE_READER = [`CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}'; GRANT SELECT ON ${database}.* TO '{{name}}'@'%';`];

function userRequest(username: string, password: string, creationStatements = CREATE_READER): NewUserRequest {
  return { username, password, expiration: new Date(Date.now() + 3_600_000), creationStatements, rollbackStatements: [] };
}

async function userExists(username: string): Promise<boolean> {
  const [rows] = await admin.query<RowDataPacket[]>('SELECT 1 FROM mysql.user WHERE User = ?', [username]);
  return rows.length > 0;
}

async function connectAs(user: string, password: string): Promise<Connection> {
  return createConnection({ host: HOST, port: PORT, user, password, database });
}

async function loginFails(user: string, password: string): Promise<string> {
  const err = await connectAs(user, password).then(
    async (conn) => {
      await conn.end();
      return null;
    },
    (e: { code?: string }) => e.code ?? 'unknown',
  );
  assert.ok(err !== null, `login as ${user} should fail`);
  return err;
}

before(async () => {
  admin = await createConnection({ host: HOST, port: PORT, user: 'root', password: '' });
  await admin.query(`CREATE DATABASE \`${database}\``);
  await admin.query(`CREATE TABLE \`${database}\`.items (id INT PRIMARY KEY, note VARCHAR(100))`);
  await admin.query(`INSERT INTO \`${database}\`.items VALUES (1, 'one')`);
  plugin = createMysqlPlugin();
  await plugin.initialize({ connectionUrl: ADMIN_URL, username: 'root', password: '', maxOpenConnections: 4, maxIdleTimeMs: 0 }, true);
});

after(async () => {
  await plugin?.close();
  if (!admin) return;
  const [rows] = await admin.query<RowDataPacket[]>('SELECT User, Host FROM mysql.user WHERE User LIKE ?', [`t-${suffix}-%`]);
  for (const row of rows) await admin.query('DROP USER IF EXISTS ?@?', [row['User'], row['Host']]);
  await admin.query(`DROP DATABASE IF EXISTS \`${database}\``);
  await admin.end();
});

test('a new user can SELECT what its statements grant, cannot INSERT, and a wrong password is refused', async () => {
  const name = newName();
  const password = newPassword();
  await plugin.newUser(userRequest(name, password));
  const conn = await connectAs(name, password);
  try {
    const [rows] = await conn.query<RowDataPacket[]>('SELECT note FROM items WHERE id = 1');
    assert.equal(rows[0]?.['note'], 'one');
    await assert.rejects(conn.query("INSERT INTO items VALUES (2, 'two')"), { code: 'ER_TABLEACCESS_DENIED_ERROR' });
  } finally {
    await conn.end();
  }
  assert.match(await loginFails(name, `${password}x`), ACCESS_DENIED);
});

test('revoking removes the user so it can no longer log in, and revoking again succeeds', async () => {
  const name = newName();
  const password = newPassword();
  await plugin.newUser(userRequest(name, password));
  assert.equal(await userExists(name), true);
  await plugin.revokeUser({ username: name, revocationStatements: [] });
  assert.equal(await userExists(name), false);
  assert.match(await loginFails(name, password), ACCESS_DENIED);
  await plugin.revokeUser({ username: name, revocationStatements: [] });
});

test("Vault's own revocation statements become idempotent too", async () => {
  const name = newName();
  await plugin.newUser(userRequest(name, newPassword()));
  const vaultDefault = ["REVOKE ALL PRIVILEGES, GRANT OPTION FROM '{{name}}'@'%'; DROP USER '{{name}}'@'%'"];
  await plugin.revokeUser({ username: name, revocationStatements: vaultDefault });
  assert.equal(await userExists(name), false);
  await plugin.revokeUser({ username: name, revocationStatements: vaultDefault });
});

test('broken SQL in creation leaves no user behind, and the error has the database message without the password', async () => {
  const name = newName();
  const password = newPassword();
  // The database echoes the statement from where it broke, the whole password in it: masked in place.
  const broken = [`CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}'; GRANT SELECT ON ${database}.* TO '{{name}}'@'%' IDENTIFIED BI '{{password}}'`];
  const err = await plugin.newUser(userRequest(name, password, broken)).then(
    () => assert.fail('creation should fail'),
    (e: Error & { kind?: string }) => e,
  );
  assert.equal(err.kind, 'statement');
  assert.match(err.message, /^Error 1064 \(42000\): You have an error in your SQL syntax/);
  assert.match(err.message, /near 'BI '\[redacted\]'' at line 1$/, 'the message shows where the statement broke');
  assert.ok(!err.message.includes(password.slice(4, 12)), 'not even a piece of the password');
  assert.equal(await userExists(name), false);
});

test('an error whose echo cuts the password short is withheld whole, and leaves no user behind', async () => {
  const name = newName();
  const password = newPassword();
  // The echo ("near '%-.80s'") starts at ON and ends inside the password.
  const broken = [`CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}'; GRANT SELEKT ON ${database}.* TO '{{name}}'@'%' IDENTIFIED BY '{{password}}'`];
  const err = await plugin.newUser(userRequest(name, password, broken)).then(
    () => assert.fail('creation should fail'),
    (e: Error & { kind?: string }) => e,
  );
  assert.equal(err.kind, 'statement');
  assert.equal(err.message, WITHHELD_MESSAGE);
  assert.equal(await userExists(name), false);
});

test('a failed creation runs the rollback statements given instead of the default', async () => {
  const name = newName();
  const marker = `${database}.rollback_ran_${suffix}`;
  const request = {
    ...userRequest(name, newPassword(), [`CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}'; SELECT * FROM ${database}.no_such_table`]),
    rollbackStatements: [`DROP USER IF EXISTS '{{name}}'@'%'; CREATE TABLE ${marker} (id INT)`],
  };
  await assert.rejects(plugin.newUser(request), (e: Error & { kind?: string }) => e.kind === 'statement' && /no_such_table/.test(e.message));
  assert.equal(await userExists(name), false);
  const [rows] = await admin.query<RowDataPacket[]>('SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = ?', [
    database,
    `rollback_ran_${suffix}`,
  ]);
  assert.equal(rows.length, 1, 'the custom rollback statement ran');
});

test('data statements after the last DDL are rolled back when a later statement fails', async () => {
  const name = newName();
  const statements = [
    `CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}'; INSERT INTO ${database}.items VALUES (300, '{{name}}'); SELECT * FROM ${database}.no_such_table`,
  ];
  await assert.rejects(plugin.newUser(userRequest(name, newPassword(), statements)), { kind: 'statement' });
  assert.equal(await userExists(name), false, 'cleanup dropped the user that CREATE USER had committed');
  const [rows] = await admin.query<RowDataPacket[]>(`SELECT id FROM \`${database}\`.items WHERE id = 300`);
  assert.equal(rows.length, 0, 'the INSERT was rolled back, not autocommitted');
});

test('setPassword changes the password and the old one is refused', async () => {
  const name = newName();
  const oldPassword = newPassword();
  const newPass = newPassword();
  await plugin.newUser(userRequest(name, oldPassword));
  await plugin.setPassword({ username: name, password: newPass, statements: [] });
  assert.match(await loginFails(name, oldPassword), ACCESS_DENIED);
  const conn = await connectAs(name, newPass);
  await conn.end();
});

test('setPassword on a missing user fails without the password in the error', async () => {
  const password = newPassword();
  await assert.rejects(
    plugin.setPassword({ username: newName(), password, statements: [] }),
    (e: Error & { kind?: string }) => e.kind === 'statement' && /ALTER USER failed/.test(e.message) && !e.message.includes(password),
  );
});

test('renew is a no-op by default and runs renew statements with the new expiration', async () => {
  const name = newName();
  await plugin.renewUser({ username: name, expiration: new Date(), renewStatements: [] });
  await plugin.renewUser({
    username: name,
    expiration: new Date('2031-05-06T07:08:09Z'),
    renewStatements: [`INSERT INTO ${database}.items VALUES (200, '{{name}} {{expiration}}')`],
  });
  const [rows] = await admin.query<RowDataPacket[]>(`SELECT note FROM \`${database}\`.items WHERE id = 200`);
  assert.equal(rows[0]?.['note'], `${name} 2031-05-06 07:08:09+0000`);
  await admin.query(`DELETE FROM \`${database}\`.items WHERE id = 200`);
});

test('refuses unsafe usernames and passwords, and empty creation statements, before touching the database', async () => {
  const injections = ["x'@'%'; DROP DATABASE mysql; --", 'a b', "o'brien", 'back\\slash', ''];
  for (const username of injections) {
    await assert.rejects(plugin.newUser(userRequest(username, newPassword())), { code: 'bad_request' }, username);
    await assert.rejects(plugin.revokeUser({ username, revocationStatements: [] }), { code: 'bad_request' }, username);
  }
  const name = newName();
  for (const password of ["pw' OR '1", 'pw\\', 'pw with space', '']) {
    const err = await plugin.newUser(userRequest(name, password)).then(
      () => assert.fail('should be refused'),
      (e: Error & { code?: string }) => e,
    );
    assert.equal(err.code, 'bad_request');
    if (password !== '') assert.ok(!err.message.includes(password));
  }
  await assert.rejects(plugin.newUser(userRequest(name, newPassword(), [])), /needs creation statements/);
  await assert.rejects(plugin.newUser(userRequest(name, newPassword(), ['  ; -- nothing\n'])), /needs creation statements/);
  await assert.rejects(plugin.newUser(userRequest('t-this-name-is-longer-than-32-chars', newPassword())), /longer than the 32/);
  assert.equal(await userExists(name), false);
});

test('50 concurrent creations through a pool of 4 all succeed', async () => {
  const names = Array.from({ length: 50 }, () => newName());
  await Promise.all(names.map((name) => plugin.newUser(userRequest(name, newPassword()))));
  for (const name of names) assert.equal(await userExists(name), true, name);
  await Promise.all(names.map((name) => plugin.revokeUser({ username: name, revocationStatements: [] })));
  for (const name of names) assert.equal(await userExists(name), false, name);
});

test('accepts a mysql:// connection URL', async () => {
  const other = createMysqlPlugin();
  try {
    await other.initialize({ connectionUrl: 'mysql://{{username}}:{{password}}@127.0.0.1:3306/', username: 'root', password: '', maxOpenConnections: 1, maxIdleTimeMs: 1000 }, true);
    const name = newName();
    await other.newUser(userRequest(name, newPassword()));
    assert.equal(await userExists(name), true);
    await other.revokeUser({ username: name, revocationStatements: [] });
  } finally {
    await other.close();
  }
});

test('verifying a connection with a wrong admin password fails with the database message, without the password', async () => {
  const other = createMysqlPlugin();
  const wrong = newPassword();
  await assert.rejects(
    other.initialize({ connectionUrl: ADMIN_URL, username: 'root', password: wrong, maxOpenConnections: 1, maxIdleTimeMs: 0 }, true),
    // A refused login is a 'connection' failure, which the engine reports as a 400 while verifying.
    (e: Error & { kind?: string }) => e.kind === 'connection' && /Access denied/.test(e.message) && !e.message.includes(wrong),
  );
  await assert.rejects(other.newUser(userRequest(newName(), newPassword())), { kind: 'connection', message: /not initialized/ }, 'a failed verify leaves no pool');
  await other.close();
});

test('an unreachable database is a connection failure, and a plugin without verify reports it on first use', async () => {
  const other = createMysqlPlugin();
  const config = { connectionUrl: '{{username}}:{{password}}@tcp(127.0.0.1:1)/', username: 'root', password: '', maxOpenConnections: 1, maxIdleTimeMs: 0 };
  await assert.rejects(other.initialize(config, true), (e: Error & { kind?: string }) => e.kind === 'connection' && /ECONNREFUSED/.test(e.message));
  await other.initialize(config, false);
  const name = newName();
  await assert.rejects(other.newUser(userRequest(name, newPassword())), { kind: 'connection' });
  await assert.rejects(other.revokeUser({ username: name, revocationStatements: [] }), { kind: 'connection' });
  await other.close();
});

test('a pooled connection the server has closed is replaced without failing the next call', async () => {
  const other = createMysqlPlugin();
  try {
    await other.initialize({ connectionUrl: ADMIN_URL, username: 'root', password: '', maxOpenConnections: 1, maxIdleTimeMs: 0 }, false);
    // The plugin records its own connection's id, so the test kills that one and no other.
    await other.renewUser({
      username: newName(),
      expiration: new Date(),
      renewStatements: [`INSERT INTO ${database}.items VALUES (400, CONNECTION_ID())`],
    });
    const [rows] = await admin.query<RowDataPacket[]>(`SELECT note FROM \`${database}\`.items WHERE id = 400`);
    const id = Number(rows[0]?.['note']);
    assert.ok(id > 0);
    await admin.query('KILL CONNECTION ?', [id]);
    const name = newName();
    await other.newUser(userRequest(name, newPassword()));
    assert.equal(await userExists(name), true);
    await other.revokeUser({ username: name, revocationStatements: [] });
  } finally {
    await other.close();
    await admin.query(`DELETE FROM \`${database}\`.items WHERE id = 400`);
  }
});

test('a pooled connection that reached max_connection_lifetime is replaced before its next use', async () => {
  let clock = 1_000_000;
  const other = createMysqlPlugin({ now: () => clock });
  const connectionIds: number[] = [];
  const recordConnection = async (id: number): Promise<void> => {
    await other.renewUser({ username: newName(), expiration: new Date(), renewStatements: [`INSERT INTO ${database}.items VALUES (${id}, CONNECTION_ID())`] });
    const [rows] = await admin.query<RowDataPacket[]>(`SELECT note FROM \`${database}\`.items WHERE id = ?`, [id]);
    connectionIds.push(Number(rows[0]?.['note']));
  };
  try {
    const config = { connectionUrl: ADMIN_URL, username: 'root', password: '', maxOpenConnections: 1, maxIdleTimeMs: 0, maxConnectionLifetimeSeconds: 60 };
    await other.initialize(config, false);
    await recordConnection(501);
    clock += 59_000;
    await recordConnection(502);
    clock += 1_000;
    await recordConnection(503);
    await recordConnection(504);
    const [first, young, replaced, reused] = connectionIds;
    assert.equal(young, first, 'a connection younger than the lifetime is reused');
    assert.notEqual(replaced, first, 'the connection that reached its lifetime was not used again');
    assert.equal(reused, replaced, 'its replacement is pooled in turn');
  } finally {
    await other.close();
    await admin.query(`DELETE FROM \`${database}\`.items WHERE id BETWEEN 501 AND 504`);
  }
});

test('a closed plugin refuses work', async () => {
  const other = createMysqlPlugin();
  await other.initialize({ connectionUrl: ADMIN_URL, username: 'root', password: '', maxOpenConnections: 1, maxIdleTimeMs: 0 }, false);
  await other.close();
  await assert.rejects(other.revokeUser({ username: newName(), revocationStatements: [] }), { kind: 'connection', message: /not initialized/ });
});

/** Every host at which an account with this name exists, sorted. */
async function userHosts(username: string): Promise<string[]> {
  const [rows] = await admin.query<RowDataPacket[]>('SELECT Host FROM mysql.user WHERE User = ? ORDER BY Host', [username]);
  return rows.map((row) => String(row['Host']));
}

/** Creation statements that make the account at one named host instead of '%'. */
const createAt = (host: string): string[] => [
  `CREATE USER '{{name}}'@'${host}' IDENTIFIED BY '{{password}}'; GRANT SELECT ON ${database}.* TO '{{name}}'@'${host}';`,
];

test("default revocation drops a user that creation statements made at 'localhost'", async () => {
  const name = newName();
  await plugin.newUser(userRequest(name, newPassword(), createAt('localhost')));
  assert.deepEqual(await userHosts(name), ['localhost']);
  await plugin.revokeUser({ username: name, revocationStatements: [] });
  assert.deepEqual(await userHosts(name), []);
  await plugin.revokeUser({ username: name, revocationStatements: [] });
});

test('default revocation drops the account at every host, and one that could log in no longer can', async () => {
  const name = newName();
  const password = newPassword();
  // The server skips name resolution, so a TCP login from 127.0.0.1 matches the '127.0.0.1' account.
  const statements = [...createAt('127.0.0.1'), ...createAt('localhost'), ...CREATE_READER];
  await plugin.newUser(userRequest(name, password, statements));
  assert.deepEqual(await userHosts(name), ['%', '127.0.0.1', 'localhost']);
  const conn = await connectAs(name, password);
  await conn.end();
  await plugin.revokeUser({ username: name, revocationStatements: [] });
  assert.deepEqual(await userHosts(name), []);
  assert.match(await loginFails(name, password), ACCESS_DENIED);
});

test("Vault's revocation statements, which drop only '%', fail for a 'localhost' user, and keep failing until it is gone", async () => {
  const name = newName();
  const password = newPassword();
  await plugin.newUser(userRequest(name, password, createAt('localhost')));
  // "No such user" at '%' is let pass (revocation must be idempotent), so the plugin checks the
  // other hosts then. (A statement that cannot fail, such as DROP USER IF EXISTS, is not checked.)
  const vaultDefault = ["REVOKE ALL PRIVILEGES, GRANT OPTION FROM '{{name}}'@'%'; DROP USER '{{name}}'@'%'"];
  try {
    for (const revocationStatements of [vaultDefault, vaultDefault]) {
      const err = await plugin.revokeUser({ username: name, revocationStatements }).then(
        () => assert.fail('revocation should fail while the user exists'),
        (e: Error & { kind?: string }) => e,
      );
      assert.equal(err.kind, 'statement');
      assert.match(err.message, new RegExp(`^user "${name}" still exists at host\\(s\\) 'localhost' after revocation; the revocation statements must drop it there$`));
      assert.deepEqual(await userHosts(name), ['localhost']);
    }
    await plugin.revokeUser({ username: name, revocationStatements: ["DROP USER '{{name}}'@'localhost'"] });
    assert.deepEqual(await userHosts(name), []);
  } finally {
    await admin.query('DROP USER IF EXISTS ?@?', [name, 'localhost']);
  }
});

test("the '%' user is still revoked by default and by custom statements, and revoking a dropped user succeeds", async () => {
  const name = newName();
  const password = newPassword();
  await plugin.newUser(userRequest(name, password));
  await plugin.revokeUser({ username: name, revocationStatements: [] });
  assert.deepEqual(await userHosts(name), []);
  assert.match(await loginFails(name, password), ACCESS_DENIED);
  await plugin.revokeUser({ username: name, revocationStatements: [] });
  // A custom DROP USER without IF EXISTS meets 1396, which is tolerated since nothing is left.
  await plugin.revokeUser({ username: name, revocationStatements: ["DROP USER '{{name}}'@'%'"] });
});

test("a failed creation at 'localhost' is rolled back by the default rollback", async () => {
  const name = newName();
  const statements = [`${createAt('localhost')[0]} SELECT * FROM ${database}.no_such_table`];
  await assert.rejects(plugin.newUser(userRequest(name, newPassword(), statements)), (e: Error & { kind?: string }) => {
    return e.kind === 'statement' && /no_such_table/.test(e.message) && !/cleanup failed/.test(e.message);
  });
  assert.deepEqual(await userHosts(name), []);
});

test("custom rollback statements that miss the host are reported as a failed cleanup", async () => {
  const name = newName();
  const request = {
    ...userRequest(name, newPassword(), [`${createAt('localhost')[0]} SELECT * FROM ${database}.no_such_table`]),
    rollbackStatements: ["DROP USER IF EXISTS '{{name}}'@'%'"],
  };
  try {
    await assert.rejects(plugin.newUser(request), { kind: 'statement', message: new RegExp(`cleanup failed as well, so user "${name}" may remain`), outcomeUnknown: true });
    assert.deepEqual(await userHosts(name), ['localhost']);
  } finally {
    await admin.query('DROP USER IF EXISTS ?@?', [name, 'localhost']);
  }
});

/**
 * Creates an admin that may create users and, with `grantOn`, grant SELECT on the test database,
 * but may not read mysql.user (least privilege as many operators run it).
 */
async function createLimitedAdmin(name: string, password: string, grantOn = false): Promise<void> {
  await admin.query('CREATE USER ?@? IDENTIFIED BY ?', [name, '%', password]);
  await admin.query('GRANT CREATE USER ON *.* TO ?@?', [name, '%']);
  if (grantOn) await admin.query(`GRANT SELECT ON \`${database}\`.* TO ?@? WITH GRANT OPTION`, [name, '%']);
}

test("an admin that may not read mysql.user revokes at '%' as Vault does, and a user it cannot find there is a failed revocation, not a success", async () => {
  const adminName = newName();
  const adminPass = newPassword();
  await createLimitedAdmin(adminName, adminPass);
  const limited = createMysqlPlugin();
  const atPercent = newName();
  const atLocalhost = newName();
  const cannotFind = (name: string) => ({ kind: 'statement', message: new RegExp(`user "${name}" does not exist at host '%', and this admin may not read mysql.user`) });
  try {
    await limited.initialize({ connectionUrl: ADMIN_URL, username: adminName, password: adminPass, maxOpenConnections: 1, maxIdleTimeMs: 0 }, true);
    await admin.query(`CREATE USER ?@? IDENTIFIED BY ?`, [atPercent, '%', newPassword()]);
    await limited.revokeUser({ username: atPercent, revocationStatements: [] });
    assert.deepEqual(await userHosts(atPercent), []);
    // Without mysql.user the plugin cannot tell a user already gone from one at another host:
    // the revocation fails (the lease is kept, retried, and shows this), never passes.
    await admin.query(`CREATE USER ?@? IDENTIFIED BY ?`, [atLocalhost, 'localhost', newPassword()]);
    await assert.rejects(limited.revokeUser({ username: atLocalhost, revocationStatements: [] }), cannotFind(atLocalhost));
    assert.deepEqual(await userHosts(atLocalhost), ['localhost'], 'still there, and said so');
    await assert.rejects(limited.revokeUser({ username: atPercent, revocationStatements: [] }), cannotFind(atPercent));
  } finally {
    await limited.close();
    await admin.query('DROP USER IF EXISTS ?@?', [atLocalhost, 'localhost']);
    await admin.query('DROP USER IF EXISTS ?@?', [atPercent, '%']);
    await admin.query('DROP USER IF EXISTS ?@?', [adminName, '%']);
  }
});

test('an admin that may not read mysql.user never drops an account it did not create, and reports a creation it could not undo', async () => {
  const adminName = newName();
  const adminPass = newPassword();
  await createLimitedAdmin(adminName, adminPass, true);
  const limited = createMysqlPlugin();
  const someoneElses = newName();
  const atLocalhost = newName();
  try {
    await limited.initialize({ connectionUrl: ADMIN_URL, username: adminName, password: adminPass, maxOpenConnections: 1, maxIdleTimeMs: 0 }, true);
    // A name that is taken (a fixed username_template): CREATE USER is refused, and the account
    // that was there stays.
    await admin.query(`CREATE USER ?@? IDENTIFIED BY ?`, [someoneElses, '%', newPassword()]);
    await assert.rejects(limited.newUser(userRequest(someoneElses, newPassword())), { kind: 'statement', message: /Operation CREATE USER failed/ });
    assert.deepEqual(await userHosts(someoneElses), ['%'], 'not dropped by a cleanup');
    // Not even behind a statement that succeeded first.
    const behindSet = userRequest(someoneElses, newPassword(), [`SET @coffer_marker = 1; ${CREATE_READER[0]}`]);
    await assert.rejects(limited.newUser(behindSet), { kind: 'statement', message: /Operation CREATE USER failed/ });
    assert.deepEqual(await userHosts(someoneElses), ['%'], 'not dropped by a cleanup either');
    // Created at 'localhost', then a GRANT the admin may not give: the default cleanup cannot
    // find the user at '%', so the outcome is reported unknown (the lease that follows is kept
    // and its revocation says why) instead of a clean failure with the user left behind.
    const request = userRequest(atLocalhost, newPassword(), [`CREATE USER '{{name}}'@'localhost' IDENTIFIED BY '{{password}}'; GRANT INSERT ON mysql.* TO '{{name}}'@'localhost';`]);
    await assert.rejects(limited.newUser(request), { kind: 'statement', message: new RegExp(`cleanup failed as well, so user "${atLocalhost}" may remain`), outcomeUnknown: true });
    assert.deepEqual(await userHosts(atLocalhost), ['localhost']);
  } finally {
    await limited.close();
    await admin.query('DROP USER IF EXISTS ?@?', [atLocalhost, 'localhost']);
    await admin.query('DROP USER IF EXISTS ?@?', [someoneElses, '%']);
    await admin.query('DROP USER IF EXISTS ?@?', [adminName, '%']);
  }
});

test('custom revocation statements that lock the account instead of dropping it are the operator\'s choice, as in Vault', async () => {
  const name = newName();
  const password = newPassword();
  await plugin.newUser(userRequest(name, password, CREATE_READER));
  try {
    await plugin.revokeUser({
      username: name,
      revocationStatements: ["REVOKE ALL PRIVILEGES, GRANT OPTION FROM '{{name}}'@'%'", "ALTER USER '{{name}}'@'%' ACCOUNT LOCK"],
    });
    assert.deepEqual(await userHosts(name), ['%'], 'the locked account stays, as its statements say');
    assert.ok(await loginFails(name, password));
    // Run again (a retry after a lost connection): "no such grant" now, which says nothing
    // about the account, so it is not checked for.
    await plugin.revokeUser({
      username: name,
      revocationStatements: [`REVOKE SELECT ON ${database}.* FROM '{{name}}'@'%'`, "ALTER USER '{{name}}'@'%' ACCOUNT LOCK"],
    });
  } finally {
    await admin.query('DROP USER IF EXISTS ?@?', [name, '%']);
  }
});

test('a name that already exists is refused before anything runs, and the existing accounts are left alone', async () => {
  const name = newName();
  const theirs = newPassword();
  await admin.query(`CREATE USER '${name}'@'localhost' IDENTIFIED BY '${theirs}'`);
  await admin.query(`CREATE USER '${name}'@'10.0.0.1' IDENTIFIED BY '${theirs}'`);
  try {
    await assert.rejects(plugin.newUser(userRequest(name, newPassword())), (e: Error & { code?: string }) => e.code === 'bad_request' && /already exists/.test(e.message));
    const [rows] = await admin.query<RowDataPacket[]>('SELECT Host FROM mysql.user WHERE User = ? ORDER BY Host', [name]);
    assert.deepEqual(rows.map((r) => String(r['Host'])), ['10.0.0.1', 'localhost']);
  } finally {
    await admin.query(`DROP USER IF EXISTS '${name}'@'localhost', '${name}'@'10.0.0.1'`);
  }
});

test('placeholders with spaces inside the braces name the generated user, as in the PostgreSQL plugin', async () => {
  const name = newName();
  const password = newPassword();
  const spaced = [`CREATE USER '{{ name }}'@'%' IDENTIFIED BY '{{ password }}'; GRANT SELECT ON ${database}.* TO '{{ username }}'@'%';`];
  try {
    await plugin.newUser(userRequest(name, password, spaced));
    assert.deepEqual(await userHosts(name), ['%']);
    assert.equal(await userExists('{{ name }}'), false, 'no user named after its placeholder');
    const conn = await connectAs(name, password);
    await conn.end();
    await plugin.revokeUser({ username: name, revocationStatements: ["DROP USER IF EXISTS '{{ name }}'@'%'"] });
    assert.deepEqual(await userHosts(name), []);
  } finally {
    await admin.query('DROP USER IF EXISTS ?@?', [name, '%']);
    await admin.query("DROP USER IF EXISTS '{{ name }}'@'%'");
  }
});

test('creation statements with a placeholder the grammar does not know are refused before anything runs', async () => {
  const name = newName();
  const guessable = [`CREATE USER '{{Name}}'@'%' IDENTIFIED BY '{{password}}'`];
  try {
    await assert.rejects(plugin.newUser(userRequest(name, newPassword(), guessable)), (e: Error & { code?: string }) => e.code === 'bad_request' && /"\{\{Name\}\}", which is not a placeholder/.test(e.message));
    await assert.rejects(plugin.newUser(userRequest(name, newPassword(), ['SELECT 1'])), (e: Error & { code?: string }) => e.code === 'bad_request' && /must name the new user/.test(e.message));
    assert.equal(await userExists('{{Name}}'), false);
  } finally {
    await admin.query("DROP USER IF EXISTS '{{Name}}'@'%'");
  }
});

test('access denied to a database is a statement error when a statement meets it, and a connection error when connecting does', async () => {
  const adminName = newName();
  const adminPass = newPassword();
  const other = `${database}_other`;
  await admin.query(`CREATE DATABASE \`${other}\``);
  await createLimitedAdmin(adminName, adminPass, true);
  const limited = createMysqlPlugin();
  const unreachableDb = createMysqlPlugin();
  const name = newName();
  try {
    await limited.initialize({ connectionUrl: ADMIN_URL, username: adminName, password: adminPass, maxOpenConnections: 1, maxIdleTimeMs: 0 }, true);
    const grantElsewhere = [`CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}'; GRANT SELECT ON \`${other}\`.* TO '{{name}}'@'%';`];
    await assert.rejects(limited.newUser(userRequest(name, newPassword(), grantElsewhere)), (e: Error & { kind?: string }) => e.kind === 'statement' && /^Error 1044 /.test(e.message));
    assert.equal(await userExists(name), false, 'and the cleanup dropped the user');
    const toOther = `{{username}}:{{password}}@tcp(127.0.0.1:3306)/${other}`;
    await unreachableDb.initialize({ connectionUrl: toOther, username: adminName, password: adminPass, maxOpenConnections: 1, maxIdleTimeMs: 0 }, false);
    await assert.rejects(unreachableDb.newUser(userRequest(newName(), newPassword())), (e: Error & { kind?: string }) => e.kind === 'connection' && /1044/.test(e.message));
  } finally {
    await limited.close();
    await unreachableDb.close();
    await admin.query('DROP USER IF EXISTS ?@?', [name, '%']);
    await admin.query('DROP USER IF EXISTS ?@?', [adminName, '%']);
    await admin.query(`DROP DATABASE IF EXISTS \`${other}\``);
  }
});

test("concurrent creations of one name: one wins, the rest are refused, and no loser's cleanup drops the winner's account", async () => {
  const name = newName();
  // Every creation waits for its lease's write, which is when the race used to open.
  const leaseStored = new Promise<void>((resolve) => setTimeout(resolve, 50));
  const passwords = [newPassword(), newPassword(), newPassword()];
  const results = await Promise.allSettled(passwords.map((password) => plugin.newUser({ ...userRequest(name, password), commitAfter: leaseStored })));
  const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
  assert.equal(won.length, 1, JSON.stringify(results.map((r) => (r.status === 'rejected' ? String(r.reason) : 'ok'))));
  for (const r of results) if (r.status === 'rejected') assert.match(String(r.reason), /already exists/);
  assert.equal(await userExists(name), true);
  const conn = await connectAs(name, passwords[won[0] as number] as string);
  await conn.end();
  await plugin.revokeUser({ username: name, revocationStatements: [] });
});

test('a revocation refused for a missing privilege succeeds once the privilege is given back, on a fresh session', async () => {
  const adminName = newName();
  const adminPass = newPassword();
  await admin.query('CREATE USER ?@? IDENTIFIED BY ?', [adminName, '%', adminPass]);
  await admin.query('GRANT SELECT ON mysql.user TO ?@?', [adminName, '%']);
  const limited = createMysqlPlugin();
  const victim = newName();
  try {
    // One pooled session: a retry on the refused one would never see the grant given back.
    await limited.initialize({ connectionUrl: ADMIN_URL, username: adminName, password: adminPass, maxOpenConnections: 1, maxIdleTimeMs: 0 }, true);
    await admin.query('CREATE USER ?@? IDENTIFIED BY ?', [victim, '%', newPassword()]);
    await assert.rejects(limited.revokeUser({ username: victim, revocationStatements: [] }), /CREATE USER/);
    await admin.query('GRANT CREATE USER ON *.* TO ?@?', [adminName, '%']);
    await limited.revokeUser({ username: victim, revocationStatements: [] });
    assert.equal(await userExists(victim), false);
  } finally {
    await limited.close();
    await admin.query('DROP USER IF EXISTS ?@?', [victim, '%']);
    await admin.query('DROP USER IF EXISTS ?@?', [adminName, '%']);
  }
});

test('revocation ends the sessions the user still has open, which DROP USER alone leaves working', async () => {
  const username = newName();
  const password = newPassword();
  await plugin.newUser(userRequest(username, password));
  const session = await connectAs(username, password);
  session.on('error', () => undefined);
  try {
    await session.query('SELECT * FROM items');
    await plugin.revokeUser({ username, revocationStatements: [] });
    assert.equal(await userExists(username), false);
    await assert.rejects(session.query('SELECT * FROM items'), 'the open session no longer works');
  } finally {
    session.destroy();
  }
});
