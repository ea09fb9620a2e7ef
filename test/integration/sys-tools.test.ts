/**
 * Vault's general purpose tools over HTTP: random bytes and hashing, with Vault's parameters,
 * limits and default-policy access (every token may hash; random bytes need a grant).
 */
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { api, startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let root: string;

before(async () => {
  server = await startTestServer({ dev: true, storage: 'memory' });
  root = server.rootToken as string;
});

after(async () => {
  await server?.destroy();
});

test('sys/tools/random returns fresh bytes in the size and encoding asked for, within the limit Vault sets', async () => {
  const first = await api(server, 'POST', 'sys/tools/random/16', { token: root, body: { format: 'hex' } });
  assert.equal(first.status, 200);
  assert.match(first.body.data.random_bytes, /^[0-9a-f]{32}$/);
  const second = await api(server, 'POST', 'sys/tools/random/platform/16', { token: root, body: { format: 'hex' } });
  assert.notEqual(second.body.data.random_bytes, first.body.data.random_bytes);
  const byDefault = await api(server, 'POST', 'sys/tools/random', { token: root, body: {} });
  assert.equal(Buffer.from(byDefault.body.data.random_bytes, 'base64').length, 32);
  assert.equal((await api(server, 'POST', 'sys/tools/random', { token: root, body: { bytes: 64 } })).body.data.random_bytes.length, 88);
  assert.equal((await api(server, 'POST', 'sys/tools/random', { token: root, body: { bytes: 200_000 } })).status, 400);
  assert.equal((await api(server, 'POST', 'sys/tools/random/0', { token: root, body: {} })).status, 400);
  assert.equal((await api(server, 'POST', 'sys/tools/random', { token: root, body: { format: 'base32' } })).status, 400);
});

test('sys/tools/hash digests base64 input with the algorithm names Vault uses, and any token may use it', async () => {
  const input = Buffer.from('coffer').toString('base64');
  const sha256 = await api(server, 'POST', 'sys/tools/hash', { token: root, body: { input } });
  assert.equal(sha256.status, 200);
  assert.equal(sha256.body.data.sum, createHash('sha256').update('coffer').digest('hex'));
  const sha512 = await api(server, 'POST', 'sys/tools/hash/sha2-512', { token: root, body: { input, format: 'base64' } });
  assert.equal(sha512.body.data.sum, createHash('sha512').update('coffer').digest('base64'));
  const truncated = await api(server, 'POST', 'sys/tools/hash/sha2-512/256', { token: root, body: { input } });
  assert.equal(truncated.body.data.sum, createHash('sha512-256').update('coffer').digest('hex'));
  assert.equal((await api(server, 'POST', 'sys/tools/hash/md5', { token: root, body: { input } })).status, 400);
  assert.equal((await api(server, 'POST', 'sys/tools/hash', { token: root, body: { input: 'not base64!' } })).status, 400);
  assert.equal((await api(server, 'POST', 'sys/tools/hash', { token: root, body: {} })).status, 400);

  const created = await api(server, 'POST', 'auth/token/create', { token: root, body: { policies: ['default'] } });
  const plain: string = created.body.auth.client_token;
  assert.equal((await api(server, 'POST', 'sys/tools/hash/sha3-256', { token: plain, body: { input } })).body.data.sum, createHash('sha3-256').update('coffer').digest('hex'));
  assert.equal((await api(server, 'POST', 'sys/tools/random', { token: plain, body: {} })).status, 403);
});
