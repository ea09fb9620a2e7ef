/**
 * The token auth method over real HTTP: expiry on an injected clock, cascade revocation,
 * use limits, accessors, renewal caps.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createManualClock } from '../../src/core/clock.js';
import { api, startTestServer, type TestServer } from '../helpers/server.js';

describe('tokens over HTTP', () => {
  const clock = createManualClock(Date.UTC(2026, 10, 26));
  let server: TestServer;
  let root: string;

  before(async () => {
    server = await startTestServer({ dev: true, storage: 'memory', clock });
    root = server.rootToken as string;
    await api(server, 'PUT', 'secret/data/app', { token: root, body: { data: { v: 'x' } } });
    await api(server, 'PUT', 'sys/policies/acl/reader', { token: root, body: { policy: 'path "secret/data/*" { capabilities = ["read"] }\npath "auth/token/create*" { capabilities = ["update"] }' } });
  });
  after(() => server.destroy());

  const create = async (token: string, body: Record<string, unknown>): Promise<any> => {
    const response = await api(server, 'POST', 'auth/token/create', { token, body });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    return response.body.auth;
  };

  it('rejects an expired token at once, with 403', async () => {
    const auth = await create(root, { policies: ['reader'], ttl: '10m' });
    assert.equal(auth.lease_duration, 600);
    assert.equal((await api(server, 'GET', 'secret/data/app', { token: auth.client_token })).status, 200);
    clock.advance(600_000);
    const denied = await api(server, 'GET', 'secret/data/app', { token: auth.client_token });
    assert.equal(denied.status, 403);
    assert.deepEqual(denied.body, { errors: ['permission denied'] });
  });

  it('revokes children with their parent', async () => {
    const parent = await create(root, { policies: ['reader'], ttl: '1h' });
    const child = await create(parent.client_token, { policies: ['reader'] });
    const grandchild = await create(child.client_token, {});
    assert.deepEqual(grandchild.policies, ['default', 'reader']);
    assert.equal((await api(server, 'POST', 'auth/token/revoke', { token: root, body: { token: parent.client_token } })).status, 204);
    for (const gone of [parent, child, grandchild]) {
      assert.equal((await api(server, 'GET', 'auth/token/lookup-self', { token: gone.client_token })).status, 403);
    }
  });

  it('gives a child the parent policies when the request lists none, as Vault does for []', async () => {
    const parent = await create(root, { policies: ['reader'], ttl: '1h' });
    for (const policies of [[], undefined]) {
      const child = await create(parent.client_token, policies === undefined ? {} : { policies });
      assert.deepEqual(child.policies, ['default', 'reader'], JSON.stringify(policies));
      assert.equal((await api(server, 'GET', 'secret/data/app', { token: child.client_token })).status, 200);
    }
    const fromRoot = await create(root, { policies: [] });
    assert.deepEqual(fromRoot.policies, ['root']);
  });

  it('drops unnamed policies as Vault does: [""] gives `default` alone, and a blank beside a name is ignored', async () => {
    const parent = await create(root, { policies: ['reader'], ttl: '1h' });
    const blank = await create(parent.client_token, { policies: [''] });
    assert.deepEqual(blank.policies, ['default']);
    assert.equal((await api(server, 'GET', 'secret/data/app', { token: blank.client_token })).status, 403);
    const mixed = await create(parent.client_token, { policies: ['', ' reader ', ''] });
    assert.deepEqual(mixed.policies, ['default', 'reader']);
  });

  it('keeps an orphan alive when its creator is revoked', async () => {
    const parent = await create(root, { policies: ['reader'], ttl: '1h' });
    const orphanResponse = await api(server, 'POST', 'auth/token/create-orphan', { token: parent.client_token, body: { policies: ['reader'] } });
    assert.equal(orphanResponse.status, 200);
    assert.equal(orphanResponse.body.auth.orphan, true);
    await api(server, 'POST', 'auth/token/revoke-self', { token: parent.client_token });
    assert.equal((await api(server, 'GET', 'auth/token/lookup-self', { token: orphanResponse.body.auth.client_token })).status, 200);
  });

  it('stops a token after num_uses requests', async () => {
    const auth = await create(root, { policies: ['reader'], num_uses: 2 });
    assert.equal((await api(server, 'GET', 'secret/data/app', { token: auth.client_token })).status, 200);
    assert.equal((await api(server, 'GET', 'secret/data/app', { token: auth.client_token })).status, 200);
    assert.equal((await api(server, 'GET', 'secret/data/app', { token: auth.client_token })).status, 403);
  });

  it('refuses a num_uses too large to count down', async () => {
    const huge = await api(server, 'POST', 'auth/token/create', { token: root, body: { policies: ['reader'], num_uses: 18014398509481984 } });
    assert.equal(huge.status, 400);
    assert.match(String(huge.body.errors), /num_uses must be at most 2147483647/);
  });

  it('spends a use on a refused request too, as Vault does, so a use-limited token cannot probe without limit', async () => {
    const auth = await create(root, { policies: ['reader'], num_uses: 2 });
    assert.equal((await api(server, 'GET', 'sys/mounts', { token: auth.client_token })).status, 403);
    assert.equal((await api(server, 'GET', 'auth/token/lookup-self', { token: auth.client_token })).status, 200, 'its second and last use');
    assert.equal((await api(server, 'GET', 'secret/data/app', { token: auth.client_token })).status, 403);
    const gone = await api(server, 'POST', 'auth/token/lookup-accessor', { token: root, body: { accessor: auth.accessor } });
    assert.equal(gone.status, 400, 'revoked after its last use');
    // A refusal on the last use revokes it as well.
    const last = await create(root, { policies: ['reader'], num_uses: 1 });
    assert.equal((await api(server, 'GET', 'sys/mounts', { token: last.client_token })).status, 403);
    assert.equal((await api(server, 'POST', 'auth/token/lookup-accessor', { token: root, body: { accessor: last.accessor } })).status, 400);
  });

  it('lets exactly num_uses of many concurrent requests through', async () => {
    const auth = await create(root, { policies: ['reader'], num_uses: 2 });
    const statuses = await Promise.all(Array.from({ length: 20 }, () => api(server, 'GET', 'secret/data/app', { token: auth.client_token }).then((r) => r.status)));
    assert.equal(statuses.filter((s) => s === 200).length, 2, String(statuses));
    assert.equal(statuses.filter((s) => s === 403).length, 18, String(statuses));
  });

  it('looks up, renews and revokes by accessor without revealing the token', async () => {
    const named = await create(root, { policies: ['reader'], display_name: 'My App!' });
    assert.equal((await api(server, 'POST', 'auth/token/lookup', { token: root, body: { token: named.client_token } })).body.data.display_name, 'token-My-App', 'case kept, as Vault');
    const auth = await create(root, { policies: ['reader'], ttl: '1h', display_name: 'ci job', meta: { team: 'a' } });
    const looked = await api(server, 'POST', 'auth/token/lookup-accessor', { token: root, body: { accessor: auth.accessor } });
    assert.equal(looked.status, 200);
    assert.equal(looked.body.data.id, '');
    assert.equal(looked.body.data.display_name, 'token-ci-job');
    assert.deepEqual(looked.body.data.meta, { team: 'a' });
    const listed = await api(server, 'LIST', 'auth/token/accessors', { token: root });
    assert.ok(listed.body.data.keys.includes(auth.accessor));
    assert.equal((await api(server, 'POST', 'auth/token/revoke-accessor', { token: root, body: { accessor: auth.accessor } })).status, 204);
    assert.equal((await api(server, 'GET', 'auth/token/lookup-self', { token: auth.client_token })).status, 403);
    // Again: the token is gone, which is what was asked (Vault's warning, not an error).
    const again = await api(server, 'POST', 'auth/token/revoke-accessor', { token: root, body: { accessor: auth.accessor } });
    assert.equal(again.status, 200);
    assert.deepEqual(again.body.warnings, ['No token found with this accessor']);
  });

  it('renews itself within the max TTL', async () => {
    const auth = await create(root, { policies: ['reader'], ttl: '30m', explicit_max_ttl: '1h' });
    clock.advance(20 * 60_000);
    const renewed = await api(server, 'POST', 'auth/token/renew-self', { token: auth.client_token, body: { increment: '30m' } });
    assert.equal(renewed.status, 200);
    assert.equal(renewed.body.auth.client_token, auth.client_token);
    assert.equal(renewed.body.auth.lease_duration, 1800);
    clock.advance(20 * 60_000);
    const capped = await api(server, 'POST', 'auth/token/renew-self', { token: auth.client_token, body: { increment: '1h' } });
    assert.equal(capped.body.auth.lease_duration, 1200);
  });

  it('refuses privilege escalation through token creation', async () => {
    const reader = await create(root, { policies: ['reader'], ttl: '1h' });
    for (const body of [{ policies: ['root'] }, { policies: ['other'] }, { no_parent: true }, { id: 'hvs.chosen' }, { period: '1h' }]) {
      const response = await api(server, 'POST', 'auth/token/create', { token: reader.client_token, body });
      assert.equal(response.status, 400, JSON.stringify(body));
    }
    const bad = await api(server, 'POST', 'auth/token/create', { token: root, body: { ttl: 'forever' } });
    assert.equal(bad.status, 400);
    assert.match(bad.body.errors[0], /invalid ttl/);
  });

  it('warns about policies that do not exist yet', async () => {
    const response = await api(server, 'POST', 'auth/token/create', { token: root, body: { policies: ['not-there'] } });
    assert.equal(response.status, 200);
    assert.deepEqual(response.body.warnings, ['Policy "not-there" does not exist']);
  });
  it('keeps an expiring root token from minting one that never expires', async () => {
    const expiringRoot = await create(root, { policies: ['root'], ttl: '1h' });
    const refused = await api(server, 'POST', 'auth/token/create', { token: expiringRoot.client_token, body: { policies: ['root'] } });
    assert.equal(refused.status, 400);
    assert.match(refused.body.errors[0], /expiring root tokens cannot create non-expiring root tokens/);
    const bounded = await create(expiringRoot.client_token, { policies: ['root'], ttl: '10m' });
    assert.equal(bounded.lease_duration, 600);
    const forever = await create(root, { policies: ['root'] });
    assert.equal(forever.lease_duration, 0, 'a root token that never expires may still mint one');
  });

  it('refuses durations past what Vault can represent, instead of failing later', async () => {
    for (const body of [{ ttl: 1e14 }, { ttl: '100000000000s' }, { explicit_max_ttl: 1e12 }, { period: 1e300 }]) {
      const response = await api(server, 'POST', 'auth/token/create', { token: root, body });
      assert.equal(response.status, 400, JSON.stringify(body));
    }
    // explicit_max_ttl lowers the system maximum (768h here) but never raises it.
    const capped = await create(root, { policies: ['reader'], ttl: '100000h', explicit_max_ttl: '100000h' });
    assert.equal(capped.lease_duration, 768 * 3600);
    const self = await api(server, 'GET', 'auth/token/lookup-self', { token: capped.client_token });
    assert.equal(self.status, 200);
  });

  it('answers a lookup of an unknown token with 403 bad token, as Vault does', async () => {
    const response = await api(server, 'POST', 'auth/token/lookup', { token: root, body: { token: 'hvs.not-a-token' } });
    assert.equal(response.status, 403);
    assert.deepEqual(response.body, { errors: ['bad token'] });
  });

  it('gives a child the default policy only if its parent has it, unless the parent has sudo', async () => {
    const bare = await create(root, { policies: ['reader'], no_default_policy: true, ttl: '1h' });
    assert.deepEqual(bare.policies, ['reader']);
    const child = await create(bare.client_token, { ttl: '10m' });
    assert.deepEqual(child.policies, ['reader']);
    const asked = await api(server, 'POST', 'auth/token/create', { token: bare.client_token, body: { policies: ['reader', 'default'] } });
    assert.equal(asked.status, 400);
    const withDefault = await create(root, { policies: ['reader'], ttl: '1h' });
    assert.deepEqual((await create(withDefault.client_token, { policies: ['reader'] })).policies, ['default', 'reader']);
  });
  it('refuses child tokens to a use-limited token, as Vault does', async () => {
    const limited = await create(root, { policies: ['reader'], num_uses: 3, ttl: '1h' });
    const refused = await api(server, 'POST', 'auth/token/create', { token: limited.client_token, body: { policies: ['reader'] } });
    assert.equal(refused.status, 400);
    assert.deepEqual(refused.body, { errors: ['restricted use token cannot generate child tokens'] });
    // Nor through another engine that mints tokens under the caller (an AWS access key's).
    await api(server, 'PUT', 'sys/policies/acl/key-minter', { token: root, body: { policy: 'path "aws-keys/creds" { capabilities = ["update"] }' } });
    const minter = await create(root, { policies: ['key-minter'], num_uses: 3, ttl: '1h' });
    const key = await api(server, 'POST', 'aws-keys/creds', { token: minter.client_token, body: { policies: ['key-minter'], ttl: '5m' } });
    assert.equal(key.status, 400, JSON.stringify(key.body));
    assert.deepEqual(key.body, { errors: ['restricted use token cannot generate child tokens'] });
  });
  it('lets a use-limited token look itself up, renew and revoke itself with its last use, as Vault does', async () => {
    const once = await create(root, { policies: ['reader'], num_uses: 1, ttl: '1h' });
    const self = await api(server, 'GET', 'auth/token/lookup-self', { token: once.client_token });
    assert.equal(self.status, 200, JSON.stringify(self.body));
    assert.equal((await api(server, 'GET', 'auth/token/lookup-self', { token: once.client_token })).status, 403, 'then it is spent');
    const twice = await create(root, { policies: ['reader'], num_uses: 2, ttl: '1h' });
    assert.equal((await api(server, 'GET', 'secret/data/app', { token: twice.client_token })).status, 200);
    assert.equal((await api(server, 'PUT', 'auth/token/revoke-self', { token: twice.client_token })).status, 204);
    assert.equal((await api(server, 'POST', 'auth/token/lookup-accessor', { token: root, body: { accessor: twice.accessor } })).status, 400);
  });
  it('applies the tuned default and max TTL of auth/token/ to tokens it creates and renews, as Vault does', async () => {
    assert.equal((await api(server, 'POST', 'sys/auth/token/tune', { token: root, body: { default_lease_ttl: '20m', max_lease_ttl: '1h' } })).status, 204);
    try {
      assert.equal((await create(root, { policies: ['reader'] })).lease_duration, 1200);
      const long = await create(root, { policies: ['reader'], ttl: '48h' });
      assert.equal(long.lease_duration, 3600);
      clock.advance(30 * 60_000);
      const renewed = await api(server, 'POST', 'auth/token/renew-self', { token: long.client_token, body: { increment: '48h' } });
      assert.equal(renewed.status, 200, JSON.stringify(renewed.body));
      assert.equal(renewed.body.auth.lease_duration, 1800, 'capped at creation + max_lease_ttl');
      // A sub-second TTL is one second, not "unset" (which would be the default).
      assert.equal((await create(root, { policies: ['reader'], ttl: '500ms' })).lease_duration, 1);
    } finally {
      assert.equal((await api(server, 'POST', 'sys/auth/token/tune', { token: root, body: { default_lease_ttl: '0', max_lease_ttl: '0' } })).status, 204);
    }
    assert.equal((await create(root, { policies: ['reader'] })).lease_duration, 768 * 3600);
  });
  it('checks sudo on the path requested (create-orphan is its own), lets sudo set an id, and writes meta values as text', async () => {
    const policy = 'path "auth/token/create-orphan" { capabilities = ["update", "sudo"] }\npath "auth/token/create" { capabilities = ["update"] }';
    await api(server, 'PUT', 'sys/policies/acl/orphan-maker', { token: root, body: { policy } });
    const maker = (await create(root, { policies: ['orphan-maker'], ttl: '1h' })).client_token;
    const orphan = await api(server, 'POST', 'auth/token/create-orphan', { token: maker, body: { policies: ['reader'], period: '1h', id: 'hvs.custom-orphan-id-0001', meta: { n: 1, ok: true, s: 'x' } } });
    assert.equal(orphan.status, 200, JSON.stringify(orphan.body));
    assert.equal(orphan.body.auth.client_token, 'hvs.custom-orphan-id-0001');
    assert.equal(orphan.body.auth.orphan, true);
    assert.deepEqual(orphan.body.auth.metadata, { n: '1', ok: 'true', s: 'x' });
    // Sudo on create-orphan is not sudo on create, where this token may only update.
    const viaCreate = await api(server, 'POST', 'auth/token/create', { token: maker, body: { period: '1h' } });
    assert.equal(viaCreate.status, 400, JSON.stringify(viaCreate.body));
    assert.deepEqual(viaCreate.body.errors, ['root or sudo privileges required to create periodic token']);
    const idViaCreate = await api(server, 'POST', 'auth/token/create', { token: maker, body: { id: 'hvs.custom-id-0002' } });
    assert.deepEqual(idViaCreate.body.errors, ['root or sudo privileges required to specify token id']);
    assert.equal((await api(server, 'POST', 'auth/token/create', { token: root, body: { meta: { bad: { nested: 1 } } } })).status, 400);
    const listed = await api(server, 'LIST', 'sys/policy', { token: root });
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    assert.ok(listed.body.data.keys.includes('orphan-maker'));
  });
});
