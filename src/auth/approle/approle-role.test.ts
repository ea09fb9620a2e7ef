/**
 * Tests: AppRole role CRUD, validation, durations on the wire, and role_id management.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createAuthHarness } from '../shared/harness.js';
import { createApproleEngine } from './engine.js';

const harness = () => createAuthHarness(createApproleEngine, { type: 'approle' });

test('a role reads back with durations as integer seconds and both policy field names', async () => {
  const h = harness();
  await h.call('write', 'role/web', { token_ttl: '10m', token_max_ttl: '1h', secret_id_ttl: '90s', policies: 'a, b', secret_id_num_uses: '3' });
  const data = (await h.call('read', 'role/web'))?.data as Record<string, unknown>;
  assert.equal(data['token_ttl'], 600);
  assert.equal(data['token_max_ttl'], 3600);
  assert.equal(data['secret_id_ttl'], 90);
  assert.equal(data['secret_id_num_uses'], 3);
  assert.equal(data['bind_secret_id'], true);
  assert.deepEqual(data['token_policies'], ['a', 'b']);
  assert.deepEqual(data['policies'], ['a', 'b']);
  assert.equal(Object.hasOwn(data, 'role_id'), false);
});

test('an update keeps the fields it does not name', async () => {
  const h = harness();
  await h.call('write', 'role/web', { token_policies: ['a'], token_ttl: 60 });
  await h.call('write', 'role/web', { token_ttl: 120 });
  const data = (await h.call('read', 'role/web'))?.data as Record<string, unknown>;
  assert.deepEqual(data['token_policies'], ['a']);
  assert.equal(data['token_ttl'], 120);
});

test('roles are listed, and deleting one removes it', async () => {
  const h = harness();
  await h.call('write', 'role/a', { token_policies: 'x' });
  await h.call('write', 'role/b', { token_policies: 'x' });
  assert.deepEqual((await h.call('list', 'role/'))?.data, { keys: ['a', 'b'] });
  await h.call('delete', 'role/a');
  assert.equal((await h.fail('read', 'role/a')).code, 'not_found');
  assert.deepEqual((await h.call('list', 'role'))?.data, { keys: ['b'] });
});

test('a role without bind_secret_id must keep a CIDR binding', async () => {
  const h = harness();
  const err = await h.fail('write', 'role/open', { bind_secret_id: false });
  assert.match(err.message, /at least one constraint/);
  await h.call('write', 'role/open', { bind_secret_id: false, secret_id_bound_cidrs: ['10.0.0.0/8'] });
});

test('the root policy cannot be granted and a ttl above max_ttl is refused', async () => {
  const h = harness();
  assert.match((await h.fail('write', 'role/r', { token_policies: ['Root'] })).message, /root policy/);
  assert.match((await h.fail('write', 'role/r', { token_ttl: '2h', token_max_ttl: '1h' })).message, /token_ttl/);
});

test('bad CIDR blocks and unsafe role names are refused', async () => {
  const h = harness();
  assert.equal((await h.fail('write', 'role/r', { secret_id_bound_cidrs: ['10.0.0.0/33'] })).code, 'bad_request');
  assert.equal((await h.fail('write', 'role/r', { token_bound_cidrs: 'not-an-ip' })).code, 'bad_request');
  // A name that is not one safe path segment never even routes to the role path.
  await assert.rejects(h.call('write', 'role/.hidden', {}), /no path matches/);
});

test('role-id is a generated uuid that a custom value can replace, and role ids are unique', async () => {
  const h = harness();
  await h.call('write', 'role/a', { token_policies: 'x' });
  await h.call('write', 'role/b', { token_policies: 'x' });
  const generated = (await h.call('read', 'role/a/role-id'))?.data?.['role_id'] as string;
  assert.match(generated, /^[0-9a-f-]{36}$/);
  await h.call('write', 'role/a/role-id', { role_id: 'custom-a' });
  assert.equal((await h.call('read', 'role/a/role-id'))?.data?.['role_id'], 'custom-a');
  assert.match((await h.fail('write', 'role/b/role-id', { role_id: 'custom-a' })).message, /already in use/);
});

test('a replaced role_id no longer logs in and the new one does', async () => {
  const h = harness();
  await h.call('write', 'role/a', { token_policies: 'x' });
  const oldId = (await h.call('read', 'role/a/role-id'))?.data?.['role_id'] as string;
  const secretId = (await h.call('write', 'role/a/secret-id'))?.data?.['secret_id'] as string;
  await h.call('write', 'role/a/role-id', { role_id: 'fresh-role-id' });
  assert.equal((await h.fail('write', 'login', { role_id: oldId, secret_id: secretId })).message, 'invalid role or secret ID');
  const ok = await h.call('write', 'login', { role_id: 'fresh-role-id', secret_id: secretId });
  assert.deepEqual(ok?.login?.policies, ['x']);
});

test('role names are case-insensitive, as in Vault: stored and listed lowercased, found by any spelling', async () => {
  const h = harness();
  await h.call('write', 'role/MyApp', { token_policies: ['p1'] });
  assert.deepEqual((await h.call('list', 'role'))?.data?.['keys'], ['myapp']);
  assert.deepEqual((await h.call('read', 'role/MYAPP'))?.data?.['token_policies'], ['p1']);
  await h.call('write', 'role/myapp', { token_policies: ['p2'] });
  assert.deepEqual((await h.call('list', 'role'))?.data?.['keys'], ['myapp'], 'the same role, not a second one');
  const roleId = (await h.call('read', 'role/MyApp/role-id'))?.data?.['role_id'] as string;
  const secretId = (await h.call('write', 'role/MYAPP/secret-id'))?.data?.['secret_id'] as string;
  const login = await h.call('write', 'login', { role_id: roleId, secret_id: secretId });
  assert.deepEqual(login?.login?.policies, ['p2']);
  assert.equal(login?.login?.metadata['role_name'], 'myapp');
  await h.call('delete', 'role/MyApp');
  assert.equal((await h.fail('read', 'role/myapp')).code, 'not_found');
});

test('a role an earlier build stored under a mixed-case name is still found by that name', async () => {
  const h = harness();
  await h.call('write', 'role/legacy', { token_policies: ['p1'] });
  // As an earlier build stored it: under the name as given, with that name inside.
  const stored = JSON.parse(Buffer.from((await h.storage.get('role/legacy')) as Uint8Array).toString()) as Record<string, unknown>;
  await h.storage.put('role/Legacy', Buffer.from(JSON.stringify({ ...stored, name: 'Legacy' })));
  await h.storage.delete('role/legacy');
  assert.deepEqual((await h.call('read', 'role/Legacy'))?.data?.['token_policies'], ['p1']);
  await h.call('write', 'role/Legacy', { token_policies: ['p2'] });
  assert.deepEqual((await h.call('list', 'role'))?.data?.['keys'], ['Legacy'], 'updated in place, not copied');
});
