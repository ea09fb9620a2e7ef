/**
 * Tests: Kubernetes login with classic and projected service-account tokens, bindings,
 * issuer and audience, forged and inconsistent tokens, config and role validation.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { sign, testKey, unsignedToken, withPayload, type TestKey } from '../jwt/jwt-test-keys.js';
import { createAuthHarness, type AuthHarness } from '../shared/harness.js';
import { createKubernetesEngine } from './engine.js';

const ERROR = 'permission denied';
const MODERN_ISSUER = 'https://kubernetes.default.svc.cluster.local';

let signer: TestKey;
let ecSigner: TestKey;
let other: TestKey;

before(async () => {
  signer = await testKey('RS256', 'sa-signer');
  ecSigner = await testKey('ES256', 'sa-signer-ec');
  other = await testKey('RS256', 'sa-signer');
});

async function setup(role: Record<string, unknown> = {}, config: Record<string, unknown> = {}): Promise<AuthHarness> {
  const h = createAuthHarness(createKubernetesEngine, { type: 'kubernetes' });
  await h.call('write', 'config', { kubernetes_host: 'https://10.0.0.1:443', pem_keys: [signer.publicPem, ecSigner.publicPem], ...config });
  await h.call('write', 'role/app', {
    bound_service_account_names: ['app-sa'],
    bound_service_account_namespaces: ['prod'],
    token_policies: ['k8s-app'],
    ...role,
  });
  return h;
}

/** A classic, secret-based service-account token: no exp, no aud. */
function classic(ns = 'prod', name = 'app-sa'): Record<string, unknown> {
  return {
    iss: 'kubernetes/serviceaccount',
    'kubernetes.io/serviceaccount/namespace': ns,
    'kubernetes.io/serviceaccount/secret.name': `${name}-token-x1`,
    'kubernetes.io/serviceaccount/service-account.name': name,
    'kubernetes.io/serviceaccount/service-account.uid': 'uid-classic',
    sub: `system:serviceaccount:${ns}:${name}`,
  };
}

/** A projected (bound) service-account token, as a kubelet mounts it today. */
function projected(h: AuthHarness, ns = 'prod', name = 'app-sa', extra: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(h.clock.now() / 1000);
  return {
    iss: MODERN_ISSUER,
    aud: ['https://kubernetes.default.svc.cluster.local'],
    exp: now + 3600,
    iat: now,
    nbf: now,
    'kubernetes.io': { namespace: ns, pod: { name: 'app-0', uid: 'pod-uid' }, serviceaccount: { name, uid: 'uid-projected' } },
    sub: `system:serviceaccount:${ns}:${name}`,
    ...extra,
  };
}

async function refused(h: AuthHarness, jwt: string, reason: RegExp, role = 'app'): Promise<void> {
  const before = h.logs.length;
  const err = await h.fail('write', 'login', { role, jwt });
  assert.equal(err.code, 'bad_request');
  assert.equal(err.message, ERROR);
  const reasons = h.logs.slice(before).map((l) => String(l.fields['reason']));
  assert.equal(reasons.some((r) => reason.test(r)), true, `expected ${reason}, logged ${reasons.join('; ')}`);
}

test('a role name no role can have gets the uniform refusal, never a storage error', async () => {
  const h = await setup();
  const jwt = await sign(signer, classic());
  for (const role of ['../x', '..', '.', 'a/', 'a//b']) await refused(h, jwt, /invalid role name/, role);
});

test('a token from a role that was deleted is not renewed', async () => {
  const h = await setup();
  const login = { path: 'login', metadata: { role: 'app' }, policies: ['default', 'k8s-app'] };
  await h.engine.checkRenewal?.(login);
  await h.call('delete', 'role/app');
  await assert.rejects(async () => h.engine.checkRenewal?.(login), { code: 'bad_request', message: 'role "app" does not exist during renewal' });
});

test('a classic service-account token logs in with the role policies and metadata', async () => {
  const h = await setup();
  const res = await h.call('write', 'login', { role: 'app', jwt: await sign(signer, classic()) });
  assert.deepEqual(res?.login?.policies, ['k8s-app']);
  assert.deepEqual(res?.login?.metadata, { service_account_name: 'app-sa', service_account_namespace: 'prod', role: 'app', service_account_uid: 'uid-classic' });
  assert.equal(res?.login?.displayName, 'prod-app-sa');
});

test('a projected token logs in once the cluster issuer is configured, and not before', async () => {
  const h = await setup();
  const token = await sign(ecSigner, projected(h));
  await refused(h, token, /issuer/);
  await h.call('write', 'config', { pem_keys: [signer.publicPem, ecSigner.publicPem], issuer: MODERN_ISSUER });
  const res = await h.call('write', 'login', { role: 'app', jwt: token });
  assert.equal(res?.login?.metadata['service_account_uid'], 'uid-projected');
  await refused(h, await sign(signer, classic()), /issuer/);
});

