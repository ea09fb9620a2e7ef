/**
 * List semantics: the full-scan and seek-based implementations must agree on every key set, and
 * the seek-based one must cost one seek per child. Must never depend on a backend.
 */
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { listChildren, listChildrenBySeek, type SeekKey } from './list-children.js';

type Order = (a: string, b: string) => number;
const utf16Order: Order = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
const utf8Order: Order = (a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

/** A seek over a sorted array by binary search, counting how often it is called. */
function sortedIndex(keys: Iterable<string>, order: Order): { seek: SeekKey; calls: () => number } {
  const sorted = [...new Set(keys)].sort(order);
  let calls = 0;
  const seek: SeekKey = (bound, inclusive) => {
    calls += 1;
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const c = order(sorted[mid] as string, bound);
      if (c < 0 || (c === 0 && !inclusive)) lo = mid + 1;
      else hi = mid;
    }
    return sorted[lo];
  };
  return { seek, calls: () => calls };
}

// A small seeded generator, so a failure is reproducible from the printed seed.
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe('listChildren', () => {
  it('folds deeper keys into one folder entry and sorts', () => {
    assert.deepEqual(listChildren(['a/b', 'a/c/d', 'a/c/e', 'a', 'b/x'], 'a/'), ['b', 'c/']);
    assert.deepEqual(listChildren(['a/b', 'a/c/d', 'top'], ''), ['a/', 'top']);
  });

  it('skips a key equal to the prefix', () => {
    assert.deepEqual(listChildren(['a/', 'a/b'], 'a/'), ['b']);
  });
});

describe('listChildrenBySeek', () => {
  it('jumps over a folder with many descendants in one seek', () => {
    const keys = ['d/leaf', 'd/z'];
    for (let i = 0; i < 10_000; i += 1) keys.push(`d/big/${i}/x`);
    const index = sortedIndex(keys, utf16Order);
    assert.deepEqual(listChildrenBySeek(index.seek, 'd/'), ['big/', 'leaf', 'z']);
    // One seek per child plus the one that finds the end.
    assert.equal(index.calls(), 4);
  });

  it('does not skip siblings whose names continue with characters below "/"', () => {
    const keys = ['p/a', 'p/a/1', 'p/a/2/3', 'p/a-b', 'p/a-b/c', 'p/a.b', 'p/a b', 'p/a!', 'p/a0', 'p/b'];
    const index = sortedIndex(keys, utf8Order);
    assert.deepEqual(listChildrenBySeek(index.seek, 'p/'), ['a', 'a b', 'a!', 'a-b', 'a-b/', 'a.b', 'a/', 'a0', 'b']);
  });

  it('handles a folder with an empty name', () => {
    const index = sortedIndex(['p//x', 'p//y/z', 'p/0', 'p/-'], utf8Order);
    assert.deepEqual(listChildrenBySeek(index.seek, 'p/'), ['-', '/', '0']);
  });

  it('answers exactly like listChildren, in one seek per child, for random keys in both key orders', () => {
    const alphabet = ['a', 'b', '/', '/', '-', '.', ' ', '0', '!', 'é', '🔑', '\uFF01'];
    for (let seed = 1; seed <= 150; seed += 1) {
      const next = random(seed);
      const keys: string[] = [];
      const count = 1 + Math.floor(next() * 60);
      for (let k = 0; k < count; k += 1) {
        let key = '';
        const length = 1 + Math.floor(next() * 7);
        for (let c = 0; c < length; c += 1) key += alphabet[Math.floor(next() * alphabet.length)];
        keys.push(key);
      }
      const prefixes = ['', 'a/', 'b/', 'a/b/', '-/', 'é/', ...keys.filter((k) => k.endsWith('/'))];
      for (const order of [utf16Order, utf8Order]) {
        for (const prefix of prefixes) {
          const expected = listChildren(keys, prefix);
          const index = sortedIndex(keys, order);
          const label = `seed ${seed}, prefix ${JSON.stringify(prefix)}`;
          assert.deepEqual(listChildrenBySeek(index.seek, prefix), expected, label);
          assert.equal(index.calls(), expected.length + 1, label);
        }
      }
    }
  });
});
