/**
 * Tests: lenient parsing of database-engine fields and allowed_roles globs.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { globMatch, parseCommaList, parseStatements } from './input.js';

test('statements arrive as a list, one string, a JSON array string or base64 of either', () => {
  const sql = `CREATE ROLE "{{name}}"; GRANT "r" TO "{{name}}";`;
  assert.deepEqual(parseStatements([sql, ' ', 'SELECT 1'], 's'), [sql, 'SELECT 1']);
  assert.deepEqual(parseStatements(sql, 's'), [sql], 'one string stays one unit');
  assert.deepEqual(parseStatements(JSON.stringify(['a b', 'c d']), 's'), ['a b', 'c d']);
  assert.deepEqual(parseStatements(Buffer.from(sql).toString('base64'), 's'), [sql]);
  assert.deepEqual(parseStatements(Buffer.from(JSON.stringify(['x y'])).toString('base64'), 's'), ['x y']);
  assert.deepEqual(parseStatements('', 's'), []);
  assert.throws(() => parseStatements([1], 's'), /invalid s/);
});

test('allowed_roles arrive as a list or a comma string', () => {
  assert.deepEqual(parseCommaList('a, b ,,c', 'allowed_roles'), ['a', 'b', 'c']);
  assert.deepEqual(parseCommaList(['a', ' b '], 'allowed_roles'), ['a', 'b']);
  assert.deepEqual(parseCommaList('', 'allowed_roles'), []);
});

test('globs match with * anywhere and treat everything else literally', () => {
  assert.equal(globMatch('*', 'anything'), true);
  assert.equal(globMatch('app-*', 'app-ro'), true);
  assert.equal(globMatch('app-*', 'other'), false);
  assert.equal(globMatch('*-ro', 'x-ro'), true);
  assert.equal(globMatch('a.b', 'axb'), false, 'a dot is not a regex wildcard');
  assert.equal(globMatch('ro', 'ro'), true);
  assert.equal(globMatch('ro', 'rox'), false);
});
