/**
 * Scoped views: the shared conformance suite through a view (and a view of a view), plus the
 * view's own promise: no key can reach outside its prefix. Must never touch real files.
 */
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { createMemoryStorage } from './memory.js';
import { runStorageConformance } from './conformance.js';
import { assertRelativeKey, deletePrefix, scope } from './view.js';
import { isCofferError } from '../errors.js';

runStorageConformance('scoped view over memory', async () => {
  const physical = createMemoryStorage();
  // A neighbour with keys on both sides of the view proves the cases see only their own prefix.
  await physical.put('logical/abb', Buffer.from('outside'));
  await physical.put('logical/abc-sibling/x', Buffer.from('outside'));
  await physical.put('logical/abd/x', Buffer.from('outside'));
  return { storage: scope(physical, 'logical/abc/'), cleanup: () => physical.close() };
});

runStorageConformance('view nested in a view', async () => {
  const physical = createMemoryStorage();
  return { storage: scope(scope(physical, 'logical/'), 'abc/'), cleanup: () => physical.close() };
});

describe('scoped view', () => {
  const escapes = ['..', '../x', 'a/../../x', '.', './x', 'a/./b', '/abs', '/', 'a//b', 'trailing/', 'nul\0byte'];

  it('refuses keys that try to leave or alias inside the view, for every operation', async () => {
    const physical = createMemoryStorage();
    const view = scope(physical, 'mount/');
    for (const key of escapes) {
      const label = JSON.stringify(key);
      await assert.rejects(view.get(key), (err: unknown) => isCofferError(err) && err.code === 'internal', `get ${label}`);
      await assert.rejects(view.put(key, Buffer.from('v')), isCofferError, `put ${label}`);
      await assert.rejects(view.delete(key), isCofferError, `delete ${label}`);
      await assert.rejects(view.batch([{ type: 'put', key, value: Buffer.from('v') }]), isCofferError, `batch ${label}`);
    }
    assert.deepEqual(await physical.list(''), []);
  });

  it('does not echo the refused key in its error', async () => {
    const view = scope(createMemoryStorage(), 'mount/');
    await assert.rejects(view.get('../secret-name'), (err: unknown) => err instanceof Error && !err.message.includes('secret-name'));
  });

  it('refuses list prefixes that leave the view', async () => {
    const view = scope(createMemoryStorage(), 'mount/');
    for (const sub of ['../', './', '/', 'a/../', 'no-slash']) {
      await assert.rejects(view.list(sub), isCofferError, `list ${JSON.stringify(sub)}`);
    }
  });

  it('refuses to be built over an invalid prefix', () => {
    const physical = createMemoryStorage();
    for (const prefix of ['no-slash', '/abs/', '../', 'a/../', 'a//']) {
      assert.throws(() => scope(physical, prefix), isCofferError, JSON.stringify(prefix));
    }
  });

  it('applies nothing from a batch that holds one escaping key', async () => {
    const physical = createMemoryStorage();
    const view = scope(physical, 'mount/');
    await assert.rejects(
      view.batch([
        { type: 'put', key: 'fine', value: Buffer.from('v') },
        { type: 'delete', key: '../other/x' },
      ]),
    );
    assert.equal(await physical.get('mount/fine'), undefined);
  });

  it('cannot see keys outside its prefix, including siblings that share the prefix text', async () => {
    const physical = createMemoryStorage();
    await physical.put('logical/a/inside', Buffer.from('in'));
    await physical.put('logical/ab/outside', Buffer.from('out'));
    await physical.put('logical/a-b/outside', Buffer.from('out'));
    await physical.put('logical/other/secret', Buffer.from('out'));
    await physical.put('top', Buffer.from('out'));
    const view = scope(physical, 'logical/a/');
    assert.deepEqual(await view.list(''), ['inside']);
    assert.deepEqual(await view.get('inside'), Buffer.from('in'));
    assert.equal(await view.get('ab/outside'), undefined);
    assert.equal(await view.get('other/secret'), undefined);
  });

  it('writes under its prefix in the underlying storage', async () => {
    const physical = createMemoryStorage();
    const view = scope(physical, 'logical/uuid-1/');
    await view.put('config/role', Buffer.from('r'));
    await view.batch([{ type: 'put', key: 'data/x', value: Buffer.from('x') }]);
    assert.deepEqual(await physical.list('logical/uuid-1/'), ['config/', 'data/']);
    assert.deepEqual(await physical.get('logical/uuid-1/config/role'), Buffer.from('r'));
  });

  it('deletePrefix removes every key under a prefix and nothing else', async () => {
    const physical = createMemoryStorage();
    for (const key of ['m/a', 'm/b/c', 'm/b/d/e', 'm-other/x', 'n/y']) await physical.put(key, Buffer.from('v'));
    assert.equal(await deletePrefix(physical, 'm/'), 3);
    assert.deepEqual(await physical.list(''), ['m-other/', 'n/']);
  });
});

describe('assertRelativeKey', () => {
  it('refuses exactly what a segment-by-segment check refuses, for every short key', () => {
    // The check is one regex; this compares it with the plain rule on every string of up to 5
    // characters over the characters that matter.
    const refusedByRule = (key: string): boolean =>
      key === '' || key.startsWith('/') || key.includes('\0') || key.split('/').some((segment) => segment === '' || segment === '.' || segment === '..');
    const refused = (key: string): boolean => {
      try {
        assertRelativeKey(key);
        return false;
      } catch (error) {
        assert.ok(isCofferError(error));
        return true;
      }
    };
    let checked = 0;
    const walk = (key: string): void => {
      assert.equal(refused(key), refusedByRule(key), JSON.stringify(key));
      checked += 1;
      if (key.length < 5) for (const c of ['a', '/', '.', '\0']) walk(key + c);
    };
    walk('');
    assert.equal(checked, 1365);
  });

  it('turns a refused key into a rejected promise, never a synchronous throw', async () => {
    const view = scope(createMemoryStorage(), 'm/');
    let promise: Promise<unknown> | undefined;
    assert.doesNotThrow(() => {
      promise = view.get('../x');
    });
    await assert.rejects(promise as Promise<unknown>, (error: unknown) => isCofferError(error));
  });
});

