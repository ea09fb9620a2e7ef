/**
 * Tests: the Redis plugin, its rule parsing and URL parsing, and its behaviour against the
 * machine's Redis (127.0.0.1:6379, default user without a password). Every ACL user and key a
 * test makes carries a random suffix and is removed afterwards, even when the test fails.
 */
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../../test/helpers/pg-cluster.js';
import type { DatabasePlugin, NewUserRequest } from './plugin.js';
import { createRedisPlugin, parseAclRules, parseRedisConnectionUrl, redisConnectionUrl } from './plugin-redis.js';

const suffix = randomBytes(4).toString('hex');
const userPrefix = `t-${suffix}-`;
const keyPrefix = `coffer-test:${suffix}:`;
const ADMIN_URL = 'redis://127.0.0.1:6379';
let counter = 0;

let admin: Redis;
let plugin: DatabasePlugin;

const newName = (): string => `${userPrefix}${(counter += 1)}`;
const newPassword = (): string => `A1a-${randomBytes(12).toString('hex')}`;

function userRequest(username: string, password: string, creationStatements: readonly string[] = []): NewUserRequest {
  return { username, password, expiration: new Date(Date.now() + 3_600_000), creationStatements, rollbackStatements: [] };
}

/** Opens a connection as `username`; resolves to the client, or rejects with the AUTH error. */
async function connectAs(username: string, password: string): Promise<Redis> {
  const client = new Redis({ host: '127.0.0.1', port: 6379, username, password, lazyConnect: true, retryStrategy: () => null, enableReadyCheck: false });
  let authError: Error | undefined;
  client.on('error', (err: Error) => (authError = err));
  try {
    await client.connect();
    // AUTH is allowed to every user, unlike PING; its answer is the login's verdict.
    await client.call('AUTH', username, password);
    return client;
  } catch (err) {
    client.disconnect();
    throw authError ?? err;
  }
}

async function aclUserExists(username: string): Promise<boolean> {
  return (await admin.call('ACL', 'GETUSER', username)) !== null;
}

before(async () => {
  admin = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
  await admin.connect();
  await admin.set(`${keyPrefix}k`, 'value');
  plugin = createRedisPlugin();
  await plugin.initialize({ connectionUrl: ADMIN_URL, username: '', password: '', maxOpenConnections: 4, maxIdleTimeMs: 0 }, true);
});

after(async () => {
  await plugin?.close();
  if (!admin) return;
  const users = (await admin.call('ACL', 'USERS')) as string[];
  const ours = users.filter((u) => u.startsWith(userPrefix));
  if (ours.length > 0) await admin.call('ACL', 'DELUSER', ...ours);
  const keys = await admin.keys(`${keyPrefix}*`);
  if (keys.length > 0) await admin.del(...keys);
  admin.disconnect();
});

test('parses rules from JSON arrays and from space-separated strings, with a read-only default', () => {
  assert.deepEqual(parseAclRules([]), ['~*', '+@read']);
  assert.deepEqual(parseAclRules(['  ']), ['~*', '+@read']);
  assert.deepEqual(parseAclRules(['["~foo:*", "+get"]']), ['~foo:*', '+get']);
  assert.deepEqual(parseAclRules(['+@read', '~* &chan']), ['+@read', '~*', '&chan']);
  assert.deepEqual(parseAclRules(['["+@read"]', '-keys']), ['+@read', '-keys']);
});

test('rejects rules that would set, remove or waive a password, or hide a second rule', () => {
  const attempts = [
    '[">injected"]',
    '["<old"]',
    '["#5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"]',
    '["!5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"]',
    '["nopass"]',
    '["NoPass"]',
    '["resetpass"]',
    '["reset"]',
    '["+get >injected"]',
    '["+get\\n>injected"]',
    '["+get\\u0000"]',
    '+get >injected',
    'nopass',
    '[1, 2]',
    '{"rules": ["+get"]}',
    '[not json',
  ];
  for (const attempt of attempts) {
    assert.throws(
      () => parseAclRules([attempt]),
      (err: Error & { code?: string }) => err.code === 'bad_request' && !err.message.includes('injected'),
      attempt,
    );
  }
});

