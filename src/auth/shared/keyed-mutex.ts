/**
 * An in-process mutex per key: callers that share a key run one after another.
 *
 * Owns: serialising read-modify-write of one login credential's state (a secret ID's remaining
 * uses, a user's failed-login counter), so concurrent logins can neither both spend the last
 * use nor both slip past a lockout threshold.
 * Must never: be relied on across processes; a multi-node backend needs storage-level
 * compare-and-set instead.
 */

export interface KeyedMutex {
  /** Runs `fn` once every earlier caller with the same key has settled; returns its result. */
  run<T>(key: string, fn: () => Promise<T>): Promise<T>;
  /** Keys with a holder or waiters right now (for leak checks in tests). */
  readonly activeKeys: number;
}

export function createKeyedMutex(): KeyedMutex {
  // The tail of each key's queue; removed when the queue drains so the map never grows with
  // the number of keys ever seen (an attacker spraying usernames cannot grow it).
  const tails = new Map<string, Promise<void>>();
  return {
    async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
      const previous = tails.get(key) ?? Promise.resolve();
      let release!: () => void;
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
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
