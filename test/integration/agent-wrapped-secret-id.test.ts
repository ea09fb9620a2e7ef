/**
 * Secure introduction with the agent: the AppRole secret id reaches it as a wrapping token
 * (auto_auth.secret_id_response_wrapping_path, as Vault Agent), which it checks and unwraps once.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startAgent, type Agent } from '../../src/agent/agent.js';
import { silentLogger } from '../../src/core/logger.js';
import { api, startTestServer, type TestServer } from '../helpers/server.js';
import { read } from '../helpers/polling.js';

describe('coffer agent with a wrapped AppRole secret id', () => {
  let server: TestServer;
  let root: string;
  let dir: string;
  const agents: Agent[] = [];
  const WRAPPING_PATH = 'auth/approle/role/web/secret-id';

  const files = (name: string, wrappingToken: string): { roleIdFile: string; secretIdFile: string } => {
    mkdirSync(join(dir, name));
    const roleIdFile = join(dir, name, 'role-id');
    const secretIdFile = join(dir, name, 'secret-id');
    writeFileSync(roleIdFile, roleId);
    writeFileSync(secretIdFile, wrappingToken, { mode: 0o600 });
    return { roleIdFile, secretIdFile };
  };
  const start = async (name: string, secretIdFile: string, roleIdFile: string): Promise<Agent> => {
    const agent = await startAgent({
      address: server.url,
      auto_auth: {
        method: 'approle',
        role_id_file: roleIdFile,
        secret_id_file: secretIdFile,
        remove_secret_id_file_after_reading: false,
        secret_id_response_wrapping_path: WRAPPING_PATH,
      },
      sink: { path: join(dir, name, 'token') },
      templates: [{ contents: 'VALUE={{ secret "secret/data/app" "value" }}\n', destination: join(dir, name, 'app.env') }],
      retry: { initial_backoff: '100ms', max_backoff: '200ms' },
    }, { logger: silentLogger });
    agents.push(agent);
    return agent;
  };
  const wrapped = async (path: string, body: Record<string, unknown>): Promise<string> => {
    const res = await api(server, 'POST', path, { token: root, body, headers: { 'X-Vault-Wrap-TTL': '5m' } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return (res.body as any).wrap_info.token as string;
  };
  const lookupStatus = async (token: string): Promise<number> => (await api(server, 'POST', 'sys/wrapping/lookup', { body: { token } })).status;
  let roleId: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'coffer-'));
    server = await startTestServer({ dev: true, storage: 'memory' });
    root = server.rootToken as string;
    const ok = (res: { status: number; body: unknown }): void => assert.ok(res.status < 300, JSON.stringify(res.body));
    ok(await api(server, 'POST', 'secret/data/app', { token: root, body: { data: { value: 'hello' } } }));
    ok(await api(server, 'PUT', 'sys/policies/acl/app', { token: root, body: { policy: 'path "secret/data/app" { capabilities = ["read"] }' } }));
    ok(await api(server, 'POST', 'sys/auth/approle', { token: root, body: { type: 'approle' } }));
    ok(await api(server, 'POST', 'auth/approle/role/web', { token: root, body: { token_policies: 'app', token_ttl: '1h' } }));
    roleId = (await api(server, 'GET', 'auth/approle/role/web/role-id', { token: root })).body.data.role_id as string;
  });

  after(async () => {
    for (const agent of agents) await agent.stop().catch(() => undefined);
    await server?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('unwraps the secret id once, logs in with it, and keeps working from memory', async () => {
    const token = await wrapped(WRAPPING_PATH, {});
    const { roleIdFile, secretIdFile } = files('good', token);
    const agent = await start('good', secretIdFile, roleIdFile);
    await agent.ready;
    assert.equal(read(join(dir, 'good', 'app.env')), 'VALUE=hello\n');
    // Spent: whoever else got hold of the wrapping token now finds it invalid.
    assert.equal(await lookupStatus(token), 400);
  });

  it('refuses a wrapping token made by another path, and leaves it unspent', async () => {
    const token = await wrapped('sys/wrapping/wrap', { secret_id: 'planted-by-someone-else' });
    const { roleIdFile, secretIdFile } = files('planted', token);
    const agent = await start('planted', secretIdFile, roleIdFile);
    agent.ready.catch(() => undefined);
    // Several login attempts fit in this time (backoff 100-200 ms); none may succeed.
    await sleep(800);
    assert.equal(existsSync(join(dir, 'planted', 'app.env')), false);
    assert.equal(existsSync(join(dir, 'planted', 'token')), false);
    assert.equal(await lookupStatus(token), 200);
  });
});
