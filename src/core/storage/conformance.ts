/**
 * The one behaviour suite every Storage implementation must pass: physical backends, the
 * barrier, scoped views. Each implementation's test file calls `runStorageConformance` once.
 *
 * Owns: the observable contract of storage.ts, as tests. Must never depend on how a backend
 * works inside; it sees only the Storage interface.
 */
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import type { Storage, WriteOp } from './storage.js';

export interface StorageUnderTest {
  readonly storage: Storage;
  /** Releases everything the factory made (closes the backend, removes its files). */
  readonly cleanup: () => Promise<void>;
}

/**
 * Registers `describe(name)` with the shared cases. `factory` must return a fresh, empty
 * storage for every case.
 */
export function runStorageConformance(name: string, factory: () => Promise<StorageUnderTest>): void {
  const withStorage = (body: (storage: Storage) => Promise<void>) => async (): Promise<void> => {
    const { storage, cleanup } = await factory();
    try {
      await body(storage);
    } finally {
      await cleanup();
    }
  };

  describe(`${name}: storage conformance`, () => {
    describe('reads and writes', () => {
      it('returns undefined for a key that was never written', withStorage(async (s) => {
        assert.equal(await s.get('missing'), undefined);
        assert.equal(await s.get('missing/deeper/key'), undefined);
      }));

      it('gives back every byte value exactly as it was stored', withStorage(async (s) => {
        const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
        const reversed = Buffer.from(all).reverse();
        await s.put('bytes/all', all);
        await s.put('bytes/reversed', reversed);
        assert.deepEqual(await s.get('bytes/all'), all);
        assert.deepEqual(await s.get('bytes/reversed'), reversed);
      }));

      it('stores an empty value as present and empty, not as missing', withStorage(async (s) => {
        await s.put('empty', Buffer.alloc(0));
        const got = await s.get('empty');
        assert.ok(got instanceof Uint8Array, 'an empty value must read back as bytes');
        assert.equal(got?.length, 0);
        assert.deepEqual(await s.list(''), ['empty']);
      }));

      it('round-trips a 1 MiB value', withStorage(async (s) => {
        const big = Buffer.alloc(1024 * 1024);
        for (let i = 0; i < big.length; i += 1) big[i] = (i * 31 + (i >> 8)) & 0xff;
        await s.put('big', big);
        const got = await s.get('big');
        assert.equal(got?.length, big.length);
        assert.ok(got?.equals(big), 'the 1 MiB value changed in storage');
      }));

      it('replaces the value when a key is written again', withStorage(async (s) => {
        await s.put('k', Buffer.from('first, and longer'));
        await s.put('k', Buffer.from('second'));
        assert.deepEqual(await s.get('k'), Buffer.from('second'));
        assert.deepEqual(await s.list(''), ['k']);
      }));

      it('deletes a key, and deleting a missing key is not an error', withStorage(async (s) => {
        await s.put('a/b', Buffer.from('x'));
        await s.put('a/c', Buffer.from('y'));
        await s.delete('a/b');
        assert.equal(await s.get('a/b'), undefined);
        assert.deepEqual(await s.get('a/c'), Buffer.from('y'));
        await s.delete('a/b');
        await s.delete('never/written');
        assert.deepEqual(await s.list('a/'), ['c']);
      }));

      it('hands out copies: mutating a returned value does not change what is stored', withStorage(async (s) => {
        await s.put('k', Buffer.from('original'));
        const first = await s.get('k');
        assert.ok(first !== undefined);
        first.fill(0x41);
        assert.deepEqual(await s.get('k'), Buffer.from('original'));
      }));

      it('copies what it is given: mutating a buffer after put does not change what is stored', withStorage(async (s) => {
        const value = Buffer.from('original');
        const pending = s.put('k', value);
        value.fill(0x41);
        await pending;
        value.fill(0x42);
        assert.deepEqual(await s.get('k'), Buffer.from('original'));

        const batchValue = Buffer.from('in a batch');
        const batched = s.batch([{ type: 'put', key: 'b', value: batchValue }]);
        batchValue.fill(0x43);
        await batched;
        assert.deepEqual(await s.get('b'), Buffer.from('in a batch'));
      }));

      it('lands all of 200 concurrent puts', withStorage(async (s) => {
        const keys = Array.from({ length: 200 }, (_, i) => `concurrent/${String(i).padStart(3, '0')}`);
        await Promise.all(keys.map((key) => s.put(key, Buffer.from(`value of ${key}`))));
        for (const key of keys) assert.deepEqual(await s.get(key), Buffer.from(`value of ${key}`));
        assert.deepEqual(await s.list('concurrent/'), keys.map((key) => key.slice('concurrent/'.length)));
      }));

      it('applies concurrent writes to one key in call order', withStorage(async (s) => {
        const writes = Array.from({ length: 50 }, (_, i) => s.put('same', Buffer.from(String(i))));
        await Promise.all(writes);
        assert.deepEqual(await s.get('same'), Buffer.from('49'));
      }));
    });

    describe('refusals', () => {
      it('refuses keys it could not store and give back unchanged', withStorage(async (s) => {
        // A lone surrogate has no UTF-8 form; a text-keyed backend would alias it to U+FFFD.
        for (const key of ['', 'half\uD83D', '\uDD11tail']) {
          await assert.rejects(s.put(key, Buffer.from('v')), `put accepted ${JSON.stringify(key)}`);
          await assert.rejects(s.get(key), `get accepted ${JSON.stringify(key)}`);
        }
        assert.deepEqual(await s.list(''), []);
      }));

      it('refuses a list prefix that is neither empty nor ends in "/"', withStorage(async (s) => {
        await s.put('dir/child', Buffer.from('v'));
        await assert.rejects(s.list('dir'));
        await assert.rejects(s.list('di'));
      }));

      it('rejects through the promise, never by throwing synchronously', withStorage(async (s) => {
        let pending: Promise<unknown> | undefined;
        assert.doesNotThrow(() => {
          pending = s.put('', Buffer.from('v'));
        });
        await assert.rejects(pending as Promise<unknown>);
      }));
    });

    describe('list', () => {
      it('lists immediate children, each folder once with a trailing slash, sorted', withStorage(async (s) => {
        for (const key of ['dir/b', 'dir/a', 'dir/sub/x', 'dir/sub/y', 'dir/sub/deep/z', 'dir/other/q', 'elsewhere/k']) {
          await s.put(key, Buffer.from(key));
        }
        assert.deepEqual(await s.list('dir/'), ['a', 'b', 'other/', 'sub/']);
        assert.deepEqual(await s.list('dir/sub/'), ['deep/', 'x', 'y']);
        assert.deepEqual(await s.list('dir/sub/deep/'), ['z']);
      }));

      it('lists the top level for the empty prefix', withStorage(async (s) => {
        for (const key of ['top', 'a/b', 'a/c/d', 'z/1']) await s.put(key, Buffer.from('v'));
        assert.deepEqual(await s.list(''), ['a/', 'top', 'z/']);
      }));

      it('returns an empty list for an empty store and for a prefix with nothing under it', withStorage(async (s) => {
        assert.deepEqual(await s.list(''), []);
        await s.put('a/b', Buffer.from('v'));
        assert.deepEqual(await s.list('nothing/'), []);
        assert.deepEqual(await s.list('a/b/'), []);
      }));

      it('lists a name both as a leaf and as a folder when both exist', withStorage(async (s) => {
        await s.put('p/node', Buffer.from('leaf'));
        await s.put('p/node/child', Buffer.from('below'));
        assert.deepEqual(await s.list('p/'), ['node', 'node/']);
        assert.deepEqual(await s.list('p/node/'), ['child']);
      }));

      it('does not list siblings that merely share the prefix text', withStorage(async (s) => {
        await s.put('app/x', Buffer.from('v'));
        await s.put('apple/y', Buffer.from('v'));
        await s.put('app', Buffer.from('v'));
        assert.deepEqual(await s.list('app/'), ['x']);
      }));

      it('keeps folders and leaves apart when names hold characters sorting below "/"', withStorage(async (s) => {
        // '-', '.', ' ' and '!' sort before '/', so 'b-c' lies between 'b' and 'b/...' in key order.
        const keys = ['r/b', 'r/b-c', 'r/b.d', 'r/b c', 'r/b!', 'r/b/x', 'r/b/y/z', 'r/b-c/w', 'r/b0', 'r/a.b/c', 'r/a'];
        for (const key of keys) await s.put(key, Buffer.from(key));
        assert.deepEqual(await s.list('r/'), ['a', 'a.b/', 'b', 'b c', 'b!', 'b-c', 'b-c/', 'b.d', 'b/', 'b0']);
        assert.deepEqual(await s.list('r/b/'), ['x', 'y/']);
        assert.deepEqual(await s.list('r/b-c/'), ['w']);
      }));

      it('lists unicode names in JavaScript string order', withStorage(async (s) => {
        // U+FF01 and U+1F511 sort one way by UTF-16 code unit and the other way by UTF-8 byte.
        const names = ['é', 'ü/', '日本', '🔑', '\uFF01', 'z', 'Z'];
        for (const n of names) await s.put(`u/${n}${n.endsWith('/') ? 'inside' : ''}`, Buffer.from('v'));
        assert.deepEqual(await s.list('u/'), [...names].sort());
        assert.deepEqual(await s.list('u/ü/'), ['inside']);
        assert.deepEqual(await s.get('u/🔑'), Buffer.from('v'));
      }));

      it('drops a folder once its last key is deleted', withStorage(async (s) => {
        await s.put('f/sub/one', Buffer.from('v'));
        await s.put('f/leaf', Buffer.from('v'));
        assert.deepEqual(await s.list('f/'), ['leaf', 'sub/']);
        await s.delete('f/sub/one');
        assert.deepEqual(await s.list('f/'), ['leaf']);
      }));
    });

    describe('listPage', () => {
      it('pages through children in list order, after a cursor, at most limit at a time', withStorage(async (s) => {
        const keys = ['p/a', 'p/b-1', 'p/b/x', 'p/b/y', 'p/c', 'p/d.e', 'p/f/g/h', 'p/z', 'q/a'];
        for (const key of keys) await s.put(key, Buffer.from(key));
        const all = await s.list('p/');
        const paged: string[] = [];
        let after = '';
        for (;;) {
          const page = await s.listPage('p/', after, 2);
          assert.ok(page.length <= 2);
          if (page.length === 0) break;
          paged.push(...page);
          after = page[page.length - 1] as string;
        }
        assert.deepEqual(paged, all);
      }));

      it('starts after a cursor that is not itself a key', withStorage(async (s) => {
        for (const key of ['e/0001', 'e/0005', 'e/0009']) await s.put(key, Buffer.alloc(0));
        assert.deepEqual(await s.listPage('e/', '0004', 10), ['0005', '0009']);
        assert.deepEqual(await s.listPage('e/', '', 1), ['0001']);
        assert.deepEqual(await s.listPage('e/', '0009', 10), []);
      }));
    });

    describe('batch', () => {
      it('applies puts and deletes of one batch together, in order', withStorage(async (s) => {
        await s.put('m/old', Buffer.from('old'));
        await s.put('m/twice', Buffer.from('before'));
        await s.batch([
          { type: 'put', key: 'm/new', value: Buffer.from('new') },
          { type: 'delete', key: 'm/old' },
          { type: 'put', key: 'm/twice', value: Buffer.from('first') },
          { type: 'put', key: 'm/twice', value: Buffer.from('second') },
          { type: 'put', key: 'm/gone', value: Buffer.from('x') },
          { type: 'delete', key: 'm/gone' },
          { type: 'delete', key: 'm/never' },
        ]);
        assert.equal(await s.get('m/old'), undefined);
        assert.equal(await s.get('m/gone'), undefined);
        assert.deepEqual(await s.get('m/new'), Buffer.from('new'));
        assert.deepEqual(await s.get('m/twice'), Buffer.from('second'));
        assert.deepEqual(await s.list('m/'), ['new', 'twice']);
      }));

      it('accepts an empty batch', withStorage(async (s) => {
        await s.batch([]);
        assert.deepEqual(await s.list(''), []);
      }));

      it('is never seen half-applied by a concurrent reader', withStorage(async (s) => {
        const ops: WriteOp[] = Array.from({ length: 100 }, (_, i) => ({
          type: 'put',
          key: `atomic/${String(i).padStart(3, '0')}`,
          value: Buffer.from([i]),
        }));
        let done = false;
        const write = s.batch(ops).then(() => {
          done = true;
        });
        // Poll across microtasks and event-loop turns until the batch is acknowledged. Each single
        // read is a snapshot; two separate reads may straddle the commit (a backend may commit on
        // another thread), so what is checked is that no one read ever sees part of the batch.
        while (!done) {
          const count = (await s.list('atomic/')).length;
          assert.ok(count === 0 || count === 100, `observed a partial batch: ${count} of 100 keys`);
          const page = await s.listPage('atomic/', '', 200);
          assert.ok(page.length === 0 || page.length === 100, `observed a partial batch in a page: ${page.length} of 100 keys`);
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
        await write;
        assert.equal((await s.list('atomic/')).length, 100);
      }));

      it('refuses a batch with one invalid operation and applies none of it', withStorage(async (s) => {
        await s.put('v/keep', Buffer.from('kept'));
        const bad = [
          { type: 'put', key: 'v/first', value: Buffer.from('x') },
          { type: 'delete', key: 'v/keep' },
          { type: 'put', key: 'v/bad', value: 'not bytes' },
        ] as unknown as WriteOp[];
        await assert.rejects(s.batch(bad));
        assert.equal(await s.get('v/first'), undefined);
        assert.deepEqual(await s.get('v/keep'), Buffer.from('kept'));
        assert.deepEqual(await s.list('v/'), ['keep']);
      }));
    });
  });
}
