/**
 * JWT and OIDC auth over real HTTP, with keys the test generates and a JWKS (and an OpenID
 * discovery document) the test serves on loopback: valid RS256 and ES256 tokens get exactly the
 * role's policies; tampered, expired, not-yet-valid, unsigned, wrong-issuer and wrong-audience
 * tokens (aud as a string and as an array) are refused with one uniform answer.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createManualClock } from '../../src/core/clock.js';
import { sign, testKey, unsignedToken, withPayload, type TestKey } from '../../src/auth/jwt/jwt-test-keys.js';
import { api, startTestServer, type TestServer } from '../helpers/server.js';

const DENIED = { errors: ['permission denied'] };

describe('jwt and oidc auth over HTTP', () => {
  const clock = createManualClock(Date.now());
  let server: TestServer;
  let root: string;
  let idp: Server;
  let issuer: string;
  let rsa: TestKey;
  let ec: TestKey;
  let jwksFetches = 0;

  before(async () => {
    rsa = await testKey('RS256', 'rsa-key');
    ec = await testKey('ES256', 'ec-key');
    idp = createServer((req, res) => {
      const send = (body: unknown): void => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (req.url === '/.well-known/openid-configuration') return send({ issuer, jwks_uri: `${issuer}/jwks` });
      if (req.url === '/jwks') {
        jwksFetches++;
        return send({ keys: [rsa.publicJwk, ec.publicJwk] });
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => idp.listen(0, '127.0.0.1', resolve));
    issuer = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;

    server = await startTestServer({ dev: true, storage: 'memory', clock });
    root = server.rootToken as string;
    await api(server, 'PUT', 'sys/policies/acl/app-read', { token: root, body: { policy: 'path "secret/data/app/*" { capabilities = ["read"] }' } });
    await api(server, 'PUT', 'secret/data/app/db', { token: root, body: { data: { password: 'app-db-pw' } } });
    await api(server, 'PUT', 'secret/data/other/db', { token: root, body: { data: { password: 'other-db-pw' } } });

    assert.equal((await api(server, 'POST', 'sys/auth/jwt', { token: root, body: { type: 'jwt' } })).status, 204);
    const config = await api(server, 'POST', 'auth/jwt/config', { token: root, body: { jwks_url: `${issuer}/jwks`, bound_issuer: issuer } });
    assert.equal(config.status, 204, JSON.stringify(config.body));
    const role = await api(server, 'POST', 'auth/jwt/role/deploy', {
      token: root,
      body: {
        role_type: 'jwt',
        user_claim: 'sub',
        bound_audiences: ['coffer'],
        bound_claims: { repository: 'acme/app' },
        claim_mappings: { repository: 'repo' },
        token_policies: ['app-read'],
        token_ttl: '15m',
      },
    });
    assert.equal(role.status, 204, JSON.stringify(role.body));
  });
  after(async () => {
    await server.destroy();
    await new Promise<void>((resolve) => idp.close(() => resolve()));
  });

  const claims = (extra: Record<string, unknown> = {}): Record<string, unknown> => {
    const now = Math.floor(clock.now() / 1000);
    return { iss: issuer, sub: 'ci-runner', aud: 'coffer', repository: 'acme/app', iat: now, nbf: now, exp: now + 300, ...extra };
  };
  const login = (jwt: string, mount = 'jwt', role = 'deploy') => api(server, 'POST', `auth/${mount}/login`, { body: { role, jwt } });

  const assertExactAccess = async (auth: any): Promise<void> => {
    assert.deepEqual(auth.policies, ['app-read', 'default']);
    assert.deepEqual(auth.token_policies, ['app-read', 'default']);
    assert.equal((await api(server, 'GET', 'secret/data/app/db', { token: auth.client_token })).body.data.data.password, 'app-db-pw');
    assert.equal((await api(server, 'GET', 'secret/data/other/db', { token: auth.client_token })).status, 403);
    assert.equal((await api(server, 'GET', 'auth/jwt/role/deploy', { token: auth.client_token })).status, 403);
  };

  it('logs in RS256 and ES256 tokens verified through the JWKS endpoint', async () => {
    for (const key of [rsa, ec]) {
      const res = await login(await sign(key, claims()));
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(res.body.auth.metadata, { repo: 'acme/app', role: 'deploy' });
      assert.equal(res.body.auth.lease_duration, 900);
      await assertExactAccess(res.body.auth);
    }
    assert.ok(jwksFetches >= 1);
  });

  const refusals: Array<[string, () => Promise<string>]> = [
    ['a tampered payload', async () => withPayload(await sign(rsa, claims()), claims({ repository: 'acme/other' }))],
    ['a tampered payload on ES256', async () => withPayload(await sign(ec, claims()), claims({ sub: 'admin' }))],
    ['an expired token', async () => sign(rsa, claims({ exp: Math.floor(clock.now() / 1000) - 3600 }))],
    ['a token that is not yet valid', async () => sign(rsa, claims({ nbf: Math.floor(clock.now() / 1000) + 3600 }))],
    ['alg none', async () => unsignedToken(claims())],
    ['a wrong issuer', async () => sign(rsa, claims({ iss: 'https://evil.example' }))],
    ['a wrong audience as a string', async () => sign(rsa, claims({ aud: 'someone-else' }))],
    ['a wrong audience as an array', async () => sign(ec, claims({ aud: ['someone-else', 'another'] }))],
    ['no audience', async () => sign(rsa, claims({ aud: undefined }))],
    ['an unmatched bound claim', async () => sign(rsa, claims({ repository: 'acme/other' }))],
    ['a kid the JWKS does not hold', async () => sign(await testKey('RS256', 'unknown-kid'), claims())],
  ];
  for (const [what, make] of refusals) {
    it(`refuses ${what} with 400 permission denied, echoing nothing`, async () => {
      const token = await make();
      const res = await login(token);
      assert.equal(res.status, 400);
      assert.deepEqual(res.body, DENIED);
    });
  }

  it('refuses a role name no role can have with 400 permission denied, not a server error', async () => {
    const token = await sign(rsa, claims());
    for (const role of ['../x', '..', '.', 'a/', 'a//b']) {
      const res = await login(token, 'jwt', role);
      assert.equal(res.status, 400, `${role}: ${JSON.stringify(res.body)}`);
      assert.deepEqual(res.body, DENIED);
    }
  });

  it('accepts the audience in array form when it holds the bound value', async () => {
    const res = await login(await sign(ec, claims({ aud: ['someone-else', 'coffer'] })));
    assert.equal(res.status, 200, JSON.stringify(res.body));
  });

  it('logs in through an oidc mount configured by discovery', async () => {
    assert.equal((await api(server, 'POST', 'sys/auth/oidc', { token: root, body: { type: 'oidc' } })).status, 204);
    const config = await api(server, 'POST', 'auth/oidc/config', { token: root, body: { oidc_discovery_url: issuer, default_role: 'reader' } });
    assert.equal(config.status, 204, JSON.stringify(config.body));
    await api(server, 'POST', 'auth/oidc/role/reader', { token: root, body: { user_claim: 'sub', bound_audiences: 'coffer', token_policies: 'app-read' } });
    const res = await api(server, 'POST', 'auth/oidc/login', { body: { jwt: await sign(rsa, claims()) } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    await assertExactAccess(res.body.auth);
    // The discovered issuer is enforced even without bound_issuer.
    const wrongIssuer = await api(server, 'POST', 'auth/oidc/login', { body: { jwt: await sign(rsa, claims({ iss: 'https://evil.example' })) } });
    assert.equal(wrongIssuer.status, 400);
    const mounts = await api(server, 'GET', 'sys/auth', { token: root });
    assert.equal(mounts.body.data['oidc/'].type, 'oidc');
  });
});
