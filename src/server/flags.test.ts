import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { parseServerFlags, SERVER_FLAGS } from './flags.js';
import { ConfigError, resolveConfig } from '../config.js';

test('--http-replicas takes a whole number and reaches the config', () => {
  assert.equal(parseServerFlags(['--http-replicas', '2']).input.httpReplicas, 2);
  assert.equal(parseServerFlags(['-http-replicas=1']).input.httpReplicas, 1);
  assert.equal(resolveConfig({ httpReplicas: 1 }).httpReplicas, 1);
  assert.equal(resolveConfig({}).httpReplicas, 0);
});

test('a replica count that is not a small whole number, or replicas without sqlite, are refused', () => {
  for (const bad of ['-1', 'two', '1.5', '']) {
    assert.throws(() => parseServerFlags(['--http-replicas', bad]), ConfigError);
  }
  assert.throws(() => resolveConfig({ httpReplicas: 65 }), /http_replicas must be an integer from 0 to 64/);
  assert.throws(() => resolveConfig({ httpReplicas: 1, storage: 'memory' }), /http_replicas needs sqlite storage/);
});

test('-h, -help and --help ask for help anywhere on the line; every flag has a help line', () => {
  for (const argv of [['-h'], ['--help'], ['-dev', '-help'], ['--listen', '127.0.0.1:0', '-h']]) {
    assert.equal(parseServerFlags(argv).help, true, argv.join(' '));
  }
  assert.equal(parseServerFlags(['-dev']).help, false);
  assert.deepEqual(Object.keys(SERVER_FLAGS).sort(), ['config', 'data', 'dev', 'dev-root-token', 'http-replicas', 'listen', 'log-level', 'storage']);
  for (const [name, spec] of Object.entries(SERVER_FLAGS)) assert.ok(spec.usage.length > 0, name);
});
