import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { parseServerFlags } from './flags.js';
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
