/**
 * Tests: AppRole login — uniform refusals, HMAC-only storage, use limits under concurrency,
 * TTL on a manual clock, CIDR bindings (IPv4-mapped included), accessor scoping.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createAuthHarness, type AuthHarness } from '../shared/harness.js';
import { createApproleEngine } from './engine.js';

const ERROR = 'invalid role or secret ID';

async function setup(role: Record<string, unknown> = {}): Promise<{ h: AuthHarness; roleId: string }> {
  const h = createAuthHarness(createApproleEngine, { type: 'approle' });
  await h.call('write', 'role/app', { token_policies: ['app-read'], token_ttl: '5m', token_max_ttl: '1h', ...role });
  const roleId = (await h.call('read', 'role/app/role-id'))?.data?.['role_id'] as string;
  return { h, roleId };
}

async function newSecret(h: AuthHarness, role = 'app', data: Record<string, unknown> = {}): Promise<{ secretId: string; accessor: string }> {
  const res = await h.call('write', `role/${role}/secret-id`, data);
  return { secretId: res?.data?.['secret_id'] as string, accessor: res?.data?.['secret_id_accessor'] as string };
}

test('login with role_id and secret_id yields the role policies, TTLs and metadata', async () => {
  const { h, roleId } = await setup();
  const { secretId } = await newSecret(h, 'app', { metadata: '{"team":"blue"}' });
  const res = await h.call('write', 'login', { role_id: roleId, secret_id: secretId });
  assert.deepEqual(res?.login, {
    policies: ['app-read'],
    displayName: 'app',
    metadata: { team: 'blue', role_name: 'app' },
    ttl: 300,
    maxTtl: 3600,
    numUses: 0,
    noDefaultPolicy: false,
  });
});

test('every kind of bad credential gives the same 400 message', async () => {
  const { h, roleId } = await setup();
  await h.call('write', 'role/other', { token_policies: ['x'] });
  const { secretId } = await newSecret(h);
  const { secretId: otherSecret } = await newSecret(h, 'other');
  const attempts = [
    { role_id: 'no-such-role', secret_id: secretId },
    { role_id: roleId, secret_id: 'wrong' },
    { role_id: roleId, secret_id: otherSecret },
    { role_id: roleId },
  ];
  for (const data of attempts) {
    const err = await h.fail('write', 'login', data);
    assert.equal(err.code, 'bad_request');
    assert.equal(err.message, ERROR);
  }
  // The operator's log keeps the reason, never the credential.
  const logged = JSON.stringify(h.logs);
  assert.match(logged, /unknown role_id/);
  assert.equal(logged.includes(secretId), false);
  assert.equal(logged.includes(otherSecret), false);
});

test('secret IDs are stored only as HMACs', async () => {
  const { h, roleId } = await setup();
  const { secretId } = await newSecret(h);
  await h.call('write', 'role/app/custom-secret-id', { secret_id: 'my-very-own-secret' });
  const dump = await h.dump();
  assert.equal(dump.includes(secretId), false);
  assert.equal(dump.includes('my-very-own-secret'), false);
  assert.equal(dump.includes(roleId), true, 'the role_id itself is readable, as in Vault');
});

test('a secret ID with num_uses works that many times and then never again', async () => {
  const { h, roleId } = await setup();
  const { secretId } = await newSecret(h, 'app', { num_uses: 2 });
  assert.equal((await h.call('write', 'role/app/secret-id/lookup', { secret_id: secretId }))?.data?.['secret_id_num_uses'], 2);
  await h.call('write', 'login', { role_id: roleId, secret_id: secretId });
  assert.equal((await h.call('write', 'role/app/secret-id/lookup', { secret_id: secretId }))?.data?.['secret_id_num_uses'], 1);
  await h.call('write', 'login', { role_id: roleId, secret_id: secretId });
  assert.equal((await h.fail('write', 'login', { role_id: roleId, secret_id: secretId })).message, ERROR);
  assert.equal(await h.call('write', 'role/app/secret-id/lookup', { secret_id: secretId }), null);
});

test('concurrent logins never spend more uses than a secret ID has', async () => {
  const { h, roleId } = await setup();
  const { secretId } = await newSecret(h, 'app', { num_uses: 3 });
  const results = await Promise.allSettled(Array.from({ length: 10 }, () => h.call('write', 'login', { role_id: roleId, secret_id: secretId })));
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 3);
});

test('a secret ID stops working when its TTL has passed', async () => {
  const { h, roleId } = await setup({ secret_id_ttl: '10m' });
  const { secretId } = await newSecret(h);
  h.clock.advance(9 * 60_000);
  await h.call('write', 'login', { role_id: roleId, secret_id: secretId });
  h.clock.advance(60_000);
  assert.equal((await h.fail('write', 'login', { role_id: roleId, secret_id: secretId })).message, ERROR);
});

test('a secret ID may not outlive or outnumber its role', async () => {
  const { h } = await setup({ secret_id_ttl: '10m', secret_id_num_uses: 5 });
  assert.match((await h.fail('write', 'role/app/secret-id', { ttl: '1h' })).message, /secret_id_ttl/);
  assert.match((await h.fail('write', 'role/app/secret-id', { ttl: 0 })).message, /secret_id_ttl/);
  assert.match((await h.fail('write', 'role/app/secret-id', { num_uses: 6 })).message, /secret_id_num_uses/);
  const res = await h.call('write', 'role/app/secret-id', { ttl: '1m', num_uses: 2 });
  assert.equal(res?.data?.['secret_id_ttl'], 60);
  assert.equal(res?.data?.['secret_id_num_uses'], 2);
  const defaults = await h.call('write', 'role/app/secret-id');
  assert.equal(defaults?.data?.['secret_id_ttl'], 600);
  assert.equal(defaults?.data?.['secret_id_num_uses'], 5);
});

test('secret_id_bound_cidrs admits only listed client addresses, IPv4-mapped IPv6 included', async () => {
  const { h, roleId } = await setup({ secret_id_bound_cidrs: ['10.0.0.0/8'] });
  const { secretId } = await newSecret(h, 'app', { num_uses: 2 });
  assert.equal((await h.fail('write', 'login', { role_id: roleId, secret_id: secretId }, '192.168.1.1')).message, ERROR);
  assert.equal((await h.fail('write', 'login', { role_id: roleId, secret_id: secretId }, '::ffff:192.168.1.1')).message, ERROR);
  await h.call('write', 'login', { role_id: roleId, secret_id: secretId }, '::ffff:10.1.2.3');
  // The refused attempts spent nothing: one use is still left.
  await h.call('write', 'login', { role_id: roleId, secret_id: secretId }, '10.9.9.9');
});

test('a secret ID cidr_list must lie within the role binding and is enforced at login', async () => {
  const { h, roleId } = await setup({ secret_id_bound_cidrs: ['10.0.0.0/8'] });
  assert.match((await h.fail('write', 'role/app/secret-id', { cidr_list: ['192.168.0.0/16'] })).message, /subset/);
  assert.match((await h.fail('write', 'role/app/secret-id', { cidr_list: ['0.0.0.0/0'] })).message, /subset/);
  const { secretId } = await newSecret(h, 'app', { cidr_list: '10.1.0.0/16' });
  assert.equal((await h.fail('write', 'login', { role_id: roleId, secret_id: secretId }, '10.2.0.1')).message, ERROR);
  await h.call('write', 'login', { role_id: roleId, secret_id: secretId }, '10.1.0.1');
});

test('token_bound_cidrs are enforced on the client address at login', async () => {
  const { h, roleId } = await setup({ token_bound_cidrs: ['127.0.0.1/32'] });
  const { secretId } = await newSecret(h);
  assert.equal((await h.fail('write', 'login', { role_id: roleId, secret_id: secretId }, '127.0.0.2')).message, ERROR);
  const res = await h.call('write', 'login', { role_id: roleId, secret_id: secretId }, '127.0.0.1');
  assert.deepEqual(res?.login?.boundCidrs, ['127.0.0.1/32'], 'the token is tied to the blocks too');
});

test('a secret ID with its own token_bound_cidrs ties the token to those instead of the role ones', async () => {
  const { h, roleId } = await setup({ token_bound_cidrs: ['127.0.0.0/8'] });
  const { secretId } = await newSecret(h, 'app', { token_bound_cidrs: ['127.0.0.1/32'] });
  const res = await h.call('write', 'login', { role_id: roleId, secret_id: secretId }, '127.0.0.1');
  assert.deepEqual(res?.login?.boundCidrs, ['127.0.0.1/32']);
});

test('without bind_secret_id the role_id alone logs in from a bound address', async () => {
  const { h, roleId } = await setup({ bind_secret_id: false, secret_id_bound_cidrs: '10.0.0.0/8' });
  assert.deepEqual((await h.call('write', 'login', { role_id: roleId }, '10.0.0.1'))?.login?.policies, ['app-read']);
  assert.equal((await h.fail('write', 'login', { role_id: roleId }, '11.0.0.1')).message, ERROR);
  assert.match((await h.fail('write', 'role/app/secret-id')).message, /bind_secret_id/);
});

test('an accessor acts only within its own role', async () => {
  const { h, roleId } = await setup();
  await h.call('write', 'role/other', { token_policies: ['x'] });
  const { secretId, accessor } = await newSecret(h);
  assert.equal((await h.fail('write', 'role/other/secret-id-accessor/lookup', { secret_id_accessor: accessor })).code, 'not_found');
  assert.equal((await h.fail('write', 'role/other/secret-id-accessor/destroy', { secret_id_accessor: accessor })).code, 'not_found');
  assert.equal(await h.call('write', 'role/other/secret-id/destroy', { secret_id: secretId }), null);
  // Still usable: nothing under role "other" touched it.
  await h.call('write', 'login', { role_id: roleId, secret_id: secretId });
  const looked = await h.call('write', 'role/app/secret-id-accessor/lookup', { secret_id_accessor: accessor });
  assert.equal(looked?.data?.['secret_id_accessor'], accessor);
  await h.call('write', 'role/app/secret-id-accessor/destroy', { secret_id_accessor: accessor });
  assert.equal((await h.fail('write', 'login', { role_id: roleId, secret_id: secretId })).message, ERROR);
});

test('LIST on secret-id gives accessors, and destroy by value removes one', async () => {
  const { h, roleId } = await setup();
  const a = await newSecret(h);
  const b = await newSecret(h);
  const keys = (await h.call('list', 'role/app/secret-id/'))?.data?.['keys'] as string[];
  assert.deepEqual([...keys].sort(), [a.accessor, b.accessor].sort());
  await h.call('write', 'role/app/secret-id/destroy', { secret_id: a.secretId });
  assert.deepEqual((await h.call('list', 'role/app/secret-id'))?.data?.['keys'], [b.accessor]);
  assert.equal((await h.fail('write', 'login', { role_id: roleId, secret_id: a.secretId })).message, ERROR);
});

test('deleting a role invalidates its secret IDs even if it is re-created', async () => {
  const { h } = await setup();
  const { secretId } = await newSecret(h);
  await h.call('delete', 'role/app');
  await h.call('write', 'role/app', { token_policies: ['app-read'] });
  const roleId = (await h.call('read', 'role/app/role-id'))?.data?.['role_id'] as string;
  assert.equal((await h.fail('write', 'login', { role_id: roleId, secret_id: secretId })).message, ERROR);
  assert.equal((await h.dump()).includes('secret-id/'), false);
});

test('a custom secret ID logs in, and registering the same value twice is refused', async () => {
  const { h, roleId } = await setup();
  const res = await h.call('write', 'role/app/custom-secret-id', { secret_id: 'chosen-by-ops', num_uses: 1 });
  assert.equal(res?.data?.['secret_id'], 'chosen-by-ops');
  assert.match((await h.fail('write', 'role/app/custom-secret-id', { secret_id: 'chosen-by-ops' })).message, /already registered/);
  await h.call('write', 'login', { role_id: roleId, secret_id: 'chosen-by-ops' });
});

test('tidy removes expired secret IDs', async () => {
  const { h } = await setup();
  await newSecret(h, 'app', { ttl: '1m' });
  await newSecret(h);
  h.clock.advance(2 * 60_000);
  assert.equal((await h.call('write', 'tidy/secret-id'))?.data?.['removed'], 1);
  assert.equal(((await h.call('list', 'role/app/secret-id'))?.data?.['keys'] as string[]).length, 1);
});

test('a generated or custom secret ID whose answer is withdrawn (its wrapping failed) no longer logs in', async () => {
  const { h, roleId } = await setup();
  const kept = await newSecret(h);
  for (const [path, data] of [['role/app/secret-id', {}], ['role/app/custom-secret-id', { secret_id: 'chosen-secret-id-1' }]] as const) {
    const res = await h.call('write', path, data);
    const secretId = res?.data?.['secret_id'] as string;
    assert.equal(typeof res?.withdraw, 'function');
    await res?.withdraw?.();
    assert.equal((await h.fail('write', 'login', { role_id: roleId, secret_id: secretId })).message, ERROR);
    assert.equal((await h.fail('write', 'role/app/secret-id-accessor/lookup', { secret_id_accessor: res?.data?.['secret_id_accessor'] })).code, 'not_found');
  }
  // Only what was withdrawn is gone.
  assert.ok((await h.call('write', 'login', { role_id: roleId, secret_id: kept.secretId }))?.login);
});

test('withdrawing an answer never destroys a later registration of the same custom secret ID', async () => {
  const { h, roleId } = await setup();
  const secretId = 'chosen-secret-id-2';
  const first = await h.call('write', 'role/app/custom-secret-id', { secret_id: secretId, num_uses: 1 });
  // Spent (one use), then registered again by someone who got their answer.
  assert.ok((await h.call('write', 'login', { role_id: roleId, secret_id: secretId }))?.login);
  const second = await h.call('write', 'role/app/custom-secret-id', { secret_id: secretId });
  await first?.withdraw?.();
  assert.ok((await h.call('write', 'login', { role_id: roleId, secret_id: secretId }))?.login, 'the newer registration still logs in');
  const accessors = (await h.call('list', 'role/app/secret-id'))?.data?.['keys'];
  assert.deepEqual(accessors, [second?.data?.['secret_id_accessor']]);
});

test('expired secret IDs are removed every minute without a tidy request, as Vault does', async (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const { h } = await setup();
  const keep = await newSecret(h);
  const shortLived = await newSecret(h, 'app', { ttl: '1s' });
  const listed = async (): Promise<string[]> => ((await h.call('list', 'role/app/secret-id'))?.data?.['keys'] as string[] | undefined) ?? [];
  assert.deepEqual((await listed()).sort(), [keep.accessor, shortLived.accessor].sort());
  await h.engine.initialize?.();
  try {
    h.clock.advance(2_000);
    t.mock.timers.tick(60_000);
    for (let i = 0; i < 50 && (await listed()).length > 1; i += 1) await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(await listed(), [keep.accessor]);
  } finally {
    await h.engine.shutdown?.();
  }
});
