/**
 * AES-256-GCM with a fresh random 96-bit nonce per call: blob = nonce(12) | ciphertext | tag(16).
 *
 * Owns: the raw AEAD calls into node:crypto.
 * Must never: accept a nonce from the caller (nonce reuse under GCM breaks both confidentiality
 * and integrity, CVE-2023-4680), or say why a decryption failed: a short blob, a wrong key and a
 * forged tag all throw the same error, so failures are no oracle.
 */
import { createCipheriv, createDecipheriv, randomFillSync } from 'node:crypto';
import { CofferError } from '../errors.js';

export const KEY_BYTES = 32;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
/** Bytes added to a plaintext by encrypt(). */
export const OVERHEAD_BYTES = NONCE_BYTES + TAG_BYTES;

const ALGORITHM = 'aes-256-gcm';

// Nonces are cut from a pooled block of CSPRNG output: one randomBytes(12) call costs ~2-5 µs
// here, a whole 341-nonce block ~4.5 µs. Each nonce is still fresh random bytes used exactly
// once; a used block is dropped, never refilled in place.
const NONCE_POOL_BYTES = NONCE_BYTES * 341;
let noncePool = Buffer.alloc(0);
let noncePoolOffset = 0;

function freshNonce(): Buffer {
  if (noncePoolOffset + NONCE_BYTES > noncePool.length) {
    noncePool = randomFillSync(Buffer.allocUnsafeSlow(NONCE_POOL_BYTES));
    noncePoolOffset = 0;
  }
  const nonce = noncePool.subarray(noncePoolOffset, noncePoolOffset + NONCE_BYTES);
  noncePoolOffset += NONCE_BYTES;
  return nonce;
}

/** The one error every decryption failure throws. */
export function authenticationFailed(): CofferError {
  return new CofferError('internal', 'cipher: message authentication failed');
}

/** Encrypts and authenticates `plaintext`, binding `aad` (authenticated, not encrypted). */
export function encrypt(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Buffer {
  // A wrong key length is a programming error, but its message still names no key bytes.
  if (key.length !== KEY_BYTES) throw new CofferError('internal', 'cipher: invalid key');
  const nonce = freshNonce();
  const cipher = createCipheriv(ALGORITHM, key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const body = cipher.update(plaintext);
  const final = cipher.final();
  return Buffer.concat([nonce, body, final, cipher.getAuthTag()]);
}

/** Verifies and decrypts a blob made by encrypt() with the same key and aad. */
export function decrypt(key: Uint8Array, blob: Uint8Array, aad: Uint8Array): Buffer {
  if (key.length !== KEY_BYTES || blob.length < OVERHEAD_BYTES) throw authenticationFailed();
  const bytes = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  const nonce = bytes.subarray(0, NONCE_BYTES);
  const tag = bytes.subarray(bytes.length - TAG_BYTES);
  const body = bytes.subarray(NONCE_BYTES, bytes.length - TAG_BYTES);
  try {
    const decipher = createDecipheriv(ALGORITHM, key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    const plaintext = decipher.update(body);
    // final() is where the tag is checked; until it passes, the plaintext is untrusted.
    try {
      return Buffer.concat([plaintext, decipher.final()]);
    } finally {
      plaintext.fill(0);
    }
  } catch {
    throw authenticationFailed();
  }
}
