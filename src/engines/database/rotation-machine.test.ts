/**
 * The five-step rotation of dual-credential static roles, and single-user rotation, driven
 * through the engine's paths with a stand-in database (rotation-test-kit.ts), the real consumer
 * registry and event bus, and a manual clock.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { isCofferError } from '../../core/errors.js';
import {
  configure, createFakeDatabase, createRotationKit, rotationsOf, staticCreds, type RotationKit,
} from './rotation-test-kit.js';
import { DatabasePluginError } from './plugin.js';
import type { PausePoint } from './rotation-hooks.js';

async function dualRole(kit: RotationKit, policy: Record<string, unknown> = {}): Promise<void> {
  await configure(kit);
  await kit.h.call('write', 'static-roles/app', {
    db_name: 'fake', username: 'app_a', alternate_username: 'app_b', rotation_period: '1h',
    rotation_policy: { verify_timeout: '30s', on_timeout: 'revoke', ...policy },
  });
}

/** Resolves once the rotation has stored the intent of `phase`; the rotation goes on. */
function phaseReached(phase: string): { reached: Promise<void>; options: { pauseAt: (p: PausePoint) => void } } {
  let signal!: () => void;
  const reached = new Promise<void>((resolve) => { signal = resolve; });
  return { reached, options: { pauseAt: (p) => { if (p.phase === phase && p.when === 'before') signal(); } } };
}

test('creating a dual role sets the first user\'s password (version 1) and locks the alternate out', async () => {
  const kit = createRotationKit();
  await dualRole(kit);
  const creds = await staticCreds(kit, 'app');
  assert.equal(creds.username, 'app_a');
  assert.equal(creds.version, 1);
  assert.equal(creds.previous, undefined);
  assert.ok(kit.db.login('app_a', creds.password));
  assert.ok(!kit.db.login('app_b', 'Initial-b-1'), 'the alternate no longer logs in with its old password');
  assert.deepEqual(kit.db.calls, ['app_a', 'app_b']);
  assert.equal(creds.ttl, 3600);
  assert.equal(creds.rotation_period, 3600);
  assert.match(String(creds.last_vault_rotation), /^2026-01-01T12:00:00\.000000000Z$/);
  const rotations = await rotationsOf(kit, 'app');
  assert.equal(rotations.last.trigger, 'import');
  assert.equal(rotations.last.status, 'completed');
  assert.equal(rotations.last.steps.verify.status, 'skipped');
});

test('a dual rotation switches to the standby user, keeps the old credential working until revoke, then revokes it', async () => {
  const kit = createRotationKit();
  await dualRole(kit);
  const v1 = await staticCreds(kit, 'app');
  const consumer = await kit.consumers.register({ path: 'database/static-creds/app', name: 'web-1', version: 1 });

  const rotation = kit.h.call('write', 'rotate-role/app');
  // Wait for the verify step: the new credential is current and the old one is still readable.
  for (let i = 0; i < 1000 && (await rotationsOf(kit, 'app')).current?.phase !== 'verify'; i += 1) await new Promise(setImmediate);
  const mid = await staticCreds(kit, 'app');
  assert.equal(mid.username, 'app_b');
  assert.equal(mid.version, 2);
  assert.deepEqual(mid.previous, { username: 'app_a', password: v1.password, version: 1 });
  assert.ok(kit.db.login('app_a', v1.password), 'A still logs in while consumers switch');
  assert.ok(kit.db.login('app_b', mid.password), 'B logs in before anyone is told');
  assert.deepEqual(kit.published.map((e) => [e.path, e.version, e.event]).at(-1), ['database/static-creds/app', 2, 'rotate']);

  kit.clock.advance(1500);
  await kit.consumers.checkIn(consumer.id, 'database/static-creds/app', 2);
  const response = await rotation;
  const data = response?.data as Record<string, any>;
  assert.equal(data.status, 'completed');
  assert.equal(data.version, 2);
  assert.equal(data.verify_outcome, 'confirmed');
  assert.deepEqual(data.confirmed.map((c: any) => [c.consumer_id, c.name, c.version]), [[consumer.id, 'web-1', 2]]);
  assert.equal(data.confirmed[0].confirmed_at, new Date(kit.clock.now()).toISOString());
  assert.deepEqual(data.stragglers, []);
  assert.ok(!kit.db.login('app_a', v1.password), 'A is revoked after every consumer switched');
  assert.ok(kit.db.login('app_b', mid.password));
  const after = await staticCreds(kit, 'app');
  assert.equal(after.previous, undefined);
  assert.equal(after.version, 2);
});

