/**
 * Token roles over real HTTP, as Vault's: `auth/token/roles/:name` stores a recipe and
 * `auth/token/create/:name` follows it. A role may hand out policies its caller lacks (only
 * those it allows, never what it disallows, never root), makes orphan and periodic tokens without
 * sudo, caps uses and TTLs, binds source addresses, and governs renewal for as long as it exists.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createManualClock } from '../../src/core/clock.js';
import { api, startTestServer, type TestServer } from '../helpers/server.js';

describe('token roles', () => {
  let server: TestServer;
  let root: string;

  const ok = async (method: string, path: string, token: string, body?: unknown) => {
    const response = await api(server, method, path, { token, ...(body === undefined ? {} : { body }) });
    assert.ok(response.status < 300, `${method} ${path}: ${response.status} ${JSON.stringify(response.body)}`);
    return response;
  };
  const refused = async (path: string, token: string, body: unknown, pattern: RegExp, status = 400) => {
    const response = await api(server, 'POST', path, { token, body });
    assert.equal(response.status, status, JSON.stringify(response.body));
    assert.match(String(response.body.errors), pattern);
  };
  const lookup = async (token: string) => (await ok('GET', 'auth/token/lookup-self', token)).body.data;
  const createVia = async (role: string, token: string, body: Record<string, unknown> = {}) =>
    (await ok('POST', `auth/token/create/${role}`, token, body)).body.auth;

  /** A token whose only grant is creating through the named roles (and the default policy). */
  const creator = async (roles: string[]): Promise<string> => {
    const name = `creator-${roles.join('-')}`;
    const rules = roles.map((role) => `path "auth/token/create/${role}" { capabilities = ["update"] }`).join('\n');
    await ok('PUT', `sys/policies/acl/${name}`, root, { policy: rules });
    return (await ok('POST', 'auth/token/create', root, { policies: [name], ttl: '1h' })).body.auth.client_token;
  };

  before(async () => {
    server = await startTestServer({ dev: true, storage: 'memory' });
    root = server.rootToken as string;
    for (const name of ['app-read', 'app-write', 'ops', 'secret-admin']) {
      await ok('PUT', `sys/policies/acl/${name}`, root, { policy: `path "secret/data/${name}/*" { capabilities = ["read"] }` });
    }
  });
  after(async () => {
    await server?.destroy();
  });

  it('writes, reads, lists, updates field by field and deletes a role', async () => {
    assert.equal((await api(server, 'LIST', 'auth/token/roles', { token: root })).status, 404, 'no roles yet: 404, as Vault');
    await ok('POST', 'auth/token/roles/app', root, { allowed_policies: 'app-read, app-write', token_explicit_max_ttl: '2h', path_suffix: 'v1' });
    const read = (await ok('GET', 'auth/token/roles/app', root)).body.data;
    assert.deepEqual([read.name, read.allowed_policies, read.token_explicit_max_ttl, read.path_suffix, read.renewable, read.orphan, read.token_type], ['app', ['app-read', 'app-write'], 7200, 'v1', true, false, 'default-service']);
    await ok('POST', 'auth/token/roles/app', root, { orphan: true });
    const updated = (await ok('GET', 'auth/token/roles/app', root)).body.data;
    assert.deepEqual([updated.orphan, updated.allowed_policies], [true, ['app-read', 'app-write']], 'an update keeps the fields it does not name');
    await ok('POST', 'auth/token/roles/other', root, {});
    assert.deepEqual((await ok('LIST', 'auth/token/roles', root)).body.data.keys, ['app', 'other']);
    await ok('DELETE', 'auth/token/roles/other', root);
    assert.equal((await api(server, 'GET', 'auth/token/roles/other', { token: root })).status, 404);
    await ok('DELETE', 'auth/token/roles/app', root);
  });

  it('hands out its allowed policies to a caller who holds none of them, and nothing else', async () => {
    await ok('POST', 'auth/token/roles/reader', root, { allowed_policies: ['app-read', 'app-write'], allowed_policies_glob: ['team-*'] });
    const caller = await creator(['reader']);
    const all = await createVia('reader', caller);
    assert.deepEqual(all.policies, ['app-read', 'app-write', 'default'], 'no policies asked: the role\'s allowed list');
    assert.deepEqual((await createVia('reader', caller, { policies: ['app-read'] })).policies, ['app-read', 'default']);
    assert.deepEqual((await createVia('reader', caller, { policies: ['team-blue'] })).policies, ['default', 'team-blue'], 'a glob match');
    await refused('auth/token/create/reader', caller, { policies: ['ops'] }, /must be subset of the role's allowed policies/);
    await refused('auth/token/create/reader', caller, { policies: ['root'] }, /must be subset/);
    // The plain create path still holds the caller to its own policies, and needs its own grant.
    await refused('auth/token/create', caller, { policies: ['app-read'] }, /permission denied/, 403);
    await refused('auth/token/create/nobody', root, {}, /unknown role nobody/);
    const made = await lookup(all.client_token);
    assert.deepEqual([made.path, made.role, made.orphan], ['auth/token/create/reader', 'reader', false]);
  });

  it('never grants what it disallows, nor root, and leaves out default when told', async () => {
    await ok('POST', 'auth/token/roles/open', root, { disallowed_policies: ['secret-admin'], disallowed_policies_glob: ['ops*'] });
    await refused('auth/token/create/open', root, { policies: ['secret-admin'] }, /"secret-admin" is disallowed by this role/);
    await refused('auth/token/create/open', root, { policies: ['ops'] }, /"ops" is disallowed by this role/);
    await refused('auth/token/create/open', root, {}, /root tokens may not be created from token roles/);
    assert.deepEqual((await createVia('open', root, { policies: ['app-read'] })).policies, ['app-read', 'default']);
    // Without allowed policies the usual rule holds: a caller gets at most its own.
    const limited = (await ok('POST', 'auth/token/create', root, { policies: ['app-read'], ttl: '1h' })).body.auth.client_token;
    await ok('PUT', 'sys/policies/acl/open-creator', root, { policy: 'path "auth/token/create/open" { capabilities = ["update"] }' });
    const caller = (await ok('POST', 'auth/token/create', root, { policies: ['app-read', 'open-creator'], ttl: '1h' })).body.auth.client_token;
    assert.deepEqual((await createVia('open', caller)).policies, ['app-read', 'default', 'open-creator']);
    await refused('auth/token/create/open', caller, { policies: ['app-write'] }, /subset of the parent token's policies/);
    await ok('POST', 'auth/token/revoke', root, { token: limited });
    await ok('POST', 'auth/token/roles/nodefault', root, { allowed_policies: ['app-read'], disallowed_policies: ['default'] });
    assert.deepEqual((await createVia('nodefault', root)).policies, ['app-read']);
    await ok('POST', 'auth/token/roles/nodefault', root, { disallowed_policies: [], token_no_default_policy: true });
    assert.deepEqual((await createVia('nodefault', root)).policies, ['app-read']);
  });

  it('makes orphan and periodic tokens without sudo, and caps uses and TTLs', async () => {
    await ok('POST', 'auth/token/roles/service', root, { allowed_policies: ['app-read'], orphan: true, token_period: '10m', token_num_uses: 5, path_suffix: 'blue' });
    const caller = await creator(['service']);
    const made = await createVia('service', caller, { num_uses: 9, ttl: '1h' });
    // Looked up by root: a lookup-self would spend one of its uses.
    const info = (await ok('POST', 'auth/token/lookup', root, { token: made.client_token })).body.data;
    assert.deepEqual([info.orphan, info.period, info.num_uses, info.path, info.ttl <= 600 && info.ttl > 590], [true, 600, 5, 'auth/token/create/service/blue', true]);
    // An orphan outlives its creator.
    await ok('POST', 'auth/token/revoke-self', caller);
    assert.equal((await api(server, 'GET', 'auth/token/lookup-self', { token: made.client_token })).status, 200);
    // The role's path suffix lets an operator revoke what it made, by prefix.
    await ok('POST', 'sys/leases/revoke-prefix/auth/token/create/service/blue', root);
    assert.equal((await api(server, 'GET', 'auth/token/lookup-self', { token: made.client_token })).status, 403);

    await ok('POST', 'auth/token/roles/capped', root, { allowed_policies: ['app-read'], token_explicit_max_ttl: '30m', renewable: false, token_bound_cidrs: ['10.0.0.0/8'] });
    const capped = await createVia('capped', root, { explicit_max_ttl: '2h' });
    const cappedInfo = (await ok('POST', 'auth/token/lookup', root, { token: capped.client_token })).body.data;
    assert.deepEqual([cappedInfo.explicit_max_ttl, cappedInfo.renewable, cappedInfo.bound_cidrs], [1800, false, ['10.0.0.0/8']]);
    // From 127.0.0.1, outside its blocks, the token is refused.
    assert.equal((await api(server, 'GET', 'auth/token/lookup-self', { token: capped.client_token })).status, 403);
  });

  it('renews under the role as it is now, and not at all once it is deleted', async () => {
    await ok('POST', 'auth/token/roles/periodic', root, { allowed_policies: ['app-read'], token_period: '20m' });
    const made = await createVia('periodic', root);
    await ok('POST', 'auth/token/roles/periodic', root, { token_period: '5m' });
    const renewed = (await ok('POST', 'auth/token/renew-self', made.client_token, {})).body.auth;
    assert.equal(renewed.lease_duration, 300, 'the role\'s new period applies');
    await ok('DELETE', 'auth/token/roles/periodic', root);
    await refused('auth/token/renew-self', made.client_token, {}, /original token role \(periodic\) could not be found, not renewing/);
    // Still a valid token until it expires: deleting a role revokes nothing, as in Vault.
    assert.equal((await api(server, 'GET', 'auth/token/lookup-self', { token: made.client_token })).status, 200);
  });

  it('keeps sudo for what the role does not give: no_parent, a custom id, a period of the caller\'s choosing', async () => {
    await ok('POST', 'auth/token/roles/plain', root, { allowed_policies: ['app-read'] });
    await ok('POST', 'auth/token/roles/periodic-short', root, { allowed_policies: ['app-read'], token_period: '1h' });
    const caller = await creator(['plain', 'periodic-short']);
    await refused('auth/token/create/plain', caller, { no_parent: true }, /root or sudo privileges required to create orphan token/);
    await refused('auth/token/create/plain', caller, { id: 'my-own-token-id' }, /root or sudo privileges required to specify token id/);
    await refused('auth/token/create/plain', caller, { period: '10m' }, /root or sudo privileges required to create periodic token/);
    await refused('auth/token/create/periodic-short', caller, { period: '10m' }, /root or sudo privileges required to create periodic token/);
    // With sudo, a shorter period than the role's is kept; a longer one is not.
    const shorter = await createVia('periodic-short', root, { period: '10m' });
    const longer = await createVia('periodic-short', root, { period: '5h' });
    assert.deepEqual([shorter.lease_duration, longer.lease_duration], [600, 3600]);
  });

  it('tells creating a role from updating one, for the ACL', async () => {
    await ok('POST', 'auth/token/roles/tunable', root, { allowed_policies: ['app-read'] });
    await ok('PUT', 'sys/policies/acl/role-tuner', root, { policy: 'path "auth/token/roles/*" { capabilities = ["update", "read"] }' });
    const tuner = (await ok('POST', 'auth/token/create', root, { policies: ['role-tuner'], ttl: '1h' })).body.auth.client_token;
    await ok('POST', 'auth/token/roles/tunable', tuner, { renewable: false });
    assert.equal((await ok('GET', 'auth/token/roles/tunable', tuner)).body.data.renewable, false);
    await refused('auth/token/roles/brand-new', tuner, { allowed_policies: ['secret-admin'] }, /permission denied/, 403);
  });

  it('matches disallowed globs whatever their case, and adds default only as a plain create would', async () => {
    await ok('POST', 'auth/token/roles/shouty', root, { disallowed_policies_glob: ['OPS*'] });
    await refused('auth/token/create/shouty', root, { policies: ['ops'] }, /"ops" is disallowed by this role/);
    await ok('PUT', 'sys/policies/acl/plain-creator', root, { policy: 'path "auth/token/create/unlisted" { capabilities = ["update"] }' });
    await ok('POST', 'auth/token/roles/unlisted', root, {});
    const noDefault = (await ok('POST', 'auth/token/create', root, { policies: ['app-read', 'plain-creator'], no_default_policy: true, ttl: '1h' })).body.auth.client_token;
    assert.deepEqual((await createVia('unlisted', noDefault)).policies, ['app-read', 'plain-creator'], 'the parent lacks default, so the child does too');
  });

  it('binds a role token to the role\'s blocks, else to its creator\'s, orphan or not', async () => {
    await ok('PUT', 'sys/policies/acl/creator-free-orphan', root, { policy: 'path "auth/token/create/free-orphan" { capabilities = ["update"] }' });
    await ok('POST', 'auth/token/roles/free-orphan', root, { allowed_policies: ['app-read'], orphan: true });
    // A creator bound to loopback, made through a role that binds.
    await ok('POST', 'auth/token/roles/binder', root, { allowed_policies: ['creator-free-orphan'], token_bound_cidrs: ['127.0.0.0/8'] });
    const creatorToken = (await createVia('binder', root)).client_token;
    const made = await createVia('free-orphan', creatorToken);
    const info = (await ok('POST', 'auth/token/lookup', root, { token: made.client_token })).body.data;
    assert.deepEqual([info.orphan, info.bound_cidrs], [true, ['127.0.0.0/8']]);

    // So does auth/token/create-orphan, which needs no sudo: a bound token's orphan is bound too.
    await ok('PUT', 'sys/policies/acl/orphan-maker-bound', root, { policy: 'path "auth/token/create-orphan" { capabilities = ["update"] }' });
    await ok('POST', 'auth/token/roles/binder2', root, { allowed_policies: ['orphan-maker-bound'], token_bound_cidrs: ['127.0.0.0/8'] });
    const bound = (await createVia('binder2', root)).client_token;
    const orphan = (await ok('POST', 'auth/token/create-orphan', bound, { policies: ['orphan-maker-bound'] })).body.auth.client_token;
    const orphanInfo = (await ok('POST', 'auth/token/lookup', root, { token: orphan })).body.data;
    assert.deepEqual([orphanInfo.orphan, orphanInfo.bound_cidrs], [true, ['127.0.0.0/8']]);
  });

  it('refuses what it cannot do: batch tokens, entity aliases, bad suffixes and names', async () => {
    await refused('auth/token/roles/batch', root, { token_type: 'batch' }, /only service tokens are supported/);
    await refused('auth/token/roles/aliases', root, { allowed_entity_aliases: ['a'] }, /allowed_entity_aliases is not supported/);
    await refused('auth/token/roles/dots', root, { path_suffix: 'a/../b' }, /path_suffix/);
    await refused('auth/token/roles/-bad', root, {}, /invalid role name/);
    await refused('auth/token/roles/cidr', root, { token_bound_cidrs: ['not-a-cidr'] }, /token_bound_cidrs/);
    await refused('auth/token/create', root, { role_name: 'reader' }, /auth\/token\/create\/:role_name/);
  });
});

