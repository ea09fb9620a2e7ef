/**
 * The encryption barrier: a Storage over the physical backend that encrypts every value with the
 * keyring's active key (AES-256-GCM, storage key as AAD; format in envelope.ts) and decrypts on
 * read. Everything above the physical layer reads and writes through it.
 *
 * Owns: the keyring in memory and at `core/keyring` (encrypted under the root key), sealing and
 * unsealing, key rotation (manual, and automatic at the GCM random-nonce bound), and the
 * plaintext read cache.
 * Must never: write a plaintext value to physical storage, serve anything while sealed, let a
 * caller touch `core/` (the seal's own records), or name key material in an error. Storage keys
 * are not encrypted, so `list` works on the physical layer; only values are secret.
 */
import { randomBytes } from 'node:crypto';
import { type Clock, rfc3339, systemClock } from '../clock.js';
import { CofferError } from '../errors.js';
import type { PhysicalStorage, Storage, WriteOp } from '../storage/storage.js';
import { authenticationFailed, KEY_BYTES } from './aes-gcm.js';
import { envelopeTerm, MAX_TERM, openEnvelope, sealEnvelope } from './envelope.js';
import { activeEntry, decodeKeyring, encodeKeyring, type Keyring, type KeyringEntry, singleKeyring, wipeKeyring, withKey } from './keyring.js';
import { createPlaintextCache } from './plaintext-cache.js';
import { createSerialQueue } from './serial-queue.js';

export interface KeyStatus {
  term: number;
  install_time: string;
  encryptions: number;
}

export interface Barrier extends Storage {
  readonly sealed: boolean;
  /** Whether a keyring exists in physical storage. Allowed while sealed. */
  isInitialized(): Promise<boolean>;
  /**
   * Writes a new keyring (term 1) encrypted under `rootKey` (32 bytes). Throws
   * 'already_initialized' if a keyring exists. Leaves the barrier sealed; the caller keeps
   * ownership of `rootKey`.
   */
  initialize(rootKey: Buffer): Promise<void>;
  /**
   * Loads and decrypts the keyring with `rootKey`; a wrong key fails with a vague 'bad_request'.
   * The barrier keeps its own copy of the key (for rotation), so the caller may wipe its buffer.
   * A no-op when already unsealed.
   */
  unseal(rootKey: Buffer): Promise<void>;
  /** Zero-fills and drops every key and every cached plaintext. */
  seal(): void;
  /** Adds term N+1 and makes it active; older terms stay for reading. */
  rotate(): Promise<KeyStatus>;
  /** The active term's status. Throws 'sealed' while sealed. */
  keyStatus(): KeyStatus;
  /**
   * A copy of the root key, for the HTTP replica processes this server starts (they unseal
   * their own read-only barrier with it). The caller owns the copy and must zero it.
   * Throws 'sealed' while sealed.
   */
  copyRootKey(): Buffer;
  /**
   * Forgets any cached plaintext of `key`, whose stored value another process changed (an HTTP
   * replica applying the primary's commits). Allowed while sealed.
   */
  invalidateCached(key: string): void;
}

export interface BarrierOptions {
  /** Plaintext LRU size; 0 disables it (required once several nodes share the physical storage). */
  cacheEntries?: number;
  /**
   * Encryptions after which the active term is rotated automatically. Defaults to, and may not
   * exceed, NIST_ENCRYPTION_LIMIT; tests inject a small number.
   */
  maxEncryptionsPerTerm?: number;
  /**
   * Encryptions reserved per keyring write: the keyring records an upper bound of each term's
   * encryptions, raised this far ahead of the count (default 2^20), so a restart resumes
   * counting from the bound, not from zero. Tests inject a small number.
   */
  encryptionReservation?: number;
  /** Time source for key install times. */
  clock?: Clock;
  /**
   * Test hook: called with every key buffer the barrier keeps while unsealed, so a test can check
   * that seal() zero-fills it. The composition root must never pass this.
   */
  observeKeyMaterial?: (key: Buffer) => void;
}

