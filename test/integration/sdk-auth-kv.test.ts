/**
 * The SDK against a real server over HTTP: logins (AppRole, JWT, userpass) that get exactly
 * the bound policies, KV v2 through them with the mount found by preflight, typed errors with
 * no credential in them, and the token kept alive in the background (renewed while it can be,
 * replaced by a new login once its max TTL caps it). The server runs on real time, so the
 * renewal tests use TTLs of a few seconds.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sign, testKey, type TestKey } from '../../src/auth/jwt/jwt-test-keys.js';
import {
  Coffer,
  CofferBadRequestError,
  CofferConfigError,
  CofferNotFoundError,
  CofferPermissionDeniedError,
  type AuthInfo,
} from '../../src/sdk/index.js';
import { api, startTestServer, type TestServer } from '../helpers/server.js';

const waitFor = async (check: () => boolean | Promise<boolean>, ms: number): Promise<boolean> => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
};

describe('SDK logins, KV v2 and token upkeep', () => {
  let server: TestServer;
  let root: string;
  let jwtKey: TestKey;
  const issuer = 'https://ci.example.test';
  const clients: Coffer[] = [];
  const client = (errors: unknown[] = []): Coffer => {
    const c = new Coffer({ address: server.url, onError: (err) => errors.push(err) });
    clients.push(c);
    return c;
  };
  const roleCreds = async (role: string, settings: Record<string, unknown>): Promise<{ roleId: string; secretId: string }> => {
    assert.equal((await api(server, 'POST', `auth/approle/role/${role}`, { token: root, body: { token_policies: ['app'], ...settings } })).status, 204);
    const roleId = (await api(server, 'GET', `auth/approle/role/${role}/role-id`, { token: root })).body.data.role_id;
    const secretId = (await api(server, 'POST', `auth/approle/role/${role}/secret-id`, { token: root })).body.data.secret_id;
    return { roleId, secretId };
  };
  const ttlOf = async (token: string): Promise<number> => (await api(server, 'GET', 'auth/token/lookup-self', { token })).body.data.ttl;

  before(async () => {
    server = await startTestServer({ dev: true, storage: 'memory' });
    root = server.rootToken as string;
    const policy = 'path "secret/data/app/*" { capabilities = ["create", "read", "update", "patch", "delete"] }\npath "secret/metadata/app/*" { capabilities = ["list", "read"] }\npath "secret/delete/app/*" { capabilities = ["update"] }';
    assert.equal((await api(server, 'PUT', 'sys/policies/acl/app', { token: root, body: { policy } })).status, 204);
    for (const type of ['approle', 'jwt', 'userpass']) {
      assert.equal((await api(server, 'POST', `sys/auth/${type}`, { token: root, body: { type } })).status, 204);
    }
    jwtKey = await testKey('ES256', 'ci-key');
    assert.equal((await api(server, 'POST', 'auth/jwt/config', { token: root, body: { jwt_validation_pubkeys: [jwtKey.publicPem], bound_issuer: issuer } })).status, 204);
    const role = await api(server, 'POST', 'auth/jwt/role/deploy', {
      token: root,
      body: { role_type: 'jwt', user_claim: 'sub', bound_audiences: ['coffer'], token_policies: ['app'], token_ttl: '10m' },
    });
    assert.equal(role.status, 204, JSON.stringify(role.body));
    assert.equal((await api(server, 'POST', 'auth/userpass/users/alice', { token: root, body: { password: 'correct horse battery', token_policies: ['app'] } })).status, 204);
  });

  after(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    await server.destroy();
  });

  it('logs in with AppRole and gets exactly the bound policies, then reads and writes KV v2', async () => {
    const { roleId, secretId } = await roleCreds('web', { token_ttl: '10m' });
    const coffer = client();
    const info = await coffer.loginAppRole({ roleId, secretId });
    assert.deepEqual(info.policies, ['app', 'default']);
    assert.equal(info.method, 'approle');
    assert.equal(info.renewable, true);
    assert.equal(info.leaseDuration, 600);

    const written = await coffer.kv.put('secret/app/db', { password: 'p1', user: 'app' });
    assert.equal(written.version, 1);
    assert.equal((await coffer.kv.put('secret/app/db', { password: 'p2', user: 'app' }, { cas: 1 })).version, 2);
    await assert.rejects(coffer.kv.put('secret/app/db', { password: 'x' }, { cas: 1 }), CofferBadRequestError);
    const read = await coffer.kv.get<{ password: string; user: string }>('secret/app/db');
    assert.deepEqual(read.data, { password: 'p2', user: 'app' });
    assert.equal(read.metadata.version, 2);
    assert.deepEqual((await coffer.kv.get('secret/app/db', { version: 1 })).data, { password: 'p1', user: 'app' });
    assert.equal((await coffer.kv.patch('secret/app/db', { user: 'app2' })).version, 3);
    assert.deepEqual((await coffer.kv.get('app/db', { mount: 'secret' })).data, { password: 'p2', user: 'app2' });
    assert.deepEqual(await coffer.kv.list('secret/app'), ['db']);
    assert.deepEqual(await coffer.kv.list('secret/app/none'), []);
    assert.equal(await coffer.resolve('secret/data/app/db#user'), 'app2');
    await coffer.kv.delete('secret/app/db');
    await assert.rejects(coffer.kv.get('secret/app/db'), CofferNotFoundError);
    await assert.rejects(coffer.kv.get('secret/app/never-written'), CofferNotFoundError);
  });

  it('throws typed errors that never contain the token, the secret id or a secret value', async () => {
    const { roleId, secretId } = await roleCreds('typed', { token_ttl: '10m' });
    const coffer = client();
    await assert.rejects(coffer.loginAppRole({ roleId, secretId: `${secretId}-wrong` }), (err: unknown) => {
      assert.ok(err instanceof CofferBadRequestError);
      assert.equal(err.status, 400);
      assert.ok(!err.message.includes(secretId), err.message);
      return true;
    });
    await coffer.loginAppRole({ roleId, secretId });
    const token = coffer.token as string;
    await api(server, 'POST', 'secret/data/other/x', { token: root, body: { data: { value: 'other-secret-value' } } });
    await assert.rejects(coffer.read('secret/data/other/x'), (err: unknown) => {
      assert.ok(err instanceof CofferPermissionDeniedError);
      assert.equal(err.status, 403);
      assert.deepEqual(err.errors, ['permission denied']);
      for (const secret of [token, secretId, 'other-secret-value']) assert.ok(!err.message.includes(secret) && !String(err.stack).includes(secret));
      return true;
    });
    assert.throws(() => new Coffer({ address: 'not a url' }), CofferConfigError);
  });

  it('logs in with a JWT and with userpass', async () => {
    const now = Math.floor(Date.now() / 1000);
    const jwt = await sign(jwtKey, { iss: issuer, sub: 'pipeline-7', aud: 'coffer', iat: now, nbf: now, exp: now + 300 });
    const byJwt = client();
    const info = await byJwt.loginJwt({ role: 'deploy', jwt });
    assert.deepEqual(info.policies, ['app', 'default']);
    assert.equal(info.method, 'jwt');
    await byJwt.kv.put('secret/app/from-jwt', { ok: true });
    await assert.rejects(client().loginJwt({ role: 'deploy', jwt: jwt.slice(0, -4) + 'AAAA' }), (err: unknown) => err instanceof CofferPermissionDeniedError || err instanceof CofferBadRequestError);

    const byPassword = client();
    assert.deepEqual((await byPassword.loginUserpass({ username: 'alice', password: 'correct horse battery' })).policies, ['app', 'default']);
    assert.deepEqual((await byPassword.kv.get('secret/app/from-jwt')).data, { ok: true });
    await assert.rejects(client().loginUserpass({ username: 'alice', password: 'wrong horse' }), (err: Error) => !err.message.includes('wrong horse'));
  });

  it('renews its token in the background before the TTL runs out', async () => {
    const { roleId, secretId } = await roleCreds('short', { token_ttl: '3s', token_max_ttl: '1h' });
    const renewals: AuthInfo[] = [];
    const errors: unknown[] = [];
    const coffer = new Coffer({ address: server.url, onError: (err) => errors.push(err), onTokenRenew: (info) => renewals.push(info) });
    clients.push(coffer);
    await coffer.loginAppRole({ roleId, secretId });
    const token = coffer.token as string;
    assert.ok(await waitFor(() => renewals.length >= 2, 6000), 'two renewals within 6 s of a 3 s TTL');
    assert.equal(coffer.token, token, 'renewed, not replaced');
    assert.ok(await ttlOf(token) > 0, 'the token outlived its first TTL');
    await coffer.kv.put('secret/app/renewed', { ok: true });
    assert.deepEqual(errors, []);
  });

  it('renews a supplied token in the background when asked to', async () => {
    const token = (await api(server, 'POST', 'auth/token/create', { token: root, body: { policies: ['app'], ttl: '3s' } })).body.auth.client_token;
    const renewals: AuthInfo[] = [];
    const errors: unknown[] = [];
    const coffer = new Coffer({ address: server.url, token, renewToken: true, onError: (err) => errors.push(err), onTokenRenew: (info) => renewals.push(info) });
    clients.push(coffer);
    assert.ok(await waitFor(() => renewals.length >= 1, 3000), 'renewed before its 3 s ran out');
    assert.equal(renewals[0]?.leaseDuration, 3);
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok(await ttlOf(token) > 0, 'alive past its first TTL');
    assert.deepEqual(errors, []);
  });

  it('logs in again when the max TTL caps renewal, and keeps working past the first token', async () => {
    const { roleId, secretId } = await roleCreds('capped', { token_ttl: '4s', token_max_ttl: '5s' });
    const errors: unknown[] = [];
    const coffer = client(errors);
    const started = Date.now();
    await coffer.loginAppRole({ roleId, secretId });
    const first = coffer.token as string;
    // The renewal at ~2.6 s is capped (about 2 s left): a new login follows at ~4 s.
    assert.ok(await waitFor(() => coffer.token !== first, 5500), 'a new token');
    assert.ok(await ttlOf(coffer.token as string) > 0);
    await new Promise((r) => setTimeout(r, Math.max(0, started + 5500 - Date.now())));
    assert.equal((await api(server, 'GET', 'auth/token/lookup-self', { token: first })).status, 403, 'the first token has ended');
    await coffer.kv.put('secret/app/after-relogin', { ok: true });
    assert.deepEqual(errors, []);
  });

  it('revokes the token it logged in with on close(), and refuses use afterwards', async () => {
    const { roleId, secretId } = await roleCreds('closing', { token_ttl: '10m' });
    const coffer = new Coffer({ address: server.url });
    await coffer.loginAppRole({ roleId, secretId });
    const token = coffer.token as string;
    await coffer.close();
    assert.equal((await api(server, 'GET', 'auth/token/lookup-self', { token })).status, 403);
    await assert.rejects(coffer.kv.get('secret/app/db'), { name: 'CofferClosedError' });
  });
});
