/**
 * Tests: Request field parsing: version lists, booleans, the cas option, signed durations.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { checkCas, parseBool, parseCasOption, parseMountDeleteVersionAfter, parseVersionList } from './input.js';

test('version lists accept arrays, single numbers and comma-separated strings', () => {
  assert.deepEqual(parseVersionList([1, '2'], 'none'), [1, 2]);
  assert.deepEqual(parseVersionList(3, 'none'), [3]);
  assert.deepEqual(parseVersionList('4, 5', 'none'), [4, 5]);
  assert.throws(() => parseVersionList(undefined, 'none given'), /none given/);
  assert.throws(() => parseVersionList([1.5], 'none'), /non-negative integers/);
});

test('booleans follow Go strconv.ParseBool', () => {
  assert.equal(parseBool('t', 'f'), true);
  assert.equal(parseBool('False', 'f'), false);
  assert.equal(parseBool(1, 'f'), true);
  assert.throws(() => parseBool('yes', 'cas_required'), /invalid cas_required/);
});

test('the cas option is absent without options.cas and 0 for an explicit null', () => {
  assert.equal(parseCasOption(undefined), undefined);
  assert.equal(parseCasOption({}), undefined);
  assert.equal(parseCasOption({ cas: null }), 0);
  assert.equal(parseCasOption({ cas: '3' }), 3);
  assert.throws(() => parseCasOption({ cas: -1 }), /error parsing check-and-set parameter/);
  assert.throws(() => parseCasOption('cas'), /options: must be an object/);
});

test('checkCas prefers a given cas over cas_required', () => {
  assert.doesNotThrow(() => checkCas(2, 2, true));
  assert.throws(() => checkCas(1, 2, false), (err: { code?: string }) => err.code === 'cas_mismatch');
  assert.throws(() => checkCas(undefined, 2, true), (err: { code?: string }) => err.code === 'cas_required');
  assert.doesNotThrow(() => checkCas(undefined, 2, false));
});

test('a negative mount delete_version_after means disabled', () => {
  assert.equal(parseMountDeleteVersionAfter('-1s'), -1);
  assert.equal(parseMountDeleteVersionAfter(-30), -1);
  assert.equal(parseMountDeleteVersionAfter('1h'), 3600);
  assert.equal(parseMountDeleteVersionAfter('0s'), 0);
});
