/**
 * Kubernetes auth over real HTTP, verified locally with a PEM key the test generates (no API
 * server): a classic secret-based token and a projected token each get exactly the role's
 * policies; other namespaces, other service accounts and forged tokens are refused.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createManualClock } from '../../src/core/clock.js';
import { sign, testKey, withPayload, type TestKey } from '../../src/auth/jwt/jwt-test-keys.js';
import { api, startTestServer, type TestServer } from '../helpers/server.js';

const DENIED = { errors: ['permission denied'] };
const CLUSTER_ISSUER = 'https://kubernetes.default.svc.cluster.local';

describe('kubernetes auth over HTTP', () => {
  const clock = createManualClock(Date.now());
  let server: TestServer;
  let root: string;
  let signer: TestKey;

  const classic = (ns: string, name: string): Record<string, unknown> => ({
    iss: 'kubernetes/serviceaccount',
    'kubernetes.io/serviceaccount/namespace': ns,
    'kubernetes.io/serviceaccount/secret.name': `${name}-token-abcde`,
    'kubernetes.io/serviceaccount/service-account.name': name,
    'kubernetes.io/serviceaccount/service-account.uid': '5f0c1f3e-0000-4000-8000-000000000001',
    sub: `system:serviceaccount:${ns}:${name}`,
  });
  const projected = (ns: string, name: string, extra: Record<string, unknown> = {}): Record<string, unknown> => {
    const now = Math.floor(clock.now() / 1000);
    return {
      iss: CLUSTER_ISSUER,
      aud: ['coffer'],
      iat: now,
      nbf: now,
      exp: now + 3600,
      'kubernetes.io': { namespace: ns, pod: { name: 'web-0', uid: 'p-1' }, serviceaccount: { name, uid: '5f0c1f3e-0000-4000-8000-000000000002' } },
      sub: `system:serviceaccount:${ns}:${name}`,
      ...extra,
    };
  };

  const setupMount = async (path: string, config: Record<string, unknown>, role: Record<string, unknown> = {}): Promise<void> => {
    assert.equal((await api(server, 'POST', `sys/auth/${path}`, { token: root, body: { type: 'kubernetes' } })).status, 204);
    const c = await api(server, 'POST', `auth/${path}/config`, { token: root, body: { pem_keys: [signer.publicPem], ...config } });
    assert.equal(c.status, 204, JSON.stringify(c.body));
    const r = await api(server, 'POST', `auth/${path}/role/web`, {
      token: root,
      body: { bound_service_account_names: ['web'], bound_service_account_namespaces: ['prod'], token_policies: ['app-read'], token_ttl: '1h', ...role },
    });
    assert.equal(r.status, 204, JSON.stringify(r.body));
  };

  before(async () => {
    signer = await testKey('RS256', 'sa-key');
    server = await startTestServer({ dev: true, storage: 'memory', clock });
    root = server.rootToken as string;
    await api(server, 'PUT', 'sys/policies/acl/app-read', { token: root, body: { policy: 'path "secret/data/app/*" { capabilities = ["read"] }' } });
    await api(server, 'PUT', 'secret/data/app/db', { token: root, body: { data: { password: 'app-db-pw' } } });
    await api(server, 'PUT', 'secret/data/other/db', { token: root, body: { data: { password: 'other-db-pw' } } });
    await setupMount('kubernetes', {});
    await setupMount('k8s-projected', { issuer: CLUSTER_ISSUER }, { audience: 'coffer' });
    await setupMount('k8s-any-audience', { issuer: CLUSTER_ISSUER });
  });
  after(() => server.destroy());

  const login = (mount: string, jwt: string) => api(server, 'POST', `auth/${mount}/login`, { body: { role: 'web', jwt } });

  const assertExactAccess = async (auth: any): Promise<void> => {
    assert.deepEqual(auth.policies, ['app-read', 'default']);
    assert.equal((await api(server, 'GET', 'secret/data/app/db', { token: auth.client_token })).status, 200);
    assert.equal((await api(server, 'GET', 'secret/data/other/db', { token: auth.client_token })).status, 403);
  };

  it('logs in a classic service-account token with exactly the role policies', async () => {
    const res = await login('kubernetes', await sign(signer, classic('prod', 'web')));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.auth.metadata.service_account_name, 'web');
    assert.equal(res.body.auth.metadata.service_account_namespace, 'prod');
    assert.equal(res.body.auth.metadata.role, 'web');
    await assertExactAccess(res.body.auth);
  });

  it('logs in a projected token on a mount configured with the cluster issuer and audience', async () => {
    const res = await login('k8s-projected', await sign(signer, projected('prod', 'web')));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.auth.metadata.service_account_name, 'web');
    await assertExactAccess(res.body.auth);
  });

  it('without a role audience, takes a projected token for the API server (its issuer, kubernetes.default.svc or kubernetes_host)', async () => {
    for (const aud of [[CLUSTER_ISSUER], ['https://kubernetes.default.svc'], ['vault', 'https://kubernetes.default.svc.cluster.local']]) {
      const res = await login('k8s-any-audience', await sign(signer, projected('prod', 'web', { aud })));
      assert.equal(res.status, 200, `${JSON.stringify(aud)}: ${JSON.stringify(res.body)}`);
    }
    // GKE: issuer checks off, and the token's audience is its own (signed) issuer URL.
    const gke = 'https://container.googleapis.com/v1/projects/p/locations/l/clusters/c';
    await setupMount('k8s-gke', { disable_iss_validation: true });
    assert.equal((await login('k8s-gke', await sign(signer, projected('prod', 'web', { iss: gke, aud: [gke] })))).status, 200);
    // AKS: the audience is the cluster's address, as kubernetes_host names it.
    const aks = 'https://my-cluster-dns-1a2b3c.hcp.westeurope.azmk8s.io';
    await setupMount('k8s-aks', { issuer: CLUSTER_ISSUER, kubernetes_host: `${aks}:443` });
    assert.equal((await login('k8s-aks', await sign(signer, projected('prod', 'web', { aud: [aks] })))).status, 200);
  });

  const refusals: Array<[string, string, () => Promise<string>]> = [
    ['another namespace', 'kubernetes', () => sign(signer, classic('kube-system', 'web'))],
    ['another service account', 'kubernetes', () => sign(signer, classic('prod', 'admin'))],
    ['a projected token on the classic-issuer mount', 'kubernetes', () => sign(signer, projected('prod', 'web'))],
    ['a classic token on the projected mount', 'k8s-projected', () => sign(signer, classic('prod', 'web'))],
    ['a projected token for another audience', 'k8s-projected', () => sign(signer, projected('prod', 'web', { aud: ['https://kubernetes.default.svc'] }))],
    ['without a role audience, a projected token minted for a third party (a CI system)', 'k8s-any-audience', () => sign(signer, projected('prod', 'web', { aud: ['https://ci.example.com'] }))],
    ['an expired projected token', 'k8s-projected', () => sign(signer, projected('prod', 'web', { exp: Math.floor(clock.now() / 1000) - 600 }))],
    ['a tampered token', 'kubernetes', async () => withPayload(await sign(signer, classic('dev', 'web')), classic('prod', 'web'))],
    ['a token from another signer', 'kubernetes', async () => sign(await testKey('ES256', 'sa-key'), classic('prod', 'web'))],
  ];
  for (const [what, mount, make] of refusals) {
    it(`refuses ${what}`, async () => {
      const res = await login(mount, await make());
      assert.equal(res.status, 400);
      assert.deepEqual(res.body, DENIED);
    });
  }
});