/** Where the keyring lives, encrypted under the root key with term 0. */
export const KEYRING_KEY = 'core/keyring';
/** Keys under this prefix belong to the seal and the barrier, never to callers. */
export const RESERVED_PREFIX = 'core/';
/**
 * 0.9 x 2^32: NIST SP 800-38D allows 2^32 random-nonce GCM encryptions per key; Vault and
 * OpenBao rotate 10% early to absorb counting losses.
 */
export const NIST_ENCRYPTION_LIMIT = 3_865_470_566;
export const DEFAULT_CACHE_ENTRIES = 10_000;
/** Encryptions reserved per keyring write (BarrierOptions.encryptionReservation). */
export const DEFAULT_ENCRYPTION_RESERVATION = 2 ** 20;

/** The term written into records sealed by the root key rather than a keyring key. */
const ROOT_TERM = 0;

interface UnsealedState {
  /** Our own copy of the root key, kept to re-encrypt the keyring on rotation. */
  readonly rootKey: Buffer;
  keyring: Keyring;
  /**
   * Encryptions per term. A restart starts from the bound the keyring recorded
   * (`reserved`), which is never below the true count: writes wait for a keyring write
   * rather than pass it.
   */
  readonly encryptions: Map<number, number>;
}

export function sealedError(): CofferError {
  return new CofferError('sealed', 'Vault is sealed');
}

