import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { CofferError } from '../errors.js';
import { decrypt, encrypt, NONCE_BYTES, OVERHEAD_BYTES } from './aes-gcm.js';
import { envelopeTerm, openEnvelope, sealEnvelope } from './envelope.js';

const aad = Buffer.from('logical/abc/secret', 'utf8');

function isVagueFailure(err: unknown): boolean {
  return err instanceof CofferError && err.code === 'internal' && err.message === 'cipher: message authentication failed';
}

test('encrypt then decrypt returns the plaintext', () => {
  const key = randomBytes(32);
  const plaintext = Buffer.from('hello barrier');
  const blob = encrypt(key, plaintext, aad);
  assert.equal(blob.length, plaintext.length + OVERHEAD_BYTES);
  assert.deepEqual(decrypt(key, blob, aad), plaintext);
  assert.deepEqual(decrypt(key, encrypt(key, Buffer.alloc(0), aad), aad), Buffer.alloc(0));
});

test('every encryption uses a fresh nonce, across refills of the nonce pool', () => {
  const key = randomBytes(32);
  const nonces = new Set<string>();
  for (let i = 0; i < 1000; i++) nonces.add(encrypt(key, Buffer.from('same'), aad).subarray(0, NONCE_BYTES).toString('hex'));
  assert.equal(nonces.size, 1000);
});

test('a wrong key, a wrong aad, a flipped byte and a short blob all fail with the same vague error', () => {
  const key = randomBytes(32);
  const blob = encrypt(key, Buffer.from('payload'), aad);
  const flipped = Buffer.from(blob);
  flipped[NONCE_BYTES + 2] = (flipped[NONCE_BYTES + 2] as number) ^ 0x01;
  const flippedTag = Buffer.from(blob);
  flippedTag[flippedTag.length - 1] = (flippedTag[flippedTag.length - 1] as number) ^ 0x80;
  assert.throws(() => decrypt(randomBytes(32), blob, aad), isVagueFailure);
  assert.throws(() => decrypt(key, blob, Buffer.from('logical/abc/other')), isVagueFailure);
  assert.throws(() => decrypt(key, flipped, aad), isVagueFailure);
  assert.throws(() => decrypt(key, flippedTag, aad), isVagueFailure);
  assert.throws(() => decrypt(key, blob.subarray(0, OVERHEAD_BYTES - 1), aad), isVagueFailure);
  assert.throws(() => decrypt(key.subarray(0, 16), blob, aad), isVagueFailure);
});

test('an envelope carries its term and version and binds its path', () => {
  const key = randomBytes(32);
  const blob = sealEnvelope(7, key, Buffer.from('v'), 'a/b');
  assert.equal(blob.readUInt32BE(0), 7);
  assert.equal(blob[4], 0x02);
  assert.equal(envelopeTerm(blob), 7);
  assert.deepEqual(openEnvelope(key, blob, 'a/b'), Buffer.from('v'));
  assert.throws(() => openEnvelope(key, blob, 'a/c'), isVagueFailure);
  const otherVersion = Buffer.from(blob);
  otherVersion[4] = 0x01;
  assert.throws(() => openEnvelope(key, otherVersion, 'a/b'), isVagueFailure);
});