test('disable_iss_validation accepts any issuer', async () => {
  const h = await setup({}, { disable_iss_validation: true });
  await h.call('write', 'login', { role: 'app', jwt: await sign(signer, projected(h, 'prod', 'app-sa', { iss: 'anything' })) });
});

test('service-account name and namespace must both be bound; * and globs are allowed', async () => {
  const h = await setup({ bound_service_account_names: ['app-*', 'worker'], bound_service_account_namespaces: '*' });
  await h.call('write', 'login', { role: 'app', jwt: await sign(signer, classic('staging', 'app-api')) });
  await h.call('write', 'login', { role: 'app', jwt: await sign(signer, classic('dev', 'worker')) });
  await refused(h, await sign(signer, classic('prod', 'db')), /service account not bound/);
  const strict = await setup();
  await refused(strict, await sign(signer, classic('dev', 'app-sa')), /namespace not bound/);
  await refused(strict, await sign(signer, classic('prod', 'other')), /service account not bound/);
});

test('a role audience must appear in aud, as a string or in a list', async () => {
  const h = await setup({ audience: 'coffer' }, { issuer: MODERN_ISSUER });
  await refused(h, await sign(signer, projected(h)), /audience/);
  await h.call('write', 'login', { role: 'app', jwt: await sign(signer, projected(h, 'prod', 'app-sa', { aud: 'coffer' })) });
  await h.call('write', 'login', { role: 'app', jwt: await sign(signer, projected(h, 'prod', 'app-sa', { aud: ['x', 'coffer'] })) });
  await refused(h, await sign(signer, classic()), /issuer|audience/);
});

test('expired and not-yet-valid projected tokens are refused', async () => {
  const h = await setup({}, { issuer: MODERN_ISSUER });
  const now = Math.floor(h.clock.now() / 1000);
  await refused(h, await sign(signer, projected(h, 'prod', 'app-sa', { exp: now - 120 })), /expired/);
  await refused(h, await sign(signer, projected(h, 'prod', 'app-sa', { nbf: now + 600, iat: now + 600 })), /not yet valid/);
});

test('tampered, unsigned and foreign-signed tokens are refused', async () => {
  const h = await setup();
  const good = await sign(signer, classic());
  await refused(h, withPayload(good, classic('kube-system', 'app-sa')), /signature/);
  await refused(h, unsignedToken(classic()), /algorithm/);
  await refused(h, await sign(other, classic()), /signature/);
});

test('claims that disagree about the identity are refused', async () => {
  const h = await setup({}, { disable_iss_validation: true });
  const mixed = { ...projected(h), ...classic('kube-system', 'app-sa'), sub: 'system:serviceaccount:prod:app-sa' };
  await refused(h, await sign(signer, mixed), /disagree/);
  await refused(h, await sign(signer, { ...classic(), sub: 'system:serviceaccount:kube-system:app-sa' }), /sub/);
  await refused(h, await sign(signer, { iss: 'kubernetes/serviceaccount', sub: 'system:serviceaccount:prod:app-sa' }), /no service-account/);
});

test('config needs exactly one key source and refuses a reviewer JWT', async () => {
  const h = createAuthHarness(createKubernetesEngine, { type: 'kubernetes' });
  assert.match((await h.fail('write', 'config', { kubernetes_host: 'https://k' })).message, /exactly one/);
  assert.match((await h.fail('write', 'config', { pem_keys: [signer.publicPem], token_reviewer_jwt: 'eyJ...' })).message, /not supported/);
  await h.call('write', 'config', { pem_keys: signer.publicPem });
  assert.equal((await h.call('read', 'config'))?.data?.['issuer'], 'kubernetes/serviceaccount');
  assert.equal((await h.call('read', 'config'))?.data?.['disable_iss_validation'], false);
});

test('a role needs both bindings, and they cannot both be *', async () => {
  const h = createAuthHarness(createKubernetesEngine, { type: 'kubernetes' });
  assert.match((await h.fail('write', 'role/r', { bound_service_account_names: 'a' })).message, /namespaces/);
  assert.match((await h.fail('write', 'role/r', { bound_service_account_namespaces: 'a' })).message, /names/);
  assert.match((await h.fail('write', 'role/r', { bound_service_account_names: '*', bound_service_account_namespaces: '*' })).message, /both be/);
  await h.call('write', 'role/r', { bound_service_account_names: 'a', bound_service_account_namespaces: 'b', audience: 'c', token_ttl: '1m' });
  const data = (await h.call('read', 'role/r'))?.data as Record<string, unknown>;
  assert.deepEqual([data['bound_service_account_names'], data['bound_service_account_namespaces'], data['audience'], data['token_ttl']], [['a'], ['b'], 'c', 60]);
});

test('an unknown role and an unconfigured mount get the uniform error', async () => {
  const h = await setup();
  await refused(h, await sign(signer, classic()), /unknown role/, 'nope');
  const bare = createAuthHarness(createKubernetesEngine, { type: 'kubernetes' });
  assert.equal((await bare.fail('write', 'login', { role: 'app', jwt: await sign(signer, classic()) })).message, ERROR);
});
