/**
 * X-Forwarded-For from an authorized proxy (here: loopback) decides the client address for
 * audit entries, CIDR-bound tokens and rate limit buckets, on the server and through an HTTP
 * replica alike; a request without the header is refused, as Vault does by default.
 */
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { api, scratchDirs, startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let root: string;
const from = (address: string): Record<string, string> => ({ 'x-forwarded-for': address });

/** One request on a connection of its own: new connections alternate between the server and its replica. */
function fresh(path: string, token: string, address: string): Promise<{ status: number; servedBy: string | undefined }> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(server.url);
    const req = request({ host: hostname, port, path: `/v1/${path}`, agent: false, headers: { 'x-vault-token': token, 'x-forwarded-for': address } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, servedBy: res.headers['x-coffer-served-by'] as string | undefined }));
    });
    req.on('error', reject);
    req.end();
  });
}

before(async () => {
  server = await startTestServer({ dev: true, storage: 'sqlite', httpReplicas: 1, forwardedFor: { authorizedAddrs: ['127.0.0.1'] } });
  root = server.rootToken as string;
});

// Audit logs written by the tests, removed with the server.
const scratch = scratchDirs();

after(async () => {
  await server?.destroy();
  scratch.removeAll();
});

test('without the header a request is refused; with it the named client is audited and bound CIDRs apply to it', async () => {
  const bare = await api(server, 'GET', 'sys/mounts', { token: root });
  assert.equal(bare.status, 400);
  assert.match(bare.body.errors[0], /missing x-forwarded-for/);

  const logPath = join(scratch.make('coffer-xff-audit-'), 'audit.log');
  assert.equal((await api(server, 'PUT', 'sys/audit/file', { token: root, body: { type: 'file', options: { file_path: logPath } }, headers: from('203.0.113.9') })).status, 204);
  const admin = from('203.0.113.9');
  assert.equal((await api(server, 'POST', 'sys/auth/userpass', { token: root, body: { type: 'userpass' }, headers: admin })).status, 204);
  assert.equal((await api(server, 'PUT', 'sys/policies/acl/mounts-reader', { token: root, body: { policy: 'path "sys/mounts" { capabilities = ["read"] }' }, headers: admin })).status, 204);
  const user = { password: 'correct horse battery', token_policies: ['mounts-reader'], token_bound_cidrs: ['203.0.113.0/24'] };
  assert.equal((await api(server, 'POST', 'auth/userpass/users/alice', { token: root, body: user, headers: admin })).status, 204);
  // The login itself is checked against the bound CIDRs too: from outside, refused.
  assert.equal((await api(server, 'POST', 'auth/userpass/login/alice', { body: { password: user.password }, headers: from('198.51.100.1') })).status, 400);
  const login = await api(server, 'POST', 'auth/userpass/login/alice', { body: { password: user.password }, headers: from('203.0.113.50') });
  assert.equal(login.status, 200, JSON.stringify(login.body));
  const bound: string = login.body.auth.client_token;
  // Four fresh connections each: two reach the replica, which forwards (audit is on) naming the client.
  for (let i = 0; i < 4; i += 1) {
    assert.equal((await fresh('sys/mounts', bound, '203.0.113.77')).status, 200);
    assert.equal((await fresh('sys/mounts', bound, '198.51.100.1')).status, 403);
  }

  const entries = readFileSync(logPath, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
  const addresses = new Set(entries.filter((e) => e.type === 'request').map((e) => e.request.remote_address));
  assert.ok(addresses.has('203.0.113.77') && addresses.has('198.51.100.1'), [...addresses].join(','));
  assert.equal(addresses.has('127.0.0.1'), false, 'the proxy is never taken for the client');
  assert.equal((await api(server, 'DELETE', 'sys/audit/file', { token: root, headers: from('203.0.113.9') })).status, 204);
});

test('rate limit buckets follow the named client, whichever process takes the connection', async () => {
  assert.equal((await api(server, 'PUT', 'sys/quotas/rate-limit/per-client', { token: root, body: { path: 'secret/', rate: 2, interval: '1h' }, headers: from('192.0.2.1') })).status, 204);
  try {
    const statuses = async (address: string): Promise<number[]> => {
      const out: number[] = [];
      // Fresh connections land on both processes; with a quota, the replica forwards them all.
      for (let i = 0; i < 3; i += 1) out.push((await fresh('secret/data/none', root, address)).status);
      return out;
    };
    assert.deepEqual(await statuses('192.0.2.10'), [404, 404, 429]);
    assert.deepEqual(await statuses('192.0.2.11'), [404, 404, 429], 'another client has its own bucket');
    // An IPv6 client counts by its /64: a new address in it per request does not refill it.
    const rotating: number[] = [];
    for (let i = 1; i <= 3; i += 1) rotating.push((await fresh('secret/data/none', root, `2001:db8:7:7::${i}`)).status);
    assert.deepEqual(rotating, [404, 404, 429]);
    assert.deepEqual(await statuses('2001:db8:7:8::1'), [404, 404, 429], 'the next /64 has its own bucket');
  } finally {
    await api(server, 'DELETE', 'sys/quotas/rate-limit/per-client', { token: root, headers: from('192.0.2.1') });
  }
});

test('a replica answering a KV read itself checks a bound token against the named client', async () => {
  const admin = from('203.0.113.9');
  assert.equal((await api(server, 'PUT', 'sys/policies/acl/kv-reader', { token: root, body: { policy: 'path "secret/data/*" { capabilities = ["read"] }' }, headers: admin })).status, 204);
  assert.equal((await api(server, 'POST', 'auth/userpass/users/bob', { token: root, body: { password: 'another long password', token_policies: ['kv-reader'], token_bound_cidrs: ['203.0.113.0/24'] }, headers: admin })).status, 204);
  assert.equal((await api(server, 'POST', 'secret/data/shared', { token: root, body: { data: { v: '1' } }, headers: admin })).status, 200);
  const login = await api(server, 'POST', 'auth/userpass/login/bob', { body: { password: 'another long password' }, headers: from('203.0.113.60') });
  const token: string = login.body.auth.client_token;
  // No audit device and no quota now: new connections alternate, and the replica answers its own.
  const inside = [];
  for (let i = 0; i < 6; i += 1) inside.push(await fresh('secret/data/shared', token, '203.0.113.61'));
  assert.ok(inside.every((r) => r.status === 200));
  assert.ok(inside.some((r) => r.servedBy === 'replica'), 'some reads were the replica\'s own');
  for (let i = 0; i < 4; i += 1) assert.equal((await fresh('secret/data/shared', token, '198.51.100.61')).status, 403);
});

test('from a peer that is not an authorized proxy the header is refused, or with reject_not_authorized off ignored', async () => {
  const strict = await startTestServer({ dev: true, storage: 'memory', forwardedFor: { authorizedAddrs: ['127.0.0.2'] } });
  try {
    const refused = await api(strict, 'GET', 'sys/mounts', { token: strict.rootToken as string, headers: from('203.0.113.5') });
    assert.equal(refused.status, 400);
    assert.match(refused.body.errors[0], /not authorized for x-forwarded-for/);
  } finally {
    await strict.destroy();
  }
  const lenient = await startTestServer({ dev: true, storage: 'memory', forwardedFor: { authorizedAddrs: ['127.0.0.2'], rejectNotAuthorized: false } });
  try {
    const token = lenient.rootToken as string;
    const logPath = join(scratch.make('coffer-xff-lenient-'), 'audit.log');
    assert.equal((await api(lenient, 'PUT', 'sys/audit/file', { token, body: { type: 'file', options: { file_path: logPath } }, headers: from('203.0.113.5') })).status, 204);
    assert.equal((await api(lenient, 'GET', 'sys/mounts', { token, headers: from('203.0.113.5') })).status, 200);
    const addresses = readFileSync(logPath, 'utf8').trim().split('\n').map((line) => JSON.parse(line).request?.remote_address);
    assert.ok(addresses.length > 0 && addresses.every((a) => a === '127.0.0.1'), addresses.join(','));
  } finally {
    await lenient.destroy();
  }
});
