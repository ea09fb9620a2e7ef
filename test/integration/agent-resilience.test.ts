/**
 * The agent when Coffer goes away: the server (SQLite, so its data survives) is stopped and
 * started again on the same port. The agent keeps the last good files while it cannot reach
 * Coffer, retries with backoff, and renders the next change once Coffer is back; it logs in
 * again when its token is revoked behind its back; and a first login that cannot reach Coffer is
 * retried until it can.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startAgent, type Agent, type RenderEvent } from '../../src/agent/agent.js';
import { createLogger } from '../../src/core/logger.js';
import { api, startTestServer, tempDir, type TestServer } from '../helpers/server.js';
import { read, waitFor } from '../helpers/polling.js';



describe('coffer agent when Coffer is unreachable', () => {
  const dataDir = tempDir('coffer-agent-restart-');
  let dir: string;
  let server: TestServer | undefined;
  let port: number;
  let root: string;
  let agent: Agent | undefined;
  const logs: string[] = [];
  const renders: RenderEvent[] = [];
  const logger = createLogger({ level: 'debug', write: (line) => void logs.push(line) });
  const messages = (): string[] => logs.map((l) => JSON.parse(l).message as string);
  let roleIdFile: string;
  let secretIdFile: string;

  const start = async (): Promise<TestServer> => {
    server = await startTestServer({ dev: true, storage: 'sqlite', dataDir, keepDataDir: true, ...(port ? { listen: `127.0.0.1:${port}` } : {}) });
    return server;
  };
  const stop = async (): Promise<void> => {
    await server?.close();
    server = undefined;
  };
  const writeKv = async (value: string): Promise<void> => {
    const res = await api(server as TestServer, 'POST', 'secret/data/app', { token: root, body: { data: { value } } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  };
  const newSecretId = async (): Promise<void> => {
    const id = (await api(server as TestServer, 'POST', 'auth/approle/role/agent/secret-id', { token: root })).body.data.secret_id as string;
    writeFileSync(secretIdFile, id);
  };
  const config = (name: string) => ({
    address: `http://127.0.0.1:${port}`,
    auto_auth: { method: 'approle', role_id_file: roleIdFile, secret_id_file: secretIdFile },
    sink: { path: join(dir, name, 'token') },
    templates: [{ contents: 'VALUE={{ secret "secret/data/app" "value" }}\n', destination: join(dir, name, 'app.env') }],
    retry: { initial_backoff: '100ms', max_backoff: '1s' },
    // The backstop read: how a revoked token (whose change stream goes quiet) is noticed in this test.
    render_interval: '500ms',
  });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'coffer-'));
    roleIdFile = join(dir, 'role-id');
    secretIdFile = join(dir, 'secret-id');
    const first = await start();
    port = Number(new URL(first.url).port);
    root = first.rootToken as string;
    await writeKv('one');
    await api(first, 'PUT', 'sys/policies/acl/agent', { token: root, body: { policy: 'path "secret/data/app" { capabilities = ["read"] }' } });
    assert.equal((await api(first, 'POST', 'sys/auth/approle', { token: root, body: { type: 'approle' } })).status, 204);
    await api(first, 'POST', 'auth/approle/role/agent', { token: root, body: { token_policies: ['agent'], token_ttl: '1h' } });
    writeFileSync(roleIdFile, (await api(first, 'GET', 'auth/approle/role/agent/role-id', { token: root })).body.data.role_id);
    await newSecretId();
  });

  after(async () => {
    await agent?.stop().catch(() => undefined);
    await server?.destroy();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the last good file while Coffer is down, and renders the next change once it is back', async (t) => {
    const file = join(dir, 'a', 'app.env');
    agent = await startAgent(config('a'), { logger, onRender: (e) => void renders.push(e) });
    await agent.ready;
    assert.equal(read(file), 'VALUE=one\n');
    const token = read(join(dir, 'a', 'token'));

    await stop();
    const failuresBefore = renders.filter((e) => e.error !== undefined).length;
    await waitFor(() => renders.filter((e) => e.error !== undefined).length >= failuresBefore + 2, 10_000, 'failed renders while Coffer is down');
    assert.equal(read(file), 'VALUE=one\n', 'the last good file stays while Coffer is unreachable');

    await start();
    const started = performance.now();
    await writeKv('two');
    await waitFor(() => read(file) === 'VALUE=two\n', 15_000, 'the change after the restart');
    const summary = `agent after a Coffer restart: change rendered ${(performance.now() - started).toFixed(0)} ms after the write`;
    t.diagnostic(summary);
    console.log(summary);
    assert.equal(read(join(dir, 'a', 'token')), token, 'the same token, still valid after the restart, is kept');
  });

  it('logs in again when its token is revoked, and renders with the new one', async () => {
    const file = join(dir, 'a', 'app.env');
    const sink = join(dir, 'a', 'token');
    const old = read(sink);
    assert.equal((await api(server as TestServer, 'POST', 'auth/token/revoke', { token: root, body: { token: old } })).status, 204);
    await writeKv('three');
    await waitFor(() => read(file) === 'VALUE=three\n', 15_000, 'the render after re-authentication');
    const fresh = read(sink);
    assert.notEqual(fresh, old, 'a new token in the sink');
    assert.equal((await api(server as TestServer, 'GET', 'auth/token/lookup-self', { token: fresh })).status, 200);
    assert.ok(messages().includes('the token is no longer valid; logging in again'));
    await agent?.stop();
    agent = undefined;
  });

  it('retries its first login with backoff while Coffer is unreachable, then renders', async () => {
    await newSecretId();
    await stop();
    const file = join(dir, 'b', 'app.env');
    const seen = logs.length;
    agent = await startAgent(config('b'), { logger });
    await waitFor(() => messages().slice(seen).filter((m) => m === 'login failed; retrying').length >= 3, 10_000, 'failed logins');
    assert.equal(existsSync(file), false);
    await start();
    await agent.ready;
    assert.equal(read(file), 'VALUE=three\n');
    const failed = logs.slice(seen).map((l) => JSON.parse(l)).filter((l) => l.message === 'login failed; retrying');
    const delays = failed.map((l) => l.retry_in_ms as number);
    assert.ok(delays.every((d) => d <= 1200), 'capped by max_backoff (1 s, with jitter)');
    assert.ok((delays[2] ?? 0) > (delays[0] ?? 0), `the delay grows (${delays.slice(0, 4).join(', ')} ms)`);
    for (const line of logs) assert.ok(!line.includes(root) && !line.includes(read(join(dir, 'b', 'token'))));
  });
});
