/**
 * Tests: KV v2 data, versions, CAS, delete/undelete/destroy, delete_version_after, subkeys and concurrency, driven through the engine's paths.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { createKvHarness } from './harness.js';

const body = (data: unknown, options?: Record<string, unknown>): Record<string, unknown> =>
  options === undefined ? { data } : { data, options };

test('a write returns the new version metadata and a read returns data and metadata', async () => {
  const kv = createKvHarness();
  const written = await kv.call('write', 'data/app/db', body({ password: 's3cr3t', port: 5432, nested: { a: [1, 2] } }));
  assert.deepEqual(written, {
    data: { created_time: '2026-01-01T00:00:00.000000000Z', custom_metadata: null, deletion_time: '', destroyed: false, version: 1 },
  });
  const read = await kv.call('read', 'data/app/db');
  assert.deepEqual(read, {
    data: {
      data: { password: 's3cr3t', port: 5432, nested: { a: [1, 2] } },
      metadata: { created_time: '2026-01-01T00:00:00.000000000Z', custom_metadata: null, deletion_time: '', destroyed: false, version: 1 },
    },
    auditStoredData: 'data',
  });
});

test('each write adds a version and ?version= reads an older one; 0 or none means the latest', async () => {
  const kv = createKvHarness();
  for (let i = 1; i <= 3; i++) {
    kv.clock.advance(1000);
    const res = await kv.call('write', 'data/k', body({ n: i }));
    assert.equal(res?.data?.['version'], i);
  }
  assert.deepEqual((await kv.call('read', 'data/k', { version: '2' }))?.data?.['data'], { n: 2 });
  assert.deepEqual((await kv.call('read', 'data/k', { version: '0' }))?.data?.['data'], { n: 3 });
  assert.deepEqual((await kv.call('read', 'data/k'))?.data?.['data'], { n: 3 });
  const v1 = await kv.call('read', 'data/k', { version: '1' });
  assert.equal((v1?.data?.['metadata'] as Record<string, unknown>)['created_time'], '2026-01-01T00:00:01.000000000Z');
});

test('a read of a missing key or a version that never existed is a plain 404', async () => {
  const kv = createKvHarness();
  assert.equal((await kv.fail('read', 'data/nope')).code, 'not_found');
  await kv.call('write', 'data/k', body({ a: 1 }));
  assert.equal((await kv.fail('read', 'data/k', { version: '7' })).code, 'not_found');
});

test('the existence check tells create from update', async () => {
  const kv = createKvHarness();
  const check = kv.engine.paths.find((p) => p.pattern.startsWith('data/'))?.existenceCheck;
  assert.ok(check);
  const req = (path: string) => ({
    requestId: 'r', operation: 'update' as const, path: `data/${path}`, params: { path }, data: {},
    mountPath: 'secret/', auth: undefined, remoteAddress: '127.0.0.1',
  });
  assert.equal(await check(req('k')), false);
  await kv.call('write', 'data/k', body({ a: 1 }));
  assert.equal(await check(req('k')), true);
  assert.equal(await check(req('../k')), false);
});

test('check-and-set succeeds on the current version and fails with cas_mismatch otherwise', async () => {
  const kv = createKvHarness();
  await kv.call('write', 'data/k', body({ a: 1 }));
  const ok = await kv.call('write', 'data/k', body({ a: 2 }, { cas: 1 }));
  assert.equal(ok?.data?.['version'], 2);
  const err = await kv.fail('write', 'data/k', body({ a: 3 }, { cas: 1 }));
  assert.equal(err.code, 'cas_mismatch');
  assert.equal(err.message, 'check-and-set parameter did not match the current version');
  assert.deepEqual((await kv.call('read', 'data/k'))?.data?.['data'], { a: 2 });
});

test('cas 0 writes only when the key does not exist yet', async () => {
  const kv = createKvHarness();
  const first = await kv.call('write', 'data/k', body({ a: 1 }, { cas: 0 }));
  assert.equal(first?.data?.['version'], 1);
  assert.equal((await kv.fail('write', 'data/k', body({ a: 2 }, { cas: 0 }))).code, 'cas_mismatch');
});

test('cas given as a numeric string is accepted and a non-numeric one is a 400', async () => {
  const kv = createKvHarness();
  await kv.call('write', 'data/k', body({ a: 1 }));
  assert.equal((await kv.call('write', 'data/k', body({ a: 2 }, { cas: '1' })))?.data?.['version'], 2);
  const err = await kv.fail('write', 'data/k', body({ a: 3 }, { cas: 'one' }));
  assert.equal(err.code, 'bad_request');
});

test('cas_required on the key refuses writes without cas', async () => {
  const kv = createKvHarness();
  await kv.call('write', 'data/k', body({ a: 1 }));
  await kv.call('write', 'metadata/k', { cas_required: true });
  const err = await kv.fail('write', 'data/k', body({ a: 2 }));
  assert.equal(err.code, 'cas_required');
  assert.equal(err.message, 'check-and-set parameter required for this call');
  assert.equal((await kv.call('write', 'data/k', body({ a: 2 }, { cas: 1 })))?.data?.['version'], 2);
});

test('cas_required on the mount refuses writes and patches without cas on every key', async () => {
  const kv = createKvHarness();
  await kv.call('write', 'data/k', body({ a: 1 }));
  await kv.call('write', 'config', { cas_required: true });
  assert.equal((await kv.fail('write', 'data/other', body({ a: 1 }))).code, 'cas_required');
  assert.equal((await kv.fail('patch', 'data/k', body({ b: 1 }))).code, 'cas_required');
  assert.equal((await kv.call('write', 'data/other', body({ a: 1 }, { cas: 0 })))?.data?.['version'], 1);
  assert.equal((await kv.call('patch', 'data/k', body({ b: 1 }, { cas: 1 })))?.data?.['version'], 2);
});

test('a write whose data is not a JSON object is a 400 "no data provided"', async () => {
  const kv = createKvHarness();
  for (const data of [undefined, null, 'text', 42, [1, 2], true]) {
    const err = await kv.fail('write', 'data/k', data === undefined ? {} : { data });
    assert.equal(err.code, 'bad_request');
    assert.equal(err.message, 'no data provided');
  }
  assert.equal((await kv.fail('patch', 'data/k', { data: [1] })).message, 'no data provided');
  assert.deepEqual(await kv.allKeys(), []);
});

test('an invalid version number is a 400', async () => {
  const kv = createKvHarness();
  await kv.call('write', 'data/k', body({ a: 1 }));
  for (const version of ['abc', '-1', '1.5', '1e3']) {
    assert.equal((await kv.fail('read', 'data/k', { version })).code, 'bad_request', version);
  }
});

test('a read of the mount root or of a folder is a 404, as in Vault; a hostile path still a 400', async () => {
  const kv = createKvHarness();
  await kv.call('write', 'data/dir/k', body({ a: 1 }));
  for (const path of ['data/', 'data/dir/', 'metadata/', 'metadata/dir/', 'subkeys/', 'subkeys/dir/']) {
    assert.equal((await kv.fail('read', path)).code, 'not_found', path);
  }
  for (const path of ['data/dir/../', 'data/a//', 'metadata/./', 'subkeys/..']) {
    assert.equal((await kv.fail('read', path)).code, 'bad_request', path);
  }
});

test('empty, relative, doubled-slash and overlong secret paths are a 400', async () => {
  const kv = createKvHarness();
  const bad = ['', '.', '..', 'a/../b', './a', 'a/./b', 'a//b', '/a', 'a/', 'a\u0000b', 'x'.repeat(1025)];
  for (const path of bad) {
    for (const [op, data] of [['read', {}], ['write', body({ a: 1 })], ['delete', {}]] as const) {
      // A read of nothing or of a folder is a miss, as in Vault (next test).
      if (op === 'read' && (path === '' || path.endsWith('/'))) continue;
      const err = await kv.fail(op, `data/${path}`, data);
      assert.equal(err.code, 'bad_request', `${op} ${JSON.stringify(path.slice(0, 20))}`);
      assert.ok(!err.message.includes(path) || path === '', 'the path is not echoed');
    }
  }
  assert.equal((await kv.fail('write', 'metadata/a/../b', { max_versions: 1 })).code, 'bad_request');
  assert.equal((await kv.fail('write', 'destroy/..', { versions: [1] })).code, 'bad_request');
  assert.equal((await kv.call('write', 'data/' + 'x'.repeat(1024), body({ a: 1 })))?.data?.['version'], 1);
  assert.deepEqual((await kv.allKeys()).length, 2, 'only the valid 1024-byte path was stored');
});

test('values may be any JSON, including keys named like Object prototype members', async () => {
  const kv = createKvHarness();
  const data = JSON.parse('{"__proto__":{"polluted":true},"constructor":"c","n":1.5,"b":false,"z":null,"arr":[{"x":"y"}]}');
  await kv.call('write', 'data/weird', { data });
  const read = (await kv.call('read', 'data/weird'))?.data?.['data'] as Record<string, unknown>;
  assert.equal(JSON.stringify(read), JSON.stringify(data));
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
});

test('data nested deeper than the limit is refused with a 400', async () => {
  const kv = createKvHarness();
  let deep: Record<string, unknown> = { leaf: 1 };
  for (let i = 0; i < 600; i++) deep = { d: deep };
  assert.equal((await kv.fail('write', 'data/deep', { data: deep })).code, 'bad_request');
});

test('patch merges into the latest version as an RFC 7386 merge patch', async () => {
  const kv = createKvHarness();
  await kv.call('write', 'data/k', body({ keep: 'x', drop: 'y', nested: { a: 1, b: 2 }, list: [1, 2] }));
  kv.clock.advance(5000);
  const res = await kv.call('patch', 'data/k', body({ drop: null, nested: { b: null, c: 3 }, list: [3], added: { deep: true } }));
  assert.deepEqual(res?.data, {
    created_time: '2026-01-01T00:00:05.000000000Z', custom_metadata: null, deletion_time: '', destroyed: false, version: 2,
  });
  assert.deepEqual((await kv.call('read', 'data/k'))?.data?.['data'], {
    keep: 'x', nested: { a: 1, c: 3 }, list: [3], added: { deep: true },
  });
  assert.deepEqual((await kv.call('read', 'data/k', { version: '1' }))?.data?.['data'], {
    keep: 'x', drop: 'y', nested: { a: 1, b: 2 }, list: [1, 2],
  });
});

test('patch of a missing key is a 404 and patch of a deleted latest version is a 404 with its metadata', async () => {
  const kv = createKvHarness();
  assert.equal((await kv.fail('patch', 'data/missing', body({ a: 1 }))).code, 'not_found');
  await kv.call('write', 'data/k', body({ a: 1 }));
  await kv.call('delete', 'data/k');
  const res = await kv.call('patch', 'data/k', body({ a: 2 }));
  assert.equal(res?.statusCode, 404);
  assert.equal(res?.data?.['version'], 1);
  assert.equal(res?.data?.['deletion_time'], '2026-01-01T00:00:00.000000000Z');
  assert.equal((await kv.call('read', 'metadata/k'))?.data?.['current_version'], 1, 'no version was added');
});

test('DELETE on data soft-deletes the latest version, which then reads as 404 with metadata', async () => {
  const kv = createKvHarness();
  await kv.call('write', 'data/k', body({ a: 1 }));
  await kv.call('write', 'data/k', body({ a: 2 }));
  kv.clock.advance(2000);
  assert.equal(await kv.call('delete', 'data/k'), null);
  // Deleting again, or a secret that never existed, changes nothing and says so (no change event).
  assert.deepEqual(await kv.call('delete', 'data/k'), { unchanged: true });
  assert.deepEqual(await kv.call('delete', 'data/never'), { unchanged: true });
  const res = await kv.call('read', 'data/k');
  assert.deepEqual(res, {
    statusCode: 404,
    data: {
      data: null,
      metadata: {
        created_time: '2026-01-01T00:00:00.000000000Z', custom_metadata: null,
        deletion_time: '2026-01-01T00:00:02.000000000Z', destroyed: false, version: 2,
      },
    },
  });
  assert.deepEqual((await kv.call('read', 'data/k', { version: '1' }))?.data?.['data'], { a: 1 });
  assert.deepEqual(await kv.call('delete', 'data/missing'), { unchanged: true }, 'deleting a missing key is a 204 that changed nothing');
});

test('delete and undelete of chosen versions', async () => {
  const kv = createKvHarness();
  for (let i = 1; i <= 3; i++) await kv.call('write', 'data/k', body({ n: i }));
  assert.equal(await kv.call('write', 'delete/k', { versions: [1, 2, 99] }), null);
  assert.equal((await kv.call('read', 'data/k', { version: '1' }))?.statusCode, 404);
  assert.equal((await kv.call('read', 'data/k', { version: '2' }))?.statusCode, 404);
  assert.deepEqual((await kv.call('read', 'data/k'))?.data?.['data'], { n: 3 });
  assert.equal(await kv.call('write', 'undelete/k', { versions: '1' }), null);
  const v1 = await kv.call('read', 'data/k', { version: '1' });
  assert.equal(v1?.statusCode, undefined);
  assert.deepEqual(v1?.data?.['data'], { n: 1 });
  assert.equal((v1?.data?.['metadata'] as Record<string, unknown>)['deletion_time'], '');
  assert.equal((await kv.call('read', 'data/k', { version: '2' }))?.statusCode, 404);
});

test('delete, undelete and destroy need a version list', async () => {
  const kv = createKvHarness();
  await kv.call('write', 'data/k', body({ a: 1 }));
  for (const verb of ['delete', 'undelete', 'destroy']) {
    assert.equal((await kv.fail('write', `${verb}/k`, {})).code, 'bad_request');
    assert.equal((await kv.fail('write', `${verb}/k`, { versions: [] })).code, 'bad_request');
    assert.equal((await kv.fail('write', `${verb}/k`, { versions: ['x'] })).code, 'bad_request');
    assert.equal((await kv.fail('write', `${verb}/k`, { versions: [-1] })).code, 'bad_request');
  }
  assert.deepEqual(await kv.call('write', 'destroy/missing', { versions: [1] }), { unchanged: true }, 'unknown keys are a 204 that changed nothing');
  for (const verb of ['delete', 'undelete', 'destroy']) assert.deepEqual(await kv.call('write', `${verb}/k`, { versions: [7] }), { unchanged: true }, `${verb} of a version that never existed`);
});

test('destroy removes the version data from storage for good and marks it destroyed', async () => {
  const kv = createKvHarness();
  await kv.call('write', 'data/k', body({ secret: 'canary-destroy-1' }));
  await kv.call('write', 'data/k', body({ secret: 'canary-destroy-2' }));
  assert.equal(await kv.call('write', 'destroy/k', { versions: [1] }), null);

  const dump = await Promise.all((await kv.allKeys()).map(async (key) => (await kv.physical.get(key))!.toString('utf8')));
  assert.ok(!dump.some((value) => value.includes('canary-destroy-1')), 'destroyed data is gone from storage');
  assert.ok(dump.some((value) => value.includes('canary-destroy-2')));

  const res = await kv.call('read', 'data/k', { version: '1' });
  assert.equal(res?.statusCode, 404);
  assert.deepEqual(res?.data?.['data'], null);
  assert.equal((res?.data?.['metadata'] as Record<string, unknown>)['destroyed'], true);
  const versions = (await kv.call('read', 'metadata/k'))?.data?.['versions'] as Record<string, Record<string, unknown>>;
  assert.equal(versions['1']?.['destroyed'], true);
  assert.deepEqual(await kv.call('write', 'undelete/k', { versions: [1] }), { unchanged: true });
  assert.equal((await kv.call('read', 'data/k', { version: '1' }))?.statusCode, 404, 'undelete cannot restore a destroyed version');
});

test('delete_version_after on the mount makes versions read as deleted once the delay has passed', async () => {
  const kv = createKvHarness();
  await kv.call('write', 'config', { delete_version_after: '1h' });
  const written = await kv.call('write', 'data/k', body({ a: 1 }));
  assert.equal(written?.data?.['deletion_time'], '2026-01-01T01:00:00.000000000Z');
  kv.clock.advance(3600_000 - 1);
  assert.deepEqual((await kv.call('read', 'data/k'))?.data?.['data'], { a: 1 });
  kv.clock.advance(1);
  const res = await kv.call('read', 'data/k');
  assert.equal(res?.statusCode, 404);
  assert.equal((res?.data?.['metadata'] as Record<string, unknown>)['deletion_time'], '2026-01-01T01:00:00.000000000Z');
});

test('the smaller of the key and mount delete_version_after applies, and a negative mount value disables it', async () => {
  const kv = createKvHarness();
  await kv.call('write', 'config', { delete_version_after: '2h' });
  await kv.call('write', 'metadata/k', { delete_version_after: '30m' });
  assert.equal((await kv.call('write', 'data/k', body({ a: 1 })))?.data?.['deletion_time'], '2026-01-01T00:30:00.000000000Z');
  await kv.call('write', 'metadata/k', { delete_version_after: '3h' });
  assert.equal((await kv.call('write', 'data/k', body({ a: 1 })))?.data?.['deletion_time'], '2026-01-01T02:00:00.000000000Z');
  await kv.call('write', 'config', { delete_version_after: '-1s' });
  assert.equal((await kv.call('write', 'data/k', body({ a: 1 })))?.data?.['deletion_time'], '');
  assert.equal((await kv.call('read', 'config'))?.data?.['delete_version_after'], '-1s');
});

test('undelete reschedules deletion from now when delete_version_after applies', async () => {
  const kv = createKvHarness();
  await kv.call('write', 'metadata/k', { delete_version_after: 60 });
  await kv.call('write', 'data/k', body({ a: 1 }));
  kv.clock.advance(120_000);
  assert.equal((await kv.call('read', 'data/k'))?.statusCode, 404);
  await kv.call('write', 'undelete/k', { versions: [1] });
  const res = await kv.call('read', 'data/k');
  assert.deepEqual(res?.data?.['data'], { a: 1 });
  assert.equal((res?.data?.['metadata'] as Record<string, unknown>)['deletion_time'], '2026-01-01T00:03:00.000000000Z');
});

test('fifty concurrent writes to one key produce versions 1 to 50 with none lost', async () => {
  const kv = createKvHarness();
  const results = await Promise.all(
    Array.from({ length: 50 }, (_, i) => kv.call('write', 'data/hot', body({ writer: i }))),
  );
  const versions = results.map((res) => res?.data?.['version'] as number).sort((a, b) => a - b);
  assert.deepEqual(versions, Array.from({ length: 50 }, (_, i) => i + 1));
  const meta = await kv.call('read', 'metadata/hot');
  assert.equal(meta?.data?.['current_version'], 50);
  // The default window keeps the last 10 versions; each holds the data of the writer told it got it.
  const writerOf = new Map(results.map((res, writer) => [res?.data?.['version'] as number, writer]));
  const writers = new Set<number>();
  for (let v = 41; v <= 50; v++) {
    const read = await kv.call('read', 'data/hot', { version: String(v) });
    const writer = (read?.data?.['data'] as Record<string, number>)['writer'];
    assert.equal(writer, writerOf.get(v));
    writers.add(writer as number);
  }
  assert.equal(writers.size, 10, 'ten distinct writers own the last ten versions');
});

test('subkeys shows the structure with every value replaced by null, honouring depth', async () => {
  const kv = createKvHarness();
  await kv.call('write', 'data/k', body({ foo: 'abc', bar: { baz: 'def', deeper: { x: 1 } }, quux: {} }));
  const res = await kv.call('read', 'subkeys/k');
  assert.deepEqual(res?.data?.['subkeys'], { foo: null, bar: { baz: null, deeper: { x: null } }, quux: null });
  assert.equal((res?.data?.['metadata'] as Record<string, unknown>)['version'], 1);
  const shallow = await kv.call('read', 'subkeys/k', { depth: '1' });
  assert.deepEqual(shallow?.data?.['subkeys'], { foo: null, bar: null, quux: null });
  const two = await kv.call('read', 'subkeys/k', { depth: '2' });
  assert.deepEqual(two?.data?.['subkeys'], { foo: null, bar: { baz: null, deeper: null }, quux: null });
  await kv.call('delete', 'data/k');
  const gone = await kv.call('read', 'subkeys/k');
  assert.equal(gone?.statusCode, 404);
  assert.equal(gone?.data?.['subkeys'], null);
  assert.ok(!JSON.stringify(res).includes('abc') && !JSON.stringify(res).includes('def'));
});

test('a read that races a destroy answers 404 with the destroyed metadata, not an error', async () => {
  const kv = createKvHarness();
  await kv.call('write', 'data/k', body({ a: 1 }));
  const originalGet = kv.physical.get.bind(kv.physical);
  let raced = false;
  kv.physical.get = async (key) => {
    // Destroy the version after the reader has loaded the metadata but before it loads the data.
    if (!raced && key.includes('/versions/')) {
      raced = true;
      await kv.call('write', 'destroy/k', { versions: [1] });
    }
    return originalGet(key);
  };
  const res = await kv.call('read', 'data/k');
  assert.equal(raced, true);
  assert.equal(res?.statusCode, 404);
  assert.equal((res?.data?.['metadata'] as Record<string, unknown>)['destroyed'], true);
});
