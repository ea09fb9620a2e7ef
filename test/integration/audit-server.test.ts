/**
 * Audit at the level of the whole server: a file device enabled through the API logs a request
 * and a response line per request, its HMACs are reproducible through sys/audit-hash, its hash
 * chain verifies, and audit fails closed: with no device able to log, no secret leaves the server.
 */
import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, readFileSync, rmSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { verifyAuditFile } from '../../src/core/audit/verify.js';
import { createLogger } from '../../src/core/logger.js';
import { startTestServer, tempDir, type TestServer } from '../helpers/server.js';
import { send } from '../helpers/raw-http.js';

const SECRET = 'audit-secret-value-6b1f0e2a';
const NO_AUDIT = { errors: ['no audit backend succeeded in logging the request'] };

interface Entry {
  type: 'request' | 'response';
  error: string;
  request: { id: string; path: string; operation: string; data?: any };
  response?: { status_code: number; data?: any };
  [key: string]: any;
}

function entries(file: string): Entry[] {
  const text = readFileSync(file, 'utf8');
  return text === '' ? [] : text.trimEnd().split('\n').map((line) => JSON.parse(line) as Entry);
}

describe('audit devices on a running server', () => {
  const dir = tempDir('coffer-audit-server-');
  const dataDir = join(dir, 'data');
  const first = join(dir, 'first.log');
  const second = join(dir, 'second.log');
  const lines: string[] = [];
  let server: TestServer;
  let root: string;

  const start = async (): Promise<void> => {
    server = await startTestServer({
      dev: true,
      storage: 'sqlite',
      dataDir,
      keepDataDir: true,
      logger: createLogger({ level: 'debug', write: (line) => lines.push(line) }),
    });
    root = server.rootToken as string;
  };
  const readSecret = () => send(server, 'GET', 'secret/data/audited', { token: root });

  before(start);
  after(async () => {
    await server?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('enables a file device through the API and lists it', async () => {
    const enabled = await send(server, 'PUT', 'sys/audit/file', { token: root, body: { type: 'file', description: 'main log', options: { file_path: first } } });
    assert.equal(enabled.status, 204, enabled.text);
    const listed = await send(server, 'GET', 'sys/audit', { token: root });
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body.data['file/'], { type: 'file', description: 'main log', options: { file_path: first }, path: 'file/', local: false });
    assert.equal(statSync(first).mode & 0o777, 0o600);
    const again = await send(server, 'PUT', 'sys/audit/file', { token: root, body: { type: 'file', options: { file_path: second } } });
    assert.equal(again.status, 400, 'the path is in use');
    const sameFile = await send(server, 'PUT', 'sys/audit/other', { token: root, body: { type: 'file', options: { file_path: first } } });
    assert.equal(sameFile.status, 400, 'two devices on one file would break the chain');
  });

  it('writes a request line and then a response line, with the same id, for each request', async () => {
    const before = entries(first).length;
    const write = await send(server, 'POST', 'secret/data/audited', { token: root, body: { data: { password: SECRET } } });
    assert.equal(write.status, 200);
    const read = await readSecret();
    assert.equal(read.body.data.data.password, SECRET);
    const list = await send(server, 'LIST', 'secret/metadata/', { token: root });
    assert.equal(list.status, 200);
    const missing = await send(server, 'GET', 'secret/data/not-there', { token: root });
    assert.equal(missing.status, 404);

    const logged = entries(first).slice(before);
    assert.equal(logged.length, 8);
    const expected: Array<[string, string, string]> = [
      [write.body.request_id, 'secret/data/audited', 'create'],
      [read.body.request_id, 'secret/data/audited', 'read'],
      [list.body.request_id, 'secret/metadata/', 'list'],
      ['', 'secret/data/not-there', 'read'],
    ];
    for (const [i, [id, path, operation]] of expected.entries()) {
      const request = logged[2 * i] as Entry;
      const response = logged[2 * i + 1] as Entry;
      assert.equal(request.type, 'request');
      assert.equal(response.type, 'response');
      assert.equal(response.request.id, request.request.id);
      if (id !== '') assert.equal(request.request.id, id, 'the audit id is the request_id the client saw');
      assert.equal(request.request.path, path);
      assert.equal(request.request.operation, operation);
      assert.equal(request.response, undefined);
    }
    assert.equal((logged[1] as Entry).response?.status_code, 200);
    assert.equal((logged[3] as Entry).response?.status_code, 200);
    assert.equal(readFileSync(first, 'utf8').includes(SECRET), false);
  });

  it('logs a request refused by the ACL', async () => {
    const policy = await send(server, 'PUT', 'sys/policies/acl/nothing', { token: root, body: { policy: 'path "secret/data/elsewhere" { capabilities = ["read"] }' } });
    assert.equal(policy.status, 204);
    const created = await send(server, 'POST', 'auth/token/create', { token: root, body: { policies: ['nothing'] } });
    const before = entries(first).length;
    const denied = await send(server, 'GET', 'secret/data/audited', { token: created.body.auth.client_token });
    assert.equal(denied.status, 403);
    const anonymous = await send(server, 'GET', 'secret/data/audited');
    assert.equal(anonymous.status, 403);
    const logged = entries(first).slice(before);
    const refused = logged.filter((e) => e.request.path === 'secret/data/audited' && /permission denied/.test(e.error));
    assert.ok(refused.length >= 2, `expected the two refused requests in the audit log, found ${refused.length}`);
  });

  it('audits the data of a refused request value by value only up to 1,000 values, so a huge refused body cannot flood the log', async () => {
    const wide: Record<string, string> = {};
    for (let i = 0; i < 5_000; i += 1) wide[`k${i}`] = '';
    const sizeBefore = statSync(first).size;
    const before = entries(first).length;
    const anonymous = await send(server, 'POST', 'secret/data/flood', { body: { data: wide } });
    assert.equal(anonymous.status, 403);
    const grown = statSync(first).size - sizeBefore;
    assert.ok(grown < 10_000, `the refused 5,000-value body added ${grown} bytes to the audit log`);
    const logged = entries(first).slice(before).filter((e) => e.request.path === 'secret/data/flood');
    assert.ok(logged.length >= 2);
    for (const entry of logged) assert.match(String(entry.request.data.coffer_refused_data_summary), /^more than 1000 values in 1 top-level keys/);
    // A request the token may make is audited in full.
    const allowed = await send(server, 'POST', 'secret/data/flood', { token: root, body: { data: Object.fromEntries(Object.entries(wide).slice(0, 1_500)) } });
    assert.equal(allowed.status, 200);
    const full = entries(first).filter((e) => e.type === 'request' && e.request.path === 'secret/data/flood' && e.request.data?.data !== undefined).at(-1);
    assert.equal(Object.keys(full?.request.data.data ?? {}).length, 1_500);
  });

  it('logs requests for paths and operations nothing serves, with their error', async () => {
    const before = entries(first).length;
    assert.equal((await send(server, 'GET', 'no-such-mount/x', { token: root })).status, 404);
    assert.equal((await send(server, 'DELETE', 'auth/token/lookup-self', { token: root })).status, 405);
    const logged = entries(first).slice(before);
    const unknownMount = logged.filter((e) => e.request.path === 'no-such-mount/x');
    assert.equal(unknownMount.length, 2, 'a request line and a response line');
    assert.match(unknownMount[1]?.error ?? '', /no handler for route/);
    const badOperation = logged.filter((e) => e.request.path === 'auth/token/lookup-self');
    assert.equal(badOperation.length, 2);
    assert.match(badOperation[1]?.error ?? '', /unsupported operation/);
  });

  it('reproduces the HMAC in the file through sys/audit-hash', async () => {
    const hashed = await send(server, 'POST', 'sys/audit-hash/file', { token: root, body: { input: SECRET } });
    assert.equal(hashed.status, 200, hashed.text);
    assert.match(hashed.body.data.hash, /^hmac-sha256:[0-9a-f]{64}$/);
    assert.equal(hashed.body.hash, hashed.body.data.hash, 'legacy top-level copy');
    const logged = entries(first);
    const writeRequest = logged.find((e) => e.type === 'request' && e.request.path === 'secret/data/audited' && e.request.operation === 'create');
    assert.equal(writeRequest?.request.data.data.password, hashed.body.data.hash);
    const readResponse = logged.find((e) => e.type === 'response' && e.request.path === 'secret/data/audited' && e.request.operation === 'read');
    assert.equal(readResponse?.response?.data.data.password, hashed.body.data.hash);
    const other = await send(server, 'POST', 'sys/audit-hash/file', { token: root, body: { input: SECRET + 'x' } });
    assert.notEqual(other.body.data.hash, hashed.body.data.hash);
    // The hash is not itself HMAC'd again in the audit line of the audit-hash call.
    const hashResponse = entries(first).filter((e) => e.type === 'response' && e.request.path === 'sys/audit-hash/file').at(-1);
    assert.equal(hashResponse?.response?.data.hash, other.body.data.hash);
  });

  it('hashes the numbers of a secret, written and read back, and keeps its version readable', async () => {
    const PIN = 987654321;
    assert.equal((await send(server, 'POST', 'secret/data/numeric', { token: root, body: { data: { pin: PIN, on: true } } })).status, 200);
    assert.equal((await send(server, 'GET', 'secret/data/numeric', { token: root })).body.data.data.pin, PIN);
    assert.ok(!readFileSync(first, 'utf8').includes(String(PIN)), 'the number never reaches the file in clear');
    const pinHash = (await send(server, 'POST', 'sys/audit-hash/file', { token: root, body: { input: String(PIN) } })).body.data.hash;
    const logged = entries(first);
    const write = logged.find((e) => e.type === 'request' && e.request.path === 'secret/data/numeric' && e.request.operation === 'create');
    assert.equal(write?.request.data.data.pin, pinHash);
    const read = logged.find((e) => e.type === 'response' && e.request.path === 'secret/data/numeric' && e.request.operation === 'read');
    assert.equal(read?.response?.data.data.pin, pinHash);
    assert.equal(read?.response?.data.data.on, true);
    assert.equal(read?.response?.data.metadata.version, 1, 'the version KV computed stays readable');
  });

  it('writes the keys a mount lists in audit_non_hmac_request_keys and _response_keys in clear', async () => {
    assert.equal((await send(server, 'POST', 'sys/mounts/clear-keys', { token: root, body: { type: 'kv', options: { version: '1' }, config: { audit_non_hmac_request_keys: ['region'] } } })).status, 204);
    assert.equal((await send(server, 'POST', 'sys/mounts/clear-keys/tune', { token: root, body: { audit_non_hmac_response_keys: ['region'] } })).status, 204);
    assert.equal((await send(server, 'POST', 'clear-keys/app', { token: root, body: { region: 'eu-west-1', password: SECRET } })).status, 204);
    assert.equal((await send(server, 'GET', 'clear-keys/app', { token: root })).status, 200);
    const logged = entries(first);
    const write = logged.find((e) => e.type === 'request' && e.request.path === 'clear-keys/app' && e.request.operation !== 'read');
    assert.equal(write?.request.data.region, 'eu-west-1');
    assert.match(write?.request.data.password, /^hmac-sha256:/);
    const read = logged.find((e) => e.type === 'response' && e.request.path === 'clear-keys/app' && e.request.operation === 'read');
    assert.equal(read?.response?.data.region, 'eu-west-1');
    assert.match(read?.response?.data.password, /^hmac-sha256:/);
  });

  it('writes a hash chain that verifyAuditFile accepts, and that catches an edited line', async () => {
    const count = entries(first).length;
    const result = await verifyAuditFile(first);
    assert.deepEqual(result, { ok: true, lines: count });
    const copy = join(dir, 'tampered.log');
    copyFileSync(first, copy);
    const text = readFileSync(copy, 'utf8').split('\n');
    const edited = (text[2] as string).replace('"time":"2', '"time":"3');
    assert.notEqual(edited, text[2]);
    text[2] = edited;
    writeFileSync(copy, text.join('\n'));
    const tampered = await verifyAuditFile(copy);
    assert.equal(tampered.ok, false);
    assert.equal(tampered.error?.line, 4);
  });

  it('logs the status the client saw: 204 for a delete that changed nothing', async () => {
    const res = await send(server, 'DELETE', 'secret/data/never-written-audit', { token: root });
    assert.equal(res.status, 204);
    const last = entries(first).filter((e) => e.type === 'response' && e.request.path === 'secret/data/never-written-audit');
    assert.equal(last.length, 1);
    assert.equal(last[0]?.response?.status_code, 204);
  });

  it('verifies the device file with its MACs through sys/audit-verify, which needs sudo', async () => {
    const res = await send(server, 'PUT', 'sys/audit-verify/file', { token: root, body: {} });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.data.ok, true);
    assert.equal(res.body.data.file_path, first);
    assert.ok(res.body.data.lines >= entries(first).length - 2, 'the file as it was when asked, give or take this request');

    const policy = 'path "sys/audit-verify/*" { capabilities = ["update"] }\npath "sys/audit-verify/file" { capabilities = ["update"] }';
    assert.equal((await send(server, 'PUT', 'sys/policies/acl/verifier', { token: root, body: { policy } })).status, 204);
    const plain = await send(server, 'POST', 'auth/token/create', { token: root, body: { policies: ['verifier'] } });
    const denied = await send(server, 'PUT', 'sys/audit-verify/file', { token: plain.body.auth.client_token, body: {} });
    assert.equal(denied.status, 403, denied.text);
    const sudoPolicy = 'path "sys/audit-verify/file" { capabilities = ["update", "sudo"] }';
    assert.equal((await send(server, 'PUT', 'sys/policies/acl/verifier-sudo', { token: root, body: { policy: sudoPolicy } })).status, 204);
    const sudo = await send(server, 'POST', 'auth/token/create', { token: root, body: { policies: ['verifier-sudo'] } });
    const allowed = await send(server, 'PUT', 'sys/audit-verify/file', { token: sudo.body.auth.client_token, body: { file_path: first } });
    assert.equal(allowed.status, 200, allowed.text);
    assert.equal(allowed.body.data.ok, true);

    const elsewhere = await send(server, 'PUT', 'sys/audit-verify/file', { token: root, body: { file_path: second } });
    assert.equal(elsewhere.status, 400, elsewhere.text);
    assert.equal((await send(server, 'PUT', 'sys/audit-verify/file', { token: root, body: { file_path: 7 } })).status, 400);
    assert.equal((await send(server, 'PUT', 'sys/audit-verify/none', { token: root, body: {} })).status, 400);
  });

  describe('failing closed', () => {
    it('serves a request through a second healthy device while the first one fails', async () => {
      const enabled = await send(server, 'PUT', 'sys/audit/second', { token: root, body: { type: 'file', options: { file_path: second } } });
      assert.equal(enabled.status, 204, enabled.text);
      // The file device treats a deleted file as a failure (writes would go nowhere).
      unlinkSync(first);
      const logLines = lines.length;
      const read = await readSecret();
      assert.equal(read.status, 200, read.text);
      assert.equal(read.body.data.data.password, SECRET);
      const logged = entries(second).filter((e) => e.request.id === read.body.request_id);
      assert.deepEqual(logged.map((e) => e.type), ['request', 'response']);
      const failure = lines.slice(logLines).map((l) => JSON.parse(l)).find((l) => l.message === 'audit device failed to log an entry');
      assert.equal(failure?.path, 'file/');
      assert.equal(failure?.code, 'file_removed');
    });

    it('keeps serving through the healthy device alone once the broken one is disabled', async () => {
      const disabled = await send(server, 'DELETE', 'sys/audit/file', { token: root });
      assert.equal(disabled.status, 204, disabled.text);
      const listed = await send(server, 'GET', 'sys/audit', { token: root });
      assert.deepEqual(Object.keys(listed.body.data), ['second/']);
      const read = await readSecret();
      assert.equal(read.status, 200);
      assert.equal(entries(second).filter((e) => e.request.id === read.body.request_id).length, 2);
      assert.equal((await verifyAuditFile(second)).ok, true);
    });

    it('refuses a read and a write with 500 when the only device fails, and recovers when its file is repaired', async () => {
      const size = statSync(second).size;
      // Another writer appends: the device's chain no longer describes the file, so it fails.
      appendFileSync(second, 'x');
      const read = await readSecret();
      assert.equal(read.status, 500);
      assert.deepEqual(read.body, NO_AUDIT);
      assert.equal(read.text.includes(SECRET), false);
      const write = await send(server, 'POST', 'secret/data/audited', { token: root, body: { data: { password: 'while-unaudited' } } });
      assert.equal(write.status, 500);
      assert.deepEqual(write.body, NO_AUDIT);
      assert.equal((await send(server, 'GET', 'sys/health')).status, 200, 'unaudited raw endpoints still answer');
      assert.equal(statSync(second).size, size + 1, 'nothing was logged for the refused requests');

      truncateSync(second, size);
      const recovered = await readSecret();
      assert.equal(recovered.status, 200, recovered.text);
      assert.equal(recovered.body.data.data.password, SECRET, 'the refused write never ran');
      assert.equal(recovered.body.data.metadata.version, 1);
      assert.equal((await verifyAuditFile(second)).ok, true);
    });

    it('refuses requests while the only device file is deleted, and serves again after a restart reopens it', async () => {
      unlinkSync(second);
      const read = await readSecret();
      assert.equal(read.status, 500);
      assert.deepEqual(read.body, NO_AUDIT);
      assert.equal(read.text.includes(SECRET), false);
      const disable = await send(server, 'DELETE', 'sys/audit/second', { token: root });
      assert.equal(disable.status, 500, 'not even the disable call can run unaudited');

      await server.close();
      await start();
      const after = await readSecret();
      assert.equal(after.status, 200, after.text);
      assert.equal(after.body.data.data.password, SECRET);
      const logged = entries(second);
      assert.deepEqual(logged.map((e) => e.type), ['request', 'response']);
      assert.equal((await verifyAuditFile(second)).ok, true);
      // Nothing secret reached the server log on any of these paths.
      assert.equal(lines.join('\n').includes(SECRET), false);
      assert.equal(lines.join('\n').includes(root), false);
    });
  });
});
