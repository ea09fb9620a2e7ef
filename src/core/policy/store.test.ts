import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isCofferError } from '../errors.js';
import { createMemoryStorage } from '../storage/memory.js';
import { scope } from '../storage/view.js';
import { createPolicyStore, DEFAULT_POLICY_TEXT, type PolicyStore } from './store.js';

const READ_MINE = 'path "secret/mine" {\n  capabilities = ["read"]\n}\n';

function newStore(): { store: PolicyStore; physical: ReturnType<typeof createMemoryStorage> } {
  const physical = createMemoryStorage();
  return { store: createPolicyStore({ storage: scope(physical, 'sys/policy/') }), physical };
}

async function rejectsWith(promise: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => isCofferError(err) && err.code === 'bad_request' && message.test(err.message));
}

test('setup writes the default policy once and never overwrites an edited one', async () => {
  const { store } = newStore();
  await store.setup();
  assert.deepEqual(await store.get('default'), { name: 'default', policy: DEFAULT_POLICY_TEXT });
  await store.put('default', READ_MINE);
  await store.setup();
  assert.deepEqual(await store.get('default'), { name: 'default', policy: READ_MINE });
});

test('the default policy lets a token manage itself and its cubbyhole, and nothing else', async () => {
  const { store } = newStore();
  await store.setup();
  const acl = await store.acl(['default']);
  assert.equal(acl.check('auth/token/lookup-self', 'read').allowed, true);
  assert.equal(acl.check('auth/token/renew-self', 'update').allowed, true);
  assert.equal(acl.check('auth/token/revoke-self', 'update').allowed, true);
  assert.equal(acl.check('sys/capabilities-self', 'update').allowed, true);
  assert.equal(acl.check('sys/internal/ui/mounts/secret', 'read').allowed, true);
  assert.equal(acl.check('sys/tools/hash/sha2-256', 'update').allowed, true);
  assert.equal(acl.check('sys/wrapping/unwrap', 'update').allowed, true);
  assert.equal(acl.check('cubbyhole/', 'list').allowed, true);
  assert.equal(acl.check('cubbyhole/note', 'create').allowed, true);
  assert.equal(acl.check('secret/data/x', 'read').allowed, false);
  assert.equal(acl.check('auth/token/create', 'update').allowed, false);
  assert.equal(acl.check('sys/policies/acl/default', 'update').allowed, false);
});

test('stores a policy under its canonical name and reads it back by any spelling', async () => {
  const { store, physical } = newStore();
  await store.put('  Dev-Team ', READ_MINE);
  assert.deepEqual(await store.get('dev-team'), { name: 'dev-team', policy: READ_MINE });
  assert.deepEqual(await store.get('DEV-TEAM'), { name: 'dev-team', policy: READ_MINE });
  assert.ok(await physical.get('sys/policy/acl/dev-team'));
  assert.equal(await store.get('missing'), undefined);
});

test('get of root returns an empty stub, whatever its spelling', async () => {
  const { store } = newStore();
  assert.deepEqual(await store.get('root'), { name: 'root', policy: '' });
  assert.deepEqual(await store.get(' Root'), { name: 'root', policy: '' });
});

test('refuses to write the root policy under any spelling', async () => {
  const { store } = newStore();
  for (const name of ['root', ' Root', 'ROOT', 'root\n']) await rejectsWith(store.put(name, READ_MINE), /^cannot update root policy$/);
  assert.deepEqual(await store.list(), ['default', 'root']);
});

test('refuses to delete root or default', async () => {
  const { store } = newStore();
  await store.setup();
  await rejectsWith(store.delete('Root'), /cannot delete root policy/);
  await rejectsWith(store.delete(' default'), /cannot delete default policy/);
  assert.ok(await store.get('default'));
});

