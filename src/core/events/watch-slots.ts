/**
 * How many watches (sys/watch event streams and sys/watch/poll long polls) one token holds open
 * at once. Each open watch holds a socket, a subscription and its backlog; any token with the
 * default policy may watch, so without a cap one low-privilege token could open thousands and
 * run the server out of memory or file descriptors.
 *
 * Owns: the count of open watches per token, keyed by the token's id (the HMAC the token store
 * keeps). It must never be handed or keep a raw token, and never keep an entry for a token that
 * holds no watch (the map would grow with every token that ever watched).
 */

/** Generous: an agent or SDK client opens one stream per watched prefix, and reconnects. */
export const DEFAULT_MAX_WATCHES_PER_TOKEN = 64;

/**
 * Open watches on the whole server, whatever tokens hold them. Every write is offered to every
 * watch of a prefix it falls under, and each such watch costs the write an ACL check (about 2 µs
 * here, so 10,000 of them add ~20 ms to each write); holders of many tokens could otherwise slow
 * every write without bound, and run the process out of file descriptors.
 */
export const DEFAULT_MAX_WATCHES = 10_000;

/** Frees a slot; calling it again does nothing. */
export type ReleaseWatchSlot = () => void;

export interface WatchSlots {
  /** The most watches one token may hold open at once. */
  readonly maxPerToken: number;
  /** The most watches the server holds open at once. */
  readonly maxTotal: number;
  /**
   * A slot for the token whose id is `holder`; 'token' when it holds `maxPerToken` already,
   * 'server' when the server holds `maxTotal`. The caller releases a slot when the watch ends,
   * however it ends.
   */
  take(holder: string): ReleaseWatchSlot | 'token' | 'server';
  /** How many slots `holder` holds now. */
  held(holder: string): number;
  /** How many slots are held in all. */
  readonly total: number;
}

/** Throws a RangeError for a cap that is not a positive integer (config.ts refuses it first). */
export function createWatchSlots(options: { maxPerToken: number; maxTotal?: number }): WatchSlots {
  const { maxPerToken, maxTotal = DEFAULT_MAX_WATCHES } = options;
  for (const [name, cap] of [['maxPerToken', maxPerToken], ['maxTotal', maxTotal]] as const) {
    if (!Number.isInteger(cap) || cap < 1) throw new RangeError(`${name} must be a positive integer, not ${String(cap)}`);
  }
  const open = new Map<string, number>();
  let total = 0;
  return {
    maxPerToken,
    maxTotal,
    take(holder) {
      const count = open.get(holder) ?? 0;
      if (count >= maxPerToken) return 'token';
      if (total >= maxTotal) return 'server';
      open.set(holder, count + 1);
      total += 1;
      let released = false;
      return () => {
        // A stream ends through several paths (close, error, seal); only the first one counts.
        if (released) return;
        released = true;
        total -= 1;
        const left = (open.get(holder) ?? 1) - 1;
        if (left <= 0) open.delete(holder);
        else open.set(holder, left);
      };
    },
    held: (holder) => open.get(holder) ?? 0,
    get total() {
      return total;
    },
  };
}