test('the next rotation alternates back to the first user with a fresh password', async () => {
  const kit = createRotationKit();
  await dualRole(kit);
  const seen = new Set<string>();
  for (let i = 0; i < 4; i += 1) {
    await kit.h.call('write', 'rotate-role/app');
    const creds = await staticCreds(kit, 'app');
    assert.equal(creds.version, i + 2);
    assert.equal(creds.username, i % 2 === 0 ? 'app_b' : 'app_a');
    assert.ok(kit.db.login(creds.username, creds.password));
    assert.ok(!seen.has(creds.password));
    seen.add(creds.password);
    const other = creds.username === 'app_a' ? 'app_b' : 'app_a';
    for (const old of seen) assert.ok(!kit.db.login(other, old), 'the standby user logs in with no password anyone was given');
  }
  const history = (await rotationsOf(kit, 'app')).history as Array<Record<string, any>>;
  assert.deepEqual(history.map((r) => r.to_version), [5, 4, 3, 2, 1]);
  assert.ok(history.every((r) => r.status === 'completed'));
});

test('a consumer that never switches holds the rotation until verify_timeout, then on_timeout=revoke names it', async () => {
  const kit = createRotationKit();
  await dualRole(kit, { verify_timeout: '10s', on_timeout: 'revoke' });
  const v1 = await staticCreds(kit, 'app');
  const stuck = await kit.consumers.register({ path: 'database/static-creds/app', name: 'stuck-pod', version: 1, ttl: 3600 });
  const good = await kit.consumers.register({ path: 'database/static-creds/app', name: 'good-pod', version: 1, ttl: 3600 });
  const { reached, options } = phaseReached('verify');
  const kit2 = kit.restart({ tickIntervalMs: 0, sleep: () => new Promise(setImmediate), ...options });
  const rotation = kit2.h.call('write', 'rotate-role/app');
  await reached;
  await kit.consumers.checkIn(good.id, 'database/static-creds/app', 2);
  kit.clock.advance(9_000);
  for (let i = 0; i < 50; i += 1) await new Promise(setImmediate);
  assert.equal((await rotationsOf(kit2, 'app')).current?.phase, 'verify', 'still waiting before the timeout');
  assert.ok(kit.db.login('app_a', v1.password));
  kit.clock.advance(2_000);
  const data = (await rotation)?.data as Record<string, any>;
  assert.equal(data.status, 'completed');
  assert.equal(data.verify_outcome, 'timeout_revoked');
  assert.deepEqual(data.stragglers.map((s: any) => [s.consumer_id, s.name, s.version]), [[stuck.id, 'stuck-pod', 1]]);
  assert.deepEqual(data.confirmed.map((c: any) => c.consumer_id), [good.id]);
  assert.ok(!kit.db.login('app_a', v1.password));
  const last = (await rotationsOf(kit2, 'app')).last;
  assert.deepEqual(last.stragglers.map((s: any) => s.consumer_id), [stuck.id]);
  const warning = kit2.logger.lines.find((l) => l.level === 'warn' && /not switched/.test(l.message));
  assert.deepEqual(warning?.fields['stragglers'], [stuck.id]);
  assert.ok(!JSON.stringify(kit2.logger.lines).includes(v1.password));
});

