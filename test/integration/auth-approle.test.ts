/**
 * AppRole over real HTTP: enable through sys/auth, log in, and check the token holds exactly the
 * role's policies; secret-ID use limits and TTL on an injected clock; CIDR binding on the real
 * client address, and token_bound_cidrs on every request made with the token; accessor scoping
 * between roles (CVE-2023-24999); periodic tokens keep an explicit max TTL and have their
 * period capped by the mount's max TTL; renewal is refused once the token's role is deleted, and
 * applies the role's token TTLs as they are at the renewal (a lowered token_max_ttl caps tokens
 * issued before the change).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createManualClock } from '../../src/core/clock.js';
import { send } from '../helpers/raw-http.js';
import { api, startTestServer, type TestServer } from '../helpers/server.js';

const ERROR = { errors: ['invalid role or secret ID'] };

describe('approle over HTTP', () => {
  const clock = createManualClock(Date.now());
  let server: TestServer;
  let root: string;

  before(async () => {
    server = await startTestServer({ dev: true, storage: 'memory', clock });
    root = server.rootToken as string;
    assert.equal((await api(server, 'POST', 'sys/auth/approle', { token: root, body: { type: 'approle' } })).status, 204);
    await api(server, 'PUT', 'sys/policies/acl/app-read', { token: root, body: { policy: 'path "secret/data/app/*" { capabilities = ["read"] }' } });
    await api(server, 'PUT', 'secret/data/app/db', { token: root, body: { data: { password: 'app-db-pw' } } });
    await api(server, 'PUT', 'secret/data/other/db', { token: root, body: { data: { password: 'other-db-pw' } } });
  });
  after(() => server.destroy());

  const writeRole = async (name: string, body: Record<string, unknown>): Promise<string> => {
    const res = await api(server, 'POST', `auth/approle/role/${name}`, { token: root, body: { token_policies: ['app-read'], ...body } });
    assert.equal(res.status, 204, JSON.stringify(res.body));
    return (await api(server, 'GET', `auth/approle/role/${name}/role-id`, { token: root })).body.data.role_id;
  };
  const newSecretId = async (role: string, body: Record<string, unknown> = {}): Promise<{ secret_id: string; secret_id_accessor: string }> => {
    const res = await api(server, 'POST', `auth/approle/role/${role}/secret-id`, { token: root, body });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.data;
  };
  const login = (roleId: string, secretId?: string) => api(server, 'POST', 'auth/approle/login', { body: { role_id: roleId, ...(secretId ? { secret_id: secretId } : {}) } });

  it('logs in without a token and gets a token with exactly the role policies', async () => {
    const roleId = await writeRole('web', { token_ttl: '20m' });
    const { secret_id } = await newSecretId('web');
    const res = await login(roleId, secret_id);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const auth = res.body.auth;
    assert.deepEqual(auth.policies, ['app-read', 'default']);
    assert.deepEqual(auth.token_policies, ['app-read', 'default']);
    assert.deepEqual(auth.metadata, { role_name: 'web' });
    assert.equal(auth.lease_duration, 1200);
    assert.equal(auth.orphan, true);
    const lookup = await api(server, 'GET', 'auth/token/lookup-self', { token: auth.client_token });
    assert.deepEqual(lookup.body.data.policies, ['app-read', 'default']);
    assert.equal((await api(server, 'GET', 'secret/data/app/db', { token: auth.client_token })).body.data.data.password, 'app-db-pw');
    assert.equal((await api(server, 'GET', 'secret/data/other/db', { token: auth.client_token })).status, 403);
    assert.equal((await api(server, 'PUT', 'secret/data/app/db', { token: auth.client_token, body: { data: { x: 1 } } })).status, 403);
    assert.equal((await api(server, 'GET', 'auth/approle/role/web', { token: auth.client_token })).status, 403);
  });

  it('refuses role management without a token', async () => {
    assert.equal((await api(server, 'POST', 'auth/approle/role/anon', { body: { token_policies: ['x'] } })).status, 403);
    assert.equal((await api(server, 'POST', 'auth/approle/role/web/secret-id', {})).status, 403);
  });

  it('stops a secret ID after secret_id_num_uses logins', async () => {
    const roleId = await writeRole('limited', { secret_id_num_uses: 2 });
    const { secret_id } = await newSecretId('limited');
    assert.equal((await login(roleId, secret_id)).status, 200);
    assert.equal((await login(roleId, secret_id)).status, 200);
    const third = await login(roleId, secret_id);
    assert.equal(third.status, 400);
    assert.deepEqual(third.body, ERROR);
  });

  it('stops a secret ID when its TTL has passed on the server clock', async () => {
    const roleId = await writeRole('short', { secret_id_ttl: '10m' });
    const { secret_id } = await newSecretId('short');
    const lookup = await api(server, 'POST', 'auth/approle/role/short/secret-id/lookup', { token: root, body: { secret_id } });
    assert.equal(lookup.body.data.secret_id_ttl, 600);
    clock.advance(9 * 60_000);
    assert.equal((await login(roleId, secret_id)).status, 200);
    clock.advance(61_000);
    const late = await login(roleId, secret_id);
    assert.equal(late.status, 400);
    assert.deepEqual(late.body, ERROR);
  });

  it('binds secret IDs to client CIDRs, checked on the real client address', async () => {
    const farId = await writeRole('far', { secret_id_bound_cidrs: ['10.0.0.0/8'] });
    const far = await newSecretId('far');
    const refused = await login(farId, far.secret_id);
    assert.equal(refused.status, 400);
    assert.deepEqual(refused.body, ERROR);
    const nearId = await writeRole('near', { secret_id_bound_cidrs: ['127.0.0.0/8'], token_bound_cidrs: ['127.0.0.1/32'] });
    const near = await newSecretId('near');
    assert.equal((await login(nearId, near.secret_id)).status, 200);
    const narrowed = await newSecretId('near', { cidr_list: ['127.0.0.2/32'] });
    assert.equal((await login(nearId, narrowed.secret_id)).status, 400);
  });

  it('ties the token to token_bound_cidrs: refused on every request from another address', async () => {
    const roleId = await writeRole('bound', { token_bound_cidrs: ['127.0.0.1/32'] });
    const { secret_id } = await newSecretId('bound');
    const res = await login(roleId, secret_id);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const token = res.body.auth.client_token as string;
    assert.equal((await send(server, 'GET', 'secret/data/app/db', { token, localAddress: '127.0.0.1' })).status, 200);
    const far = await send(server, 'GET', 'secret/data/app/db', { token, localAddress: '127.0.0.2' });
    assert.equal(far.status, 403);
    assert.deepEqual(far.body, { errors: ['permission denied'] });
    assert.equal((await send(server, 'GET', 'auth/token/lookup-self', { token, localAddress: '127.0.0.2' })).status, 403);
    assert.equal((await send(server, 'POST', 'auth/token/renew-self', { token, body: {}, localAddress: '127.0.0.2' })).status, 403);
    const lookup = await send(server, 'GET', 'auth/token/lookup-self', { token, localAddress: '127.0.0.1' });
    assert.deepEqual(lookup.body.data.bound_cidrs, ['127.0.0.1/32']);
    // Where no token is needed (a login), a bound token sent from elsewhere is set aside.
    const openId = await writeRole('open', {});
    const open = await newSecretId('open');
    const other = await send(server, 'POST', 'auth/approle/login', { token, body: { role_id: openId, secret_id: open.secret_id }, localAddress: '127.0.0.2' });
    assert.equal(other.status, 200, JSON.stringify(other.body));
    // An unbound token has no bound_cidrs and works from anywhere.
    assert.equal((await send(server, 'GET', 'auth/token/lookup-self', { token: other.body.auth.client_token, localAddress: '127.0.0.2' })).body.data.bound_cidrs, undefined);
  });

  it('binds a child token to its parent token_bound_cidrs, as Vault does, so minting one cannot escape them', async () => {
    await api(server, 'PUT', 'sys/policies/acl/app-minter', { token: root, body: { policy: 'path "auth/token/create" { capabilities = ["update"] }' } });
    const roleId = await writeRole('minter', { token_bound_cidrs: ['127.0.0.1/32'], token_policies: ['app-read', 'app-minter'] });
    const { secret_id } = await newSecretId('minter');
    const parent = (await login(roleId, secret_id)).body.auth.client_token as string;
    const created = await send(server, 'POST', 'auth/token/create', { token: parent, body: { policies: ['app-read'] }, localAddress: '127.0.0.1' });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const child = created.body.auth.client_token as string;
    assert.equal((await send(server, 'GET', 'secret/data/app/db', { token: child, localAddress: '127.0.0.1' })).status, 200);
    assert.equal((await send(server, 'GET', 'secret/data/app/db', { token: child, localAddress: '127.0.0.2' })).status, 403);
    const lookup = await send(server, 'GET', 'auth/token/lookup-self', { token: child, localAddress: '127.0.0.1' });
    assert.deepEqual(lookup.body.data.bound_cidrs, ['127.0.0.1/32']);
  });

  it('ties the token to a secret ID token_bound_cidrs, narrower than the role ones', async () => {
    const roleId = await writeRole('narrowed', { token_bound_cidrs: ['127.0.0.0/8'] });
    const { secret_id } = await newSecretId('narrowed', { token_bound_cidrs: ['127.0.0.1/32'] });
    const token = (await login(roleId, secret_id)).body.auth.client_token as string;
    assert.equal((await send(server, 'GET', 'secret/data/app/db', { token, localAddress: '127.0.0.1' })).status, 200);
    assert.equal((await send(server, 'GET', 'secret/data/app/db', { token, localAddress: '127.0.0.2' })).status, 403);
  });

  it('ends a periodic token at its token_explicit_max_ttl however often it is renewed', async () => {
    const roleId = await writeRole('periodic-capped', { token_period: '10s', token_explicit_max_ttl: '20s' });
    const { secret_id } = await newSecretId('periodic-capped');
    const res = await login(roleId, secret_id);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const token = res.body.auth.client_token as string;
    assert.equal(res.body.auth.lease_duration, 10);
    const lookup = await api(server, 'GET', 'auth/token/lookup-self', { token });
    assert.equal(lookup.body.data.explicit_max_ttl, 20);
    assert.equal(lookup.body.data.period, 10);
    clock.advance(8_000);
    const first = await api(server, 'POST', 'auth/token/renew-self', { token, body: {} });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.auth.lease_duration, 10);
    clock.advance(8_000);
    const second = await api(server, 'POST', 'auth/token/renew-self', { token, body: {} });
    assert.equal(second.status, 200, JSON.stringify(second.body));
    assert.equal(second.body.auth.lease_duration, 4, 'capped at 20 s after creation');
    clock.advance(4_000);
    assert.equal((await api(server, 'GET', 'auth/token/lookup-self', { token })).status, 403);
  });

  it('caps a role token_period at the auth mount max_lease_ttl, with a warning', async () => {
    assert.equal((await api(server, 'POST', 'sys/auth/approle-tuned', { token: root, body: { type: 'approle' } })).status, 204);
    assert.equal((await api(server, 'POST', 'sys/auth/approle-tuned/tune', { token: root, body: { max_lease_ttl: '1h' } })).status, 204);
    assert.equal((await api(server, 'POST', 'auth/approle-tuned/role/long', { token: root, body: { token_policies: ['app-read'], token_period: '5h' } })).status, 204);
    const roleId = (await api(server, 'GET', 'auth/approle-tuned/role/long/role-id', { token: root })).body.data.role_id as string;
    const secretId = (await api(server, 'POST', 'auth/approle-tuned/role/long/secret-id', { token: root, body: {} })).body.data.secret_id as string;
    const res = await api(server, 'POST', 'auth/approle-tuned/login', { body: { role_id: roleId, secret_id: secretId } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.auth.lease_duration, 3600);
    assert.deepEqual(res.body.warnings, ['period of "5h0m0s" exceeded the effective max_ttl of "1h0m0s"; period value is capped accordingly']);
    const token = res.body.auth.client_token as string;
    assert.equal((await api(server, 'GET', 'auth/token/lookup-self', { token })).body.data.period, 3600);
    clock.advance(60_000);
    const renewed = await api(server, 'POST', 'auth/token/renew-self', { token, body: {} });
    assert.equal(renewed.body.auth.lease_duration, 3600, 'each renewal extends by the capped period');

    // A token_ttl past the mount's max is capped with Vault's TTL warning.
    assert.equal((await api(server, 'POST', 'auth/approle-tuned/role/ttl', { token: root, body: { token_policies: ['app-read'], token_ttl: '2h' } })).status, 204);
    const ttlRoleId = (await api(server, 'GET', 'auth/approle-tuned/role/ttl/role-id', { token: root })).body.data.role_id as string;
    const ttlSecretId = (await api(server, 'POST', 'auth/approle-tuned/role/ttl/secret-id', { token: root, body: {} })).body.data.secret_id as string;
    const capped = await api(server, 'POST', 'auth/approle-tuned/login', { body: { role_id: ttlRoleId, secret_id: ttlSecretId } });
    assert.equal(capped.body.auth.lease_duration, 3600);
    assert.deepEqual(capped.body.warnings, ['TTL of "2h0m0s" exceeded the effective max_ttl of "1h0m0s"; TTL value is capped accordingly']);
  });

  it('applies a role token_max_ttl lowered after the login at the next renewal', async () => {
    const roleId = await writeRole('shrinking', { token_ttl: '10m', token_max_ttl: '1h' });
    const { secret_id } = await newSecretId('shrinking');
    const token = (await login(roleId, secret_id)).body.auth.client_token as string;
    assert.equal((await api(server, 'POST', 'auth/approle/role/shrinking', { token: root, body: { token_ttl: '1m', token_max_ttl: '2m' } })).status, 204);
    clock.advance(30_000);
    const byDefault = await api(server, 'POST', 'auth/token/renew-self', { token, body: {} });
    assert.equal(byDefault.status, 200, JSON.stringify(byDefault.body));
    assert.equal(byDefault.body.auth.lease_duration, 60, 'the role token_ttl as it is now');
    const asked = await api(server, 'POST', 'auth/token/renew-self', { token, body: { increment: '1h' } });
    assert.equal(asked.body.auth.lease_duration, 90, 'capped at the new token_max_ttl, counted from the login');
    clock.advance(90_000);
    assert.equal((await api(server, 'GET', 'auth/token/lookup-self', { token })).status, 403);
  });

  it('gives a token the period its role has at the renewal', async () => {
    const roleId = await writeRole('made-periodic', { token_ttl: '1m' });
    const { secret_id } = await newSecretId('made-periodic');
    const token = (await login(roleId, secret_id)).body.auth.client_token as string;
    assert.equal((await api(server, 'POST', 'auth/approle/role/made-periodic', { token: root, body: { token_period: '5m' } })).status, 204);
    const renewed = await api(server, 'POST', 'auth/token/renew-self', { token, body: { increment: '10s' } });
    assert.equal(renewed.body.auth.lease_duration, 300, 'a periodic renewal extends by the period, whatever the increment');
    assert.equal((await api(server, 'GET', 'auth/token/lookup-self', { token })).body.data.period, 300);
  });

  it('refuses to renew a token whose role was deleted, so a periodic token ends with its period', async () => {
    const roleId = await writeRole('doomed', { token_period: '1m' });
    const { secret_id } = await newSecretId('doomed');
    const token = (await login(roleId, secret_id)).body.auth.client_token as string;
    assert.equal((await api(server, 'POST', 'auth/token/renew-self', { token, body: {} })).status, 200);
    assert.equal((await api(server, 'DELETE', 'auth/approle/role/doomed', { token: root })).status, 204);
    const refused = await api(server, 'POST', 'auth/token/renew-self', { token, body: {} });
    assert.equal(refused.status, 400);
    assert.deepEqual(refused.body, { errors: ['role "doomed" does not exist during renewal'] });
    const byAccessor = await api(server, 'POST', 'auth/token/renew-accessor', { token: root, body: { accessor: (await api(server, 'GET', 'auth/token/lookup-self', { token })).body.data.accessor } });
    assert.equal(byAccessor.status, 400, 'every way of renewing asks the auth method');
    clock.advance(61_000);
    assert.equal((await api(server, 'GET', 'auth/token/lookup-self', { token })).status, 403);
  });

  it('gives the same answer for an unknown role_id, a wrong secret_id and another role\'s secret_id', async () => {
    const aId = await writeRole('role-a', {});
    await writeRole('role-b', {});
    const bSecret = await newSecretId('role-b');
    for (const res of [await login('no-such-role-id', bSecret.secret_id), await login(aId, 'wrong-secret'), await login(aId, bSecret.secret_id), await login(aId)]) {
      assert.equal(res.status, 400);
      assert.deepEqual(res.body, ERROR);
    }
  });

  it('lets an accessor act only within its own role', async () => {
    const aId = await writeRole('owner', {});
    await writeRole('intruder', {});
    const { secret_id, secret_id_accessor } = await newSecretId('owner');
    const listed = await api(server, 'LIST', 'auth/approle/role/owner/secret-id', { token: root });
    assert.deepEqual(listed.body.data.keys, [secret_id_accessor]);
    const crossLookup = await api(server, 'POST', 'auth/approle/role/intruder/secret-id-accessor/lookup', { token: root, body: { secret_id_accessor } });
    assert.equal(crossLookup.status, 404);
    const crossDestroy = await api(server, 'POST', 'auth/approle/role/intruder/secret-id-accessor/destroy', { token: root, body: { secret_id_accessor } });
    assert.equal(crossDestroy.status, 404);
    assert.equal((await login(aId, secret_id)).status, 200);
    const ownLookup = await api(server, 'POST', 'auth/approle/role/owner/secret-id-accessor/lookup', { token: root, body: { secret_id_accessor } });
    assert.equal(ownLookup.status, 200);
    assert.equal(JSON.stringify(ownLookup.body).includes(secret_id), false);
    assert.equal((await api(server, 'POST', 'auth/approle/role/owner/secret-id-accessor/destroy', { token: root, body: { secret_id_accessor } })).status, 204);
    assert.equal((await login(aId, secret_id)).status, 400);
  });

  it('reads a role back with durations in seconds', async () => {
    await writeRole('shape', { token_ttl: '1h', token_max_ttl: '2h', secret_id_ttl: '15m' });
    const res = await api(server, 'GET', 'auth/approle/role/shape', { token: root });
    assert.equal(res.status, 200);
    assert.equal(res.body.data.token_ttl, 3600);
    assert.equal(res.body.data.token_max_ttl, 7200);
    assert.equal(res.body.data.secret_id_ttl, 900);
    assert.deepEqual(res.body.data.token_policies, ['app-read']);
  });
});
