/**
 * Tests: scrypt hashing and the dummy verification for unknown users.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createScryptHasher, DEFAULT_SCRYPT_COST } from './password-hash.js';

test('a hash verifies its own password only', async () => {
  const hasher = createScryptHasher({ n: 2 ** 10, r: 8, p: 1 });
  const stored = await hasher.hash('s3cret');
  assert.equal(await hasher.verify('s3cret', stored), true);
  assert.equal(await hasher.verify('s3cret ', stored), false);
  assert.equal(await hasher.verify('', stored), false);
});

test('verifying against no stored hash never succeeds, whatever the password', async () => {
  const hasher = createScryptHasher({ n: 2 ** 10, r: 8, p: 1 });
  assert.equal(await hasher.verify('', undefined), false);
  assert.equal(await hasher.verify('anything', undefined), false);
});

test('hashes made with one cost still verify after the default cost changes', async () => {
  const cheap = createScryptHasher({ n: 2 ** 10, r: 8, p: 1 });
  const stored = await cheap.hash('pw');
  assert.equal(stored.n, 2 ** 10);
  // Verification reads the parameters stored with the hash, not the hasher's own.
  assert.equal(await createScryptHasher(DEFAULT_SCRYPT_COST).verify('pw', stored), true);
});
