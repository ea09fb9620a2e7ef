/**
 * The acceptance path of the foundation, driven by a Vault client nobody here wrote: the npm
 * package node-vault, used as-is with its defaults, against a real server on SQLite.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createRequire } from 'node:module';
import { startTestServer, tempDir, type TestServer } from '../helpers/server.js';

const require = createRequire(import.meta.url);
const nodeVault = require('node-vault') as (config: { endpoint: string; token?: string; apiVersion?: string }) => any;

function allFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...allFiles(path));
    else out.push(path);
  }
  return out;
}

describe('an unmodified node-vault client', () => {
  const dataDir = tempDir();
  const auditDir = tempDir('coffer-audit-');
  const auditLog = join(auditDir, 'audit.log');
  let server: TestServer | undefined;
  const SECRET_V1 = 'first-value-7f3a9c1e';
  const SECRET_V2 = 'second-value-b82d44e0';
  const OTHER_SECRET = 'other-mount-value-55aa';

  after(async () => {
    await server?.destroy();
    rmSync(auditDir, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('does the whole lifecycle: init, unseal, audit, KV v2, policies, tokens, seal, restart', async () => {
    server = await startTestServer({ dataDir, keepDataDir: true });
    const anonymous = nodeVault({ endpoint: server.url, apiVersion: 'v1' });

    const health = await anonymous.health();
    assert.equal(health.initialized, false);
    assert.equal(health.sealed, true);

    const init = await anonymous.init({ secret_shares: 5, secret_threshold: 3 });
    assert.equal(init.keys.length, 5);
    assert.match(init.root_token, /^hvs\./);
    const keys: string[] = init.keys;

    let status = await anonymous.status();
    assert.equal(status.sealed, true);
    assert.equal(status.t, 3);
    assert.equal(status.n, 5);
    for (const [i, key] of keys.slice(0, 3).entries()) {
      status = await anonymous.unseal({ key });
      assert.equal(status.progress, i === 2 ? 0 : i + 1);
    }
    assert.equal(status.sealed, false);

    const root = nodeVault({ endpoint: server.url, apiVersion: 'v1', token: init.root_token });
    await root.enableAudit({ name: 'file', type: 'file', options: { file_path: auditLog } });
    const audits = await root.audits();
    assert.equal(audits['file/'].type, 'file');

    await root.mount({ mount_point: 'secret', type: 'kv', options: { version: '2' } });
    const mounts = await root.mounts();
    assert.equal(mounts['secret/'].type, 'kv');
    assert.equal(mounts.data['secret/'].options.version, '2');

    const written = await root.write('secret/data/app/db', { data: { password: SECRET_V1 } });
    assert.equal(written.data.version, 1);
    await root.write('secret/data/app/db', { data: { password: SECRET_V2 } });
    const latest = await root.read('secret/data/app/db');
    assert.equal(latest.data.data.password, SECRET_V2);
    assert.equal(latest.data.metadata.version, 2);
    const first = await root.read('secret/data/app/db?version=1');
    assert.equal(first.data.data.password, SECRET_V1);

    // node-vault's help(): GET <path>?help=1, the bare help object.
    const help = await root.help('secret/data/app/db');
    assert.match(help.help, /Matching Route: \^data\//);

    await root.write('secret/data/app/api', { data: { key: 'k' } });
    const listed = await root.list('secret/metadata/app');
    assert.deepEqual(listed.data.keys, ['api', 'db']);

    await assert.rejects(root.write('secret/data/app/db', { options: { cas: 1 }, data: { password: 'x' } }), (error: any) => {
      assert.equal(error.response.statusCode, 400);
      assert.match(error.message, /check-and-set/);
      return true;
    });
    const cas = await root.write('secret/data/app/db', { options: { cas: 2 }, data: { password: SECRET_V2 } });
    assert.equal(cas.data.version, 3);

    await root.delete('secret/data/app/db');
    await assert.rejects(root.read('secret/data/app/db'), (error: any) => error.response.statusCode === 404);
    await root.write('secret/undelete/app/db', { versions: [3] });
    assert.equal((await root.read('secret/data/app/db')).data.metadata.version, 3);
    await root.write('secret/destroy/app/db', { versions: [1] });
    await assert.rejects(root.read('secret/data/app/db?version=1'), (error: any) => {
      assert.equal(error.response.statusCode, 404);
      assert.equal(error.response.body.data.metadata.destroyed, true);
      return true;
    });

    await root.addPolicy({
      name: 'app-reader',
      rules: [
        '# read the app secrets, nothing else',
        'path "secret/data/app/*" {',
        '  capabilities = ["read"]',
        '}',
        'path "secret/metadata/app/*" {',
        '  capabilities = ["list"]',
        '}',
        'path "secret/data/app/api" {',
        '  capabilities = ["deny"]',
        '}',
      ].join('\n'),
    });
    const policy = await root.getPolicy({ name: 'app-reader' });
    assert.match(policy.rules, /secret\/data\/app/);

    const created = await root.tokenCreate({ policies: ['app-reader'], ttl: '1h' });
    const appToken: string = created.auth.client_token;
    // node-vault adopts a token it creates as its own (tokenSource); give root its token back.
    assert.equal(root.token, appToken);
    root.token = init.root_token;
    assert.deepEqual(created.auth.policies, ['app-reader', 'default']);
    const app = nodeVault({ endpoint: server.url, apiVersion: 'v1', token: appToken });

    assert.equal((await app.read('secret/data/app/db')).data.data.password, SECRET_V2);
    await assert.rejects(app.read('secret/data/app/api'), (error: any) => error.response.statusCode === 403);
    await assert.rejects(app.write('secret/data/app/db', { data: { password: 'nope' } }), (error: any) => error.response.statusCode === 403);
    await assert.rejects(app.read('secret/data/other'), (error: any) => error.response.statusCode === 403);
    await assert.rejects(app.mounts(), (error: any) => error.response.statusCode === 403);

    const self = await app.tokenLookupSelf();
    assert.equal(self.data.id, appToken);
    assert.deepEqual(self.data.policies, ['app-reader', 'default']);
    assert.ok(self.data.ttl > 3500 && self.data.ttl <= 3600);

    // Token roles through node-vault's own commands (a role is written with the generic write).
    await root.write('auth/token/roles/app-role', { allowed_policies: ['app-reader'], orphan: true });
    assert.deepEqual((await root.getTokenRole({ role_name: 'app-role' })).data.allowed_policies, ['app-reader']);
    const viaRole = await root.tokenCreateRole({ role_name: 'app-role' });
    root.token = init.root_token;
    assert.deepEqual([viaRole.auth.policies, viaRole.auth.orphan], [['app-reader', 'default'], true]);
    await root.removeTokenRole({ role_name: 'app-role' });
    await assert.rejects(root.getTokenRole({ role_name: 'app-role' }), (error: any) => error.response.statusCode === 404);

    // Response wrapping through node-vault's own options and its unwrap command.
    const wrapped = await root.read('secret/data/app/db', { headers: { 'X-Vault-Wrap-TTL': '2m' } });
    assert.equal(wrapped.data, null);
    assert.equal(wrapped.wrap_info.ttl, 120);
    const unwrapped = await app.unwrap({ token: wrapped.wrap_info.token });
    assert.equal(unwrapped.data.data.password, SECRET_V2);
    await assert.rejects(app.unwrap({ token: wrapped.wrap_info.token }), (error: any) => error.response.statusCode === 400);

    await app.tokenRevokeSelf();
    await assert.rejects(app.tokenLookupSelf(), (error: any) => error.response.statusCode === 403);
    await assert.rejects(app.read('secret/data/app/db'), (error: any) => error.response.statusCode === 403);

    await root.mount({ mount_point: 'other', type: 'kv', options: { version: '2' } });
    await root.write('other/data/thing', { data: { value: OTHER_SECRET } });
    assert.equal((await root.read('other/data/thing')).data.data.value, OTHER_SECRET);

    await root.seal();
    status = await anonymous.status();
    assert.equal(status.sealed, true);
    await assert.rejects(root.read('secret/data/app/db'), (error: any) => error.response.statusCode === 503);

    // Restart on the same data directory: sealed until any other 3 of the 5 shares arrive.
    await server.close();
    server = await startTestServer({ dataDir });
    const anonymous2 = nodeVault({ endpoint: server.url, apiVersion: 'v1' });
    assert.equal((await anonymous2.status()).sealed, true);
    for (const key of [keys[4], keys[2], keys[3]]) status = await anonymous2.unseal({ key });
    assert.equal(status.sealed, false);
    const root2 = nodeVault({ endpoint: server.url, apiVersion: 'v1', token: init.root_token });
    assert.equal((await root2.read('secret/data/app/db')).data.data.password, SECRET_V2);
    assert.equal((await root2.read('other/data/thing')).data.data.value, OTHER_SECRET);

    // Nothing secret in plaintext: not in the data directory, not in the audit log.
    const canaries = [SECRET_V1, SECRET_V2, OTHER_SECRET, init.root_token, appToken, ...keys];
    for (const file of [...allFiles(dataDir), auditLog]) {
      const bytes = readFileSync(file);
      for (const canary of canaries) {
        assert.equal(bytes.includes(Buffer.from(canary)), false, `${file} holds a secret in plaintext`);
      }
    }
    const auditText = readFileSync(auditLog, 'utf8');
    assert.ok(auditText.split('\n').filter((l) => l !== '').length > 10);
    assert.match(auditText, /hmac-sha256:/);
  });
});
