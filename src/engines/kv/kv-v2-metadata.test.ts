/**
 * Tests: KV v2 metadata, custom_metadata limits, max_versions pruning, listing, config and batch atomicity, driven through the engine's paths.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { createKvHarness } from './harness.js';

const write = (data: unknown): Record<string, unknown> => ({ data });

test('metadata read shows the version table and settings in Vault\'s shape', async () => {
  const kv = createKvHarness();
  await kv.call('write', 'data/app/k', write({ a: 1 }));
  kv.clock.advance(1500);
  await kv.call('write', 'data/app/k', write({ a: 2 }));
  const res = await kv.call('read', 'metadata/app/k');
  assert.deepEqual(res, {
    data: {
      cas_required: false,
      created_time: '2026-01-01T00:00:00.000000000Z',
      current_version: 2,
      custom_metadata: null,
      delete_version_after: '0s',
      max_versions: 0,
      oldest_version: 0,
      updated_time: '2026-01-01T00:00:01.500000000Z',
      versions: {
        '1': { created_time: '2026-01-01T00:00:00.000000000Z', deletion_time: '', destroyed: false },
        '2': { created_time: '2026-01-01T00:00:01.500000000Z', deletion_time: '', destroyed: false },
      },
    },
  });
  assert.equal((await kv.fail('read', 'metadata/app/missing')).code, 'not_found');
});

test('metadata write sets max_versions, cas_required, delete_version_after and custom_metadata', async () => {
  const kv = createKvHarness();
  assert.equal(
    await kv.call('write', 'metadata/k', { max_versions: 5, cas_required: true, delete_version_after: '3h25m19s', custom_metadata: { owner: 'team-a', n: 7 } }),
    null,
  );
  const data = (await kv.call('read', 'metadata/k'))?.data;
  assert.equal(data?.['max_versions'], 5);
  assert.equal(data?.['cas_required'], true);
  assert.equal(data?.['delete_version_after'], '3h25m19s');
  assert.deepEqual(data?.['custom_metadata'], { owner: 'team-a', n: '7' });
  assert.equal(data?.['current_version'], 0);
  assert.equal(data?.['created_time'], '2026-01-01T00:00:00.000000000Z');
  // cas 0 matches a key that has metadata but no version yet.
  const first = await kv.call('write', 'data/k', { data: { a: 1 }, options: { cas: 0 } });
  assert.deepEqual(first?.data?.['custom_metadata'], { owner: 'team-a', n: '7' });
  assert.equal(first?.data?.['deletion_time'], '2026-01-01T03:25:19.000000000Z');
});

test('a metadata write that sets nothing does not create the key', async () => {
  const kv = createKvHarness();
  assert.equal(await kv.call('write', 'metadata/k', {}), null);
  assert.equal((await kv.fail('read', 'metadata/k')).code, 'not_found');
});

test('metadata write refuses bad setting values with a 400 and changes nothing', async () => {
  const kv = createKvHarness();
  await kv.call('write', 'metadata/k', { max_versions: 3 });
  for (const body of [
    { max_versions: -1 }, { max_versions: 'many' }, { max_versions: 1.5 },
    { cas_required: 'maybe' }, { delete_version_after: '-5s' }, { delete_version_after: 'soon' },
    { custom_metadata: 'x' }, { custom_metadata: { a: { nested: true } } },
  ]) {
    assert.equal((await kv.fail('write', 'metadata/k', body)).code, 'bad_request', JSON.stringify(body));
  }
  assert.equal((await kv.call('read', 'metadata/k'))?.data?.['max_versions'], 3);
});

test('custom_metadata limits: 64 keys, keys up to 128 bytes, values 1 to 512 bytes, printable only', async () => {
  const kv = createKvHarness();
  const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
  const tooMany = await kv.fail('write', 'metadata/k', { custom_metadata: many });
  assert.match(tooMany.message, /at most 64 keys, provided 65/);
  delete many['k64'];
  assert.equal(await kv.call('write', 'metadata/k', { custom_metadata: many }), null);

  assert.equal(await kv.call('write', 'metadata/k', { custom_metadata: { ['k'.repeat(128)]: 'v'.repeat(512) } }), null);
  assert.equal((await kv.fail('write', 'metadata/k', { custom_metadata: { ['k'.repeat(129)]: 'v' } })).code, 'bad_request');
  const longValue = await kv.fail('write', 'metadata/k', { custom_metadata: { big: 'canary-' + 'v'.repeat(600) } });
  assert.equal(longValue.code, 'bad_request');
  assert.ok(!longValue.message.includes('canary-'), 'values are never echoed');
  assert.equal((await kv.fail('write', 'metadata/k', { custom_metadata: { empty: '' } })).code, 'bad_request');
  assert.equal((await kv.fail('write', 'metadata/k', { custom_metadata: { ctl: 'a\nb' } })).code, 'bad_request');
  assert.deepEqual((await kv.call('read', 'metadata/k'))?.data?.['custom_metadata'], { ['k'.repeat(128)]: 'v'.repeat(512) });
});

test('metadata patch changes only the given settings and merges custom_metadata', async () => {
  const kv = createKvHarness();
  assert.equal((await kv.fail('patch', 'metadata/k', { max_versions: 2 })).code, 'not_found');
  await kv.call('write', 'metadata/k', { max_versions: 4, cas_required: true, custom_metadata: { a: '1', b: '2' } });
  assert.equal(await kv.call('patch', 'metadata/k', { custom_metadata: { a: null, c: '3' }, delete_version_after: '10m' }), null);
  const data = (await kv.call('read', 'metadata/k'))?.data;
  assert.deepEqual(data?.['custom_metadata'], { b: '2', c: '3' });
  assert.equal(data?.['max_versions'], 4);
  assert.equal(data?.['cas_required'], true);
  assert.equal(data?.['delete_version_after'], '10m0s');
  await kv.call('patch', 'metadata/k', { cas_required: null, custom_metadata: null });
  const after = (await kv.call('read', 'metadata/k'))?.data;
  assert.equal(after?.['cas_required'], false);
  assert.equal(after?.['custom_metadata'], null);
});

test('a metadata write that turns off cas_required under a mount that mandates it warns', async () => {
  const kv = createKvHarness();
  await kv.call('write', 'config', { cas_required: true });
  const res = await kv.call('write', 'metadata/k', { cas_required: false });
  assert.equal(res?.warnings?.length, 1);
  assert.match(res?.warnings?.[0] ?? '', /mandated by backend config/);
});

test('metadata delete removes every version and the metadata from storage', async () => {
  const kv = createKvHarness();
  await kv.call('write', 'data/k', write({ a: 1 }));
  await kv.call('write', 'data/k', write({ a: 2 }));
  await kv.call('write', 'data/other', write({ a: 3 }));
  const before = (await kv.allKeys()).length;
  assert.equal(await kv.call('delete', 'metadata/k'), null);
  assert.equal((await kv.allKeys()).length, before - 3);
  assert.equal((await kv.fail('read', 'data/k')).code, 'not_found');
  assert.equal((await kv.fail('read', 'metadata/k')).code, 'not_found');
  assert.deepEqual(await kv.call('delete', 'metadata/k'), { unchanged: true }, 'deleting again is a 204 that changed nothing');
  // The key starts over at version 1.
  assert.equal((await kv.call('write', 'data/k', write({ a: 4 })))?.data?.['version'], 1);
});

test('writing past max_versions removes the oldest versions and moves oldest_version', async () => {
  const kv = createKvHarness();
  await kv.call('write', 'metadata/k', { max_versions: 3 });
  for (let i = 1; i <= 3; i++) await kv.call('write', 'data/k', write({ secret: `canary-v${i}` }));
  let meta = (await kv.call('read', 'metadata/k'))?.data;
  assert.equal(meta?.['oldest_version'], 1);
  assert.deepEqual(Object.keys(meta?.['versions'] as object), ['1', '2', '3']);
  for (let i = 4; i <= 5; i++) await kv.call('write', 'data/k', write({ secret: `canary-v${i}` }));
  meta = (await kv.call('read', 'metadata/k'))?.data;
  assert.equal(meta?.['oldest_version'], 3);
  assert.equal(meta?.['current_version'], 5);
  assert.deepEqual(Object.keys(meta?.['versions'] as object), ['3', '4', '5']);
  assert.equal((await kv.fail('read', 'data/k', { version: '2' })).code, 'not_found');
  const dump = (await Promise.all((await kv.allKeys()).map(async (key) => (await kv.physical.get(key))!.toString()))).join('\n');
  assert.ok(!dump.includes('canary-v1') && !dump.includes('canary-v2'), 'pruned data left storage');
  assert.ok(dump.includes('canary-v3'));
});

test('max_versions 0 keeps the default of 10, and lowering it drops several versions at the next write', async () => {
  const kv = createKvHarness();
  for (let i = 1; i <= 12; i++) await kv.call('write', 'data/k', write({ n: i }));
  let meta = (await kv.call('read', 'metadata/k'))?.data;
  assert.equal(Object.keys(meta?.['versions'] as object).length, 10);
  assert.equal(meta?.['oldest_version'], 3);
  await kv.call('write', 'metadata/k', { max_versions: 2 });
  // The larger of key and mount max_versions applies; the mount is unset here.
  await kv.call('write', 'data/k', write({ n: 13 }));
  meta = (await kv.call('read', 'metadata/k'))?.data;
  assert.deepEqual(Object.keys(meta?.['versions'] as object), ['12', '13']);
  assert.equal(meta?.['oldest_version'], 12);
});

test('the mount max_versions applies to keys that do not set their own', async () => {
  const kv = createKvHarness();
  await kv.call('write', 'config', { max_versions: 2 });
  for (let i = 1; i <= 4; i++) await kv.call('write', 'data/k', write({ n: i }));
  assert.deepEqual(Object.keys((await kv.call('read', 'metadata/k'))?.data?.['versions'] as object), ['3', '4']);
});

test('list shows keys and folders, with or without a trailing slash, and 404 when empty', async () => {
  const kv = createKvHarness();
  assert.equal((await kv.fail('list', 'metadata/')).code, 'not_found');
  await kv.call('write', 'data/app/db', write({ a: 1 }));
  await kv.call('write', 'data/app/api/key', write({ a: 1 }));
  await kv.call('write', 'data/app', write({ a: 1 }));
  await kv.call('write', 'data/top', write({ a: 1 }));
  assert.deepEqual((await kv.call('list', 'metadata/'))?.data, { keys: ['app', 'app/', 'top'] });
  assert.deepEqual((await kv.call('list', 'metadata'))?.data, { keys: ['app', 'app/', 'top'] });
  assert.deepEqual((await kv.call('list', 'metadata/app/'))?.data, { keys: ['api/', 'db'] });
  assert.deepEqual((await kv.call('list', 'metadata/app'))?.data, { keys: ['api/', 'db'] });
  assert.equal((await kv.fail('list', 'metadata/nothing/')).code, 'not_found');
  assert.equal((await kv.fail('list', 'metadata/a/../')).code, 'bad_request');
  await kv.call('delete', 'metadata/app/api/key');
  assert.deepEqual((await kv.call('list', 'metadata/app/'))?.data, { keys: ['db'] });
});

test('config reads defaults and stores updates', async () => {
  const kv = createKvHarness();
  assert.deepEqual((await kv.call('read', 'config'))?.data, { cas_required: false, delete_version_after: '0s', max_versions: 0 });
  assert.equal(await kv.call('write', 'config', { max_versions: '7', cas_required: 'true', delete_version_after: 90 }), null);
  assert.deepEqual((await kv.call('read', 'config'))?.data, { cas_required: true, delete_version_after: '1m30s', max_versions: 7 });
  await kv.call('write', 'config', { delete_version_after: 0 });
  assert.equal((await kv.call('read', 'config'))?.data?.['delete_version_after'], '0s');
  assert.equal((await kv.fail('write', 'config', { max_versions: -3 })).code, 'bad_request');
  assert.equal((await kv.call('read', 'config'))?.data?.['max_versions'], 7);
});

test('every multi-entry change reaches storage as one batch', async () => {
  const kv = createKvHarness();
  const batches: string[][] = [];
  const puts: string[] = [];
  const physical = kv.physical;
  const originalBatch = physical.batch.bind(physical);
  const originalPut = physical.put.bind(physical);
  physical.batch = async (ops) => {
    batches.push(ops.map((op) => `${op.type} ${op.key.split('/').slice(2, 3).join('')}`));
    return originalBatch(ops);
  };
  physical.put = async (key, value) => {
    puts.push(key);
    return originalPut(key, value);
  };
  await kv.call('write', 'metadata/k', { max_versions: 1 });
  puts.length = 0;
  await kv.call('write', 'data/k', write({ a: 1 }));
  await kv.call('write', 'data/k', write({ a: 2 }));
  assert.deepEqual(puts, [], 'no version write bypasses the batch');
  assert.deepEqual(batches[1], ['put versions', 'put metadata', 'delete versions']);
  await kv.call('write', 'destroy/k', { versions: [2] });
  assert.deepEqual(batches[2], ['put metadata', 'delete versions']);
});
