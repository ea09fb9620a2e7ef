/**
 * The static-roles API (fields, validation, views, delete) and scheduled rotation on the
 * engine's clock, with the stand-in database of rotation-test-kit.ts.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { configure, createRotationKit, rotationsOf, staticCreds, type RotationKit } from './rotation-test-kit.js';

const BASE = { db_name: 'fake', username: 'app_a', alternate_username: 'app_b', rotation_period: '1h' };

async function kitWithConfig(): Promise<RotationKit> {
  const kit = createRotationKit();
  await configure(kit);
  return kit;
}

test('a static role reads back with Vault\'s fields and Coffer\'s dual-mode fields', async () => {
  const kit = await kitWithConfig();
  await kit.h.call('write', 'static-roles/app', { ...BASE, rotation_statements: ["ALTER USER \"{{name}}\" WITH PASSWORD '{{password}}'"] });
  const data = (await kit.h.call('read', 'static-roles/app'))?.data as Record<string, unknown>;
  assert.deepEqual(data, {
    db_name: 'fake',
    username: 'app_a',
    alternate_username: 'app_b',
    credential_type: 'password',
    credential_config: {},
    rotation_statements: ["ALTER USER \"{{name}}\" WITH PASSWORD '{{password}}'"],
    rotation_period: 3600,
    rotation_policy: { verify_timeout: 60, on_timeout: 'revoke' },
    last_vault_rotation: '2026-01-01T12:00:00.000000000Z',
    version: 1,
  });
  assert.deepEqual((await kit.h.call('list', 'static-roles/'))?.data, { keys: ['app'] });
  const listed = (await kit.h.call('list', 'rotations/'))?.data as Record<string, any>;
  assert.deepEqual(listed.keys, ['app']);
  assert.equal(listed.key_info.app.status, 'completed');
  assert.equal(listed.key_info.app.version, 1);
});

test('rotation_policy is accepted nested, as a JSON string, or as top-level fields, and updates keep what is not given', async () => {
  const kit = await kitWithConfig();
  await kit.h.call('write', 'static-roles/app', { ...BASE, rotation_policy: '{"verify_timeout":"2m","on_timeout":"hold"}' });
  const policy = async (): Promise<unknown> => ((await kit.h.call('read', 'static-roles/app'))?.data as Record<string, unknown>)['rotation_policy'];
  assert.deepEqual(await policy(), { verify_timeout: 120, on_timeout: 'hold' });
  await kit.h.call('write', 'static-roles/app', { verify_timeout: 5 });
  assert.deepEqual(await policy(), { verify_timeout: 5, on_timeout: 'hold' });
  await kit.h.call('write', 'static-roles/app', { rotation_policy: { on_timeout: 'revoke' } });
  assert.deepEqual(await policy(), { verify_timeout: 5, on_timeout: 'revoke' });
});

test('refuses invalid static roles with a message naming the field', async () => {
  const kit = await kitWithConfig();
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ ...BASE, rotation_schedule: '0 * * * *' }, /mutually exclusive/],
    [{ ...BASE, rotation_window: '2h' }, /rotation_window is invalid with use of rotation_period/],
    [{ ...BASE, rotation_period: undefined }, /one of rotation_period or rotation_schedule is required/],
    [{ ...BASE, rotation_period: '2s' }, /rotation_period must be 5 seconds or more/],
    [{ ...BASE, rotation_period: undefined, rotation_schedule: '0 0 * * *', rotation_window: '10m' }, /rotation_window must be 3600 seconds/],
    [{ ...BASE, rotation_period: undefined, rotation_schedule: '61 * * * *' }, /invalid rotation_schedule/],
    [{ ...BASE, alternate_username: 'app_a' }, /alternate_username must name a different database user/],
    [{ ...BASE, username: "x'; DROP" }, /invalid username/],
    [{ ...BASE, username: undefined }, /username is a required field/],
    [{ ...BASE, db_name: 'nope' }, /database config "nope" not found/],
    [{ ...BASE, alternate_username: 'admin' }, /connection's own admin user/],
    [{ ...BASE, credential_type: 'rsa_private_key' }, /only "password"/],
    [{ ...BASE, skip_import_rotation: true }, /skip_import_rotation is not supported/],
    [{ ...BASE, rotation_policy: { on_timeout: 'ignore' } }, /invalid on_timeout: must be "revoke" or "hold"/],
    [{ ...BASE, rotation_policy: { verify_timeout: 0 } }, /verify_timeout: must be from 1s/],
    [{ ...BASE, rotation_policy: { wait: '1s' } }, /the fields are verify_timeout and on_timeout/],
    [{ ...BASE, rotation_policy: '[1]' }, /invalid rotation_policy/],
  ];
  for (const [body, message] of cases) {
    const err = await kit.h.fail('write', 'static-roles/bad', body);
    assert.equal(err.code, 'bad_request', JSON.stringify(body));
    assert.match(err.message, message);
  }
  assert.deepEqual(kit.db.calls, [], 'no invalid role touched the database');
});

test('rotation_statements must set the password and hold only known placeholders', async () => {
  const kit = await kitWithConfig();
  const noPassword = await kit.h.fail('write', 'static-roles/app', { ...BASE, rotation_statements: ['SELECT 1'] });
  assert.match(noPassword.message, /must set the new password with \{\{password\}\}/);
  const unknown = await kit.h.fail('write', 'static-roles/app', { ...BASE, rotation_statements: ["ALTER USER \"{{Name}}\" WITH PASSWORD '{{password}}'"] });
  assert.match(unknown.message, /"\{\{Name\}\}", which is not a placeholder/);
  assert.equal(await kit.h.call('read', 'static-roles/app').catch(() => null), null, 'nothing was created');
});

test('a role the config does not allow is refused', async () => {
  const kit = createRotationKit();
  await kit.h.call('write', 'config/fake', { plugin_name: 'fake-database-plugin', connection_url: 'fake://', username: 'admin', password: 'Admin-pw-1', allowed_roles: 'web-*' });
  const err = await kit.h.fail('write', 'static-roles/app', BASE);
  assert.match(err.message, /"app" is not an allowed role/);
  await kit.h.call('write', 'static-roles/web-1', BASE);
  assert.equal((await staticCreds(kit, 'web-1')).version, 1);
});

test('db_name, username and alternate_username cannot change; timing can', async () => {
  const kit = await kitWithConfig();
  await kit.h.call('write', 'static-roles/app', BASE);
  for (const field of ['db_name', 'username', 'alternate_username']) {
    const err = await kit.h.fail('write', 'static-roles/app', { [field]: 'other' });
    assert.match(err.message, new RegExp(`cannot update static role ${field}`));
  }
  await kit.h.call('write', 'static-roles/app', { username: 'app_a' });
  await kit.h.call('write', 'static-roles/app', { rotation_schedule: '0 3 * * *', rotation_window: '2h' });
  const creds = await staticCreds(kit, 'app');
  assert.equal(creds.rotation_schedule, '0 3 * * *');
  assert.equal(creds.rotation_window, 7200);
  assert.equal(creds.rotation_period, undefined);
  assert.equal(creds.ttl, 15 * 3600, 'from 12:00 to 03:00 the next day');
  await kit.h.call('write', 'static-roles/app', { rotation_period: '30m' });
  const back = await staticCreds(kit, 'app');
  assert.equal(back.rotation_period, 1800);
  assert.equal(back.rotation_schedule, undefined);
});

test('the scheduler rotates a role when its period has passed, not before', async () => {
  const kit = await kitWithConfig();
  await kit.h.call('write', 'static-roles/app', { ...BASE, rotation_period: '10m' });
  await kit.h.engine.initialize?.();
  const scheduler = kit.h.engine.rotation.scheduler;
  kit.clock.advance(9 * 60_000);
  await scheduler.tick();
  assert.equal((await staticCreds(kit, 'app')).version, 1);
  assert.equal((await staticCreds(kit, 'app')).ttl, 60);
  kit.clock.advance(60_000);
  await scheduler.tick();
  const creds = await staticCreds(kit, 'app');
  assert.equal(creds.version, 2);
  assert.equal(creds.ttl, 600);
  assert.ok(kit.db.login(creds.username, creds.password));
  assert.equal((await rotationsOf(kit, 'app')).last.trigger, 'schedule');
  await scheduler.tick();
  assert.equal((await staticCreds(kit, 'app')).version, 2, 'one rotation per due time');
  await kit.h.shutdown();
});

test('the scheduler follows a cron schedule and skips a match whose window passed', async () => {
  const kit = await kitWithConfig();
  await kit.h.call('write', 'static-roles/app', { ...BASE, rotation_period: undefined, rotation_schedule: '0 3 * * *', rotation_window: '1h' });
  await kit.h.engine.initialize?.();
  const scheduler = kit.h.engine.rotation.scheduler;
  kit.clock.set(Date.parse('2026-01-02T05:00:00Z'));
  await scheduler.tick();
  assert.equal((await staticCreds(kit, 'app')).version, 1, 'the 03:00 window closed at 04:00');
  kit.clock.set(Date.parse('2026-01-03T03:10:00Z'));
  await scheduler.tick();
  const creds = await staticCreds(kit, 'app');
  assert.equal(creds.version, 2);
  assert.equal(creds.ttl, 24 * 3600 - 600);
  await kit.h.shutdown();
});

test('deleting a role forgets it, publishes a delete event and leaves the users as they are', async () => {
  const kit = await kitWithConfig();
  await kit.h.call('write', 'static-roles/app', BASE);
  await kit.h.call('write', 'rotate-role/app');
  const creds = await staticCreds(kit, 'app');
  await kit.h.call('delete', 'static-roles/app');
  assert.deepEqual((await kit.h.allKeys()).filter((k) => !k.includes('/config/')), []);
  assert.deepEqual(kit.published.at(-1) && [kit.published.at(-1)?.path, kit.published.at(-1)?.event], ['database/static-creds/app', 'delete']);
  assert.ok(kit.db.login(creds.username, creds.password));
  const err = await kit.h.fail('read', 'static-creds/app');
  assert.match(err.message, /unknown role: app/);
  assert.equal((await kit.h.fail('write', 'rotate-role/app')).code, 'bad_request');
});

test('an import that fails after the new password took effect keeps the role, so the password in use is never lost', async () => {
  const kit = await kitWithConfig();
  // The standby account does not exist: the import sets and activates the new password of
  // app_a, then fails to retire the standby.
  await assert.rejects(kit.h.call('write', 'static-roles/half', { ...BASE, alternate_username: 'missing' }), /was created, but its import rotation did not finish/);
  const creds = await staticCreds(kit, 'half');
  assert.equal(creds.username, 'app_a');
  assert.equal(kit.db.users.get('app_a'), creds.password);
  assert.notEqual(creds.password, 'Initial-a-1');
  assert.ok((await kit.h.call('read', 'static-roles/half'))?.data);
});

test('an import that fails before any password changed creates nothing', async () => {
  const kit = await kitWithConfig();
  await assert.rejects(kit.h.call('write', 'static-roles/none', { ...BASE, username: 'nobody', alternate_username: 'missing' }), /failed to (import static role "none"|set the password of "nobody")/);
  assert.equal(await kit.h.call('read', 'static-roles/none').catch(() => null), null);
});
