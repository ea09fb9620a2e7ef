/**
 * An in-process mutex per key: callers that share a key run one after another, callers with
 * different keys run concurrently.
 *
 * Owns: serialising read-modify-write of one record: a KV secret (so two concurrent writes
 * cannot both read version N and both write N+1), a secret ID's remaining uses, a user's
 * failed-login counter (so concurrent logins cannot both spend the last use or both slip past a
 * lockout threshold). Entries are dropped when a key's queue drains, so spraying keys cannot
 * grow it.
 * Must never: be relied on across processes. It guards only this Node process; a future
 * multi-node backend (PostgreSQL, Raft) needs storage-level compare-and-set or transactions
 * instead, because another node's writer never sees this lock.
 */

export interface KeyedMutex {
  /** Runs `fn` once every earlier caller with the same key has settled; returns its result. */
  run<T>(key: string, fn: () => Promise<T>): Promise<T>;
  /** Keys with a holder or waiters right now (for tests and leak checks). */
  readonly activeKeys: number;
}

export function createKeyedMutex(): KeyedMutex {
  // The tail of each key's queue: resolves when the last queued holder releases. Entries are
  // removed when the queue drains, so the map never grows with the number of keys ever seen.
  const tails = new Map<string, Promise<void>>();

  return {
    async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
      const previous = tails.get(key) ?? Promise.resolve();
      let release!: () => void;
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      // `previous` only ever resolves (holders release in `finally`), so the chain never rejects.
      const tail = previous.then(() => released);
      tails.set(key, tail);
      await previous;
      try {
        return await fn();
      } finally {
        release();
        if (tails.get(key) === tail) tails.delete(key);
      }
    },
    get activeKeys() {
      return tails.size;
    },
  };
}