test('on_timeout=hold keeps the old credential active and the rotation waiting until the straggler switches', async () => {
  const kit = createRotationKit();
  await dualRole(kit, { verify_timeout: '5s', on_timeout: 'hold' });
  const v1 = await staticCreds(kit, 'app');
  const stuck = await kit.consumers.register({ path: 'database/static-creds/app', name: 'slow', version: 1, ttl: 3600 });
  const { reached, options } = phaseReached('verify');
  const kit2 = kit.restart({ tickIntervalMs: 0, sleep: () => new Promise(setImmediate), ...options });
  const rotation = kit2.h.call('write', 'rotate-role/app');
  await reached;
  kit.clock.advance(6_000);
  const response = await rotation;
  const data = response?.data as Record<string, any>;
  assert.equal(data.status, 'waiting');
  assert.deepEqual(data.stragglers.map((s: any) => s.consumer_id), [stuck.id]);
  assert.match(response?.warnings?.[0] ?? '', /stays active until 1 consumer/);
  const held = await staticCreds(kit2, 'app');
  assert.equal(held.version, 2);
  assert.equal(held.previous?.password, v1.password);
  assert.ok(kit.db.login('app_a', v1.password), 'A stays active while held');

  const again = await kit2.h.fail('write', 'rotate-role/app');
  assert.equal(again.code, 'conflict');
  assert.match(again.message, /holding the previous credential/);

  await kit2.h.engine.rotation.scheduler.refresh('app');
  await kit2.h.engine.rotation.scheduler.tick();
  assert.equal((await rotationsOf(kit2, 'app')).current?.status, 'waiting', 'a tick without the switch changes nothing');

  await kit.consumers.checkIn(stuck.id, 'database/static-creds/app', 2);
  await kit2.h.engine.rotation.scheduler.tick();
  const state = await rotationsOf(kit2, 'app');
  assert.equal(state.current, null);
  assert.equal(state.last.status, 'completed');
  assert.equal(state.last.verify_outcome, 'confirmed');
  assert.ok(!kit.db.login('app_a', v1.password), 'A is revoked once the straggler switched');
});

test('a held rotation is released by changing on_timeout to revoke, which revokes and names the straggler', async () => {
  const kit = createRotationKit();
  await dualRole(kit, { verify_timeout: '5s', on_timeout: 'hold' });
  const v1 = await staticCreds(kit, 'app');
  const stuck = await kit.consumers.register({ path: 'database/static-creds/app', name: 'never', version: 1, ttl: 3600 });
  const { reached, options } = phaseReached('verify');
  const kit2 = kit.restart({ tickIntervalMs: 0, sleep: () => new Promise(setImmediate), ...options });
  const rotation = kit2.h.call('write', 'rotate-role/app');
  await reached;
  kit.clock.advance(6_000);
  assert.equal(((await rotation)?.data as Record<string, any>).status, 'waiting');
  await kit2.h.call('write', 'static-roles/app', { on_timeout: 'revoke' });
  await kit2.h.engine.rotation.scheduler.refresh('app');
  await kit2.h.engine.rotation.scheduler.tick();
  const state = await rotationsOf(kit2, 'app');
  assert.equal(state.current, null, 'the next look released the hold');
  assert.equal(state.last.status, 'completed');
  assert.equal(state.last.verify_outcome, 'timeout_revoked');
  assert.deepEqual(state.last.stragglers.map((s: any) => s.consumer_id), [stuck.id]);
  assert.ok(!kit.db.login('app_a', v1.password));
});

test('an expired consumer does not hold a rotation up', async () => {
  const kit = createRotationKit();
  await dualRole(kit, { verify_timeout: '1h' });
  const gone = await kit.consumers.register({ path: 'database/static-creds/app', name: 'gone', version: 1, ttl: 30 });
  kit.clock.advance(31_000);
  const data = (await kit.h.call('write', 'rotate-role/app'))?.data as Record<string, any>;
  assert.equal(data.status, 'completed');
  assert.equal(data.verify_outcome, 'consumers_expired');
  assert.deepEqual(data.expired.map((s: any) => s.consumer_id), [gone.id]);
});

