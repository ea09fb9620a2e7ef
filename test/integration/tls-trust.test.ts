/**
 * The SDK's `tls` option and the agent's `ca_cert` / `tls_skip_verify`, against a real server
 * behind an https front signed by a private CA (a certificate made by the machine's openssl for
 * 127.0.0.1, living only in a temp dir), as an operator runs Coffer behind a TLS proxy:
 *
 * - without the CA, the certificate is refused (no secret is read);
 * - with the CA (or verification off), KV reads and an agent render work;
 * - bad settings fail at construction or start, naming the field.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startAgent } from '../../src/agent/agent.js';
import { AgentConfigError } from '../../src/agent/config.js';
import { silentLogger } from '../../src/core/logger.js';
import { Coffer } from '../../src/sdk/coffer.js';
import { CofferConfigError, CofferConnectionError } from '../../src/sdk/errors.js';
import { nodeHttpFetch } from '../../src/sdk/node-http.js';
import { api, startTestServer, tempDir, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/polling.js';

describe('TLS trust of the SDK and the agent', () => {
  let server: TestServer;
  let front: Server;
  let dir: string;
  let caFile: string;
  let address: string;
  let root: string;

  before(async () => {
    server = await startTestServer({ dev: true });
    root = server.rootToken as string;
    dir = tempDir('coffer-tls-');
    caFile = join(dir, 'cert.pem');
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
      '-keyout', join(dir, 'key.pem'), '-out', caFile, '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    ], { stdio: 'ignore' });
    const upstream = new URL(server.url);
    // The TLS-terminating proxy an operator puts in front of Coffer.
    front = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(caFile) }, (req, res) => {
      const forward = httpRequest({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      forward.on('error', () => res.destroy());
      req.pipe(forward);
    });
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    address = `https://127.0.0.1:${(front.address() as AddressInfo).port}`;
    const res = await api(server, 'POST', 'secret/data/app', { token: root, body: { data: { value: 'behind-tls' } } });
    assert.equal(res.status, 200);
  });

  after(async () => {
    front.closeAllConnections();
    await new Promise<void>((resolve) => front.close(() => resolve()));
    await server.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the SDK refuses the private certificate by default, and reads through it with tls.caCert or tls.skipVerify', async () => {
    const untrusted = new Coffer({ address, token: root, fetch: nodeHttpFetch, timeoutMs: 5000 });
    await assert.rejects(untrusted.kv.get('secret/app'), (e: unknown) => {
      assert.ok(e instanceof CofferConnectionError, String(e));
      assert.doesNotMatch((e as Error).message, new RegExp(root));
      return true;
    });
    await untrusted.close();
    for (const tls of [{ caCert: readFileSync(caFile, 'utf8') }, { caCert: readFileSync(caFile) }, { skipVerify: true }]) {
      const coffer = new Coffer({ address, token: root, tls });
      assert.deepEqual((await coffer.kv.get('secret/app')).data, { value: 'behind-tls' });
      await coffer.close();
    }
  });

  it('the SDK refuses tls with a custom fetch, and a caCert that holds no certificate', () => {
    assert.throws(() => new Coffer({ address, tls: { skipVerify: true }, fetch: nodeHttpFetch }), CofferConfigError);
    assert.throws(() => new Coffer({ address, tls: { caCert: 'not a pem' } }), /tls.caCert must hold PEM certificates/);
  });

  it('the agent renders through the private CA given as ca_cert (and by VAULT_CACERT), and refuses an unreadable one', async () => {
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, root, { mode: 0o600 });
    const config = (name: string, extra: Record<string, unknown>) => ({
      address,
      auto_auth: { method: 'token_file', token_file: tokenFile },
      templates: [{ contents: 'VALUE={{ secret "secret/data/app" "value" }}\n', destination: join(dir, name, 'app.env') }],
      ...extra,
    });
    for (const [name, extra, env] of [
      ['by-config', { ca_cert: caFile }, {}],
      ['by-env', {}, { VAULT_CACERT: caFile }],
    ] as const) {
      const agent = await startAgent(config(name, extra), { env, logger: silentLogger });
      try {
        await agent.ready;
        await waitFor(() => existsSync(join(dir, name, 'app.env')) && readFileSync(join(dir, name, 'app.env'), 'utf8') === 'VALUE=behind-tls\n', 10_000, `the ${name} render`);
      } finally {
        await agent.stop();
      }
    }
    // `coffer agent -ca-cert FILE`: the global flag overrides the file, as -address does.
    writeFileSync(join(dir, 'agent.json'), JSON.stringify(config('by-flag', {})));
    const entry = join(dir, 'coffer-entry.mjs');
    writeFileSync(entry, `const { main } = await import(${JSON.stringify(new URL('../../src/cli/main.js', import.meta.url).href)});\nprocess.exitCode = await main(process.argv.slice(2));\n`);
    const child = spawn(process.execPath, [entry, 'agent', '-config', join(dir, 'agent.json'), `-ca-cert=${caFile}`], { env: { PATH: process.env.PATH ?? '', HOME: dir }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (chunk) => (stderr += String(chunk)));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await waitFor(() => existsSync(join(dir, 'by-flag', 'app.env')), 20_000, 'the render of the agent process');
      assert.equal(readFileSync(join(dir, 'by-flag', 'app.env'), 'utf8'), 'VALUE=behind-tls\n');
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, stderr.slice(-500));
    assert.ok(!stderr.includes(root), 'no token on stderr');

    await assert.rejects(startAgent(config('missing', { ca_cert: join(dir, 'nope.pem') }), { env: {}, logger: silentLogger }), (e: unknown) => {
      assert.ok(e instanceof AgentConfigError, String(e));
      assert.match((e as Error).message, /ca_cert: cannot read .*nope\.pem \(ENOENT\)/);
      return true;
    });
  });
});
