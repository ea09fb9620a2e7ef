/**
 * An LRU of decrypted barrier values, keyed by storage key, so hot reads skip the physical read
 * and the AES-GCM open.
 *
 * It is correct only while this process is the ONLY writer of the physical storage: a value
 * changed behind our back (another node, an operator editing the database) would be served stale
 * from here. That holds for SQLite and memory storage; a shared PostgreSQL backend with several
 * Coffer nodes must disable the cache (cacheEntries: 0).
 *
 * Absent keys are cached too (a KV mount without a `config` entry would otherwise cost a
 * physical read on every write).
 *
 * Owns: which plaintexts are cached and when an entry may be filled. Must never: hand out a
 * buffer it keeps (values are copied in and out, so callers cannot alias cached plaintext), or
 * fill an entry from a read that raced a write to the same key (it could cache the old value).
 * Evicted and cleared plaintexts are zero-filled.
 */
import { LRUCache } from 'lru-cache';

/** Values larger than this are never cached: a few big blobs would crowd out many small ones. */
export const MAX_CACHED_VALUE_BYTES = 64 * 1024;

const ABSENT = Symbol('absent');

export interface PlaintextCache {
  /** A cached copy of `key`'s plaintext, or the result of `load()` (cached if still current). */
  read(key: string, load: () => Promise<Buffer | undefined>): Promise<Buffer | undefined>;
  /** Runs `store()`, which writes `value` (undefined: deletes) at `key`, keeping the cache in step. */
  write(key: string, value: Buffer | undefined, store: () => Promise<void>): Promise<void>;
  /**
   * Runs `store()`, which applies `changes` in order (value undefined: a delete); once it
   * succeeds, each key's entry holds its last change, under the same rules as `write`.
   */
  writeMany(changes: ReadonlyArray<{ key: string; value: Buffer | undefined }>, store: () => Promise<void>): Promise<void>;
  /**
   * Drops `key`'s entry because its stored value changed behind this cache (an HTTP replica
   * learns of the primary's commits this way); a read of it still in flight will not fill it.
   */
  invalidate(key: string): void;
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
      writeMany: (_changes, store) => store(),
      invalidate: () => undefined,
      clear: () => undefined,
      size: 0,
    };
  }

  // `ABSENT` marks a key known to have no value.
  const lru = new LRUCache<string, Buffer | typeof ABSENT>({
    max: maxEntries,
    dispose: (value) => {
      if (value !== ABSENT) value.fill(0);
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
  const fill = (key: string, value: Buffer | undefined): void => {
    if (value === undefined) lru.set(key, ABSENT);
    else if (value.length <= MAX_CACHED_VALUE_BYTES) lru.set(key, Buffer.from(value));
  };

  /** A miss: loads the value and caches it if no write overtook the load. */
  const readThrough = async (key: string, load: () => Promise<Buffer | undefined>): Promise<Buffer | undefined> => {
    const entry = track(key);
    const startEpoch = epoch;
    const startGeneration = entry.generation;
    // With a write in flight the backend may answer with either value; do not cache it.
    const quiet = entry.writers === 0;
    try {
      const value = await load();
      if (quiet && entry.generation === startGeneration && epoch === startEpoch) fill(key, value);
      return value;
    } finally {
      release(key, entry);
    }
  };

  return {
    // Not async, so a hit costs one settled promise; a miss goes through readThrough.
    read(key, load) {
      const hit = lru.get(key);
      if (hit === ABSENT) return Promise.resolve(undefined);
      if (hit !== undefined) return Promise.resolve(Buffer.from(hit));
      return readThrough(key, load);
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
        if (entry.generation === generation && epoch === startEpoch) fill(key, copy);
      } finally {
        copy?.fill(0);
        entry.writers--;
        release(key, entry);
      }
    },

    async writeMany(changes, store) {
      // The last change to a key in the batch is the value it ends with.
      const finals = new Map<string, Buffer | undefined>();
      for (const { key, value } of changes) finals.set(key, value === undefined ? undefined : Buffer.from(value));
      const startEpoch = epoch;
      const tracked = [...finals.keys()].map((key) => {
        const entry = track(key);
        entry.writers++;
        const generation = ++entry.generation;
        lru.delete(key);
        return { key, entry, generation };
      });
      try {
        await store();
        for (const { key, entry, generation } of tracked) {
          if (entry.generation === generation && epoch === startEpoch) fill(key, finals.get(key));
        }
      } finally {
        for (const { key, entry } of tracked) {
          finals.get(key)?.fill(0);
          entry.writers--;
          release(key, entry);
        }
      }
    },

    invalidate(key) {
      lru.delete(key);
      // A read that loaded the old value has not filled yet: the bump makes it skip the fill.
      const entry = inFlight.get(key);
      if (entry !== undefined) entry.generation++;
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
