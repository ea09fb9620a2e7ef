/**
 * The barrier keyring: every data-encryption key ever installed, indexed by a uint32 term, and
 * which term encrypts new writes. Old terms stay so their ciphertexts remain readable.
 *
 * Stored (by barrier.ts, encrypted under the root key) as JSON:
 *   { "active_term": 2, "keys": [{ "term": 1, "key": "<base64>", "install_time": "<rfc3339>",
 *     "encryptions_reserved": 1048576 }] }
 * `encryptions_reserved` bounds the encryptions ever made under the term (barrier.ts keeps it
 * ahead of its in-memory count), so a restart resumes counting from there rather than from zero.
 *
 * Owns: the in-memory shape, its JSON encoding and validation, and wiping it.
 * Must never: put key bytes into an error message. JavaScript strings cannot be wiped, so the
 * base64 text made while encoding or decoding lingers until garbage collection; keep those
 * strings local and short-lived, and keep the long-lived copies in Buffers that wipe() zeroes.
 */
import { CofferError } from '../errors.js';
import { KEY_BYTES } from './aes-gcm.js';
import { MAX_TERM } from './envelope.js';

export interface KeyringEntry {
  readonly term: number;
  readonly key: Buffer;
  readonly installTime: string;
}

export interface Keyring {
  readonly activeTerm: number;
  readonly keys: ReadonlyMap<number, KeyringEntry>;
  /** Per term, a persisted upper bound of the encryptions made under it; absent = 0. */
  readonly reserved?: ReadonlyMap<number, number>;
}

interface StoredKeyring {
  active_term: number;
  keys: Array<{ term: number; key: string; install_time: string; encryptions_reserved?: number }>;
}

/** A new keyring holding `entry` as its only, active key. */
export function singleKeyring(entry: KeyringEntry): Keyring {
  return { activeTerm: entry.term, keys: new Map([[entry.term, entry]]) };
}

/** `keyring` plus `entry`, which becomes active. Shares the old entries' buffers. */
export function withKey(keyring: Keyring, entry: KeyringEntry): Keyring {
  if (keyring.keys.has(entry.term)) throw new CofferError('internal', 'keyring already holds that term');
  const keys = new Map(keyring.keys);
  keys.set(entry.term, entry);
  return { activeTerm: entry.term, keys, ...(keyring.reserved ? { reserved: keyring.reserved } : {}) };
}

export function activeEntry(keyring: Keyring): KeyringEntry {
  const entry = keyring.keys.get(keyring.activeTerm);
  if (entry === undefined) throw corrupt();
  return entry;
}

/** The keyring as UTF-8 JSON bytes; the caller zero-fills them once encrypted. */
export function encodeKeyring(keyring: Keyring): Buffer {
  const stored: StoredKeyring = {
    active_term: keyring.activeTerm,
    keys: [...keyring.keys.values()]
      .sort((a, b) => a.term - b.term)
      .map((entry) => {
        const reserved = keyring.reserved?.get(entry.term) ?? 0;
        return { term: entry.term, key: entry.key.toString('base64'), install_time: entry.installTime, ...(reserved > 0 ? { encryptions_reserved: reserved } : {}) };
      }),
  };
  return Buffer.from(JSON.stringify(stored), 'utf8');
}

/**
 * Parses decrypted keyring bytes. They were authenticated under the root key, so a malformed
 * keyring is corruption or a bug, never an attacker's input: it fails as an internal error.
 */
export function decodeKeyring(bytes: Buffer): Keyring {
  let stored: unknown;
  try {
    stored = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw corrupt();
  }
  if (!isRecord(stored) || !Array.isArray(stored['keys']) || !isTerm(stored['active_term'])) throw corrupt();
  const keys = new Map<number, KeyringEntry>();
  const reserved = new Map<number, number>();
  try {
    for (const raw of stored['keys'] as unknown[]) {
      if (!isRecord(raw) || !isTerm(raw['term']) || typeof raw['key'] !== 'string' || typeof raw['install_time'] !== 'string') throw corrupt();
      const count = raw['encryptions_reserved'];
      if (count !== undefined) {
        if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) throw corrupt();
        reserved.set(raw['term'], count);
      }
      const key = Buffer.from(raw['key'], 'base64');
      if (key.length !== KEY_BYTES || keys.has(raw['term'])) {
        key.fill(0);
        throw corrupt();
      }
      keys.set(raw['term'], { term: raw['term'], key, installTime: raw['install_time'] });
    }
    const keyring: Keyring = { activeTerm: stored['active_term'], keys, reserved };
    activeEntry(keyring);
    return keyring;
  } catch (err) {
    for (const entry of keys.values()) entry.key.fill(0);
    throw err;
  }
}

/** Zero-fills every key buffer in the keyring. */
export function wipeKeyring(keyring: Keyring): void {
  for (const entry of keyring.keys.values()) entry.key.fill(0);
}

function corrupt(): CofferError {
  return new CofferError('internal', 'barrier keyring is corrupt');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isTerm(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 1 && (value as number) <= MAX_TERM;
}
