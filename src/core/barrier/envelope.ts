/**
 * The barrier's stored-value format, as in Vault's barrier_aes_gcm.go (version 2):
 *
 *   [term: uint32 BE][version: 0x02][nonce: 12][AES-256-GCM ciphertext + 16-byte tag]
 *
 * with the storage key (utf8) as additional authenticated data, so a ciphertext copied to
 * another key fails to decrypt. The term names the keyring key that sealed it; term 0 is used
 * for the records sealed by the root or unseal key (`core/keyring`, `core/root-key`).
 *
 * Owns: framing and unframing. Must never: distinguish failures to the caller (a bad header, an
 * unknown term and a forged tag all raise the same vague error).
 */
import { authenticationFailed, decrypt, encrypt, OVERHEAD_BYTES } from './aes-gcm.js';

export const ENVELOPE_VERSION = 0x02;
export const HEADER_BYTES = 5;
export const MAX_TERM = 0xffff_ffff;

/** Encrypts `plaintext` under `key` for storage at `path`, labelled with `term`. */
export function sealEnvelope(term: number, key: Uint8Array, plaintext: Uint8Array, path: string): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt32BE(term, 0);
  header[4] = ENVELOPE_VERSION;
  return Buffer.concat([header, encrypt(key, plaintext, Buffer.from(path, 'utf8'))]);
}

/**
 * The term a stored value claims. Unauthenticated until openEnvelope succeeds: it only picks
 * which key to try, and a forged term just selects a key whose tag check then fails.
 */
export function envelopeTerm(blob: Uint8Array): number {
  if (blob.length < HEADER_BYTES + OVERHEAD_BYTES || blob[4] !== ENVELOPE_VERSION) throw authenticationFailed();
  return Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength).readUInt32BE(0);
}

/** Decrypts a value stored at `path`; `key` must be the key of envelopeTerm(blob). */
export function openEnvelope(key: Uint8Array, blob: Uint8Array, path: string): Buffer {
  envelopeTerm(blob);
  return decrypt(key, blob.subarray(HEADER_BYTES), Buffer.from(path, 'utf8'));
}