test('deletes a policy, and deleting a missing one is not an error', async () => {
  const { store } = newStore();
  await store.put('dev', READ_MINE);
  await store.delete('dev');
  assert.equal(await store.get('dev'), undefined);
  await store.delete('dev');
});

test('validates a policy before storing it', async () => {
  const { store } = newStore();
  await rejectsWith(store.put('bad', 'path "a" {\n  capabilities = ["fly"]\n}\n'), /unknown capability "fly"/);
  assert.equal(await store.get('bad'), undefined);
});

test('refuses policy names that cannot be storage keys', async () => {
  const { store } = newStore();
  for (const name of ['', '   ', 'a/b', '..', 'a\u0000b', 'x'.repeat(129)]) await rejectsWith(store.put(name, READ_MINE), /policy name/);
});

test('lists policies sorted, always with default and root', async () => {
  const { store } = newStore();
  await store.put('zeta', READ_MINE);
  await store.put('Alpha', READ_MINE);
  assert.deepEqual(await store.list(), ['alpha', 'default', 'root', 'zeta']);
});

test('compiles an ACL from canonicalised names and ignores unknown ones', async () => {
  const { store } = newStore();
  await store.put('dev', READ_MINE);
  const acl = await store.acl(['DEV', 'nobody', 'a/../b', '']);
  assert.equal(acl.isRoot, false);
  assert.equal(acl.check('secret/mine', 'read').allowed, true);
  assert.equal(acl.check('secret/other', 'read').allowed, false);
});

test('only the exact name "root" gives the root ACL; " Root", "Root" and "root\\n" never do', async () => {
  const { store } = newStore();
  await store.put('dev', READ_MINE);
  assert.equal((await store.acl(['root'])).isRoot, true);
  for (const name of [' Root', 'Root', 'ROOT', 'root\n', ' root ']) {
    const acl = await store.acl([name, 'dev']);
    assert.equal(acl.isRoot, false, JSON.stringify(name));
    assert.equal(acl.check('sys/seal', 'update').allowed, false, JSON.stringify(name));
    assert.deepEqual(acl.capabilities('sys/policies/acl/x'), ['deny']);
    assert.equal(acl.check('secret/mine', 'read').allowed, true);
  }
});

test('reuses a compiled ACL for the same set of names in any order', async () => {
  const { store } = newStore();
  await store.put('a', READ_MINE);
  await store.put('b', 'path "secret/b" {\n  capabilities = ["read"]\n}\n');
  const first = await store.acl(['a', 'b']);
  assert.equal(await store.acl(['b', 'A', 'a']), first);
});

test('a changed or deleted policy is seen by the next ACL for its name set', async () => {
  const { store } = newStore();
  await store.put('dev', READ_MINE);
  await store.put('ops', 'path "ops/*" {\n  capabilities = ["read"]\n}\n');
  const opsOnly = await store.acl(['ops']);
  assert.equal((await store.acl(['dev'])).check('secret/mine', 'read').allowed, true);

  await store.put('dev', 'path "secret/mine" {\n  capabilities = ["deny"]\n}\n');
  assert.equal((await store.acl(['dev'])).check('secret/mine', 'read').allowed, false);
  // Name sets that do not contain the changed policy keep their compiled ACL.
  assert.equal(await store.acl(['ops']), opsOnly);

  await store.delete('dev');
  assert.equal((await store.acl(['dev'])).check('secret/mine', 'read').allowed, false);
  await store.put('dev', READ_MINE);
  assert.equal((await store.acl(['dev'])).check('secret/mine', 'read').allowed, true);
});

test('a write during an ACL compilation is not hidden by a stale cache entry', async () => {
  const { store } = newStore();
  await store.put('dev', READ_MINE);
  const pending = store.acl(['dev']);
  const write = store.put('dev', 'path "secret/mine" {\n  capabilities = ["deny"]\n}\n');
  await Promise.all([pending, write]);
  assert.equal((await store.acl(['dev'])).check('secret/mine', 'read').allowed, false);
});
