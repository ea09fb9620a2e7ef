/**
 * Tests: KV v1 read, write, delete, list and input validation, and the mount version option.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { badRequest } from '../../core/errors.js';
import { createKvEngine } from './engine.js';
import { createKvHarness } from './harness.js';
import { createManualClock } from '../../core/clock.js';
import { createMemoryStorage } from '../../core/storage/memory.js';
import { silentLogger } from '../../core/logger.js';

test('KV v1 stores the body as given and reads it back', async () => {
  const kv = createKvHarness('1');
  assert.equal(await kv.call('write', 'app/db', { password: 'p', port: 5432, opts: { tls: true } }), null);
  assert.deepEqual(await kv.call('read', 'app/db'), { data: { password: 'p', port: 5432, opts: { tls: true } }, auditStoredData: 'all', refreshInterval: 0 });
  await kv.call('write', 'app/db', { password: 'q' });
  assert.deepEqual((await kv.call('read', 'app/db'))?.data, { password: 'q' }, 'a write replaces the whole value');
});

test('KV v1 tells create from update, deletes, and 404s missing keys', async () => {
  const kv = createKvHarness('1');
  const check = kv.engine.paths[0]?.existenceCheck;
  assert.ok(check);
  const req = { requestId: 'r', operation: 'update' as const, path: 'k', params: { path: 'k' }, data: {}, mountPath: 'kv/', auth: undefined, remoteAddress: '' };
  assert.equal(await check(req), false);
  await kv.call('write', 'k', { a: 1 });
  assert.equal(await check(req), true);
  assert.equal(await kv.call('delete', 'k'), null);
  assert.equal((await kv.fail('read', 'k')).code, 'not_found');
  assert.deepEqual(await kv.call('delete', 'k'), { unchanged: true }, 'deleting a missing key is a 204 that changed nothing');
});

test('KV v1 lists keys and folders at the root and below, 404 when empty', async () => {
  const kv = createKvHarness('1');
  assert.equal((await kv.fail('list', '')).code, 'not_found');
  await kv.call('write', 'a/b', { x: 1 });
  await kv.call('write', 'a/c/d', { x: 1 });
  await kv.call('write', 'top', { x: 1 });
  assert.deepEqual((await kv.call('list', ''))?.data, { keys: ['a/', 'top'] });
  assert.deepEqual((await kv.call('list', 'a/'))?.data, { keys: ['b', 'c/'] });
  assert.deepEqual((await kv.call('list', 'a'))?.data, { keys: ['b', 'c/'] });
});

test('KV v1 refuses empty bodies and bad paths with a 400', async () => {
  const kv = createKvHarness('1');
  assert.equal((await kv.fail('write', 'k', {})).message, 'missing data fields');
  for (const path of ['', 'a/../b', 'a//b', '.', 'a/']) {
    assert.equal((await kv.fail('write', path, { a: 1 })).code, 'bad_request', path);
  }
  assert.deepEqual(await kv.allKeys(), []);
});

test('a mount whose version option is neither 1 nor 2 is refused at construction', () => {
  assert.throws(
    () => createKvEngine({
      storage: createMemoryStorage(), clock: createManualClock(), logger: silentLogger,
      mount: { path: 'kv/', uuid: 'u', type: 'kv', options: { version: '3' }, defaultLeaseTtl: 0, maxLeaseTtl: 0 },
    }),
    (err: unknown) => err instanceof Error && err.message === badRequest('invalid kv version option: must be "1" or "2"').message,
  );
});
