/**
 * Tests: JSON helpers: RFC 7386 merge patch, prototype safety, subkeys projection, depth guard.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { assertJsonDepth, mergePatch, subkeys } from './json.js';

test('merge patch follows the RFC 7386 examples', () => {
  const cases: Array<[unknown, unknown, unknown]> = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [['a', 'b'], ['c', 'd'], ['c', 'd']],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];
  for (const [target, patch, expected] of cases) {
    assert.deepEqual(mergePatch(target, patch), expected, JSON.stringify({ target, patch }));
  }
});

test('merge patch leaves its inputs untouched and never sets a prototype', () => {
  const target = { a: { b: 1 } };
  const patch = JSON.parse('{"a":{"c":2},"__proto__":{"polluted":true}}');
  const result = mergePatch(target, patch) as Record<string, unknown>;
  assert.deepEqual(target, { a: { b: 1 } });
  assert.equal(Object.getPrototypeOf(result), Object.prototype);
  assert.ok(Object.hasOwn(result, '__proto__'));
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  assert.equal(JSON.stringify(result), '{"a":{"b":1,"c":2},"__proto__":{"polluted":true}}');
});

test('subkeys replaces leaves with null and stops at the requested depth', () => {
  const data = { a: 'x', b: { c: [1, 2], d: { e: 'y' } }, f: {} };
  assert.deepEqual(subkeys(data, 0), { a: null, b: { c: null, d: { e: null } }, f: null });
  assert.deepEqual(subkeys(data, 1), { a: null, b: null, f: null });
  assert.deepEqual(subkeys(data, 2), { a: null, b: { c: null, d: null }, f: null });
});

test('the depth guard counts nesting of objects and arrays', () => {
  assertJsonDepth({ a: [{ b: 1 }] }, 'data', 3);
  assert.throws(() => assertJsonDepth({ a: [{ b: {} }] }, 'data', 3), /nested more than 3 levels/);
  assertJsonDepth('scalar', 'data', 0);
});