test('parses connection URLs, filling the credentials after parsing', () => {
  const creds = { username: 'admin', password: 'p@ss:w/rd' };
  assert.deepEqual(parseRedisConnectionUrl('redis://{{username}}:{{password}}@127.0.0.1:6379', creds), {
    host: '127.0.0.1',
    port: 6379,
    username: 'admin',
    password: 'p@ss:w/rd',
  });
  assert.deepEqual(parseRedisConnectionUrl('rediss://:{{password}}@[::1]/0?insecure_tls=true', creds), {
    host: '::1',
    port: 6379,
    username: '',
    password: 'p@ss:w/rd',
    tls: { rejectUnauthorized: false },
  });
  assert.deepEqual(parseRedisConnectionUrl('redis://cache.internal:7000', creds), { host: 'cache.internal', port: 7000, ...creds });
  for (const bad of ['http://h:1', 'not a url secretpw', 'redis://u:secretpw@h/x', 'redis://u:secretpw@h?tls=1', 'redis://u:secret%ZZpw@h']) {
    assert.throws(
      () => parseRedisConnectionUrl(bad, creds),
      (err: Error & { code?: string }) => err.code === 'bad_request' && !err.message.includes('secret'),
      bad,
    );
  }
});

test("builds a connection URL from Vault's host, port and tls fields", () => {
  assert.equal(redisConnectionUrl({ host: 'h', port: 6380 }), 'redis://{{username}}:{{password}}@h:6380');
  assert.equal(redisConnectionUrl({ host: '::1', port: 6379, tls: true, insecureTls: true }), 'rediss://{{username}}:{{password}}@[::1]:6379?insecure_tls=true');
});

test('a new user with the default rules can AUTH and GET, is refused SET, and a wrong password is refused', async () => {
  const name = newName();
  const password = newPassword();
  await plugin.newUser(userRequest(name, password));
  const client = await connectAs(name, password);
  try {
    assert.equal(await client.get(`${keyPrefix}k`), 'value');
    await assert.rejects(client.set(`${keyPrefix}k`, 'changed'), /NOPERM/);
  } finally {
    client.disconnect();
  }
  await assert.rejects(connectAs(name, `${password}x`), /WRONGPASS/);
});

test('a new user with custom rules can do exactly what they allow', async () => {
  const name = newName();
  const password = newPassword();
  await plugin.newUser(userRequest(name, password, [`["~${keyPrefix}app:*", "+get", "+set"]`]));
  const client = await connectAs(name, password);
  try {
    assert.equal(await client.set(`${keyPrefix}app:x`, '1'), 'OK');
    assert.equal(await client.get(`${keyPrefix}app:x`), '1');
    await assert.rejects(client.get(`${keyPrefix}k`), /NOPERM/, 'keys outside the pattern are refused');
    await assert.rejects(client.del(`${keyPrefix}app:x`), /NOPERM/, 'commands not granted are refused');
  } finally {
    client.disconnect();
  }
});

test('revoking deletes the user so AUTH fails, and revoking again succeeds', async () => {
  const name = newName();
  const password = newPassword();
  await plugin.newUser(userRequest(name, password));
  const open = await connectAs(name, password);
  await plugin.revokeUser({ username: name, revocationStatements: [] });
  assert.equal(await aclUserExists(name), false);
  await assert.rejects(connectAs(name, password), /WRONGPASS/);
  await assert.rejects(open.get(`${keyPrefix}k`), 'Redis closes the connections of a deleted user');
  open.disconnect();
  await plugin.revokeUser({ username: name, revocationStatements: [] });
});

test('rule injection attempts are refused and create no user', async () => {
  for (const rules of [['[">second-password"]'], ['+@all nopass'], ['["~*", "+@all", "#0000"]'], ['["+get resetpass"]']]) {
    const name = newName();
    await assert.rejects(plugin.newUser(userRequest(name, newPassword(), rules)), { code: 'bad_request' }, rules[0]);
    assert.equal(await aclUserExists(name), false, rules[0]);
  }
});

test('a rule Redis does not know fails the whole creation with its message and no user', async () => {
  const name = newName();
  const password = newPassword();
  const err = await plugin.newUser(userRequest(name, password, ['["~*", "+nosuchcommand"]'])).then(
    () => assert.fail('creation should fail'),
    (e: Error & { kind?: string; dbCode?: string }) => e,
  );
  assert.equal(err.kind, 'statement');
  assert.equal(err.dbCode, 'ERR');
  assert.match(err.message, /nosuchcommand/);
  assert.ok(!err.message.includes(password));
  assert.equal(await aclUserExists(name), false);
});

test('newUser refuses to overwrite an existing user, the default user included', async () => {
  const before = await admin.call('ACL', 'GETUSER', 'default');
  await assert.rejects(plugin.newUser(userRequest('default', newPassword(), ['["-@all"]'])), /already exists/);
  assert.deepEqual(await admin.call('ACL', 'GETUSER', 'default'), before);
});

