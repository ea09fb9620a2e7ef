/**
 * Rate limit quotas over HTTP, as a Vault operator uses them: created under sys/quotas, applied
 * per client address to the most specific path, answered 429 with Retry-After before the
 * request is read or audited, never on the exempt paths, and gone once deleted.
 */
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { api, scratchDirs, startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let root: string;

before(async () => {
  server = await startTestServer({ dev: true, storage: 'sqlite' });
  root = server.rootToken as string;
  assert.equal((await api(server, 'POST', 'secret/data/limited', { token: root, body: { data: { v: '1' } } })).status, 200);
});

// Audit logs written by the tests, removed with the server.
const scratch = scratchDirs();

after(async () => {
  await server?.destroy();
  scratch.removeAll();
});

const raw = (path: string, init: RequestInit = {}): Promise<Response> =>
  fetch(`${server.url}/v1/${path}`, { ...init, headers: { 'x-vault-token': root, ...(init.headers as Record<string, string> | undefined) } });

test('a mount quota refuses the client past its rate with 429 and Retry-After, unaudited; other mounts and exempt paths still answer', async () => {
  const logPath = join(scratch.make('coffer-quota-audit-'), 'audit.log');
  assert.equal((await api(server, 'PUT', 'sys/audit/file', { token: root, body: { type: 'file', options: { file_path: logPath } } })).status, 204);
  assert.equal((await api(server, 'PUT', 'sys/quotas/rate-limit/kv', { token: root, body: { path: 'secret/', rate: 3, interval: '1m' } })).status, 204);

  const read = await api(server, 'GET', 'sys/quotas/rate-limit/kv', { token: root });
  assert.equal(read.status, 200);
  assert.deepEqual(read.body.data, { name: 'kv', path: 'secret/', type: 'rate-limit', rate: 3, interval: 60, block_interval: 0, role: '', inheritable: false });
  assert.deepEqual((await api(server, 'LIST', 'sys/quotas/rate-limit', { token: root })).body.data.keys, ['kv']);

  const statuses: number[] = [];
  let refused: Response | undefined;
  for (let i = 0; i < 5; i += 1) {
    const response = await raw('secret/data/limited');
    statuses.push(response.status);
    if (response.status === 429) refused ??= response;
    else await response.arrayBuffer();
  }
  assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
  assert.ok(refused);
  assert.deepEqual(await refused.json(), { errors: ['request path "secret/data/limited": rate limit quota exceeded'] });
  // One request per 20 s refills: the next one is that far off.
  const retryAfter = Number(refused.headers.get('retry-after'));
  assert.ok(retryAfter >= 1 && retryAfter <= 20, `Retry-After ${retryAfter}`);
  assert.equal(refused.headers.get('x-ratelimit-limit'), null, 'no rate headers unless configured');

  // A write is refused before its body is read.
  assert.equal((await api(server, 'POST', 'secret/data/limited', { token: root, body: { data: { v: '2' } } })).status, 429);
  assert.equal((await api(server, 'GET', 'sys/mounts', { token: root })).status, 200);
  assert.equal((await api(server, 'GET', 'sys/health')).status, 200);
  assert.equal((await api(server, 'GET', 'sys/seal-status')).status, 200);

  const audited = readFileSync(logPath, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
  const kvReads = audited.filter((entry) => entry.type === 'response' && entry.request?.path === 'secret/data/limited');
  assert.equal(kvReads.length, 3, 'only the three answered reads are in the audit log');

  assert.equal((await api(server, 'DELETE', 'sys/quotas/rate-limit/kv', { token: root })).status, 204);
  assert.equal((await api(server, 'GET', 'secret/data/limited', { token: root })).status, 200);
  assert.equal((await api(server, 'GET', 'sys/quotas/rate-limit/kv', { token: root })).status, 404);
  assert.equal((await api(server, 'DELETE', 'sys/audit/file', { token: root })).status, 204);
});

test('the most specific quota applies, and rate headers come when configured', async () => {
  assert.equal((await api(server, 'PUT', 'sys/quotas/config', { token: root, body: { enable_rate_limit_response_headers: true } })).status, 204);
  assert.equal((await api(server, 'PUT', 'sys/quotas/rate-limit/everything', { token: root, body: { rate: 1000 } })).status, 204);
  assert.equal((await api(server, 'PUT', 'sys/quotas/rate-limit/one-secret', { token: root, body: { path: 'secret/data/limited*', rate: 1, interval: '1h' } })).status, 204);
  try {
    const first = await raw('secret/data/limited');
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('x-ratelimit-limit'), '1');
    assert.equal(first.headers.get('x-ratelimit-remaining'), '0');
    await first.arrayBuffer();
    assert.equal((await api(server, 'GET', 'secret/data/limited', { token: root })).status, 429);
    // Elsewhere the global quota, with its own bucket, applies.
    const other = await raw('sys/mounts');
    assert.equal(other.status, 200);
    assert.equal(other.headers.get('x-ratelimit-limit'), '1000');
    await other.arrayBuffer();
    const config = await api(server, 'GET', 'sys/quotas/config', { token: root });
    assert.equal(config.body.data.enable_rate_limit_response_headers, true);
    assert.ok(config.body.data.rate_limit_exempt_paths.includes('sys/health'));
  } finally {
    for (const name of ['everything', 'one-secret']) await api(server, 'DELETE', `sys/quotas/rate-limit/${name}`, { token: root });
    await api(server, 'PUT', 'sys/quotas/config', { token: root, body: { enable_rate_limit_response_headers: false } });
  }
});

test('bad quotas are refused with 400 and leave nothing behind', async () => {
  const bad: Array<[string, Record<string, unknown>, RegExp]> = [
    ['zero', { rate: 0 }, /rate must be positive/],
    ['text', { rate: 'fast' }, /rate must be positive/],
    ['nomount', { rate: 1, path: 'no-such-mount/' }, /no mount owns it/],
    ['glob', { rate: 1, path: 'secret/*/x' }, /one glob, at its end/],
    ['interval', { rate: 1, interval: '48h' }, /interval must be between/],
    ['role', { rate: 1, role: 'web' }, /role is not supported/],
  ];
  for (const [name, body, message] of bad) {
    const response = await api(server, 'PUT', `sys/quotas/rate-limit/${name}`, { token: root, body });
    assert.equal(response.status, 400, name);
    assert.match(response.body.errors[0], message);
  }
  assert.equal((await api(server, 'PUT', 'sys/quotas/rate-limit/bad%20name', { token: root, body: { rate: 1 } })).status, 400);
  assert.equal((await api(server, 'PUT', 'sys/quotas/config', { token: root, body: { enable_rate_limit_audit_logging: true } })).status, 400);
  assert.equal((await api(server, 'LIST', 'sys/quotas/rate-limit', { token: root })).status, 404, 'no quotas: an empty list is a 404, as Vault');
  // A token without a policy for sys/quotas cannot touch them.
  const created = await api(server, 'POST', 'auth/token/create', { token: root, body: { policies: ['default'] } });
  const plain: string = created.body.auth.client_token;
  assert.equal((await api(server, 'PUT', 'sys/quotas/rate-limit/sneaky', { token: plain, body: { rate: 1 } })).status, 403);
});

test('disabling a mount deletes its quotas, so a new mount at the same path starts without them', async () => {
  assert.equal((await api(server, 'POST', 'sys/mounts/quota-kv', { token: root, body: { type: 'kv', options: { version: '2' } } })).status, 204);
  assert.equal((await api(server, 'PUT', 'sys/quotas/rate-limit/on-mount', { token: root, body: { path: 'quota-kv/', rate: 1, interval: '1h' } })).status, 204);
  assert.equal((await api(server, 'DELETE', 'sys/mounts/quota-kv', { token: root })).status, 204);
  assert.equal((await api(server, 'GET', 'sys/quotas/rate-limit/on-mount', { token: root })).status, 404);
  assert.equal((await api(server, 'POST', 'sys/mounts/quota-kv', { token: root, body: { type: 'kv', options: { version: '2' } } })).status, 204);
  for (let i = 0; i < 3; i += 1) assert.equal((await api(server, 'LIST', 'quota-kv/metadata', { token: root })).status, 404, 'not limited: an empty list is 404');
  assert.equal((await api(server, 'DELETE', 'sys/mounts/quota-kv', { token: root })).status, 204);
});
