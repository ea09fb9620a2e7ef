/** Unit tests of table output: value rendering, column alignment, section headers, secret rows. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatColumns, formatKeyValues, formatTable, formatValue, sectionHeader } from './format.js';
import { humanDuration, secretField, secretRows } from './output.js';

test('renders values the way Vault prints them', () => {
  assert.equal(formatValue('bar'), 'bar');
  assert.equal(formatValue(3), '3');
  assert.equal(formatValue(false), 'false');
  assert.equal(formatValue(null), '<nil>');
  assert.equal(formatValue(['default', 'web']), '[default web]');
  assert.equal(formatValue({ b: 2, a: 'x' }), 'map[a:x b:2]');
  assert.equal(formatValue([]), '[]');
});

test('aligns a key/value table with a dashed header and four-space gap', () => {
  const out = formatKeyValues([['foo', 'bar'], ['longer_key', 1]]);
  assert.equal(out, [
    'Key           Value',
    '---           -----',
    'foo           bar',
    'longer_key    1',
  ].join('\n'));
});

test('does not pad the last column, and pads every other to its widest cell', () => {
  assert.equal(formatColumns([['a', 'bb', 'c'], ['aaa', 'b', 'cccc']]), 'a      bb    c\naaa    b     cccc');
  assert.equal(formatTable(['Path', 'Type'], [['secret/', 'kv']]), 'Path       Type\n----       ----\nsecret/    kv');
});

test('centres section titles over a table width, with at least two equals signs a side', () => {
  assert.equal(sectionHeader('Data', 12), '=== Data ===');
  assert.equal(sectionHeader('Metadata', 19), '===== Metadata =====');
  assert.equal(sectionHeader('Secret Path', 0), '== Secret Path ==');
});

test('prints durations in Vault\'s short form', () => {
  assert.equal(humanDuration(0), '0s');
  assert.equal(humanDuration(45), '45s');
  assert.equal(humanDuration(3600), '1h');
  assert.equal(humanDuration(5430), '1h30m30s');
  assert.equal(humanDuration(2764800), '768h');
});

test('a secret with a lease shows lease rows, then data keys sorted', () => {
  const rows = secretRows({ lease_id: 'db/creds/x/abc', lease_duration: 3600, renewable: true, data: { username: 'u', password: 'p' } });
  assert.deepEqual(rows, [
    ['lease_id', 'db/creds/x/abc'],
    ['lease_duration', '1h'],
    ['lease_renewable', true],
    ['password', 'p'],
    ['username', 'u'],
  ]);
});

test('a secret without a lease id shows refresh_interval instead', () => {
  assert.deepEqual(secretRows({ lease_id: '', lease_duration: 2764800, data: { a: 1 } }), [['refresh_interval', '768h'], ['a', 1]]);
});

test('an auth response shows token rows and -field finds them by Vault\'s names', () => {
  const env = { auth: { client_token: 'hvs.abc', accessor: 'acc', policies: ['default', 'web'], token_policies: ['default', 'web'], lease_duration: 0, renewable: false, metadata: { team: 'x' } }, data: null };
  const rows = Object.fromEntries(secretRows(env));
  assert.equal(rows['token'], 'hvs.abc');
  assert.equal(rows['token_accessor'], 'acc');
  assert.equal(rows['token_duration'], '∞');
  assert.deepEqual(rows['token_policies'], ['default', 'web']);
  assert.equal(rows['token_meta_team'], 'x');
  assert.equal(secretField(env, 'token'), 'hvs.abc');
  assert.throws(() => secretField(env, 'nope'), /field "nope" not present/);
});
