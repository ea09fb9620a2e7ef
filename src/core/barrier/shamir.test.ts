import * as assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { test } from 'node:test';
import { CofferError } from '../errors.js';
import { combineShares, splitSecret } from './shamir.js';

function combinations<T>(items: readonly T[], size: number): T[][] {
  if (size === 0) return [[]];
  return items.flatMap((item, i) => combinations(items.slice(i + 1), size - 1).map((rest) => [item, ...rest]));
}

function isBadRequest(err: unknown): boolean {
  return err instanceof CofferError && err.code === 'bad_request';
}

test('every 3-of-5 combination of shares reconstructs the secret, in any order', () => {
  const secret = randomBytes(32);
  const shares = splitSecret(secret, 5, 3);
  assert.equal(shares.length, 5);
  const subsets = combinations(shares, 3);
  assert.equal(subsets.length, 10);
  for (const subset of subsets) {
    assert.deepEqual(combineShares(subset), secret);
    assert.deepEqual(combineShares([...subset].reverse()), secret);
  }
});

test('no two shares of a 3-threshold split reconstruct the secret', () => {
  const secret = randomBytes(32);
  const shares = splitSecret(secret, 5, 3);
  for (const pair of combinations(shares, 2)) assert.notDeepEqual(combineShares(pair), secret);
});

test('more shares than the threshold also reconstruct the secret', () => {
  const secret = randomBytes(16);
  const shares = splitSecret(secret, 6, 3);
  assert.deepEqual(combineShares(shares), secret);
  assert.deepEqual(combineShares(shares.slice(1, 5)), secret);
});

test('shares are the secret length plus one distinct non-zero x byte', () => {
  const secret = randomBytes(32);
  const shares = splitSecret(secret, 255, 2);
  const xs = new Set(shares.map((share) => share[32]));
  assert.equal(shares.every((share) => share.length === 33), true);
  assert.equal(xs.size, 255);
  assert.equal(xs.has(0), false);
});

test('random sizes, share counts and thresholds round-trip through a random threshold subset', () => {
  for (let round = 0; round < 40; round++) {
    const secret = randomBytes(randomInt(1, 65));
    const parts = randomInt(2, 21);
    const threshold = randomInt(2, parts + 1);
    const shares = splitSecret(secret, parts, threshold);
    const chosen = [...shares].sort(() => randomInt(3) - 1).slice(0, threshold);
    assert.deepEqual(combineShares(chosen), secret, `size ${secret.length}, ${threshold} of ${parts}`);
  }
});

test('a 1-of-1 split returns a copy of the secret, and combining one share returns it', () => {
  const secret = randomBytes(32);
  const shares = splitSecret(secret, 1, 1);
  assert.equal(shares.length, 1);
  const only = shares[0] as Buffer;
  assert.deepEqual(only, secret);
  only.fill(0);
  assert.notDeepEqual(secret, only, 'the share must not alias the secret');
  assert.deepEqual(combineShares([secret]), secret);
});

test('splitting rejects impossible configurations', () => {
  const secret = randomBytes(8);
  assert.throws(() => splitSecret(secret, 0, 1), isBadRequest);
  assert.throws(() => splitSecret(secret, 256, 2), isBadRequest);
  assert.throws(() => splitSecret(secret, 5, 6), isBadRequest);
  assert.throws(() => splitSecret(secret, 5, 1), isBadRequest);
  assert.throws(() => splitSecret(secret, 2.5, 2), isBadRequest);
  assert.throws(() => splitSecret(Buffer.alloc(0), 3, 2), isBadRequest);
});

test('combining rejects no shares, unequal lengths and duplicate x coordinates without echoing share bytes', () => {
  const shares = splitSecret(randomBytes(32), 5, 3);
  const [a, b, c] = shares as [Buffer, Buffer, Buffer];
  const cases: Uint8Array[][] = [[], [a, b.subarray(1)], [a, b, Buffer.from(a)], [a, Buffer.from([1, 0])], [Buffer.from([7]), Buffer.from([9])]];
  for (const input of cases) {
    assert.throws(
      () => combineShares(input),
      (err: unknown) => {
        assert.ok(isBadRequest(err));
        const message = (err as Error).message;
        for (const share of [a, b, c]) {
          assert.equal(message.includes(share.toString('hex')), false);
          assert.equal(message.includes(share.toString('base64')), false);
        }
        return true;
      },
    );
  }
});

test('splitting twice gives different shares for the same secret', () => {
  const secret = randomBytes(32);
  assert.notDeepEqual(splitSecret(secret, 3, 2), splitSecret(secret, 3, 2));
});