test('a failed step 1 rolls back: the current credential is untouched and the error names no password', async () => {
  const kit = createRotationKit();
  await dualRole(kit);
  const v1 = await staticCreds(kit, 'app');
  const standbyBefore = kit.db.users.get('app_b');
  kit.db.failFor = (user) => (user === 'app_b' ? new DatabasePluginError('statement', 'permission denied to alter role') : undefined);
  const err = await kit.h.fail('write', 'rotate-role/app');
  assert.equal(err.code, 'bad_request');
  assert.match(err.message, /permission denied to alter role/);
  const creds = await staticCreds(kit, 'app');
  assert.deepEqual([creds.username, creds.password, creds.version], ['app_a', v1.password, 1]);
  assert.ok(kit.db.login('app_a', v1.password));
  const last = (await rotationsOf(kit, 'app')).last;
  assert.equal(last.status, 'rolled_back');
  assert.equal(last.steps.set_password.status, 'failed');
  assert.equal(last.steps.activate.status, 'pending');
  assert.equal(kit.db.users.get('app_b'), standbyBefore, 'the standby user is as it was');
  const everything = JSON.stringify([await rotationsOf(kit, 'app'), kit.logger.lines]);
  assert.ok(!everything.includes(v1.password));
});

test('a failed revoke keeps the new credential current and is retried by the scheduler until it succeeds', async () => {
  const kit = createRotationKit();
  await dualRole(kit);
  const v1 = await staticCreds(kit, 'app');
  kit.db.failFor = (user) => (user === 'app_a' ? new DatabasePluginError('connection', 'connection refused') : undefined);
  const response = await kit.h.call('write', 'rotate-role/app');
  const data = response?.data as Record<string, any>;
  assert.equal(data.status, 'running');
  assert.equal(data.phase, 'revoke');
  assert.match(data.error, /connection refused/);
  assert.match(response?.warnings?.[0] ?? '', /revoking the previous one failed/);
  const creds = await staticCreds(kit, 'app');
  assert.equal(creds.username, 'app_b');
  assert.ok(kit.db.login('app_b', creds.password));
  assert.equal(creds.previous, undefined, 'the old credential is no longer handed out once revoke began');

  const blocked = await kit.h.fail('write', 'rotate-role/app');
  assert.equal(blocked.code, 'upstream');

  kit.db.failFor = undefined;
  const scheduler = kit.h.engine.rotation.scheduler;
  await scheduler.refresh('app');
  kit.clock.advance(1_000);
  await scheduler.tick();
  const state = await rotationsOf(kit, 'app');
  assert.equal(state.current, null);
  assert.equal(state.last.status, 'completed');
  assert.ok(state.last.steps.revoke.attempts >= 2);
  assert.ok(!kit.db.login('app_a', v1.password));
});

test('single-user mode rotates in place (steps 1-3) and skips verify and revoke', async () => {
  const kit = createRotationKit();
  await configure(kit);
  await kit.h.call('write', 'static-roles/one', { db_name: 'fake', username: 'solo', rotation_period: 60 });
  const v1 = await staticCreds(kit, 'one');
  assert.ok(kit.db.login('solo', v1.password));
  const data = (await kit.h.call('write', 'rotate-role/one'))?.data as Record<string, any>;
  assert.equal(data.status, 'completed');
  assert.equal(data.verify_outcome, 'not_needed');
  const v2 = await staticCreds(kit, 'one');
  assert.deepEqual([v2.username, v2.version, v2.previous], ['solo', 2, undefined]);
  assert.ok(kit.db.login('solo', v2.password));
  assert.ok(!kit.db.login('solo', v1.password));
  const last = (await rotationsOf(kit, 'one')).last;
  assert.equal(last.mode, 'single');
  assert.deepEqual([last.steps.verify.status, last.steps.revoke.status], ['skipped', 'skipped']);
  assert.equal(kit.published.at(-1)?.version, 2);
});

test('one user: a statement failing after the password took effect goes on with the new password, which readers get', async () => {
  const kit = createRotationKit();
  await configure(kit);
  await kit.h.call('write', 'static-roles/one', { db_name: 'fake', username: 'solo', rotation_period: 60 });
  const v1 = await staticCreds(kit, 'one');
  kit.db.failAfterFor = (user) => (user === 'solo' ? new DatabasePluginError('statement', 'relation "audit_t" does not exist') : undefined);
  const data = (await kit.h.call('write', 'rotate-role/one'))?.data as Record<string, any>;
  assert.equal(data.status, 'completed');
  const v2 = await staticCreds(kit, 'one');
  assert.equal(v2.version, 2);
  assert.ok(kit.db.login('solo', v2.password), 'readers get the password the database takes');
  assert.ok(!kit.db.login('solo', v1.password));
  assert.ok(kit.logger.lines.some((l) => l.level === 'warn' && /after the new password took effect/.test(l.message)));
  assert.ok(!JSON.stringify(kit.logger.lines).includes(v2.password));
});

