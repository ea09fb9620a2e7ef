/**
 * Tests: JWT login with PEM keys — RS256/ES256, tampering, alg none and HS256 confusion,
 * time leeways, issuer, audience in string and array form, bound claims, logs free of tokens.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { before, test } from 'node:test';
import { createAuthHarness, type AuthHarness } from '../shared/harness.js';
import { createJwtEngine } from './engine.js';
import { sign, testKey, unsignedToken, withPayload, type TestKey } from './jwt-test-keys.js';

const ISSUER = 'https://issuer.example';
const ERROR = 'permission denied';

let rsa: TestKey;
let ec: TestKey;
let stranger: TestKey;

before(async () => {
  rsa = await testKey('RS256', 'rsa-1');
  ec = await testKey('ES256', 'ec-1');
  stranger = await testKey('RS256', 'rsa-1');
});

async function setup(role: Record<string, unknown> = {}, config: Record<string, unknown> = {}): Promise<AuthHarness> {
  const h = createAuthHarness(createJwtEngine, { type: 'jwt' });
  await h.call('write', 'config', { jwt_validation_pubkeys: [rsa.publicPem, ec.publicPem], bound_issuer: ISSUER, ...config });
  await h.call('write', 'role/ci', {
    role_type: 'jwt',
    user_claim: 'sub',
    bound_audiences: ['coffer'],
    token_policies: ['ci-read'],
    token_ttl: '10m',
    ...role,
  });
  return h;
}

function claims(h: AuthHarness, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(h.clock.now() / 1000);
  return { iss: ISSUER, sub: 'repo:acme/app', aud: 'coffer', iat: now, nbf: now, exp: now + 300, ...extra };
}

const login = (h: AuthHarness, jwt: string, role = 'ci') => h.call('write', 'login', { role, jwt });

async function refused(h: AuthHarness, jwt: string, reason: RegExp, role = 'ci'): Promise<void> {
  const before = h.logs.length;
  const err = await h.fail('write', 'login', { role, jwt });
  assert.equal(err.code, 'bad_request');
  assert.equal(err.message, ERROR);
  const reasons = h.logs.slice(before).map((l) => String(l.fields['reason']));
  assert.equal(reasons.some((r) => reason.test(r)), true, `expected a refusal for ${reason}, logged ${reasons.join('; ')}`);
}

test('RS256 and ES256 tokens from configured keys log in with exactly the role policies', async () => {
  const h = await setup({ claim_mappings: { email: 'email' } });
  for (const key of [rsa, ec]) {
    const res = await login(h, await sign(key, claims(h, { email: 'dev@example.com' })));
    assert.deepEqual(res?.login?.policies, ['ci-read']);
    assert.equal(res?.login?.ttl, 600);
    assert.equal(res?.login?.displayName, 'repo:acme/app');
    assert.deepEqual(res?.login?.metadata, { email: 'dev@example.com', role: 'ci' });
  }
});

test('a token whose payload was changed after signing is refused', async () => {
  const h = await setup();
  const good = await sign(rsa, claims(h));
  await login(h, good);
  await refused(h, withPayload(good, claims(h, { sub: 'repo:evil/app' })), /signature/);
});

test('a token signed by an unknown key with a known kid is refused', async () => {
  const h = await setup();
  await refused(h, await sign(stranger, claims(h)), /signature/);
});

test('alg none is refused before any key is consulted', async () => {
  const h = await setup();
  await refused(h, unsignedToken(claims(h)), /algorithm not allowed/);
  await refused(h, unsignedToken(claims(h)).replace(/^[^.]+/, Buffer.from('{"alg":"NONE"}').toString('base64url')), /algorithm not allowed/);
});

test('an HS256 token keyed with the public key is refused (algorithm confusion)', async () => {
  const h = await setup();
  const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
  const payload = Buffer.from(JSON.stringify(claims(h))).toString('base64url');
  const mac = createHmac('sha256', rsa.publicPem).update(`${header}.${payload}`).digest('base64url');
  await refused(h, `${header}.${payload}.${mac}`, /algorithm not allowed/);
});

test('an algorithm outside jwt_supported_algs is refused', async () => {
  const h = await setup({}, { jwt_supported_algs: ['RS256'] });
  await login(h, await sign(rsa, claims(h)));
  await refused(h, await sign(ec, claims(h)), /algorithm not allowed/);
});

test('expiry honours the leeways: default 60s skew plus 150s, and none when disabled', async () => {
  const h = await setup();
  const now = Math.floor(h.clock.now() / 1000);
  await login(h, await sign(rsa, claims(h, { exp: now - 200 })));
  await refused(h, await sign(rsa, claims(h, { exp: now - 211 })), /expired/);
  await refused(h, await sign(rsa, claims(h, { exp: now - 3600 })), /expired/);
  await h.call('write', 'role/ci', { clock_skew_leeway: -1, expiration_leeway: -1 });
  await refused(h, await sign(rsa, claims(h, { exp: now - 1 })), /expired/);
});

test('a token that is not yet valid is refused, by nbf or by iat when nbf is absent', async () => {
  const h = await setup();
  const now = Math.floor(h.clock.now() / 1000);
  await refused(h, await sign(rsa, claims(h, { nbf: now + 3600 })), /not yet valid/);
  await refused(h, await sign(rsa, claims(h, { nbf: undefined, iat: now + 3600 })), /not yet valid/);
  await login(h, await sign(rsa, claims(h, { nbf: now + 100 })));
});

test('a token without exp, or with a non-numeric time claim, is refused', async () => {
  const h = await setup();
  await refused(h, await sign(rsa, claims(h, { exp: undefined })), /missing exp/);
  await refused(h, await sign(rsa, claims(h, { exp: 'tomorrow' })), /malformed time/);
});

test('a token from another issuer, or without one, is refused', async () => {
  const h = await setup();
  await refused(h, await sign(rsa, claims(h, { iss: 'https://evil.example' })), /issuer/);
  await refused(h, await sign(rsa, claims(h, { iss: undefined })), /issuer/);
});

test('audience is checked whether aud is a string or an array (CVE-2024-5798)', async () => {
  const h = await setup();
  await login(h, await sign(rsa, claims(h, { aud: 'coffer' })));
  await login(h, await sign(rsa, claims(h, { aud: ['other', 'coffer'] })));
  await refused(h, await sign(rsa, claims(h, { aud: 'other' })), /aud not bound/);
  await refused(h, await sign(rsa, claims(h, { aud: ['other', 'another'] })), /aud not bound/);
  await refused(h, await sign(rsa, claims(h, { aud: undefined })), /missing aud/);
  await refused(h, await sign(rsa, claims(h, { aud: [] })), /missing aud/);
  await refused(h, await sign(rsa, claims(h, { aud: { coffer: true } })), /malformed aud/);
});

test('a token naming an audience is refused by a role that binds none', async () => {
  const h = await setup({ bound_audiences: [], bound_subject: 'repo:acme/app' });
  await refused(h, await sign(rsa, claims(h, { aud: 'coffer' })), /binds no audience/);
  await login(h, await sign(rsa, claims(h, { aud: undefined })));
});

test('bound_subject must equal sub', async () => {
  const h = await setup({ bound_subject: 'repo:acme/app' });
  await login(h, await sign(rsa, claims(h)));
  await refused(h, await sign(rsa, claims(h, { sub: 'repo:acme/other' })), /sub not bound/);
});

test('bound_claims match one of several values, list claims, and nested claims by JSON pointer', async () => {
  const h = await setup({ bound_claims: { ref: ['refs/heads/main', 'refs/heads/release'], groups: 'deployers', '/ctx/env': 'prod', run: 42 } });
  const base = { ref: 'refs/heads/release', groups: ['devs', 'deployers'], ctx: { env: 'prod' }, run: 42 };
  await login(h, await sign(rsa, claims(h, base)));
  await refused(h, await sign(rsa, claims(h, { ...base, ref: 'refs/heads/feature' })), /bound claim/);
  await refused(h, await sign(rsa, claims(h, { ...base, groups: ['devs'] })), /bound claim/);
  await refused(h, await sign(rsa, claims(h, { ...base, ctx: { env: 'dev' } })), /bound claim/);
  await refused(h, await sign(rsa, claims(h, { ...base, ctx: undefined })), /bound claim/);
  await refused(h, await sign(rsa, claims(h, { ...base, run: 43 })), /bound claim/);
});

test('bound_claims_type glob matches with * wildcards only', async () => {
  const h = await setup({ bound_claims: { ref: 'refs/heads/release-*' }, bound_claims_type: 'glob' });
  await login(h, await sign(rsa, claims(h, { ref: 'refs/heads/release-1.2' })));
  await refused(h, await sign(rsa, claims(h, { ref: 'refs/heads/main' })), /bound claim/);
  await refused(h, await sign(rsa, claims(h, { ref: 'refs/heads/release' })), /bound claim/);
});

test('user_claim and groups_claim must be present with the right types', async () => {
  const h = await setup({ user_claim: 'email', groups_claim: 'groups' });
  await login(h, await sign(rsa, claims(h, { email: 'a@example.com', groups: ['x'] })));
  await refused(h, await sign(rsa, claims(h, { groups: ['x'] })), /user_claim/);
  await refused(h, await sign(rsa, claims(h, { email: 'a@example.com' })), /groups_claim/);
  await refused(h, await sign(rsa, claims(h, { email: 'a@example.com', groups: [1] })), /groups_claim/);
});

test('the role defaults to default_role, and an unknown role gets the uniform error', async () => {
  const h = await setup({}, { default_role: 'ci' });
  const token = await sign(rsa, claims(h));
  assert.deepEqual((await h.call('write', 'login', { jwt: token }))?.login?.policies, ['ci-read']);
  await refused(h, token, /unknown role/, 'nope');
});

test('a role name no role can have gets the uniform refusal, never a storage error', async () => {
  const h = await setup();
  const token = await sign(rsa, claims(h));
  for (const role of ['../x', '..', '.', 'a/', 'a//b', '../../sys/token/x']) await refused(h, token, /invalid role name/, role);
});

test('a token from a role that was deleted is not renewed', async () => {
  const h = await setup();
  const login = { path: 'login', metadata: { role: 'ci' }, policies: ['ci-read', 'default'] };
  await h.engine.checkRenewal?.(login);
  await h.call('delete', 'role/ci');
  await assert.rejects(async () => h.engine.checkRenewal?.(login), { code: 'bad_request', message: 'role "ci" does not exist during renewal' });
});

test('token_bound_cidrs limit where a JWT login may come from', async () => {
  const h = await setup({ token_bound_cidrs: ['10.0.0.0/8'] });
  const token = await sign(rsa, claims(h));
  assert.equal((await h.fail('write', 'login', { role: 'ci', jwt: token }, '192.0.2.1')).message, ERROR);
  await h.call('write', 'login', { role: 'ci', jwt: token }, '10.0.0.7');
});

test('garbage in the jwt field is refused without echoing it', async () => {
  const h = await setup();
  for (const jwt of ['not-a-jwt', 'a.b.c', `${'x'.repeat(70_000)}.y.z`]) await refused(h, jwt, /malformed/);
  assert.equal((await h.fail('write', 'login', { role: 'ci', jwt: 123 })).message, 'missing jwt');
});

test('neither the token nor claim values reach the log', async () => {
  const h = await setup({ bound_claims: { secret_claim: 'expected-value' } });
  const token = await sign(rsa, claims(h, { secret_claim: 'leaky-claim-value' }));
  await refused(h, token, /bound claim/);
  const logged = JSON.stringify(h.logs);
  assert.equal(logged.includes(token), false);
  assert.equal(logged.includes(token.split('.')[1] as string), false);
  assert.equal(logged.includes('leaky-claim-value'), false);
});

test('a role logs in with a key from jwks_url, served by a real HTTP server; a key not in the set is refused', async () => {
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [ec.publicJwk] })));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
    const h = await setup({}, { jwt_validation_pubkeys: [], jwks_url: url });
    assert.deepEqual((await login(h, await sign(ec, claims(h))))?.login?.policies, ['ci-read']);
    await refused(h, await sign(rsa, claims(h)), /signature not verified \(ERR_JWKS_NO_MATCHING_KEY\)/);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
