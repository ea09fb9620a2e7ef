/**
 * Tests: userpass users, login, lockout on a manual clock, and no user enumeration (same
 * message, one scrypt per attempt whatever the outcome).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createAuthHarness, type AuthHarness } from '../shared/harness.js';
import { userpassEngineFactory } from './engine.js';
import { createScryptHasher, type PasswordHash, type PasswordHasher } from './password-hash.js';

const ERROR = 'invalid username or password';

/** A cheap scrypt for speed, counting every verification and what it was checked against. */
function countingHasher(): PasswordHasher & { verifications: Array<'real' | 'dummy'> } {
  const inner = createScryptHasher({ n: 2 ** 10, r: 8, p: 1 });
  const verifications: Array<'real' | 'dummy'> = [];
  return {
    verifications,
    hash: (password) => inner.hash(password),
    verify: (password: string, stored: PasswordHash | undefined) => {
      verifications.push(stored ? 'real' : 'dummy');
      return inner.verify(password, stored);
    },
  };
}

function setup(): { h: AuthHarness; hasher: ReturnType<typeof countingHasher> } {
  const hasher = countingHasher();
  const h = createAuthHarness(userpassEngineFactory({ hasher }), { type: 'userpass' });
  return { h, hasher };
}

const login = (h: AuthHarness, name: string, password: string) => h.call('write', `login/${name}`, { password });
const loginFails = (h: AuthHarness, name: string, password: string) => h.fail('write', `login/${name}`, { password });

test('a user logs in with the right password and gets exactly its policies', async () => {
  const { h } = setup();
  await h.call('write', 'users/alice', { password: 'correct horse', token_policies: 'ops, audit', token_ttl: '1h' });
  const res = await login(h, 'alice', 'correct horse');
  assert.deepEqual(res?.login?.policies, ['ops', 'audit']);
  assert.equal(res?.login?.ttl, 3600);
  assert.deepEqual(res?.login?.metadata, { username: 'alice' });
  assert.equal(res?.login?.displayName, 'alice');
});

test('passwords are stored only as salted scrypt hashes and never read back', async () => {
  const { h } = setup();
  await h.call('write', 'users/a', { password: 'same-password' });
  await h.call('write', 'users/b', { password: 'same-password' });
  const dump = await h.dump();
  assert.equal(dump.includes('same-password'), false);
  const hashes = [...dump.matchAll(/"hash":"([^"]+)"/g)].map((m) => m[1]);
  assert.equal(hashes.length, 2);
  assert.notEqual(hashes[0], hashes[1]);
  const data = (await h.call('read', 'users/a'))?.data ?? {};
  assert.equal(JSON.stringify(data).includes('password'), false);
  assert.equal(JSON.stringify(data).includes('hash'), false);
});

test('a user cannot be created without a password', async () => {
  const { h } = setup();
  assert.match((await h.fail('write', 'users/nopass', { token_policies: 'x' })).message, /missing password/);
});

test('user names are matched without regard to case or surrounding whitespace', async () => {
  const { h } = setup();
  await h.call('write', 'users/Alice', { password: 'pw-1' });
  assert.deepEqual((await h.call('list', 'users/'))?.data, { keys: ['alice'] });
  await login(h, 'ALICE', 'pw-1');
  await login(h, ' alice ', 'pw-1');
});

test('unknown user, wrong password and locked user get the same error after one scrypt each', async () => {
  const { h, hasher } = setup();
  await h.call('write', 'config', { lockout_threshold: 1 });
  await h.call('write', 'users/bob', { password: 'pw-bob' });
  await h.call('write', 'users/carol', { password: 'pw-carol' });
  await loginFails(h, 'carol', 'wrong');
  hasher.verifications.length = 0;
  const errors = [
    await loginFails(h, 'nobody', 'pw'),
    await loginFails(h, 'bob', 'wrong'),
    await loginFails(h, 'carol', 'pw-carol'),
    await loginFails(h, 'not a valid name!', 'pw'),
  ];
  for (const err of errors) {
    assert.equal(err.code, 'bad_request');
    assert.equal(err.message, ERROR);
  }
  // One verification per attempt; the unknown and the locked user are checked against the dummy.
  assert.deepEqual(hasher.verifications, ['dummy', 'real', 'dummy', 'dummy']);
});

test('a refused unknown name does the same storage reads and writes as a refused known user (CVE-2025-6011)', async () => {
  const { h } = setup();
  await h.call('write', 'users/bob', { password: 'pw-bob' });
  const ops: string[] = [];
  const storage = h.storage as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const method of ['get', 'put', 'delete', 'batch', 'list']) {
    const original = storage[method] as (...args: unknown[]) => unknown;
    storage[method] = (...args: unknown[]) => {
      ops.push(method);
      return original.apply(h.storage, args);
    };
  }
  await loginFails(h, 'bob', 'wrong');
  const known = ops.splice(0);
  await loginFails(h, 'nobody', 'wrong');
  const unknown = ops.splice(0);
  assert.ok(known.includes('put'), 'a refused known user has its counter written');
  assert.deepEqual(unknown, known);
  await h.call('write', 'config', { lockout_threshold: 1 });
  await loginFails(h, 'bob', 'wrong');
  ops.length = 0;
  await loginFails(h, 'bob', 'pw-bob');
  assert.deepEqual(ops.splice(0), known, 'a locked user too: one read and one write');
  const stored = await h.storage.list('lockout/');
  assert.deepEqual(stored.sort(), ['bob', 'unknown/'], 'unknown names share one decoy counter, however many are tried');
});