test('one user: a failure before the change, or one whose outcome a login cannot tell, rolls back to the old password', async () => {
  const kit = createRotationKit();
  await configure(kit);
  await kit.h.call('write', 'static-roles/one', { db_name: 'fake', username: 'solo', rotation_period: 60 });
  const v1 = await staticCreds(kit, 'one');
  kit.db.failFor = (user) => (user === 'solo' ? new DatabasePluginError('statement', 'permission denied') : undefined);
  await kit.h.fail('write', 'rotate-role/one');
  assert.equal((await staticCreds(kit, 'one')).password, v1.password);
  assert.ok(kit.db.login('solo', v1.password));
  // Every password logs in (trust authentication): a login proves nothing, so it rolls back.
  kit.db.failFor = undefined;
  kit.db.failAfterFor = (user) => (user === 'solo' ? new DatabasePluginError('statement', 'later statement failed') : undefined);
  kit.db.trustAll = true;
  await kit.h.fail('write', 'rotate-role/one');
  assert.equal((await staticCreds(kit, 'one')).version, 1);
  assert.equal((await rotationsOf(kit, 'one')).last.status, 'rolled_back');
});

test('rotations of one role run one at a time', async () => {
  const kit = createRotationKit();
  await dualRole(kit);
  const results = await Promise.all([1, 2, 3].map(() => kit.h.call('write', 'rotate-role/app')));
  const versions = results.map((r) => (r?.data as Record<string, any>).version).sort();
  assert.deepEqual(versions, [2, 3, 4]);
  const creds = await staticCreds(kit, 'app');
  assert.equal(creds.version, 4);
  assert.ok(kit.db.login(creds.username, creds.password));
  const history = (await rotationsOf(kit, 'app')).history as Array<Record<string, any>>;
  for (const record of history) assert.equal(record.status, 'completed');
});

test('no password appears in rotation records, history or logs', async () => {
  const kit = createRotationKit();
  await dualRole(kit);
  const passwords = [(await staticCreds(kit, 'app')).password];
  for (let i = 0; i < 3; i += 1) {
    await kit.h.call('write', 'rotate-role/app');
    passwords.push((await staticCreds(kit, 'app')).password);
  }
  const shown = JSON.stringify([await rotationsOf(kit, 'app'), (await kit.h.call('list', 'rotations/'))?.data, kit.logger.lines]);
  for (const pw of passwords) assert.ok(!shown.includes(pw));
  const roleRead = JSON.stringify(await kit.h.call('read', 'static-roles/app'));
  for (const pw of passwords) assert.ok(!roleRead.includes(pw));
});

test('a role whose user does not exist is not created; one whose standby is missing keeps the password it set', async () => {
  const kit = createRotationKit({ db: createFakeDatabase({ admin: 'Admin-pw-1', app_a: 'y' }) });
  await configure(kit);
  const err = await kit.h.fail('write', 'static-roles/app', { db_name: 'fake', username: 'app_a', alternate_username: 'missing', rotation_period: '1h' });
  assert.ok(isCofferError(err));
  assert.match(err.message, /"missing" does not exist/);
  // app_a already has the import's new password: the role stays so that password is not lost.
  const creds = (await kit.h.call('read', 'static-creds/app'))?.data as { username: string; password: string };
  assert.equal(kit.db.users.get('app_a'), creds.password);
  await kit.h.call('delete', 'static-roles/app');
  const single = await kit.h.fail('write', 'static-roles/nobody', { db_name: 'fake', username: 'ghost', rotation_period: '1h' });
  assert.match(single.message, /"ghost" does not exist/);
  assert.deepEqual(await kit.h.allKeys().then((keys) => keys.filter((k) => k.includes('static'))), []);
});