describe('token role renewal over time', () => {
  const clock = createManualClock(Date.now());
  let server: TestServer;
  let root: string;
  const minutes = (n: number): void => clock.advance(n * 60_000);
  const post = (path: string, token: string, body: unknown = {}) => api(server, 'POST', path, { token, body });

  before(async () => {
    server = await startTestServer({ dev: true, storage: 'memory', clock });
    root = server.rootToken as string;
    assert.equal((await post('sys/auth/token/tune', root, { max_lease_ttl: '2h' })).status, 204);
  });
  after(async () => {
    await server?.destroy();
  });

  it('stops being periodic once the role loses its period, and ends at the max TTL', async () => {
    assert.equal((await post('auth/token/roles/was-periodic', root, { allowed_policies: ['default'], token_period: '1h' })).status, 204);
    const token = (await post('auth/token/create/was-periodic', root)).body.auth.client_token as string;
    assert.equal((await post('auth/token/roles/was-periodic', root, { token_period: 0 })).status, 204);
    minutes(50);
    assert.equal((await post('auth/token/renew-self', token)).status, 200);
    // Now an ordinary token: that renewal gave its creation TTL (1h), not a fresh period.
    minutes(55);
    const late = await post('auth/token/renew-self', token);
    assert.equal(late.status, 200);
    assert.equal(late.body.auth.lease_duration, 15 * 60, 'capped by the 2h max from creation');
    minutes(20);
    assert.equal((await api(server, 'GET', 'auth/token/lookup-self', { token })).status, 403, 'expired at the max TTL');
  });

  it('is held to the role\'s current token_explicit_max_ttl', async () => {
    assert.equal((await post('auth/token/roles/capped-later', root, { allowed_policies: ['default'], token_period: '1h' })).status, 204);
    const token = (await post('auth/token/create/capped-later', root)).body.auth.client_token as string;
    assert.equal((await post('auth/token/roles/capped-later', root, { token_explicit_max_ttl: '90m' })).status, 204);
    minutes(50);
    const renewed = await post('auth/token/renew-self', token);
    assert.equal(renewed.status, 200, JSON.stringify(renewed.body));
    assert.equal(renewed.body.auth.lease_duration, 40 * 60, 'what is left of 90 minutes');
  });
});
