/**
 * userpass over real HTTP with the production scrypt cost: exact policies on the issued token,
 * lockout on the injected clock, and no user enumeration by status, message or timing.
 * A login token is renewed only while its user exists with the same policies.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createManualClock } from '../../src/core/clock.js';
import { send } from '../helpers/raw-http.js';
import { api, startTestServer, type TestServer } from '../helpers/server.js';

const ERROR = { errors: ['invalid username or password'] };

describe('userpass over HTTP', () => {
  const clock = createManualClock(Date.now());
  let server: TestServer;
  let root: string;

  before(async () => {
    server = await startTestServer({ dev: true, storage: 'memory', clock });
    root = server.rootToken as string;
    assert.equal((await api(server, 'POST', 'sys/auth/userpass', { token: root, body: { type: 'userpass' } })).status, 204);
    await api(server, 'PUT', 'sys/policies/acl/app-read', { token: root, body: { policy: 'path "secret/data/app/*" { capabilities = ["read"] }' } });
    await api(server, 'PUT', 'secret/data/app/db', { token: root, body: { data: { password: 'app-db-pw' } } });
    await api(server, 'PUT', 'secret/data/other/db', { token: root, body: { data: { password: 'other-db-pw' } } });
    assert.equal((await api(server, 'POST', 'auth/userpass/config', { token: root, body: { lockout_threshold: 3, lockout_duration: '15m' } })).status, 204);
  });
  after(() => server.destroy());

  const addUser = async (name: string, password: string): Promise<void> => {
    const res = await api(server, 'POST', `auth/userpass/users/${name}`, { token: root, body: { password, token_policies: ['app-read'] } });
    assert.equal(res.status, 204, JSON.stringify(res.body));
  };
  const login = (name: string, password: string) => api(server, 'POST', `auth/userpass/login/${encodeURIComponent(name)}`, { body: { password } });

  it('logs a user in with exactly its policies', async () => {
    await addUser('alice', 'alice-password-1');
    const res = await login('alice', 'alice-password-1');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.auth.policies, ['app-read', 'default']);
    assert.deepEqual(res.body.auth.metadata, { username: 'alice' });
    const token = res.body.auth.client_token;
    assert.equal((await api(server, 'GET', 'secret/data/app/db', { token })).status, 200);
    assert.equal((await api(server, 'GET', 'secret/data/other/db', { token })).status, 403);
    const user = await api(server, 'GET', 'auth/userpass/users/alice', { token: root });
    assert.equal(JSON.stringify(user.body).includes('alice-password-1'), false);
  });

  it('ties the token to the user token_bound_cidrs on every request', async () => {
    const created = await api(server, 'POST', 'auth/userpass/users/carol', { token: root, body: { password: 'carol-password-1', token_policies: ['app-read'], token_bound_cidrs: '127.0.0.1/32' } });
    assert.equal(created.status, 204, JSON.stringify(created.body));
    const res = await login('carol', 'carol-password-1');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const token = res.body.auth.client_token as string;
    assert.equal((await send(server, 'GET', 'secret/data/app/db', { token, localAddress: '127.0.0.1' })).status, 200);
    assert.equal((await send(server, 'GET', 'secret/data/app/db', { token, localAddress: '127.0.0.2' })).status, 403);
    assert.deepEqual((await api(server, 'GET', 'auth/token/lookup-self', { token })).body.data.bound_cidrs, ['127.0.0.1/32']);
  });

  it('refuses to renew a token once its user policies changed, or its user is gone', async () => {
    await addUser('dave', 'dave-password-1');
    const token = (await login('dave', 'dave-password-1')).body.auth.client_token as string;
    assert.equal((await api(server, 'POST', 'auth/userpass/users/dave/password', { token: root, body: { password: 'dave-password-2' } })).status, 204);
    assert.equal((await api(server, 'POST', 'auth/token/renew-self', { token, body: {} })).status, 200, 'a new password alone changes nothing');
    assert.equal((await api(server, 'POST', 'auth/userpass/users/dave', { token: root, body: { token_policies: ['app-read', 'more'] } })).status, 204);
    const changed = await api(server, 'POST', 'auth/token/renew-self', { token, body: {} });
    assert.equal(changed.status, 400);
    assert.deepEqual(changed.body, { errors: ['policies have changed, not renewing'] });
    assert.equal((await api(server, 'POST', 'auth/userpass/users/dave', { token: root, body: { token_policies: ['app-read'] } })).status, 204);
    assert.equal((await api(server, 'POST', 'auth/token/renew-self', { token, body: {} })).status, 200);
    assert.equal((await api(server, 'DELETE', 'auth/userpass/users/dave', { token: root })).status, 204);
    const gone = await api(server, 'POST', 'auth/token/renew', { token: root, body: { token } });
    assert.equal(gone.status, 400);
    assert.deepEqual(gone.body, { errors: ['the user no longer exists, not renewing'] });
  });

  it('answers an unknown user, a wrong password and a locked user identically', async () => {
    await addUser('bob', 'bob-password-1');
    const unknown = await login('nobody-here', 'whatever');
    const wrong = await login('bob', 'not-it');
    await login('bob', 'not-it-2');
    await login('bob', 'not-it-3');
    const locked = await login('bob', 'bob-password-1');
    for (const res of [unknown, wrong, locked]) {
      assert.equal(res.status, 400);
      assert.deepEqual(res.body, ERROR);
    }
  });

  it('locks a user after three failures and lets them in after fifteen minutes', async () => {
    await addUser('carol', 'carol-password-1');
    for (let i = 0; i < 3; i++) assert.equal((await login('carol', `guess-${i}`)).status, 400);
    assert.equal((await login('carol', 'carol-password-1')).status, 400);
    assert.equal((await login('CAROL', 'carol-password-1')).status, 400, 'a case variant shares the lock');
    clock.advance(15 * 60_000);
    assert.equal((await login('carol', 'carol-password-1')).status, 200);
  });

  it('takes as long for an unknown user as for a wrong password', async () => {
    await addUser('dave', 'dave-password-1');
    const timeOf = async (name: string): Promise<number> => {
      const start = process.hrtime.bigint();
      await login(name, 'wrong-password');
      return Number(process.hrtime.bigint() - start) / 1e6;
    };
    // The fastest of each: other tests running beside this one only ever add time, and the
    // difference this guards against is a hundredfold, not a few percent.
    const fastest = (xs: number[]): number => Math.min(...xs);
    const unknown: number[] = [];
    const known: number[] = [];
    // Interleaved, and under the lockout threshold for dave (the counter is reset by a success).
    for (let i = 0; i < 4; i++) {
      unknown.push(await timeOf(`ghost-${i}`));
      known.push(await timeOf('dave'));
      if (i % 2 === 1) await login('dave', 'dave-password-1');
    }
    // Both run one full scrypt; without the dummy hash the unknown user would answer in ~1 ms.
    const report = `fastest unknown ${fastest(unknown)} ms vs known ${fastest(known)} ms (all: ${unknown.join(', ')} / ${known.join(', ')})`;
    assert.ok(fastest(unknown) > 0.5 * fastest(known), report);
    assert.ok(fastest(known) > 0.5 * fastest(unknown), report);
  });
  it('sys/leases/revoke-prefix/auth/userpass/ ends every userpass login, as in Vault, and nothing else', async () => {
    await addUser('carol', 'carol-password-1');
    await addUser('carolyn', 'carolyn-password-1');
    const first = (await login('carol', 'carol-password-1')).body.auth.client_token;
    const second = (await login('carol', 'carol-password-1')).body.auth.client_token;
    const carolyn = (await login('carolyn', 'carolyn-password-1')).body.auth.client_token;
    const made = await api(server, 'POST', 'auth/token/create', { token: root, body: { policies: ['app-read'], ttl: '1h' } });
    const other = made.body.auth.client_token;
    const orphan = (await api(server, 'POST', 'auth/token/create-orphan', { token: root, body: { policies: ['app-read'], ttl: '1h' } })).body.auth.client_token;
    // Whole segments, as Vault's lease prefixes: carol's logins only, not carolyn's.
    assert.equal((await api(server, 'PUT', 'sys/leases/revoke-prefix/auth/userpass/login/carol', { token: root })).status, 204);
    for (const token of [first, second]) assert.equal((await api(server, 'GET', 'auth/token/lookup-self', { token })).status, 403);
    assert.equal((await api(server, 'GET', 'auth/token/lookup-self', { token: carolyn })).status, 200);
    assert.equal((await api(server, 'PUT', 'sys/leases/revoke-prefix/auth/userpass/', { token: root })).status, 204);
    assert.equal((await api(server, 'GET', 'auth/token/lookup-self', { token: carolyn })).status, 403);
    assert.equal((await api(server, 'GET', 'auth/token/lookup-self', { token: other })).status, 200);
    assert.equal((await api(server, 'PUT', 'sys/leases/revoke-prefix/auth/token/create', { token: root })).status, 204);
    assert.equal((await api(server, 'GET', 'auth/token/lookup-self', { token: other })).status, 403);
    assert.equal((await api(server, 'GET', 'auth/token/lookup-self', { token: orphan })).status, 200, 'create-orphan is another path');
    // The root token never expires, so it has no lease to revoke: revoke-prefix on auth/token/ spares it.
    assert.equal((await api(server, 'PUT', 'sys/leases/revoke-force/auth/token/', { token: root })).status, 204);
    assert.equal((await api(server, 'GET', 'auth/token/lookup-self', { token: orphan })).status, 403);
    assert.equal((await api(server, 'GET', 'auth/token/lookup-self', { token: root })).status, 200);
    // `auth` without its slash is the same prefix, as in Vault: every login ends.
    const again = (await login('carol', 'carol-password-1')).body.auth.client_token;
    assert.equal((await api(server, 'PUT', 'sys/leases/revoke-prefix/auth', { token: root })).status, 204);
    assert.equal((await api(server, 'GET', 'auth/token/lookup-self', { token: again })).status, 403);
    assert.equal((await api(server, 'GET', 'auth/token/lookup-self', { token: root })).status, 200);
  });

  it('holds a login token to its user\'s and mount\'s current max TTL, which may exceed the system max', async () => {
    const created = await api(server, 'POST', 'auth/userpass/users/tina', { token: root, body: { password: 'tina-password-1', token_policies: ['app-read'], token_ttl: '1h', token_max_ttl: '2h' } });
    assert.equal(created.status, 204);
    const token = (await login('tina', 'tina-password-1')).body.auth.client_token as string;
    assert.equal((await api(server, 'GET', 'auth/token/lookup-self', { token })).body.data.explicit_max_ttl, 0, 'the role max is not frozen into the token');
    // Raised later: the token already issued may now live longer, as in Vault.
    assert.equal((await api(server, 'POST', 'auth/userpass/users/tina', { token: root, body: { token_max_ttl: '10h' } })).status, 204);
    const renewed = await api(server, 'PUT', 'auth/token/renew-self', { token, body: { increment: '5h' } });
    assert.equal(renewed.status, 200, JSON.stringify(renewed.body));
    assert.equal(renewed.body.auth.lease_duration, 5 * 3600);
    // Lowered: renewals are held to the new max, counted from the login.
    assert.equal((await api(server, 'POST', 'auth/userpass/users/tina', { token: root, body: { token_max_ttl: '3h' } })).status, 204);
    const capped = await api(server, 'PUT', 'auth/token/renew-self', { token, body: { increment: '5h' } });
    assert.equal(capped.body.auth.lease_duration, 3 * 3600);

    // A mount tuned past the system max (768h) gives its logins that long.
    const mount = await api(server, 'POST', 'sys/auth/long', { token: root, body: { type: 'userpass' } });
    assert.equal(mount.status, 204);
    assert.equal((await api(server, 'POST', 'sys/auth/long/tune', { token: root, body: { max_lease_ttl: '2000h', default_lease_ttl: '1500h' } })).status, 204);
    assert.equal((await api(server, 'POST', 'auth/long/users/lena', { token: root, body: { password: 'lena-password-1', token_policies: ['app-read'] } })).status, 204);
    const long = await api(server, 'POST', 'auth/long/login/lena', { body: { password: 'lena-password-1' } });
    assert.equal(long.status, 200, JSON.stringify(long.body));
    assert.equal(long.body.auth.lease_duration, 1500 * 3600);
  });
});
