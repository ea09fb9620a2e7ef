import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { createPlaintextCache } from './plaintext-cache.js';

function deferred<T>() {
  let resolve: (value: T) => void = () => undefined;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

test('a read that raced a write does not cache the value it read', async () => {
  const cache = createPlaintextCache({ maxEntries: 10 });
  const slowRead = deferred<Buffer | undefined>();
  const reading = cache.read('k', () => slowRead.promise);
  await cache.write('k', Buffer.from('new'), async () => undefined);
  slowRead.resolve(Buffer.from('old'));
  assert.deepEqual(await reading, Buffer.from('old'));
  let loads = 0;
  const value = await cache.read('k', async () => {
    loads++;
    return Buffer.from('from storage');
  });
  assert.deepEqual(value, Buffer.from('new'), 'the write, not the racing read, filled the cache');
  assert.equal(loads, 0);
});

test('a read that starts while a write is in flight does not fill the cache', async () => {
  const cache = createPlaintextCache({ maxEntries: 10 });
  const slowWrite = deferred<void>();
  const writing = cache.write('k', Buffer.from('new'), () => slowWrite.promise);
  await cache.read('k', async () => Buffer.from('old'));
  let loads = 0;
  await cache.read('k', async () => {
    loads++;
    return Buffer.from('old');
  });
  assert.equal(loads, 1, 'the first read was not cached');
  slowWrite.resolve();
  await writing;
  assert.deepEqual(
    await cache.read('k', async () => assert.fail('should be cached')),
    Buffer.from('new'),
  );
});

test('an older write finishing after a newer one does not overwrite the cache', async () => {
  const cache = createPlaintextCache({ maxEntries: 10 });
  const first = deferred<void>();
  const writingFirst = cache.write('k', Buffer.from('first'), () => first.promise);
  await cache.write('k', Buffer.from('second'), async () => undefined);
  first.resolve();
  await writingFirst;
  let loads = 0;
  const value = await cache.read('k', async () => {
    loads++;
    return Buffer.from('second');
  });
  assert.deepEqual(value, Buffer.from('second'));
  assert.equal(loads, 0);
});

test('a failed write leaves no entry behind', async () => {
  const cache = createPlaintextCache({ maxEntries: 10 });
  await cache.write('k', Buffer.from('v1'), async () => undefined);
  await assert.rejects(
    cache.write('k', Buffer.from('v2'), async () => {
      throw new Error('disk full');
    }),
  );
  assert.equal(cache.size, 0);
});

test('an operation in flight across clear() does not refill the cache', async () => {
  const cache = createPlaintextCache({ maxEntries: 10 });
  const slowRead = deferred<Buffer | undefined>();
  const reading = cache.read('k', () => slowRead.promise);
  const slowWrite = deferred<void>();
  const writing = cache.write('w', Buffer.from('w'), () => slowWrite.promise);
  cache.clear();
  slowRead.resolve(Buffer.from('v'));
  slowWrite.resolve();
  await Promise.all([reading, writing]);
  assert.equal(cache.size, 0);
});

test('the cache holds at most maxEntries values, and clear() leaves copies already handed out intact', async () => {
  const cache = createPlaintextCache({ maxEntries: 1 });
  await cache.read('a', async () => Buffer.from('secret-a'));
  await cache.read('b', async () => Buffer.from('secret-b'));
  assert.equal(cache.size, 1);
  const handedOut = (await cache.read('b', async () => assert.fail('b should be cached'))) as Buffer;
  let reloaded = false;
  await cache.read('a', async () => {
    reloaded = true;
    return Buffer.from('secret-a');
  });
  assert.equal(reloaded, true, 'a was evicted');
  cache.clear();
  assert.equal(cache.size, 0);
  assert.deepEqual(handedOut, Buffer.from('secret-b'));
});

test('maxEntries 0 disables caching and negative sizes are refused', async () => {
  const cache = createPlaintextCache({ maxEntries: 0 });
  let loads = 0;
  const load = async () => {
    loads++;
    return Buffer.from('v');
  };
  await cache.write('k', Buffer.from('v'), async () => undefined);
  await cache.read('k', load);
  await cache.read('k', load);
  assert.equal(loads, 2);
  assert.throws(() => createPlaintextCache({ maxEntries: -1 }), TypeError);
  assert.throws(() => createPlaintextCache({ maxEntries: 1.5 }), TypeError);
});

test('an absent key is remembered until something is written there', async () => {
  const cache = createPlaintextCache({ maxEntries: 10 });
  let loads = 0;
  const load = async (): Promise<Buffer | undefined> => {
    loads++;
    return undefined;
  };
  assert.equal(await cache.read('missing', load), undefined);
  assert.equal(await cache.read('missing', load), undefined);
  assert.equal(loads, 1, 'the second read of an absent key was served from the cache');
  await cache.write('missing', Buffer.from('now here'), async () => undefined);
  assert.deepEqual(await cache.read('missing', () => assert.fail('should be cached')), Buffer.from('now here'));
  await cache.write('missing', undefined, async () => undefined);
  assert.equal(await cache.read('missing', () => assert.fail('a delete is cached as absent')), undefined);
});

test('a batch leaves each key holding its last change, and a failed batch leaves nothing', async () => {
  const cache = createPlaintextCache({ maxEntries: 10 });
  await cache.write('gone', Buffer.from('old'), async () => undefined);
  await cache.writeMany(
    [
      { key: 'a', value: Buffer.from('a1') },
      { key: 'a', value: Buffer.from('a2') },
      { key: 'gone', value: undefined },
    ],
    async () => undefined,
  );
  assert.deepEqual(await cache.read('a', () => assert.fail('should be cached')), Buffer.from('a2'));
  assert.equal(await cache.read('gone', () => assert.fail('should be cached as absent')), undefined);

  await assert.rejects(cache.writeMany([{ key: 'a', value: Buffer.from('a3') }], async () => Promise.reject(new Error('disk full'))));
  let loads = 0;
  const value = await cache.read('a', async () => {
    loads++;
    return Buffer.from('a2');
  });
  assert.deepEqual(value, Buffer.from('a2'));
  assert.equal(loads, 1, 'the failed batch dropped the entry instead of caching its value');
});

test('a read that raced a batch does not cache the value it read', async () => {
  const cache = createPlaintextCache({ maxEntries: 10 });
  const slowRead = deferred<Buffer | undefined>();
  const reading = cache.read('k', () => slowRead.promise);
  await cache.writeMany([{ key: 'k', value: Buffer.from('new') }], async () => undefined);
  slowRead.resolve(undefined);
  assert.equal(await reading, undefined);
  assert.deepEqual(await cache.read('k', () => assert.fail('should be cached')), Buffer.from('new'));
});

test('invalidate drops a key changed behind the cache, and a read in flight across it does not fill', async () => {
  const cache = createPlaintextCache({ maxEntries: 10 });
  await cache.read('k', async () => Buffer.from('old'));
  await cache.read('other', async () => Buffer.from('other'));
  cache.invalidate('k');
  let loads = 0;
  const slowRead = deferred<Buffer | undefined>();
  const reading = cache.read('k', () => {
    loads++;
    return slowRead.promise;
  });
  // The file changed again while that read was loading the previous value.
  cache.invalidate('k');
  slowRead.resolve(Buffer.from('stale'));
  assert.deepEqual(await reading, Buffer.from('stale'));
  assert.deepEqual(await cache.read('k', async () => (loads++, Buffer.from('current'))), Buffer.from('current'));
  assert.equal(loads, 2, 'the stale load was not cached');
  assert.deepEqual(await cache.read('k', async () => assert.fail('should be cached')), Buffer.from('current'));
  assert.deepEqual(await cache.read('other', async () => assert.fail('untouched keys stay cached')), Buffer.from('other'));
  // Disabled caches accept it too.
  createPlaintextCache({ maxEntries: 0 }).invalidate('k');
});
