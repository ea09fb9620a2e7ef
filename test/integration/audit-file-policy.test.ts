/**
 * Where audit devices may write, over real HTTP (CVE-2025-6000: a sys/audit writer pointed a
 * file device at the plugin directory and got code execution): never into the data directory,
 * through the API only into audit_file_dirs when set, and with api_audit_creation "deny" not
 * through the API at all, the devices coming from the config file's "audit" list instead.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError, type AuditDeviceInput } from '../../src/config.js';
import { verifyAuditFile } from '../../src/core/audit/verify.js';
import { createLogger } from '../../src/core/logger.js';
import type { StartOptions } from '../../src/main.js';
import { send } from '../helpers/raw-http.js';
import { startTestServer, tempDir, type TestServer } from '../helpers/server.js';

const lineCount = (file: string): number => readFileSync(file, 'utf8').trimEnd().split('\n').length;

describe('where an API caller may point a file audit device', () => {
  const dir = tempDir('coffer-audit-policy-');
  const allowed = join(dir, 'allowed');
  const outside = join(dir, 'outside');
  let open: TestServer;
  let limited: TestServer;

  before(async () => {
    mkdirSync(allowed);
    mkdirSync(outside);
    symlinkSync(outside, join(allowed, 'escape'));
    open = await startTestServer({ dev: true, storage: 'sqlite', dataDir: join(dir, 'open-data') });
    limited = await startTestServer({ dev: true, storage: 'sqlite', dataDir: join(dir, 'limited-data'), auditFileDirs: [allowed] });
  });
  after(async () => {
    await open?.destroy();
    await limited?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const enable = (server: TestServer, name: string, filePath: string) =>
    send(server, 'PUT', `sys/audit/${name}`, { token: server.rootToken as string, body: { type: 'file', options: { file_path: filePath } } });

  it('refuses a file inside the data directory with 400 even without audit_file_dirs, and creates nothing', async () => {
    for (const name of ['coffer.db-journal', 'audit.log']) {
      const target = join(open.dataDir, name);
      const res = await enable(open, 'data', target);
      assert.equal(res.status, 400, res.text);
      assert.match(res.body.errors[0], /is inside the server's data directory; audit files must be written elsewhere/);
      assert.equal(existsSync(target), false);
    }
    const limitedRes = await enable(limited, 'data', join(limited.dataDir, 'audit.log'));
    assert.equal(limitedRes.status, 400, limitedRes.text);
    assert.deepEqual((await send(open, 'GET', 'sys/audit', { token: open.rootToken as string })).body.data, {});
  });

  it('enables a device inside audit_file_dirs, which then logs every request', async () => {
    const file = join(allowed, 'audit.log');
    const res = await enable(limited, 'file', file);
    assert.equal(res.status, 204, res.text);
    assert.equal((await send(limited, 'GET', 'auth/token/lookup-self', { token: limited.rootToken as string })).status, 200);
    const paths = readFileSync(file, 'utf8').trimEnd().split('\n').map((line) => JSON.parse(line).request.path);
    assert.ok(paths.includes('auth/token/lookup-self'));
  });

  it('refuses a file outside audit_file_dirs with 400 naming the allowed directories, also through a link out of them', async () => {
    for (const target of [join(outside, 'audit.log'), join(allowed, 'escape', 'audit.log'), join(dir, 'allowed-audit.log')]) {
      const res = await enable(limited, 'outside', target);
      assert.equal(res.status, 400, res.text);
      assert.equal(res.body.errors[0], `file audit device: file_path "${target}" is outside the directories allowed for audit files (audit_file_dirs): ${allowed}`);
      assert.equal(existsSync(target), false);
    }
    // Without audit_file_dirs the same directory is fine.
    assert.equal((await enable(open, 'outside', join(outside, 'open.log'))).status, 204);
  });
});

describe('audit devices declared in the config file, with api_audit_creation "deny"', () => {
  const dir = tempDir('coffer-audit-declared-');
  const dataDir = join(dir, 'data');
  const logDir = join(dir, 'logs');
  const declaredFile = join(logDir, 'declared.log');
  const logs: string[] = [];
  let server: TestServer;
  let key: string;
  let root: string;

  const options: StartOptions = {
    storage: 'sqlite',
    dataDir,
    apiAuditCreation: 'deny',
    // The config file's own devices are not held to audit_file_dirs.
    auditFileDirs: [join(dir, 'elsewhere')],
    auditDevices: [{ path: 'declared', type: 'file', description: 'from the config file', options: { file_path: declaredFile } }],
    logger: createLogger({ level: 'info', write: (line) => logs.push(line) }),
  };
  const start = async (): Promise<void> => {
    server = await startTestServer({ ...options, keepDataDir: true });
  };
  const unseal = async (): Promise<void> => {
    const res = await send(server, 'PUT', 'sys/unseal', { body: { key } });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.sealed, false);
  };
  const hmac = async (): Promise<string> => (await send(server, 'PUT', 'sys/audit-hash/declared', { token: root, body: { input: 'probe' } })).body.data.hash;
  const devices = async (): Promise<string[]> => Object.keys((await send(server, 'GET', 'sys/audit', { token: root })).body.data);

  before(async () => {
    mkdirSync(logDir, { recursive: true });
    await start();
    const init = await send(server, 'PUT', 'sys/init', { body: { secret_shares: 1, secret_threshold: 1 } });
    assert.equal(init.status, 200, init.text);
    key = init.body.keys[0];
    root = init.body.root_token;
    await unseal();
  });
  after(async () => {
    await server?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses PUT and POST on sys/audit/PATH with 400 telling the operator to declare devices in the config file, and DELETE of the declared device', async () => {
    const body = { type: 'file', options: { file_path: join(logDir, 'api.log') } };
    for (const method of ['PUT', 'POST'] as const) {
      const res = await send(server, method, 'sys/audit/api', { token: root, body });
      assert.equal(res.status, 400, `${method}: ${res.text}`);
      assert.match(res.body.errors[0], /cannot be enabled through the API on this server \(api_audit_creation is "deny"\); declare them in the server config file under "audit"/);
    }
    assert.equal(existsSync(join(logDir, 'api.log')), false);
    const declaredDelete = await send(server, 'DELETE', 'sys/audit/declared', { token: root });
    assert.equal(declaredDelete.status, 400, declaredDelete.text);
    assert.match(declaredDelete.body.errors[0], /"declared\/" is declared in the server config file; remove it from the "audit" list there and restart/);
    const listed = await send(server, 'GET', 'sys/audit', { token: root });
    assert.deepEqual(listed.body.data, {
      'declared/': { type: 'file', description: 'from the config file', options: { file_path: declaredFile }, path: 'declared/', local: false },
    });
  });

  it('writes a request and a response line for each request to the declared device', async () => {
    const before = lineCount(declaredFile);
    assert.equal((await send(server, 'GET', 'auth/token/lookup-self', { token: root })).status, 200);
    const added = readFileSync(declaredFile, 'utf8').trimEnd().split('\n').slice(before).map((line) => JSON.parse(line));
    assert.deepEqual(added.map((e) => [e.type, e.request.path]), [['request', 'auth/token/lookup-self'], ['response', 'auth/token/lookup-self']]);
  });

  it('keeps the one declared device, with its key, across seal and unseal', async () => {
    const hash = await hmac();
    assert.equal((await send(server, 'PUT', 'sys/seal', { token: root })).status, 204);
    await unseal();
    assert.deepEqual(await devices(), ['declared/']);
    assert.equal(await hmac(), hash);
  });

  it('keeps it across a restart without enabling it again, continuing the same chain', async () => {
    const hash = await hmac();
    await server.destroy();
    await start();
    await unseal();
    assert.deepEqual(await devices(), ['declared/']);
    assert.equal(await hmac(), hash);
    const before = lineCount(declaredFile);
    assert.equal((await send(server, 'GET', 'auth/token/lookup-self', { token: root })).status, 200);
    assert.ok(lineCount(declaredFile) > before);
    const verified = await verifyAuditFile(declaredFile);
    assert.equal(verified.ok, true, JSON.stringify(verified));
    // Enabled once, at init; every later unseal found it in the table.
    assert.equal(logs.filter((line) => line.includes('"audit device enabled"')).length, 1);
  });

  it('refuses to start when a declared device would write inside the data directory', async () => {
    const other = join(dir, 'other-data');
    const inData: AuditDeviceInput = { path: 'bad', type: 'file', options: { file_path: join(other, 'audit.log') } };
    await assert.rejects(
      startTestServer({ storage: 'sqlite', dataDir: other, auditDevices: [inData] }),
      (err: unknown) => err instanceof ConfigError && /config key "audit", device "bad\/": .*is inside the server's data directory/.test(err.message),
    );
    assert.equal(existsSync(join(other, 'audit.log')), false);
  });
});

describe('audit devices declared in the config file, with API creation allowed', () => {
  const dir = tempDir('coffer-audit-declared-api-');
  const dataDir = join(dir, 'data');
  const declared: AuditDeviceInput = { path: 'declared', type: 'file', options: { file_path: join(dir, 'declared.log') } };
  let server: TestServer;
  let key: string;
  let root: string;

  const start = async (auditDevices: AuditDeviceInput[]): Promise<void> => {
    server = await startTestServer({ storage: 'sqlite', dataDir, keepDataDir: true, auditDevices });
  };
  const unseal = () => send(server, 'PUT', 'sys/unseal', { body: { key } });

  before(async () => {
    await start([declared]);
    const init = await send(server, 'PUT', 'sys/init', { body: { secret_shares: 1, secret_threshold: 1 } });
    assert.equal(init.status, 200, init.text);
    key = init.body.keys[0];
    root = init.body.root_token;
    assert.equal((await unseal()).status, 200);
  });
  after(async () => {
    await server?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses to disable the declared device through the API, while API devices still come and go', async () => {
    const refused = await send(server, 'DELETE', 'sys/audit/declared', { token: root });
    assert.equal(refused.status, 400, refused.text);
    assert.match(refused.body.errors[0], /"declared\/" is declared in the server config file; remove it from the "audit" list there and restart the server before disabling it/);
    const body = { type: 'file', options: { file_path: join(dir, 'passing.log') } };
    assert.equal((await send(server, 'PUT', 'sys/audit/passing', { token: root, body })).status, 204);
    assert.equal((await send(server, 'DELETE', 'sys/audit/passing', { token: root })).status, 204);
  });

  it('stays sealed when a declared path holds an API device with other options, and unseals once the config is fixed', async () => {
    const apiFile = join(dir, 'api.log');
    assert.equal((await send(server, 'PUT', 'sys/audit/api', { token: root, body: { type: 'file', options: { file_path: apiFile } } })).status, 204);
    await server.destroy();

    const clashing = join(dir, 'clashing.log');
    await start([declared, { path: 'api', type: 'file', options: { file_path: clashing } }]);
    const failed = await unseal();
    assert.equal(failed.status, 500, failed.text);
    assert.match(failed.body.errors[0], /"api\/" declared in the config file differs from the device enabled at that path through the API/);
    assert.equal((await send(server, 'GET', 'sys/seal-status')).body.sealed, true);
    assert.equal(existsSync(clashing), false);
    await server.destroy();

    await start([declared, { path: 'api2', type: 'file', options: { file_path: clashing } }]);
    assert.equal((await unseal()).status, 200);
    const listed = await send(server, 'GET', 'sys/audit', { token: root });
    assert.deepEqual(Object.keys(listed.body.data), ['api/', 'api2/', 'declared/']);
    assert.equal(listed.body.data['api/'].options.file_path, apiFile);
  });
});

describe('a device enabled through the API before audit_file_dirs and api_audit_creation "deny" were set', () => {
  const dir = tempDir('coffer-audit-planted-');
  const dataDir = join(dir, 'data');
  const allowed = join(dir, 'allowed');
  const outside = join(dir, 'outside');
  const planted = join(outside, 'planted.log');
  const declaredFile = join(allowed, 'declared.log');
  const logs: string[] = [];
  let server: TestServer;
  let key: string;
  let root: string;

  const start = async (options: StartOptions): Promise<void> => {
    server = await startTestServer({ storage: 'sqlite', dataDir, keepDataDir: true, logger: createLogger({ level: 'info', write: (line) => logs.push(line) }), ...options });
    const res = await send(server, 'PUT', 'sys/unseal', { body: { key } });
    assert.equal(res.status, 200, res.text);
  };
  const strict: StartOptions = { apiAuditCreation: 'deny', auditFileDirs: [allowed] };
  const lookupSelf = () => send(server, 'GET', 'auth/token/lookup-self', { token: root });

  before(async () => {
    mkdirSync(allowed, { recursive: true });
    mkdirSync(outside, { recursive: true });
    server = await startTestServer({ storage: 'sqlite', dataDir, keepDataDir: true });
    const init = await send(server, 'PUT', 'sys/init', { body: { secret_shares: 1, secret_threshold: 1 } });
    assert.equal(init.status, 200, init.text);
    key = init.body.keys[0];
    root = init.body.root_token;
    assert.equal((await send(server, 'PUT', 'sys/unseal', { body: { key } })).status, 200);
    const enabled = await send(server, 'PUT', 'sys/audit/planted', { token: root, body: { type: 'file', options: { file_path: planted } } });
    assert.equal(enabled.status, 204, enabled.text);
    assert.equal((await lookupSelf()).status, 200);
    await server.destroy();
  });
  after(async () => {
    await server?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is not opened at unseal: alone it leaves every request refused (fail closed), and the log names it and the rule it breaks', async () => {
    const written = lineCount(planted);
    logs.length = 0;
    await start(strict);
    const refused = await lookupSelf();
    assert.equal(refused.status, 500, refused.text);
    const deleted = await send(server, 'DELETE', 'sys/audit/planted', { token: root });
    assert.equal(deleted.status, 500, 'with no device that can write, not even the disable call runs unaudited');
    assert.equal(lineCount(planted), written, 'nothing more is written to the planted file');
    const refusal = logs.map((l) => JSON.parse(l)).find((l) => l.message?.startsWith('audit device not opened: the audit file policy refuses'));
    assert.equal(refusal?.level, 'error');
    assert.equal(refusal?.path, 'planted/');
    assert.equal(refusal?.error, `file audit device: file_path "${planted}" is outside the directories allowed for audit files (audit_file_dirs): ${allowed}`);
    await server.destroy();
  });

  it('with a device declared in the config file, requests are audited there, and DELETE removes the planted device despite "deny"', async () => {
    const written = lineCount(planted);
    await start({ ...strict, auditDevices: [{ path: 'declared', type: 'file', options: { file_path: declaredFile } }] });
    const listed = await send(server, 'GET', 'sys/audit', { token: root });
    assert.equal(listed.status, 200, listed.text);
    assert.deepEqual(Object.keys(listed.body.data), ['declared/', 'planted/']);
    assert.equal((await lookupSelf()).status, 200);
    assert.equal(lineCount(planted), written);

    const deleted = await send(server, 'DELETE', 'sys/audit/planted', { token: root });
    assert.equal(deleted.status, 204, deleted.text);
    assert.deepEqual(Object.keys((await send(server, 'GET', 'sys/audit', { token: root })).body.data), ['declared/']);
    const again = await send(server, 'PUT', 'sys/audit/planted', { token: root, body: { type: 'file', options: { file_path: join(allowed, 'planted.log') } } });
    assert.equal(again.status, 400, 'enabling stays refused under "deny"');
    const declaredDelete = await send(server, 'DELETE', 'sys/audit/declared', { token: root });
    assert.equal(declaredDelete.status, 400, declaredDelete.text);
    const audited = readFileSync(declaredFile, 'utf8').trimEnd().split('\n').map((line) => JSON.parse(line));
    assert.ok(audited.some((e) => e.type === 'response' && e.request.path === 'sys/audit/planted' && e.request.operation === 'delete'), 'the removal is audited');
  });
});
