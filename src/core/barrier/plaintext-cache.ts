/**
 * An LRU of decrypted barrier values, keyed by storage key, so hot reads skip the physical read
 * and the AES-GCM open.
 *
 * It is correct only while this process is the ONLY writer of the physical storage: a value
 * changed behind our back (another node, an operator editing the database) would be served stale
 * from here. That holds for SQLite and memory storage; a shared PostgreSQL backend with several
 * Coffer nodes must disable the cache (cacheEntries: 0).
 *
 * Owns: which plaintexts are cached and when an entry may be filled. Must never: hand out a
 * buffer it keeps (values are copied in and out, so callers cannot alias cached plaintext), or
 * fill an entry from a read that raced a write to the same key (it could cache the old value).
 * Evicted and cleared plaintexts are zero-filled.
 */
import { LRUCache } from 'lru-cache';

/** Values larger than this are never cached: a few big blobs would crowd out many small ones. */
export const MAX_CACHED_VALUE_BYTES = 64 * 1024;

export interface PlaintextCache {
  /** A cached copy of `key`'s plaintext, or the result of `load()` (cached if still current). */
  read(key: string, load: () => Promise<Buffer | undefined>): Promise<Buffer | undefined>;
  /** Runs `store()`, which writes `value` (undefined: deletes) at `key`, keeping the cache in step. */
  write(key: string, value: Buffer | undefined, store: () => Promise<void>): Promise<void>;
  /** Runs `store()`, which changes all of `keys`; their entries are dropped, not refilled. */
  writeMany(keys: readonly string[], store: () => Promise<void>): Promise<void>;
  /** Zero-fills and drops every entry; operations still in flight will not refill it. */
  clear(): void;
  readonly size: number;
}

/** Bookkeeping for a key with operations in flight; removed when the last one settles. */
interface InFlight {
  refs: number;
  writers: number;
  /** Bumped when a write starts, so a read or older write can tell it was overtaken. */
  generation: number;
}

export function createPlaintextCache(options: { maxEntries: number }): PlaintextCache {
  const { maxEntries } = options;
  if (!Number.isInteger(maxEntries) || maxEntries < 0) {
    throw new TypeError('cacheEntries must be a non-negative integer (0 disables the plaintext cache)');
  }
  if (maxEntries === 0) {
    return {
      read: (_key, load) => load(),
      write: (_key, _value, store) => store(),
      writeMany: (_keys, store) => store(),
      clear: () => undefined,
      size: 0,
    };
  }

  const lru = new LRUCache<string, Buffer>({
    max: maxEntries,
    dispose: (value) => {
      value.fill(0);
    },
  });
  const inFlight = new Map<string, InFlight>();
  // Bumped by clear(), so an operation that started before a seal cannot refill the cache after.
  let epoch = 0;

  const track = (key: string): InFlight => {
    let entry = inFlight.get(key);
    if (entry === undefined) {
      entry = { refs: 0, writers: 0, generation: 0 };
      inFlight.set(key, entry);
    }
    entry.refs++;
    return entry;
  };
  const release = (key: string, entry: InFlight): void => {
    entry.refs--;
    if (entry.refs === 0) inFlight.delete(key);
  };
  const fill = (key: string, value: Buffer): void => {
    if (value.length <= MAX_CACHED_VALUE_BYTES) lru.set(key, Buffer.from(value));
  };

  return {
    async read(key, load) {
      const hit = lru.get(key);
      if (hit !== undefined) return Buffer.from(hit);
      const entry = track(key);
      const startEpoch = epoch;
      const startGeneration = entry.generation;
      // With a write in flight the backend may answer with either value; do not cache it.
      const quiet = entry.writers === 0;
      try {
        const value = await load();
        if (value !== undefined && quiet && entry.generation === startGeneration && epoch === startEpoch) fill(key, value);
        return value;
      } finally {
        release(key, entry);
      }
    },

    async write(key, value, store) {
      const copy = value === undefined ? undefined : Buffer.from(value);
      const entry = track(key);
      entry.writers++;
      const generation = ++entry.generation;
      const startEpoch = epoch;
      lru.delete(key);
      try {
        await store();
        // Only the latest write to a key may fill it; an older one finishing late would be stale.
        if (copy !== undefined && entry.generation === generation && epoch === startEpoch) fill(key, copy);
      } finally {
        copy?.fill(0);
        entry.writers--;
        release(key, entry);
      }
    },

    async writeMany(keys, store) {
      const entries = keys.map((key) => {
        const entry = track(key);
        entry.writers++;
        entry.generation++;
        lru.delete(key);
        return entry;
      });
      try {
        await store();
      } finally {
        entries.forEach((entry, i) => {
          entry.writers--;
          release(keys[i] as string, entry);
        });
      }
    },

    clear() {
      epoch++;
      lru.clear();
    },

    get size() {
      return lru.size;
    },
  };
}
