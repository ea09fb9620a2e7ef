/**
 * The agent's other auto-auth methods against a real server: a JWT file (signed by a key this
 * test generates), a Kubernetes service-account token file, and a token file. With a short
 * token max TTL, the SDK logs in again on its own before the token ends: the agent then writes
 * the new token to its sink, and the JWT file is read again at that login (a platform replaces
 * it on disk while the agent runs).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startAgent, type Agent } from '../../src/agent/agent.js';
import { sign, testKey, type TestKey } from '../../src/auth/jwt/jwt-test-keys.js';
import { silentLogger } from '../../src/core/logger.js';
import { api, startTestServer, type TestServer } from '../helpers/server.js';
import { read, waitFor } from '../helpers/polling.js';


describe('coffer agent auto-auth with JWT, Kubernetes and token files', () => {
  let server: TestServer;
  let root: string;
  let dir: string;
  let key: TestKey;
  const agents: Agent[] = [];

  const template = (name: string) => ({ contents: 'VALUE={{ secret "secret/data/app" "value" }}\n', destination: join(dir, name, 'app.env') });
  const run = async (name: string, autoAuth: Record<string, unknown>): Promise<Agent> => {
    const agent = await startAgent({
      address: server.url,
      auto_auth: autoAuth,
      sink: { path: join(dir, name, 'token') },
      templates: [template(name)],
      retry: { initial_backoff: '100ms', max_backoff: '1s' },
    }, { logger: silentLogger });
    agents.push(agent);
    await agent.ready;
    return agent;
  };
  const jwtFor = (sub: string): Promise<string> => {
    const now = Math.floor(Date.now() / 1000);
    return sign(key, { sub, aud: 'coffer', iat: now, exp: now + 600 });
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'coffer-'));
    key = await testKey('RS256', 'agent-key');
    server = await startTestServer({ dev: true, storage: 'memory' });
    root = server.rootToken as string;
    const ok = (res: { status: number; body: unknown }): void => assert.ok(res.status < 300, JSON.stringify(res.body));
    ok(await api(server, 'POST', 'secret/data/app', { token: root, body: { data: { value: 'hello' } } }));
    ok(await api(server, 'PUT', 'sys/policies/acl/app', { token: root, body: { policy: 'path "secret/data/app" { capabilities = ["read"] }' } }));
    ok(await api(server, 'POST', 'sys/auth/jwt', { token: root, body: { type: 'jwt' } }));
    ok(await api(server, 'POST', 'auth/jwt/config', { token: root, body: { jwt_validation_pubkeys: [key.publicPem] } }));
    ok(await api(server, 'POST', 'auth/jwt/role/ci', {
      token: root, body: { role_type: 'jwt', user_claim: 'sub', bound_audiences: ['coffer'], token_policies: ['app'], token_ttl: '2s', token_max_ttl: '3s' },
    }));
    ok(await api(server, 'POST', 'sys/auth/kubernetes', { token: root, body: { type: 'kubernetes' } }));
    ok(await api(server, 'POST', 'auth/kubernetes/config', { token: root, body: { pem_keys: [key.publicPem] } }));
    ok(await api(server, 'POST', 'auth/kubernetes/role/web', {
      token: root, body: { bound_service_account_names: ['web'], bound_service_account_namespaces: ['prod'], token_policies: ['app'], token_ttl: '1h' },
    }));
  });

  after(async () => {
    for (const agent of agents) await agent.stop().catch(() => undefined);
    await server?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('logs in with a JWT file; at the max TTL the SDK logs in again with the file as it is then, and the sink follows', async () => {
    const jwtFile = join(dir, 'ci.jwt');
    writeFileSync(jwtFile, await jwtFor('job-1'));
    await run('jwt', { method: 'jwt', jwt_file: jwtFile, role: 'ci' });
    assert.equal(read(join(dir, 'jwt', 'app.env')), 'VALUE=hello\n');
    const first = read(join(dir, 'jwt', 'token'));
    const who = async (token: string): Promise<any> => (await api(server, 'GET', 'auth/token/lookup-self', { token })).body.data;
    assert.deepEqual((await who(first)).policies.sort(), ['app', 'default']);

    // The platform replaces the file; the next login (the SDK's, at the 3 s max TTL) must use it.
    writeFileSync(jwtFile, await jwtFor('job-2'));
    await waitFor(() => read(join(dir, 'jwt', 'token')) !== first, 10_000, 'the token of the re-login in the sink');
    const second = read(join(dir, 'jwt', 'token'));
    const info = await who(second);
    assert.ok(JSON.stringify(info).includes('job-2'), 'the re-login used the replaced JWT file');
    assert.equal((await api(server, 'GET', 'secret/data/app', { token: second })).status, 200);
  });

  it('logs in with a Kubernetes service-account token file', async () => {
    const saFile = join(dir, 'sa-token');
    writeFileSync(saFile, await sign(key, {
      iss: 'kubernetes/serviceaccount',
      'kubernetes.io/serviceaccount/namespace': 'prod',
      'kubernetes.io/serviceaccount/secret.name': 'web-token-abcde',
      'kubernetes.io/serviceaccount/service-account.name': 'web',
      'kubernetes.io/serviceaccount/service-account.uid': '5f0c1f3e-0000-4000-8000-000000000001',
      sub: 'system:serviceaccount:prod:web',
    }));
    await run('k8s', { method: 'kubernetes', role: 'web', jwt_file: saFile });
    assert.equal(read(join(dir, 'k8s', 'app.env')), 'VALUE=hello\n');
    const token = read(join(dir, 'k8s', 'token'));
    assert.deepEqual((await api(server, 'GET', 'auth/token/lookup-self', { token })).body.data.policies.sort(), ['app', 'default']);
  });

  it('uses a token from a token file as it is, and leaves the file alone', async () => {
    const token = (await api(server, 'POST', 'auth/token/create', { token: root, body: { policies: ['app'], ttl: '1h' } })).body.auth.client_token as string;
    const tokenFile = join(dir, 'given-token');
    writeFileSync(tokenFile, `${token}\n`);
    await run('tokenfile', { method: 'token_file', token_file: tokenFile });
    assert.equal(read(join(dir, 'tokenfile', 'app.env')), 'VALUE=hello\n');
    assert.equal(read(join(dir, 'tokenfile', 'token')), token);
    assert.equal(read(tokenFile), `${token}\n`);
  });
});
