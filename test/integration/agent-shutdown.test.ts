/**
 * Stopping the agent while Coffer cannot be reached (a frozen server, a dropped route): the
 * clean-up (lease revocation, deregistration, token revocation) is bounded by
 * `shutdown_timeout`, and the log says revocation did not happen, instead of each request
 * holding the stop for the SDK's 30 s timeout (an orchestrator would kill the sidecar first).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startAgent } from '../../src/agent/agent.js';
import { createLogger } from '../../src/core/logger.js';
import { api, startTestServer, type TestServer } from '../helpers/server.js';
import { startTcpRelay, type TcpRelay } from '../helpers/tcp-relay.js';

let server: TestServer;
let relay: TcpRelay;
let dir: string;

before(async () => {
  server = await startTestServer({ dev: true, storage: 'memory' });
  const url = new URL(server.url);
  relay = await startTcpRelay({ host: url.hostname, port: Number(url.port) });
  dir = mkdtempSync(join(tmpdir(), 'coffer-agent-stop-'));
  const root = server.rootToken as string;
  assert.equal((await api(server, 'POST', 'secret/data/app', { token: root, body: { data: { value: 'v1' } } })).status, 200);
  // A token the agent may revoke on exit: AppRole auto-auth creates its own.
  assert.equal((await api(server, 'POST', 'sys/auth/approle', { token: root, body: { type: 'approle' } })).status, 204);
  assert.equal((await api(server, 'PUT', 'sys/policies/acl/app', { token: root, body: { policy: 'path "secret/data/app" { capabilities = ["read"] }' } })).status, 204);
  assert.equal((await api(server, 'POST', 'auth/approle/role/app', { token: root, body: { token_policies: ['app'] } })).status, 204);
  writeFileSync(join(dir, 'role-id'), (await api(server, 'GET', 'auth/approle/role/app/role-id', { token: root })).body.data.role_id);
  writeFileSync(join(dir, 'secret-id'), (await api(server, 'POST', 'auth/approle/role/app/secret-id', { token: root })).body.data.secret_id);
});

after(async () => {
  await relay?.close();
  await server?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

test('a stop while the server is unreachable ends within shutdown_timeout and logs that nothing was revoked', async () => {
  const lines: string[] = [];
  const agent = await startAgent(
    {
      address: `http://127.0.0.1:${relay.port}`,
      auto_auth: { method: 'approle', role_id_file: join(dir, 'role-id'), secret_id_file: join(dir, 'secret-id'), remove_secret_id_file_after_reading: false },
      templates: [{ contents: 'VALUE={{ secret "secret/data/app" "value" }}\n', destination: join(dir, 'out', 'app.env') }],
      revoke_on_exit: true,
      shutdown_timeout: '1s',
    },
    { logger: createLogger({ level: 'debug', write: (line) => lines.push(line) }) },
  );
  await agent.ready;
  // Every connection goes silent, and new ones are accepted and never answered.
  relay.holdNew(true);
  relay.muteAll();
  const started = performance.now();
  await agent.stop();
  const took = performance.now() - started;
  assert.ok(took < 3_000, `stopped in ${Math.round(took)} ms`);
  const log = lines.join('\n');
  assert.match(log, /clean-up on exit did not finish in time/);
  assert.match(log, /"agent stopped".*"revoked":false/);
  relay.cutAll();
});