test('five failures lock the user for fifteen minutes, even against the right password', async () => {
  const { h } = setup();
  await h.call('write', 'users/dave', { password: 'pw-dave' });
  for (let i = 0; i < 5; i++) await loginFails(h, 'dave', `guess-${i}`);
  assert.equal((await loginFails(h, 'dave', 'pw-dave')).message, ERROR);
  h.clock.advance(14 * 60_000);
  assert.equal((await loginFails(h, 'dave', 'pw-dave')).message, ERROR);
  h.clock.advance(60_000);
  await login(h, 'dave', 'pw-dave');
  assert.match(JSON.stringify(h.logs), /user locked out/);
});

test('the failure counter resets after the reset window and after a successful login', async () => {
  const { h } = setup();
  await h.call('write', 'users/erin', { password: 'pw-erin' });
  for (let i = 0; i < 4; i++) await loginFails(h, 'erin', 'wrong');
  h.clock.advance(16 * 60_000);
  for (let i = 0; i < 4; i++) await loginFails(h, 'erin', 'wrong');
  await login(h, 'erin', 'pw-erin');
  for (let i = 0; i < 4; i++) await loginFails(h, 'erin', 'wrong');
  await login(h, 'erin', 'pw-erin');
});

test('case and whitespace variants of a name share one lockout counter', async () => {
  const { h } = setup();
  await h.call('write', 'users/frank', { password: 'pw-frank' });
  for (const variant of ['frank', 'FRANK', ' Frank', 'frank ', 'fRaNk']) await loginFails(h, variant, 'wrong');
  assert.equal((await loginFails(h, 'frank', 'pw-frank')).message, ERROR);
});

test('parallel guesses cannot overshoot the lockout threshold', async () => {
  const { h } = setup();
  await h.call('write', 'config', { lockout_threshold: 3 });
  await h.call('write', 'users/gina', { password: 'pw-gina' });
  // Three wrong guesses and the right password race; the wrong ones are queued first.
  const attempts = [...Array.from({ length: 3 }, () => login(h, 'gina', 'wrong')), login(h, 'gina', 'pw-gina')];
  const results = await Promise.allSettled(attempts);
  assert.equal(results.every((r) => r.status === 'rejected'), true);
});

test('lockout settings are read back in seconds and can be disabled', async () => {
  const { h } = setup();
  assert.deepEqual((await h.call('read', 'config'))?.data, { lockout_threshold: 5, lockout_duration: 900, lockout_counter_reset: 900, lockout_disable: false });
  await h.call('write', 'config', { lockout_threshold: 2, lockout_duration: '1m' });
  assert.deepEqual((await h.call('read', 'config'))?.data, { lockout_threshold: 2, lockout_duration: 60, lockout_counter_reset: 900, lockout_disable: false });
  await h.call('write', 'users/hal', { password: 'pw-hal' });
  await loginFails(h, 'hal', 'x');
  await loginFails(h, 'hal', 'x');
  assert.equal((await loginFails(h, 'hal', 'pw-hal')).message, ERROR);
  h.clock.advance(61_000);
  await login(h, 'hal', 'pw-hal');
  await h.call('write', 'config', { lockout_disable: true });
  for (let i = 0; i < 5; i++) await loginFails(h, 'hal', 'x');
  await login(h, 'hal', 'pw-hal');
  assert.equal((await h.fail('write', 'config', { lockout_threshold: 0 })).code, 'bad_request');
});

test('an operator can unlock a locked user', async () => {
  const { h } = setup();
  await h.call('write', 'config', { lockout_threshold: 1 });
  await h.call('write', 'users/ivy', { password: 'pw-ivy' });
  await loginFails(h, 'ivy', 'wrong');
  await loginFails(h, 'ivy', 'pw-ivy');
  await h.call('write', 'users/ivy/unlock');
  await login(h, 'ivy', 'pw-ivy');
});

test('changing the password and the policies takes effect at the next login', async () => {
  const { h } = setup();
  await h.call('write', 'users/jo', { password: 'old-pw', token_policies: 'a' });
  await h.call('write', 'users/jo/password', { password: 'new-pw' });
  await h.call('write', 'users/jo/policies', { token_policies: ['b', 'c'] });
  await loginFails(h, 'jo', 'old-pw');
  assert.deepEqual((await login(h, 'jo', 'new-pw'))?.login?.policies, ['b', 'c']);
  assert.equal((await h.fail('write', 'users/nobody/password', { password: 'x' })).code, 'bad_request');
});

test('an update without a password keeps the old one', async () => {
  const { h } = setup();
  await h.call('write', 'users/kim', { password: 'pw-kim' });
  await h.call('write', 'users/kim', { token_policies: 'z' });
  assert.deepEqual((await login(h, 'kim', 'pw-kim'))?.login?.policies, ['z']);
});

test('token_bound_cidrs limit where a user may log in from', async () => {
  const { h } = setup();
  await h.call('write', 'users/lee', { password: 'pw-lee', token_bound_cidrs: '10.0.0.0/8' });
  assert.equal((await h.fail('write', 'login/lee', { password: 'pw-lee' }, '127.0.0.1')).message, ERROR);
  await h.call('write', 'login/lee', { password: 'pw-lee' }, '10.2.3.4');
});

test('a deleted user can no longer log in', async () => {
  const { h } = setup();
  await h.call('write', 'users/max', { password: 'pw-max' });
  await h.call('delete', 'users/max');
  assert.equal((await loginFails(h, 'max', 'pw-max')).message, ERROR);
  assert.equal((await h.fail('list', 'users/')).code, 'not_found');
});

test('no password appears in the log', async () => {
  const { h } = setup();
  await h.call('write', 'users/ned', { password: 'pw-ned-secret' });
  await loginFails(h, 'ned', 'typo-secret-guess');
  const logged = JSON.stringify(h.logs);
  assert.equal(logged.includes('pw-ned-secret'), false);
  assert.equal(logged.includes('typo-secret-guess'), false);
});
