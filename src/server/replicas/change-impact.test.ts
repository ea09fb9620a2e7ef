import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { changeImpact } from './change-impact.js';

test('changes to cached data are forgotten key by key; a token entry also leaves the token cache', () => {
  for (const key of [
    'logical/0b6c-uuid/data/abc',
    'logical/0b6c-uuid/metadata/abc',
    'logical/0b6c-uuid/config',
    'auth/9f1e-uuid/users/alice',
    'sys/token/accessor/abc',
    'sys/token/parent/p/c',
    'sys/expire/id/db/creds/r/x',
    'sys/consumers/app',
    'sys/aws-keys/AKIA',
  ]) {
    assert.deepEqual(changeImpact(key), { kind: 'forget' }, key);
  }
  assert.deepEqual(changeImpact('sys/token/id/abc123'), { kind: 'forget-token', id: 'abc123' });
});

test('changes to what a core derives when built, and unknown keys, need a new core', () => {
  for (const key of [
    'core/keyring',
    'core/seal-config',
    'sys/token/salt',
    'sys/policy/reader',
    'sys/core-mounts',
    'sys/core-auth',
    'sys/audit/file',
    'sys/quotas/rate-limit/global',
    'sys/something-added-later',
    'logicalx/not-a-mount',
    'tokens',
  ]) {
    assert.deepEqual(changeImpact(key), { kind: 'rebuild' }, key);
  }
});