test('refuses unsafe usernames and passwords before sending anything', async () => {
  for (const username of ['a b', 'x>y', '', 'name\n']) {
    await assert.rejects(plugin.newUser(userRequest(username, newPassword())), { code: 'bad_request' }, JSON.stringify(username));
    await assert.rejects(plugin.revokeUser({ username, revocationStatements: [] }), { code: 'bad_request' }, JSON.stringify(username));
  }
  const name = newName();
  await assert.rejects(plugin.newUser(userRequest(name, 'has space')), { code: 'bad_request' });
  await assert.rejects(plugin.newUser(userRequest(name, '')), { code: 'bad_request' });
  await assert.rejects(plugin.newUser(userRequest(`${userPrefix}${'x'.repeat(64)}`, newPassword())), /longer than the 64/);
  assert.equal(await aclUserExists(name), false);
});

test('setPassword changes the password: the old one is refused, the new one works', async () => {
  const name = newName();
  const oldPassword = newPassword();
  const newPass = newPassword();
  await plugin.newUser(userRequest(name, oldPassword));
  await plugin.setPassword({ username: name, password: newPass, statements: [] });
  await assert.rejects(connectAs(name, oldPassword), /WRONGPASS/);
  const client = await connectAs(name, newPass);
  assert.equal(await client.get(`${keyPrefix}k`), 'value', 'the permissions are kept');
  client.disconnect();
});

test('setPassword on a missing user fails and does not create it', async () => {
  const name = newName();
  await assert.rejects(plugin.setPassword({ username: name, password: newPassword(), statements: [] }), /does not exist/);
  assert.equal(await aclUserExists(name), false);
});

test('renew does nothing and succeeds', async () => {
  await plugin.renewUser({ username: newName(), expiration: new Date(), renewStatements: [] });
});

test('50 concurrent creations all succeed', async () => {
  const names = Array.from({ length: 50 }, () => newName());
  await Promise.all(names.map((name) => plugin.newUser(userRequest(name, newPassword()))));
  for (const name of names) assert.equal(await aclUserExists(name), true, name);
  await Promise.all(names.map((name) => plugin.revokeUser({ username: name, revocationStatements: [] })));
  for (const name of names) assert.equal(await aclUserExists(name), false, name);
});

test('a plugin reconnects after its connection is killed, and reports refused admin credentials without the password', async () => {
  const adminName = newName();
  const adminPassword = newPassword();
  await admin.call('ACL', 'SETUSER', adminName, 'on', `>${adminPassword}`, '~*', '+@all');
  const other = createRedisPlugin();
  try {
    await other.initialize({ connectionUrl: 'redis://{{username}}:{{password}}@127.0.0.1:6379', username: adminName, password: adminPassword, maxOpenConnections: 1, maxIdleTimeMs: 0 }, true);
    await admin.call('CLIENT', 'KILL', 'USER', adminName);
    const name = newName();
    await other.newUser(userRequest(name, newPassword()));
    assert.equal(await aclUserExists(name), true);

    // The admin password changes behind the plugin's back: the next connection is refused.
    await admin.call('ACL', 'SETUSER', adminName, 'resetpass', `>${newPassword()}`);
    await admin.call('CLIENT', 'KILL', 'USER', adminName);
    const err = await other.revokeUser({ username: name, revocationStatements: [] }).then(
      () => assert.fail('revocation should fail'),
      (e: Error & { kind?: string }) => e,
    );
    assert.equal(err.kind, 'connection', 'refused admin credentials are a connection failure, as with MySQL');
    assert.match(err.message, /WRONGPASS/);
    assert.ok(!err.message.includes(adminPassword));
  } finally {
    await other.close();
  }
});

test('verifying an unreachable server fails as a connection failure; without verify the first use does', async () => {
  const other = createRedisPlugin();
  const config = { connectionUrl: 'redis://127.0.0.1:1', username: '', password: '', maxOpenConnections: 1, maxIdleTimeMs: 0 };
  await assert.rejects(other.initialize(config, true), (e: Error & { kind?: string }) => e.kind === 'connection' && /ECONNREFUSED/.test(e.message));
  await assert.rejects(other.revokeUser({ username: newName(), revocationStatements: [] }), { kind: 'connection', message: /not initialized/ }, 'a failed verify leaves no client');
  await other.initialize(config, false);
  await assert.rejects(other.revokeUser({ username: newName(), revocationStatements: [] }), { kind: 'connection', message: /ECONNREFUSED/ });
  await other.close();
  await assert.rejects(other.revokeUser({ username: newName(), revocationStatements: [] }), { kind: 'connection', message: /not initialized/ }, 'a closed plugin refuses work');
});

