/**
 * Mounts, keyring rotation and initialisation edge cases over real HTTP on SQLite.
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { api, startTestServer, type TestServer } from '../helpers/server.js';

describe('mounts and the barrier keyring', () => {
  let server: TestServer;
  let root: string;

  before(async () => {
    server = await startTestServer({ dev: true });
    root = server.rootToken as string;
  });
  after(() => server.destroy());

  it('keeps mounts apart and deletes a mount\'s data when it is disabled', async () => {
    assert.equal((await api(server, 'POST', 'sys/mounts/team-a', { token: root, body: { type: 'kv-v2' } })).status, 204);
    assert.equal((await api(server, 'POST', 'sys/mounts/team-b', { token: root, body: { type: 'kv', options: { version: '2' } } })).status, 204);
    await api(server, 'POST', 'team-a/data/shared-name', { token: root, body: { data: { owner: 'a' } } });
    await api(server, 'POST', 'team-b/data/shared-name', { token: root, body: { data: { owner: 'b' } } });
    assert.equal((await api(server, 'GET', 'team-a/data/shared-name', { token: root })).body.data.data.owner, 'a');
    assert.equal((await api(server, 'GET', 'team-b/data/shared-name', { token: root })).body.data.data.owner, 'b');

    const mounts = await api(server, 'GET', 'sys/mounts', { token: root });
    const uuid = mounts.body.data['team-a/'].uuid as string;
    assert.equal(mounts.body['team-a/'].uuid, uuid, 'legacy top-level copy');

    assert.equal((await api(server, 'DELETE', 'sys/mounts/team-a', { token: root })).status, 204);
    assert.equal((await api(server, 'GET', 'team-a/data/shared-name', { token: root })).status, 404);
    // Re-enabling at the same path gives a new, empty mount.
    await api(server, 'POST', 'sys/mounts/team-a', { token: root, body: { type: 'kv-v2' } });
    assert.equal((await api(server, 'GET', 'team-a/data/shared-name', { token: root })).status, 404);
    assert.equal((await api(server, 'GET', 'team-b/data/shared-name', { token: root })).body.data.data.owner, 'b');
  });

  it('refuses overlapping, reserved and unknown mounts with 400', async () => {
    for (const [path, body] of [
      ['team-b/nested', { type: 'kv' }],
      ['sys/evil', { type: 'kv' }],
      ['auth/x', { type: 'kv' }],
      ['nope', { type: 'no-such-engine' }],
      ['bad*name', { type: 'kv' }],
    ] as const) {
      const response = await api(server, 'POST', `sys/mounts/${path}`, { token: root, body });
      assert.equal(response.status, 400, `${path}: ${JSON.stringify(response.body)}`);
    }
    assert.equal((await api(server, 'DELETE', 'sys/mounts/sys', { token: root })).status, 400);
  });

  it('answers a read of a mount that does not exist with 400 naming the path, as Vault', async () => {
    const secrets = await api(server, 'GET', 'sys/mounts/no-such-mount', { token: root });
    assert.equal(secrets.status, 400);
    assert.deepEqual(secrets.body, { errors: ['No secret engine mount at no-such-mount/'] });
    const auth = await api(server, 'GET', 'sys/auth/no-such-auth', { token: root });
    assert.equal(auth.status, 400);
    assert.deepEqual(auth.body, { errors: ['No auth engine at no-such-auth/'] });
  });

  it('tunes lease TTLs and reports them', async () => {
    assert.equal((await api(server, 'POST', 'sys/mounts/team-b/tune', { token: root, body: { default_lease_ttl: '1h', max_lease_ttl: '2h' } })).status, 204);
    const tuned = await api(server, 'GET', 'sys/mounts/team-b/tune', { token: root });
    assert.equal(tuned.body.data.default_lease_ttl, 3600);
    assert.equal(tuned.body.data.max_lease_ttl, 7200);
    const bad = await api(server, 'POST', 'sys/mounts/team-b/tune', { token: root, body: { default_lease_ttl: '3h' } });
    assert.equal(bad.status, 400);
  });

  it('tunes as Vault does: sys/ and cubbyhole/ are untunable, "system" resets a TTL, options merge, a path below a mount tunes that mount', async () => {
    for (const path of ['sys', 'cubbyhole']) {
      const refused = await api(server, 'POST', `sys/mounts/${path}/tune`, { token: root, body: { audit_non_hmac_request_keys: ['token'] } });
      assert.equal(refused.status, 400, path);
      assert.deepEqual(refused.body, { errors: [`cannot tune "${path}/"`] });
    }
    assert.equal((await api(server, 'POST', 'sys/mounts/tuned-kv', { token: root, body: { type: 'kv-v2' } })).status, 204);
    // Effective values: the server's system TTLs until the mount is tuned.
    const fresh = (await api(server, 'GET', 'sys/mounts/tuned-kv/tune', { token: root })).body.data;
    assert.deepEqual([fresh.default_lease_ttl, fresh.max_lease_ttl], [768 * 3600, 768 * 3600]);
    assert.equal((await api(server, 'POST', 'sys/mounts/tuned-kv/app/tune', { token: root, body: { default_lease_ttl: '1h', max_lease_ttl: '2h', options: { version: '2', extra: 'x' } } })).status, 204);
    const below = (await api(server, 'GET', 'sys/mounts/tuned-kv/some/deeper/path/tune', { token: root })).body.data;
    assert.deepEqual([below.default_lease_ttl, below.max_lease_ttl, below.options], [3600, 7200, { version: '2', extra: 'x' }]);
    assert.equal((await api(server, 'POST', 'sys/mounts/tuned-kv/tune', { token: root, body: { default_lease_ttl: 'system', options: { extra: '' } } })).status, 204);
    const reset = (await api(server, 'GET', 'sys/mounts/tuned-kv/tune', { token: root })).body.data;
    assert.deepEqual([reset.default_lease_ttl, reset.max_lease_ttl, reset.options], [7200, 7200, { version: '2' }], 'the default follows the system, under the mount max');
  });

  it('refuses at enable a default lease TTL above the max (which could then never be tuned)', async () => {
    const above = await api(server, 'POST', 'sys/mounts/bad-ttls', { token: root, body: { type: 'kv', config: { default_lease_ttl: '3h', max_lease_ttl: '1h' } } });
    assert.equal(above.status, 400);
    assert.deepEqual(above.body, { errors: ['given default lease TTL greater than given max lease TTL'] });
    const aboveSystem = await api(server, 'POST', 'sys/mounts/bad-ttls', { token: root, body: { type: 'kv', config: { default_lease_ttl: '1000h' } } });
    assert.deepEqual(aboveSystem.body, { errors: ['given default lease TTL greater than system max lease TTL'] });
    assert.equal((await api(server, 'GET', 'sys/mounts/bad-ttls', { token: root })).status, 400, 'nothing was mounted');
  });

  it('stores the audit and listing settings of a tune and shows them, and refuses settings it cannot honour', async () => {
    const tuned = await api(server, 'POST', 'sys/mounts/team-b/tune', { token: root, body: { audit_non_hmac_request_keys: ['region'], audit_non_hmac_response_keys: 'region, zone', listing_visibility: 'unauth' } });
    assert.equal(tuned.status, 204, JSON.stringify(tuned.body));
    const read = (await api(server, 'GET', 'sys/mounts/team-b/tune', { token: root })).body.data;
    assert.deepEqual([read.audit_non_hmac_request_keys, read.audit_non_hmac_response_keys, read.listing_visibility], [['region'], ['region', 'zone'], 'unauth']);
    assert.deepEqual((await api(server, 'GET', 'sys/mounts', { token: root })).body.data['team-b/'].config.audit_non_hmac_response_keys, ['region', 'zone']);
    // listing_visibility "unauth": the unauthenticated preflight lists it, briefly.
    const listed = await api(server, 'GET', 'sys/internal/ui/mounts');
    assert.deepEqual(listed.body.data.secret, { 'team-b/': { type: 'kv', description: '', options: { version: '2' } } });
    // A token sees what anyone may list, whatever its policies.
    const narrow = (await api(server, 'POST', 'auth/token/create', { token: root, body: { policies: ['default'] } })).body.auth.client_token as string;
    assert.ok('team-b/' in (await api(server, 'GET', 'sys/internal/ui/mounts', { token: narrow })).body.data.secret);
    for (const body of [{ passthrough_request_headers: ['X-Custom'] }, { listing_visibility: 'public' }, { audit_non_hmac_request_keys: [1] }, { token_type: 'batch' }, { user_lockout_config: { lockout_threshold: '1' } }]) {
      assert.equal((await api(server, 'POST', 'sys/mounts/team-b/tune', { token: root, body })).status, 400, JSON.stringify(body));
    }
    assert.equal((await api(server, 'POST', 'sys/mounts/team-b/tune', { token: root, body: { listing_visibility: '' } })).status, 204);
    assert.deepEqual((await api(server, 'GET', 'sys/internal/ui/mounts')).body.data.secret, {});
  });

  it('rotates the keyring: new writes use the new term and old data stays readable', async () => {
    await api(server, 'POST', 'team-b/data/before-rotation', { token: root, body: { data: { v: 'old' } } });
    const before = await api(server, 'GET', 'sys/key-status', { token: root });
    assert.equal(before.body.data.term, 1);
    assert.equal((await api(server, 'PUT', 'sys/rotate', { token: root })).status, 204);
    const after = await api(server, 'GET', 'sys/key-status', { token: root });
    assert.equal(after.body.data.term, 2);
    assert.equal(after.body.term, 2, 'legacy top-level copy');
    await api(server, 'POST', 'team-b/data/after-rotation', { token: root, body: { data: { v: 'new' } } });
    assert.equal((await api(server, 'GET', 'team-b/data/before-rotation', { token: root })).body.data.data.v, 'old');
    assert.equal((await api(server, 'GET', 'team-b/data/after-rotation', { token: root })).body.data.data.v, 'new');
  });

  it('refuses a second initialisation', async () => {
    const response = await api(server, 'PUT', 'sys/init', { body: { secret_shares: 1, secret_threshold: 1 } });
    assert.equal(response.status, 400);
  });

  it('needs sudo for sys/rotate, sys/seal and sys/audit', async () => {
    await api(server, 'PUT', 'sys/policies/acl/ops', { token: root, body: { policy: 'path "sys/*" { capabilities = ["create", "read", "update", "delete", "list"] }' } });
    const ops = (await api(server, 'POST', 'auth/token/create', { token: root, body: { policies: ['ops'] } })).body.auth.client_token;
    for (const [method, path] of [['PUT', 'sys/rotate'], ['PUT', 'sys/seal'], ['GET', 'sys/audit']] as const) {
      assert.equal((await api(server, method, path, { token: ops })).status, 403, path);
    }
    assert.equal((await api(server, 'GET', 'sys/seal-status')).body.sealed, false);
  });

  it('keeps the dev unseal key and root token files private', () => {
    for (const name of ['dev-unseal-key', 'dev-root-token']) {
      const mode = statSync(join(server.dataDir, name)).mode;
      assert.equal(mode & 0o777, 0o600, name);
    }
  });
  it('requires sudo to enable, tune or disable an auth method, as Vault does, but not a secrets mount', async () => {
    const policy = 'path "sys/*" { capabilities = ["create", "read", "update", "delete", "list"] }';
    assert.equal((await api(server, 'PUT', 'sys/policies/acl/sys-no-sudo', { token: root, body: { policy } })).status, 204);
    const created = await api(server, 'POST', 'auth/token/create', { token: root, body: { policies: ['sys-no-sudo'], ttl: '10m' } });
    const token = created.body.auth.client_token as string;
    assert.equal((await api(server, 'POST', 'sys/auth/up-nosudo', { token, body: { type: 'userpass' } })).status, 403);
    assert.equal((await api(server, 'GET', 'sys/auth', { token })).status, 200, 'listing auth methods needs no sudo');
    assert.equal((await api(server, 'POST', 'sys/auth/up-nosudo', { token: root, body: { type: 'userpass' } })).status, 204);
    assert.equal((await api(server, 'POST', 'sys/auth/up-nosudo/tune', { token, body: { default_lease_ttl: '1h' } })).status, 403);
    assert.equal((await api(server, 'DELETE', 'sys/auth/up-nosudo', { token })).status, 403);
    assert.equal((await api(server, 'POST', 'sys/mounts/kv-nosudo', { token, body: { type: 'kv-v2' } })).status, 204);
    assert.equal((await api(server, 'DELETE', 'sys/mounts/kv-nosudo', { token })).status, 204);
    assert.equal((await api(server, 'DELETE', 'sys/auth/up-nosudo', { token: root })).status, 204);
  });
  it('requires sudo to list leases, from the top level down', async () => {
    const policy = 'path "sys/leases/lookup/*" { capabilities = ["list"] }\npath "sys/leases/lookup" { capabilities = ["list"] }';
    assert.equal((await api(server, 'PUT', 'sys/policies/acl/lease-list-no-sudo', { token: root, body: { policy } })).status, 204);
    const created = await api(server, 'POST', 'auth/token/create', { token: root, body: { policies: ['lease-list-no-sudo'], ttl: '10m' } });
    const token = created.body.auth.client_token as string;
    assert.equal((await api(server, 'LIST', 'sys/leases/lookup/', { token })).status, 403);
    assert.equal((await api(server, 'LIST', 'sys/leases/lookup', { token })).status, 403);
    const slashed = 'path "sys/leases/*" { capabilities = ["update", "list"] }';
    assert.equal((await api(server, 'PUT', 'sys/policies/acl/lease-slash', { token: root, body: { policy: slashed } })).status, 204);
    const other = (await api(server, 'POST', 'auth/token/create', { token: root, body: { policies: ['lease-slash'], ttl: '10m' } })).body.auth.client_token as string;
    assert.equal((await api(server, 'PUT', 'sys/leases/lookup/', { token: other, body: { lease_id: 'x/y' } })).status, 403, 'anything on leases/lookup/ needs sudo');
    assert.equal((await api(server, 'PUT', 'sys/leases/lookup', { token: other, body: { lease_id: 'x/y' } })).status, 400, 'a lookup by id does not');
    assert.equal((await api(server, 'LIST', 'sys/leases/lookup/some/prefix/', { token })).status, 403);
    assert.notEqual((await api(server, 'LIST', 'sys/leases/lookup/', { token: root })).status, 403);
  });
});

describe('dev mode restarted with another -dev-root-token', () => {
  it('writes the new token to the token file; both tokens are root', async () => {
    const first = await startTestServer({ dev: true, storage: 'sqlite', keepDataDir: true });
    const dataDir = first.dataDir;
    const before = readFileSync(join(dataDir, 'dev-root-token'), 'utf8').trim();
    await first.close();
    const second = await startTestServer({ dev: true, storage: 'sqlite', dataDir, devRootToken: 'dev-root-2' });
    try {
      assert.equal(readFileSync(join(dataDir, 'dev-root-token'), 'utf8').trim(), 'dev-root-2');
      assert.equal(statSync(join(dataDir, 'dev-root-token')).mode & 0o777, 0o600);
      for (const token of [before, 'dev-root-2']) {
        assert.deepEqual((await api(second, 'GET', 'auth/token/lookup-self', { token })).body.data.policies, ['root']);
      }
    } finally {
      await second.destroy();
    }
  });
});
