/**
 * `coffer agent --config FILE` as its own process, as an operator runs it: relative paths in
 * the configuration file, a template file, AppRole auto-auth, a signal (SIGHUP through a pid
 * file) that makes a stand-in application re-read the file, consumer check-ins for a KV secret,
 * JSON log lines without secrets on stderr, and a clean stop on SIGTERM (exit code 0, consumer
 * deregistered, files kept). Configuration mistakes end the command with one clear line.
 *
 * Under `npm test` the child is bin/coffer.js itself; when this file was compiled elsewhere (a
 * partial build into .build/), the child is the same two-line shim pointing at that build.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { main } from '../../src/cli/main.js';
import { api, startTestServer, type TestServer } from '../helpers/server.js';
import { read, waitFor } from '../helpers/polling.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** The repository: the first directory above the compiled tree that holds bin/coffer.js. */
function repoRoot(): string {
  let dir = dirname(MAIN);
  while (!existsSync(join(dir, 'bin', 'coffer.js'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('bin/coffer.js not found above the compiled tests');
    dir = up;
  }
  return dir;
}


describe('coffer agent as a process', () => {
  let server: TestServer;
  let root: string;
  let dir: string;
  let entry: string;
  let viaBin = false;
  const children: ChildProcess[] = [];
  const secrets: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'coffer-'));
    const repo = repoRoot();
    viaBin = resolve(repo, 'dist', 'src', 'cli', 'main.js') === MAIN;
    if (viaBin) entry = join(repo, 'bin', 'coffer.js');
    else {
      entry = join(dir, 'coffer-entry.mjs');
      writeFileSync(entry, `const { main } = await import(${JSON.stringify(new URL(`file://${MAIN}`).href)});\nprocess.exitCode = await main(process.argv.slice(2));\n`);
    }
    server = await startTestServer({ dev: true, storage: 'memory' });
    root = server.rootToken as string;
    secrets.push(root);
    const ok = (res: { status: number; body: unknown }): void => assert.ok(res.status < 300, JSON.stringify(res.body));
    ok(await api(server, 'POST', 'secret/data/web', { token: root, body: { data: { api_key: 'web-key-first-7Hq2' } } }));
    secrets.push('web-key-first-7Hq2');
    ok(await api(server, 'PUT', 'sys/policies/acl/web', { token: root, body: { policy: 'path "secret/data/web" { capabilities = ["read"] }' } }));
    ok(await api(server, 'POST', 'sys/auth/approle', { token: root, body: { type: 'approle' } }));
    ok(await api(server, 'POST', 'auth/approle/role/web', { token: root, body: { token_policies: ['web'] } }));
    writeFileSync(join(dir, 'role-id'), (await api(server, 'GET', 'auth/approle/role/web/role-id', { token: root })).body.data.role_id);
    const secretId = (await api(server, 'POST', 'auth/approle/role/web/secret-id', { token: root })).body.data.secret_id as string;
    secrets.push(secretId);
    writeFileSync(join(dir, 'secret-id'), secretId);
  });

  after(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await server?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('renders through a template file, signals the application on change, checks in, and stops cleanly on SIGTERM', async (t) => {
    t.diagnostic(viaBin ? 'child: bin/coffer.js' : 'child: a shim importing the partial build (bin/coffer.js needs dist/)');
    const rendered = join(dir, 'render', 'web.env');
    const appLog = join(dir, 'app.log');
    // The stand-in application: on SIGHUP it reads the file again, as a real one would reload.
    const app = spawn(process.execPath, ['-e', `
      const fs = require('fs');
      fs.writeFileSync(${JSON.stringify(join(dir, 'app.pid'))}, String(process.pid));
      process.on('SIGHUP', () => fs.appendFileSync(${JSON.stringify(appLog)}, fs.readFileSync(${JSON.stringify(rendered)}, 'utf8').trim() + '\\n'));
      setInterval(() => {}, 1000);
    `], { stdio: 'ignore' });
    children.push(app);
    await waitFor(() => existsSync(join(dir, 'app.pid')), 10_000, 'the application');

    writeFileSync(join(dir, 'web.tpl'), 'API_KEY={{ secret "secret/data/web" "api_key" }}\n');
    writeFileSync(join(dir, 'agent.json'), JSON.stringify({
      address: server.url,
      auto_auth: { method: 'approle', role_id_file: 'role-id', secret_id_file: 'secret-id' },
      sink: { path: 'render/token' },
      templates: [{ source: 'web.tpl', destination: 'render/web.env', signal: { pid_file: 'app.pid', signal: 'SIGHUP' }, consumer: true }],
      retry: { initial_backoff: '100ms', max_backoff: '2s' },
      consumer_name: 'web-agent',
    }));
    let stderr = '';
    const agent = spawn(process.execPath, [entry, 'agent', '--config', join(dir, 'agent.json')], {
      env: { PATH: process.env.PATH ?? '', HOME: dir },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(agent);
    agent.stderr?.on('data', (chunk) => (stderr += String(chunk)));
    const exited = new Promise<number | null>((resolve) => agent.once('exit', (code) => resolve(code)));

    await waitFor(() => read(appLog) === 'API_KEY=web-key-first-7Hq2\n', 20_000, 'the first render and its SIGHUP');
    assert.equal(statSync(rendered).mode & 0o777, 0o600);
    const token = read(join(dir, 'render', 'token'));
    secrets.push(token);
    assert.equal(existsSync(join(dir, 'secret-id')), false, 'the secret id file was removed after reading');
    const consumers = async (): Promise<any[]> => (await api(server, 'GET', 'sys/consumers?path=secret/data/web', { token: root })).body.data.consumers;
    await waitFor(() => stderr.includes('"checked in"'), 10_000, 'the check-in');
    assert.deepEqual((await consumers()).map((c) => [c.name, c.version]), [['web-agent', 1]]);

    const started = performance.now();
    assert.equal((await api(server, 'POST', 'secret/data/web', { token: root, body: { data: { api_key: 'web-key-second-Zr81' } } })).status, 200);
    secrets.push('web-key-second-Zr81');
    await waitFor(() => read(rendered) === 'API_KEY=web-key-second-Zr81\n', 10_000, 'the re-render');
    const summary = `agent process: KV change → file re-rendered in ${(performance.now() - started).toFixed(1)} ms`;
    t.diagnostic(summary);
    console.log(summary);
    await waitFor(() => read(appLog) === 'API_KEY=web-key-first-7Hq2\nAPI_KEY=web-key-second-Zr81\n', 10_000, 'the application reloading the new file');
    await waitFor(() => stderr.includes('"version":2'), 10_000, 'the check-in with version 2');
    assert.deepEqual((await consumers()).map((c) => [c.name, c.version]), [['web-agent', 2]]);

    agent.kill('SIGTERM');
    assert.equal(await exited, 0, 'a clean exit on SIGTERM');
    assert.deepEqual(await consumers(), [], 'the consumer deregistered on exit');
    assert.equal(read(rendered), 'API_KEY=web-key-second-Zr81\n', 'the file stays');
    assert.equal((await api(server, 'GET', 'auth/token/lookup-self', { token })).status, 200, 'the token is not revoked without revoke_on_exit');

    const lines = stderr.trim().split('\n');
    const messages = lines.map((l) => JSON.parse(l).message as string);
    for (const expected of ['agent started', 'authenticated', 'rendered', 'reload signal sent', 'checked in', 'stopping', 'agent stopped']) {
      assert.ok(messages.includes(expected), `logged "${expected}"`);
    }
    for (const secret of secrets) assert.ok(!stderr.includes(secret), 'no secret, token or secret id on stderr');
  });

  it('keeps running without a watch (its token may not use sys/watch) until it is told to stop', async () => {
    // Only what the agent needs besides the watch: the secret, and its own token's lookup and renewal.
    const policy = [
      'path "secret/data/web" { capabilities = ["read"] }',
      'path "auth/token/lookup-self" { capabilities = ["read"] }',
      'path "auth/token/renew-self" { capabilities = ["update"] }',
    ].join('\n');
    assert.equal((await api(server, 'PUT', 'sys/policies/acl/web-nowatch', { token: root, body: { policy } })).status, 204);
    assert.equal((await api(server, 'POST', 'auth/approle/role/nowatch', { token: root, body: { token_policies: ['web-nowatch'], token_no_default_policy: true } })).status, 204);
    writeFileSync(join(dir, 'role-id-2'), (await api(server, 'GET', 'auth/approle/role/nowatch/role-id', { token: root })).body.data.role_id);
    const secretId = (await api(server, 'POST', 'auth/approle/role/nowatch/secret-id', { token: root })).body.data.secret_id as string;
    secrets.push(secretId);
    writeFileSync(join(dir, 'secret-id-2'), secretId);
    writeFileSync(join(dir, 'plain.tpl'), 'API_KEY={{ secret "secret/data/web" "api_key" }}\n');
    writeFileSync(join(dir, 'agent-2.json'), JSON.stringify({
      address: server.url,
      auto_auth: { method: 'approle', role_id_file: 'role-id-2', secret_id_file: 'secret-id-2' },
      templates: [{ source: 'plain.tpl', destination: 'render-2/web.env' }],
    }));
    let stderr = '';
    const agent = spawn(process.execPath, [entry, 'agent', '--config', join(dir, 'agent-2.json')], {
      env: { PATH: process.env.PATH ?? '', HOME: dir },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(agent);
    agent.stderr?.on('data', (chunk) => (stderr += String(chunk)));
    const exited = new Promise<number | null>((resolve) => agent.once('exit', (code) => resolve(code)));
    await waitFor(() => stderr.includes('cannot watch for changes'), 20_000, 'the refused watch');
    await waitFor(() => existsSync(join(dir, 'render-2', 'web.env')), 20_000, 'the render');
    // Nothing but its timers keeps it busy now; a sidecar must still be there.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.equal(agent.exitCode, null, `the agent is still running (stderr: ${stderr.slice(-300)})`);
    agent.kill('SIGTERM');
    assert.equal(await exited, 0, 'a clean exit on SIGTERM');
    for (const secret of secrets) assert.ok(!stderr.includes(secret), 'no secret, token or secret id on stderr');
  });

  it('logs in again when its token is revoked (the watch is refused), and renders the next change', async () => {
    const secretId = (await api(server, 'POST', 'auth/approle/role/web/secret-id', { token: root })).body.data.secret_id as string;
    secrets.push(secretId);
    writeFileSync(join(dir, 'secret-id-3'), secretId);
    writeFileSync(join(dir, 'plain-3.tpl'), 'API_KEY={{ secret "secret/data/web" "api_key" }}\n');
    writeFileSync(join(dir, 'agent-3.json'), JSON.stringify({
      address: server.url,
      auto_auth: { method: 'approle', role_id_file: 'role-id', secret_id_file: 'secret-id-3', remove_secret_id_file_after_reading: false },
      sink: { path: 'render-3/token' },
      templates: [{ source: 'plain-3.tpl', destination: 'render-3/web.env' }],
      retry: { initial_backoff: '100ms', max_backoff: '1s' },
    }));
    let stderr = '';
    const agent = spawn(process.execPath, [entry, 'agent', '--config', join(dir, 'agent-3.json')], {
      env: { PATH: process.env.PATH ?? '', HOME: dir },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(agent);
    agent.stderr?.on('data', (chunk) => (stderr += String(chunk)));
    const exited = new Promise<number | null>((resolve) => agent.once('exit', (code) => resolve(code)));
    const tokenFile = join(dir, 'render-3', 'token');
    await waitFor(() => existsSync(tokenFile) && existsSync(join(dir, 'render-3', 'web.env')), 20_000, 'the first render');
    const first = read(tokenFile);
    secrets.push(first);
    assert.equal((await api(server, 'POST', 'auth/token/revoke', { token: root, body: { token: first } })).status, 204);
    await waitFor(() => existsSync(tokenFile) && read(tokenFile) !== first, 20_000, 'a new token after the revocation');
    secrets.push(read(tokenFile));
    assert.ok(stderr.includes('the token is no longer valid; logging in again'));
    assert.equal((await api(server, 'POST', 'secret/data/web', { token: root, body: { data: { api_key: 'web-key-third-Lm40' } } })).status, 200);
    secrets.push('web-key-third-Lm40');
    await waitFor(() => read(join(dir, 'render-3', 'web.env')) === 'API_KEY=web-key-third-Lm40\n', 20_000, 'the change rendered with the new token');
    agent.kill('SIGTERM');
    assert.equal(await exited, 0, 'a clean exit on SIGTERM');
    for (const secret of secrets) assert.ok(!stderr.includes(secret), 'no secret, token or secret id on stderr');
  });

  it('ends with one clear line for a configuration mistake, and requires -config', async () => {
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ address: server.url, auto_auth: { method: 'approle', role_id_file: 'r', secret_id_file: 's' }, templates: [{ contents: 'x' }] }));
    const run = async (args: string[]): Promise<{ code: number; stderr: string }> => {
      let stderr = '';
      const code = await main(args, { env: { HOME: dir }, stdout: { write: () => true }, stderr: { write: (s: string) => ((stderr += s), true) } });
      return { code, stderr };
    };
    const bad = await run(['agent', '-config', join(dir, 'bad.json')]);
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr, 'Error: invalid agent configuration: templates[0].destination: is required (where the rendered file goes, ideally on tmpfs)\n');
    const missing = await run(['agent']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /-config is required/);
    mkdirSync(join(dir, 'empty'), { recursive: true });
    const unreadable = await run(['agent', '-config', join(dir, 'empty', 'none.json')]);
    assert.match(unreadable.stderr, /cannot read the configuration file .*none\.json: ENOENT/);
  });
});