export function createBarrier(physical: PhysicalStorage, options: BarrierOptions = {}): Barrier {
  const maxEncryptions = options.maxEncryptionsPerTerm ?? NIST_ENCRYPTION_LIMIT;
  const reservation = options.encryptionReservation ?? DEFAULT_ENCRYPTION_RESERVATION;
  if (!Number.isInteger(reservation) || reservation < 2) throw new RangeError('encryptionReservation must be an integer of at least 2');
  if (!Number.isInteger(maxEncryptions) || maxEncryptions < 1 || maxEncryptions > NIST_ENCRYPTION_LIMIT) {
    throw new RangeError(`maxEncryptionsPerTerm must be an integer from 1 to ${NIST_ENCRYPTION_LIMIT}; leave it unset for the default`);
  }
  const clock = options.clock ?? systemClock;
  const observe = options.observeKeyMaterial ?? (() => undefined);
  const cache = createPlaintextCache({ maxEntries: options.cacheEntries ?? DEFAULT_CACHE_ENTRIES });

  let state: UnsealedState | undefined;
  // Bumped by every seal(), so an unseal or rotation that was awaiting storage when the barrier
  // was sealed does not install keys afterwards.
  let epoch = 0;
  // initialize, unseal and rotate write or load the keyring; they run one at a time.
  const serialize = createSerialQueue();
  let autoRotation: Promise<KeyStatus> | undefined;

  const unsealed = (): UnsealedState => {
    if (state === undefined) throw sealedError();
    return state;
  };

  const assertCallerKey = (key: string): void => {
    if (key.startsWith(RESERVED_PREFIX)) throw new CofferError('internal', 'storage key is reserved for the seal');
  };

  const persistKeyring = async (rootKey: Buffer, keyring: Keyring): Promise<void> => {
    const plaintext = encodeKeyring(keyring);
    let blob: Buffer;
    try {
      blob = sealEnvelope(ROOT_TERM, rootKey, plaintext, KEYRING_KEY);
    } finally {
      plaintext.fill(0);
    }
    await physical.put(KEYRING_KEY, blob);
  };

  const newEntry = (term: number): KeyringEntry => ({ term, key: randomBytes(KEY_BYTES), installTime: rfc3339(clock.now()) });

  const statusOf = (current: UnsealedState): KeyStatus => {
    const entry = activeEntry(current.keyring);
    return { term: entry.term, install_time: entry.installTime, encryptions: current.encryptions.get(entry.term) ?? 0 };
  };

  const rotateNow = async (startEpoch: number): Promise<KeyStatus> => {
    if (epoch !== startEpoch) throw sealedError();
    const current = unsealed();
    const activeTerm = current.keyring.activeTerm;
    if (activeTerm >= MAX_TERM) throw new CofferError('internal', 'barrier keyring has no terms left');
    const entry = newEntry(activeTerm + 1);
    const next = withReservation(withKey(current.keyring, entry), entry.term, reservation);
    try {
      // The keyring is persisted before the new term is used, so no ciphertext can ever name a
      // term that a restart would not find.
      await persistKeyring(current.rootKey, next);
    } catch (err) {
      entry.key.fill(0);
      throw err;
    }
    if (epoch !== startEpoch || state !== current) {
      entry.key.fill(0);
      throw sealedError();
    }
    observe(entry.key);
    current.keyring = next;
    current.encryptions.set(entry.term, 0);
    return statusOf(current);
  };

  /** `keyring` with term `term`'s encryption bound set to `bound`. */
  const withReservation = (keyring: Keyring, term: number, bound: number): Keyring => {
    const reserved = new Map(keyring.reserved ?? []);
    reserved.set(term, bound);
    return { ...keyring, reserved };
  };

  /** Raises the active term's recorded bound `reservation` past its count; one at a time. */
  let reserving: Promise<void> | undefined;
  const reserve = (): Promise<void> => {
    const startEpoch = epoch;
    reserving ??= serialize(async () => {
      if (epoch !== startEpoch) throw sealedError();
      const current = unsealed();
      const term = current.keyring.activeTerm;
      const count = current.encryptions.get(term) ?? 0;
      const bound = count + reservation;
      if ((current.keyring.reserved?.get(term) ?? 0) >= bound) return;
      const next = withReservation(current.keyring, term, bound);
      await persistKeyring(current.rootKey, next);
      if (epoch !== startEpoch || state !== current || current.keyring.activeTerm !== term) return;
      current.keyring = next;
    }).finally(() => {
      reserving = undefined;
    });
    return reserving;
  };

  const rotate = (): Promise<KeyStatus> => {
    const startEpoch = epoch;
    return serialize(() => rotateNow(startEpoch));
  };

  /**
   * Encrypts `plaintext` for `path` under the active term, rotating first when that term has
   * reached its encryption limit. The check, the count and the encryption run in one
   * synchronous step, so a concurrent seal() cannot zero the key between them.
   */
  const encryptForWrite = async (path: string, plaintext: Buffer): Promise<Buffer> => {
    for (;;) {
      const current = unsealed();
      const entry = activeEntry(current.keyring);
      const count = current.encryptions.get(entry.term) ?? 0;
      const bound = current.keyring.reserved?.get(entry.term) ?? 0;
      if (count < maxEncryptions && count >= bound) {
        // Past the recorded bound a restart could count too low: record a higher one first.
        await reserve();
        continue;
      }
      if (count < maxEncryptions) {
        // Half-way through the reservation, record the next one in the background.
        if (count + 1 >= bound - reservation / 2 && reserving === undefined) reserve().catch(() => undefined);
        current.encryptions.set(entry.term, count + 1);
        return sealEnvelope(entry.term, entry.key, plaintext, path);
      }
      // Concurrent writers share one rotation and then all re-check the new term's headroom.
      autoRotation ??= rotate().finally(() => {
        autoRotation = undefined;
      });
      await autoRotation;
    }
  };

  /** Synchronous from the sealed check to the decryption, for the same reason as above. */
  const decryptValue = (path: string, blob: Buffer): Buffer => {
    const term = envelopeTerm(blob);
    const entry = unsealed().keyring.keys.get(term);
    if (entry === undefined) throw authenticationFailed();
    return openEnvelope(entry.key, blob, path);
  };

  const isInitialized = async (): Promise<boolean> => (await physical.get(KEYRING_KEY)) !== undefined;

  return {
    get sealed() {
      return state === undefined;
    },

    isInitialized,

    initialize: (rootKey) =>
      serialize(async () => {
        if (rootKey.length !== KEY_BYTES) throw new CofferError('bad_request', `the root key must be ${KEY_BYTES} bytes`);
        if (await isInitialized()) throw new CofferError('already_initialized', 'Vault is already initialized');
        const keyring = singleKeyring(newEntry(1));
        try {
          await persistKeyring(rootKey, keyring);
        } finally {
          // Initialising leaves the barrier sealed: nothing of the new keyring stays in memory.
          wipeKeyring(keyring);
        }
      }),

    unseal: (rootKey) => {
      // Taken at the call, not when the queued task starts: a seal() issued after this call
      // must win over it. The copy becomes the barrier's own root key if the unseal succeeds.
      const startEpoch = epoch;
      const ownRootKey = Buffer.from(rootKey);
      return serialize(async () => {
        let installed = false;
        try {
          if (state !== undefined) return;
          const blob = await physical.get(KEYRING_KEY);
          if (blob === undefined) throw new CofferError('not_initialized', 'Vault is not initialized');
          let plaintext: Buffer;
          try {
            if (envelopeTerm(blob) !== ROOT_TERM) throw authenticationFailed();
            plaintext = openEnvelope(ownRootKey, blob, KEYRING_KEY);
          } catch (err) {
            // One message for a wrong key, a wrong-length key and a tampered keyring.
            throw new CofferError('bad_request', 'failed to unseal the barrier: invalid key', { cause: err });
          }
          let keyring: Keyring;
          try {
            keyring = decodeKeyring(plaintext);
          } finally {
            plaintext.fill(0);
          }
          if (epoch !== startEpoch) {
            wipeKeyring(keyring);
            throw sealedError();
          }
          observe(ownRootKey);
          for (const entry of keyring.keys.values()) observe(entry.key);
          // Counting resumes from each term's recorded bound: never below what was really used.
          state = { rootKey: ownRootKey, keyring, encryptions: new Map([...keyring.keys.keys()].map((term) => [term, keyring.reserved?.get(term) ?? 0])) };
          installed = true;
        } finally {
          if (!installed) ownRootKey.fill(0);
        }
      });
    },

    seal() {
      epoch++;
      const current = state;
      state = undefined;
      if (current !== undefined) {
        current.rootKey.fill(0);
        wipeKeyring(current.keyring);
      }
      cache.clear();
    },

    rotate,

    keyStatus: () => statusOf(unsealed()),
    copyRootKey: () => Buffer.from(unsealed().rootKey),
    invalidateCached: (key) => cache.invalidate(key),

    // Not async: a cached read is then one promise, not three (this is every KV read's path).
    get(key) {
      try {
        unsealed();
        assertCallerKey(key);
      } catch (error) {
        return Promise.reject(error);
      }
      return cache.read(key, async () => {
        const blob = await physical.get(key);
        return blob === undefined ? undefined : decryptValue(key, blob);
      });
    },

    async put(key, value) {
      unsealed();
      assertCallerKey(key);
      const blob = await encryptForWrite(key, value);
      await cache.write(key, value, () => physical.put(key, blob));
    },

    async delete(key) {
      unsealed();
      assertCallerKey(key);
      await cache.write(key, undefined, () => physical.delete(key));
    },

    async list(prefix) {
      unsealed();
      assertCallerKey(prefix);
      return physical.list(prefix);
    },

    async listPage(prefix, after, limit) {
      unsealed();
      assertCallerKey(prefix);
      return physical.listPage(prefix, after, limit);
    },

    async batch(ops, options) {
      unsealed();
      for (const op of ops) assertCallerKey(op.key);
      const encrypted: WriteOp[] = [];
      for (const op of ops) {
        encrypted.push(op.type === 'put' ? { type: 'put', key: op.key, value: await encryptForWrite(op.key, op.value) } : op);
      }
      await cache.writeMany(
        ops.map((op) => ({ key: op.key, value: op.type === 'put' ? op.value : undefined })),
        () => physical.batch(encrypted, options),
      );
    },
  };
}
