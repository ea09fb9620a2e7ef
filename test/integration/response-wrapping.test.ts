/**
 * Response wrapping over HTTP, as a Vault client uses it: X-Vault-Wrap-TTL on any request, the
 * sys/wrapping/* endpoints, policies that demand wrapping, audit, and the one-use guarantee.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createManualClock } from '../../src/core/clock.js';
import { startTestServer, tempDir, type TestServer } from '../helpers/server.js';
import { send } from '../helpers/raw-http.js';

const WRAP = (ttl: string): Record<string, string> => ({ 'X-Vault-Wrap-TTL': ttl });

describe('response wrapping', () => {
  const dir = tempDir('coffer-wrapping-');
  const auditFile = join(dir, 'audit.log');
  let server: TestServer;
  let root: string;

  const createToken = async (policies: string[]): Promise<string> => {
    const created = await send(server, 'POST', 'auth/token/create', { token: root, body: { policies, ttl: '1h' } });
    assert.equal(created.status, 200, created.text);
    return created.body.auth.client_token as string;
  };

  before(async () => {
    server = await startTestServer({ dev: true, storage: 'memory' });
    root = server.rootToken as string;
    const enabled = await send(server, 'PUT', 'sys/audit/file', { token: root, body: { type: 'file', options: { file_path: auditFile } } });
    assert.equal(enabled.status, 204, enabled.text);
    const written = await send(server, 'POST', 'secret/data/app', { token: root, body: { data: { password: 'wrapped-secret-value' } } });
    assert.equal(written.status, 200, written.text);
  });
  after(async () => {
    await server?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers a wrapped read with wrap_info only, and the wrapping token unwraps it exactly once', async () => {
    const wrapped = await send(server, 'GET', 'secret/data/app', { token: root, headers: WRAP('5m') });
    assert.equal(wrapped.status, 200, wrapped.text);
    assert.equal(wrapped.body.data, null);
    assert.equal(wrapped.body.auth, null);
    assert.equal(wrapped.body.lease_id, '');
    const info = wrapped.body.wrap_info;
    assert.equal(info.ttl, 300);
    assert.equal(info.creation_path, 'secret/data/app');
    assert.match(info.token, /^hvs\./);
    assert.ok(typeof info.accessor === 'string' && info.accessor.length > 0);
    assert.match(info.creation_time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    assert.equal(info.wrapped_accessor, undefined);
    assert.ok(!wrapped.text.includes('wrapped-secret-value'));

    const lookedUp = await send(server, 'POST', 'sys/wrapping/lookup', { body: { token: info.token } });
    assert.equal(lookedUp.status, 200, lookedUp.text);
    assert.deepEqual(lookedUp.body.data, { creation_path: 'secret/data/app', creation_time: info.creation_time, creation_ttl: 300 });
    // As the client token instead of in the body, as Vault takes it; a lookup spends nothing.
    const lookedUpByHeader = await send(server, 'POST', 'sys/wrapping/lookup', { token: info.token });
    assert.deepEqual(lookedUpByHeader.body.data, lookedUp.body.data);

    // The wrapping token may do nothing but unwrap itself; trying anything else spends its one
    // use, as in Vault (a refused request counts too), so the recipient finds it spent.
    const probed = (await send(server, 'GET', 'secret/data/app', { token: root, headers: WRAP('5m') })).body.wrap_info.token as string;
    assert.equal((await send(server, 'GET', 'secret/data/app', { token: probed })).status, 403);
    const burnt = await send(server, 'POST', 'sys/wrapping/unwrap', { token: probed });
    assert.equal(burnt.status, 400);
    assert.deepEqual(burnt.body.errors, ['wrapping token is not valid or does not exist']);
    const unwrapped = await send(server, 'POST', 'sys/wrapping/unwrap', { token: info.token });
    assert.equal(unwrapped.status, 200, unwrapped.text);
    // The original answer, envelope and all (its own request id).
    assert.deepEqual(unwrapped.body.data.data, { password: 'wrapped-secret-value' });
    assert.equal(unwrapped.body.data.metadata.version, 1);
    assert.equal(unwrapped.body.request_id, wrapped.body.request_id);
    assert.equal(unwrapped.body.wrap_info, null);
    assert.equal(unwrapped.body.mount_type, 'kv');

    // Spent: told so (400), whether it comes as the client token or in the body.
    const spent = await send(server, 'POST', 'sys/wrapping/unwrap', { token: info.token });
    assert.equal(spent.status, 400);
    assert.deepEqual(spent.body.errors, ['wrapping token is not valid or does not exist']);
    const again = await send(server, 'POST', 'sys/wrapping/unwrap', { token: root, body: { token: info.token } });
    assert.equal(again.status, 400);
    assert.deepEqual(again.body.errors, ['wrapping token is not valid or does not exist']);
    assert.equal((await send(server, 'POST', 'sys/wrapping/lookup', { body: { token: info.token } })).status, 400);
  });

  it('lets any token with the default policy unwrap a token given in the body, and only one of many racing callers gets it', async () => {
    const wrapped = await send(server, 'GET', 'secret/data/app', { token: root, headers: WRAP('60') });
    const wrappingToken = wrapped.body.wrap_info.token as string;
    const others = await Promise.all(Array.from({ length: 6 }, () => createToken(['default'])));
    const results = await Promise.all(others.map((token) => send(server, 'POST', 'sys/wrapping/unwrap', { token, body: { token: wrappingToken } })));
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 400, 400, 400, 400, 400], results.map((r) => r.text).join('\n'));
    const winner = results.find((r) => r.status === 200);
    assert.deepEqual(winner?.body.data.data, { password: 'wrapped-secret-value' });
  });

  it('wraps a created token: wrapped_accessor names it, and it works once unwrapped', async () => {
    const wrapped = await send(server, 'POST', 'auth/token/create', { token: root, headers: WRAP('2m'), body: { policies: ['default'], ttl: '1h' } });
    assert.equal(wrapped.status, 200, wrapped.text);
    assert.equal(wrapped.body.auth, null);
    const info = wrapped.body.wrap_info;
    assert.ok(typeof info.wrapped_accessor === 'string' && info.wrapped_accessor.length > 0);
    const unwrapped = await send(server, 'POST', 'sys/wrapping/unwrap', { token: info.token });
    assert.equal(unwrapped.status, 200, unwrapped.text);
    assert.equal(unwrapped.body.auth.accessor, info.wrapped_accessor);
    const self = await send(server, 'GET', 'auth/token/lookup-self', { token: unwrapped.body.auth.client_token });
    assert.equal(self.status, 200, self.text);
    assert.equal(self.body.data.accessor, info.wrapped_accessor);
  });

  it('sys/wrapping/wrap wraps the body it is given and needs the header', async () => {
    const missing = await send(server, 'POST', 'sys/wrapping/wrap', { token: root, body: { a: 'b' } });
    assert.equal(missing.status, 400, missing.text);
    const wrapped = await send(server, 'POST', 'sys/wrapping/wrap', { token: root, headers: WRAP('90s'), body: { foo: 'bar', zip: 'zap' } });
    assert.equal(wrapped.status, 200, wrapped.text);
    assert.equal(wrapped.body.wrap_info.creation_path, 'sys/wrapping/wrap');
    assert.equal(wrapped.body.wrap_info.ttl, 90);
    const unwrapped = await send(server, 'POST', 'sys/wrapping/unwrap', { token: root, body: { token: wrapped.body.wrap_info.token } });
    assert.deepEqual(unwrapped.body.data, { foo: 'bar', zip: 'zap' });
  });

  it('rewrap moves the response to a new token with the original TTL and ends the old one', async () => {
    const wrapped = await send(server, 'GET', 'secret/data/app', { token: root, headers: WRAP('3m') });
    const old = wrapped.body.wrap_info.token as string;
    const rewrapped = await send(server, 'POST', 'sys/wrapping/rewrap', { token: root, body: { token: old } });
    assert.equal(rewrapped.status, 200, rewrapped.text);
    const fresh = rewrapped.body.wrap_info;
    assert.notEqual(fresh.token, old);
    assert.equal(fresh.ttl, 180);
    assert.equal(fresh.creation_path, 'secret/data/app');
    assert.equal((await send(server, 'POST', 'sys/wrapping/lookup', { body: { token: old } })).status, 400);
    const unwrapped = await send(server, 'POST', 'sys/wrapping/unwrap', { token: fresh.token });
    assert.deepEqual(unwrapped.body.data.data, { password: 'wrapped-secret-value' });
  });

  it('enforces a policy path rule min_wrapping_ttl and max_wrapping_ttl', async () => {
    const policy = 'path "secret/data/app" {\n  capabilities = ["read"]\n  min_wrapping_ttl = "1m"\n  max_wrapping_ttl = "10m"\n}\n';
    assert.equal((await send(server, 'PUT', 'sys/policies/acl/wrapped-only', { token: root, body: { policy } })).status, 204);
    const token = await createToken(['wrapped-only']);
    assert.equal((await send(server, 'GET', 'secret/data/app', { token })).status, 403);
    assert.equal((await send(server, 'GET', 'secret/data/app', { token, headers: WRAP('30s') })).status, 403);
    assert.equal((await send(server, 'GET', 'secret/data/app', { token, headers: WRAP('20m') })).status, 403);
    const ok = await send(server, 'GET', 'secret/data/app', { token, headers: WRAP('5m') });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.body.wrap_info.ttl, 300);
  });

  it('refuses bad headers and paths answered outside the core, and treats a 0 TTL as no wrapping', async () => {
    const bad = await send(server, 'GET', 'secret/data/app', { token: root, headers: WRAP('soon') });
    assert.equal(bad.status, 400);
    assert.match(bad.body.errors[0], /^error parsing X-Vault-Wrap-TTL/);
    const jwt = await send(server, 'GET', 'secret/data/app', { token: root, headers: { ...WRAP('1m'), 'X-Vault-Wrap-Format': 'jwt' } });
    assert.equal(jwt.status, 400);
    const raw = await send(server, 'GET', 'sys/seal-status', { headers: WRAP('1m') });
    assert.equal(raw.status, 400);
    const plain = await send(server, 'GET', 'secret/data/app', { token: root, headers: WRAP('0') });
    assert.equal(plain.status, 200);
    assert.equal(plain.body.wrap_info, null);
    assert.deepEqual(plain.body.data.data, { password: 'wrapped-secret-value' });
    // Nothing to wrap: a write answering 204 stays 204.
    const deleted = await send(server, 'DELETE', 'secret/metadata/nothing-here', { token: root, headers: WRAP('1m') });
    assert.equal(deleted.status, 204);
  });

  it('keeps the response-wrapping policy built in and immutable', async () => {
    const read = await send(server, 'GET', 'sys/policies/acl/response-wrapping', { token: root });
    assert.equal(read.status, 200, read.text);
    assert.match(read.body.data.policy, /sys\/wrapping\/unwrap/);
    assert.equal((await send(server, 'PUT', 'sys/policies/acl/response-wrapping', { token: root, body: { policy: 'path "*" { capabilities = ["sudo"] }' } })).status, 400);
    assert.equal((await send(server, 'DELETE', 'sys/policies/acl/response-wrapping', { token: root })).status, 400);
  });

  it('wraps a login without a client token, and nothing else without one', async () => {
    assert.equal((await send(server, 'POST', 'sys/auth/userpass', { token: root, body: { type: 'userpass' } })).status, 204);
    assert.equal((await send(server, 'POST', 'auth/userpass/users/wrapuser', { token: root, body: { password: 'pw-wrapuser-1', token_policies: 'default' } })).status, 204);
    const login = await send(server, 'POST', 'auth/userpass/login/wrapuser', { headers: WRAP('1m'), body: { password: 'pw-wrapuser-1' } });
    assert.equal(login.status, 200, login.text);
    assert.equal(login.body.auth, null);
    const unwrapped = await send(server, 'POST', 'sys/wrapping/unwrap', { token: login.body.wrap_info.token });
    assert.equal(unwrapped.body.auth.accessor, login.body.wrap_info.wrapped_accessor);
    // Anyone could otherwise make wrapping tokens (and their records) for free.
    const held = (await send(server, 'POST', 'sys/wrapping/wrap', { token: root, headers: WRAP('1m'), body: { a: 'b' } })).body.wrap_info.token as string;
    const anonymous = await send(server, 'POST', 'sys/wrapping/lookup', { headers: WRAP('768h'), body: { token: held } });
    assert.equal(anonymous.status, 400, anonymous.text);
    const withToken = await send(server, 'POST', 'sys/wrapping/lookup', { token: root, headers: WRAP('1m'), body: { token: held } });
    assert.equal(withToken.status, 200, withToken.text);
    assert.ok(withToken.body.wrap_info);
  });

  it('reports the TTL the wrapping token really got, and names no accessor a client stored', async () => {
    const capped = await send(server, 'POST', 'sys/wrapping/wrap', { token: root, headers: WRAP('100000h'), body: { secret_id: 'x', secret_id_accessor: 'forged-accessor' } });
    assert.equal(capped.status, 200, capped.text);
    assert.equal(capped.body.wrap_info.ttl, 768 * 3600);
    assert.equal(capped.body.wrap_info.wrapped_accessor, undefined);
    assert.ok(capped.body.warnings?.length > 0, capped.text);
    const lookedUp = await send(server, 'POST', 'sys/wrapping/lookup', { body: { token: capped.body.wrap_info.token } });
    assert.equal(lookedUp.body.data.creation_ttl, 768 * 3600);
    assert.equal(lookedUp.body.data.creation_time, capped.body.wrap_info.creation_time);
  });

  it('audits the numbers of an unwrapped answer hashed, as on a read', async () => {
    await send(server, 'POST', 'secret/data/pin', { token: root, body: { data: { card_pin: 987654 } } });
    const wrapped = await send(server, 'GET', 'secret/data/pin', { token: root, headers: WRAP('1m') });
    const unwrapped = await send(server, 'POST', 'sys/wrapping/unwrap', { token: wrapped.body.wrap_info.token });
    assert.equal(unwrapped.body.data.data.card_pin, 987654);
    assert.ok(!readFileSync(auditFile, 'utf8').includes('987654'), 'a wrapped number reached the audit log in clear');
  });

  it('audits the wrapped answer with its wrapping token hashed, and never the token or the secret', () => {
    const text = readFileSync(auditFile, 'utf8');
    assert.ok(!text.includes('wrapped-secret-value'));
    assert.ok(!text.includes('pw-wrapuser-1'));
    assert.ok(!/hvs\.[A-Za-z0-9]{24}/.test(text), 'a raw token reached the audit log');
    const entries = text.trim().split('\n').map((line) => JSON.parse(line));
    const wrappedRead = entries.find((e) => e.type === 'response' && e.request.path === 'secret/data/app' && e.response?.wrap_info);
    assert.ok(wrappedRead, 'no audited wrapped response');
    assert.match(wrappedRead.response.wrap_info.token, /^hmac-sha256:[0-9a-f]{64}$/);
    assert.match(wrappedRead.response.wrap_info.accessor, /^hmac-sha256:[0-9a-f]{64}$/);
    assert.equal(wrappedRead.response.wrap_info.creation_path, 'secret/data/app');
    const unwrap = entries.find((e) => e.type === 'response' && e.request.path === 'sys/wrapping/unwrap' && e.response?.status_code === 200);
    assert.ok(unwrap, 'no audited unwrap');
    assert.match(JSON.stringify(unwrap.response.data), /hmac-sha256:/);
  });
});

describe('response wrapping: expiry', () => {
  it('a wrapping token past its TTL unwraps nothing', async () => {
    const clock = createManualClock(Date.now());
    const server = await startTestServer({ dev: true, storage: 'memory', clock });
    try {
      const root = server.rootToken as string;
      await send(server, 'POST', 'secret/data/short', { token: root, body: { data: { v: 'x' } } });
      const wrapped = await send(server, 'GET', 'secret/data/short', { token: root, headers: WRAP('30s') });
      const token = wrapped.body.wrap_info.token as string;
      clock.advance(31_000);
      assert.equal((await send(server, 'POST', 'sys/wrapping/lookup', { body: { token } })).status, 400);
      const res = await send(server, 'POST', 'sys/wrapping/unwrap', { token: root, body: { token } });
      assert.equal(res.status, 400, res.text);
    } finally {
      await server.destroy();
    }
  });
});
