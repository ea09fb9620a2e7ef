/** Unit tests of KV path mapping (mount + data/metadata/...) and -versions parsing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kvFullPath, kvV2Path, parseVersions } from './kv-paths.js';

test('maps a KV v2 path under its mount to the API prefix', () => {
  assert.equal(kvV2Path('secret/', 'secret/app/db', 'data'), 'secret/data/app/db');
  assert.equal(kvV2Path('secret/', '/secret/app/', 'metadata'), 'secret/metadata/app');
  assert.equal(kvV2Path('team/kv/', 'team/kv/x', 'destroy'), 'team/kv/destroy/x');
});

test('a path equal to the mount maps to the bare prefix (listing the root)', () => {
  assert.equal(kvV2Path('secret/', 'secret', 'metadata'), 'secret/metadata');
  assert.equal(kvV2Path('secret/', 'secret/', 'metadata'), 'secret/metadata');
});

test('does not treat a mount name that is only a prefix of a segment as the mount', () => {
  assert.equal(kvV2Path('sec/', 'secret/a', 'data'), 'sec/data/secret/a');
});

test('-mount joins the mount and the relative path', () => {
  assert.equal(kvFullPath('app/db', 'secret'), 'secret/app/db');
  assert.equal(kvFullPath('/app/', 'secret/'), 'secret/app');
  assert.equal(kvFullPath('secret/app/', undefined), 'secret/app');
});

test('parses -versions lists and rejects junk', () => {
  assert.deepEqual(parseVersions('1, 2,3'), [1, 2, 3]);
  assert.deepEqual(parseVersions(undefined), []);
  assert.throws(() => parseVersions('1,x'), /invalid -versions/);
});
