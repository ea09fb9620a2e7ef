/**
 * JWT/OIDC and Kubernetes key sources behind a private CA, over real HTTPS: with the provider's
 * CA configured (`jwks_ca_pem`, `oidc_discovery_ca_pem`, `kubernetes_ca_cert`) the keys are
 * fetched and logins work; without it TLS fails and logins are refused. The certificate is made
 * by the machine's openssl for 127.0.0.1 and lives only in a temp dir.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sign, testKey, type TestKey } from '../../src/auth/jwt/jwt-test-keys.js';
import { api, startTestServer, type TestServer } from '../helpers/server.js';

describe('key sources behind a private CA', () => {
  const dir = mkdtempSync(join(tmpdir(), 'coffer-tls-'));
  let server: TestServer;
  let root: string;
  let idp: Server;
  let issuer: string;
  let ca: string;
  let key: TestKey;

  before(async () => {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    ], { stdio: 'ignore' });
    ca = readFileSync(join(dir, 'cert.pem'), 'utf8');
    key = await testKey('ES256', 'tls-key');
    idp = createServer({ key: readFileSync(join(dir, 'key.pem')), cert: ca }, (req, res) => {
      const send = (body: unknown): void => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (req.url === '/.well-known/openid-configuration') return send({ issuer, jwks_uri: `${issuer}/jwks` });
      if (req.url === '/jwks') return send({ keys: [key.publicJwk] });
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => idp.listen(0, '127.0.0.1', resolve));
    issuer = `https://127.0.0.1:${(idp.address() as AddressInfo).port}`;
    server = await startTestServer({ dev: true, storage: 'memory' });
    root = server.rootToken as string;
  });
  after(async () => {
    await server?.destroy();
    idp?.closeAllConnections();
    await new Promise<void>((resolve) => (idp ? idp.close(() => resolve()) : resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  const jwtMount = async (path: string, config: Record<string, unknown>): Promise<number> => {
    assert.equal((await api(server, 'POST', `sys/auth/${path}`, { token: root, body: { type: 'jwt' } })).status, 204);
    const written = await api(server, 'POST', `auth/${path}/config`, { token: root, body: config });
    if (written.status === 204) {
      const role = await api(server, 'POST', `auth/${path}/role/ci`, { token: root, body: { user_claim: 'sub', bound_audiences: ['coffer'], token_policies: ['default'] } });
      assert.equal(role.status, 204, JSON.stringify(role.body));
    }
    return written.status;
  };
  const jwtLogin = async (path: string): Promise<number> => {
    const now = Math.floor(Date.now() / 1000);
    const jwt = await sign(key, { iss: issuer, sub: 'runner', aud: 'coffer', iat: now, exp: now + 300 });
    return (await api(server, 'POST', `auth/${path}/login`, { body: { role: 'ci', jwt } })).status;
  };

  it('jwks_url: logins work with jwks_ca_pem and are refused without it', async () => {
    assert.equal(await jwtMount('jwks-ca', { jwks_url: `${issuer}/jwks`, jwks_ca_pem: ca }), 204);
    assert.equal(await jwtLogin('jwks-ca'), 200);
    assert.equal((await api(server, 'GET', 'auth/jwks-ca/config', { token: root })).body.data.jwks_ca_pem, ca.trim());
    assert.equal(await jwtMount('jwks-no-ca', { jwks_url: `${issuer}/jwks` }), 204);
    assert.equal(await jwtLogin('jwks-no-ca'), 400, 'the self-signed certificate is not trusted by default');
  });

  it('oidc_discovery_url: discovery and the JWKS it names are verified against oidc_discovery_ca_pem', async () => {
    assert.equal(await jwtMount('oidc-ca', { oidc_discovery_url: issuer, oidc_discovery_ca_pem: ca }), 204);
    assert.equal(await jwtLogin('oidc-ca'), 200);
    assert.equal(await jwtMount('oidc-no-ca', { oidc_discovery_url: issuer }), 400, 'discovery fails TLS without the CA');
  });

  it('refuses a CA that is not a PEM certificate, naming the field only', async () => {
    assert.equal((await api(server, 'POST', 'sys/auth/bad-ca', { token: root, body: { type: 'jwt' } })).status, 204);
    const refused = await api(server, 'POST', 'auth/bad-ca/config', { token: root, body: { jwks_url: `${issuer}/jwks`, jwks_ca_pem: 'not-a-certificate-Secr3t' } });
    assert.equal(refused.status, 400);
    assert.match(refused.body.errors[0], /invalid jwks_ca_pem/);
    assert.ok(!JSON.stringify(refused.body).includes('Secr3t'));
  });

  it('kubernetes: kubernetes_ca_cert verifies jwks_url, so a cluster JWKS behind the cluster CA works', async () => {
    assert.equal((await api(server, 'POST', 'sys/auth/k8s', { token: root, body: { type: 'kubernetes' } })).status, 204);
    const config = await api(server, 'POST', 'auth/k8s/config', { token: root, body: { jwks_url: `${issuer}/jwks`, kubernetes_ca_cert: ca, issuer } });
    assert.equal(config.status, 204, JSON.stringify(config.body));
    const role = await api(server, 'POST', 'auth/k8s/role/web', { token: root, body: { bound_service_account_names: ['web'], bound_service_account_namespaces: ['prod'], audience: 'coffer', token_policies: ['default'] } });
    assert.equal(role.status, 204);
    const now = Math.floor(Date.now() / 1000);
    const jwt = await sign(key, {
      iss: issuer, aud: ['coffer'], iat: now, exp: now + 300, sub: 'system:serviceaccount:prod:web',
      'kubernetes.io': { namespace: 'prod', serviceaccount: { name: 'web', uid: 'u-1' } },
    });
    const login = await api(server, 'POST', 'auth/k8s/login', { body: { role: 'web', jwt } });
    assert.equal(login.status, 200, JSON.stringify(login.body));
    // With pem_keys nothing is fetched: the CA would be unused, and the answer says so.
    const unused = await api(server, 'POST', 'auth/k8s/config', { token: root, body: { pem_keys: [key.publicPem], kubernetes_ca_cert: ca } });
    assert.equal(unused.status, 200);
    assert.match(unused.body.warnings[0], /kubernetes_ca_cert verifies only the TLS of jwks_url/);
  });
});