test('concurrent creations of one name: one wins, the rest are refused, and the user keeps only the winner\'s password and rules', async () => {
  const name = newName();
  // Every creation waits for its lease's write, which is when the race used to open.
  const leaseStored = new Promise<void>((resolve) => setTimeout(resolve, 50));
  const attempts = [
    { password: newPassword(), rules: [`["~${keyPrefix}*", "+@read"]`] },
    { password: newPassword(), rules: ['["~*", "+@all"]'] },
    { password: newPassword(), rules: ['["~*", "+@all"]'] },
  ];
  const results = await Promise.allSettled(attempts.map((a) => plugin.newUser({ ...userRequest(name, a.password, a.rules), commitAfter: leaseStored })));
  const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
  assert.equal(won.length, 1, JSON.stringify(results.map((r) => r.status)));
  for (const r of results) if (r.status === 'rejected') assert.match(String(r.reason), /already exists/);
  const user = (await admin.call('ACL', 'GETUSER', name)) as unknown[];
  const passwords = user[user.indexOf('passwords') + 1] as string[];
  assert.equal(passwords.length, 1);
  const winner = attempts[won[0] as number] as { password: string };
  const client = await connectAs(name, winner.password);
  client.disconnect();
  for (const [i, a] of attempts.entries()) if (i !== won[0]) await assert.rejects(connectAs(name, a.password));
  await plugin.revokeUser({ username: name, revocationStatements: [] });
});

test('a password change is saved to the ACL file, so it survives a Redis restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'coffer-redis-acl-'));
  const aclFile = join(dir, 'users.acl');
  const adminName = `rv_admin_${suffix}`;
  const initial = newPassword();
  writeFileSync(aclFile, `user default off\nuser ${adminName} on >${initial} ~* &* +@all\n`);
  const port = await freePort();
  /** Starts a throwaway redis-server on the ACL file; resolves once `password` logs in (undefined if it never does). */
  const start = async (password: string): Promise<{ server: ChildProcess; loggedIn: boolean }> => {
    const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--aclfile', aclFile], { stdio: 'ignore' });
    for (let i = 0; i < 100; i += 1) {
      const probe = new Redis({ host: '127.0.0.1', port, username: adminName, password, lazyConnect: true, retryStrategy: () => null });
      probe.on('error', () => undefined);
      const up = await probe.connect().then(() => true, () => false);
      probe.disconnect();
      if (up) return { server, loggedIn: true };
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return { server, loggedIn: false };
  };
  let { server } = await start(initial);
  const local = createRedisPlugin();
  t.after(async () => {
    await local.close();
    server.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  await local.initialize({ connectionUrl: `redis://127.0.0.1:${port}`, username: adminName, password: initial, maxOpenConnections: 1, maxIdleTimeMs: 0 }, true);
  const rotated = newPassword();
  await local.setPassword({ username: adminName, password: rotated, statements: [] });
  assert.ok(!readFileSync(aclFile, 'utf8').includes(initial), 'the file no longer holds the old password');

  server.kill('SIGTERM');
  await new Promise((resolve) => server.once('exit', resolve));
  const restarted = await start(rotated);
  server = restarted.server;
  assert.ok(restarted.loggedIn, 'after the restart the new password logs in');

  // A dynamic user is in the file once anything saved it (the password change above saves every
  // user in memory); its revocation must reach the file too, or a restart brings it back.
  const local2 = createRedisPlugin();
  t.after(() => local2.close());
  await local2.initialize({ connectionUrl: `redis://127.0.0.1:${port}`, username: adminName, password: rotated, maxOpenConnections: 1, maxIdleTimeMs: 0 }, true);
  const dynamicName = `rv_dyn_${suffix}`;
  const dynamicPassword = newPassword();
  await local2.newUser({ username: dynamicName, password: dynamicPassword, expiration: new Date(Date.now() + 3_600_000), creationStatements: ['["~app:*","+get"]'], rollbackStatements: [] });
  await local2.setPassword({ username: adminName, password: rotated, statements: [] });
  assert.ok(readFileSync(aclFile, 'utf8').includes(dynamicName), 'saved with the others');
  await local2.revokeUser({ username: dynamicName, revocationStatements: [] });
  assert.ok(!readFileSync(aclFile, 'utf8').includes(dynamicName), 'the revocation is saved too');
});
