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

/** Frees a slot; calling it again does nothing. */
export type ReleaseWatchSlot = () => void;

export interface WatchSlots {
  /** The most watches one token may hold open at once. */
  readonly maxPerToken: number;
  /**
   * A slot for the token whose id is `holder`, or undefined when it holds `maxPerToken` already.
   * The caller releases it when the watch ends, however it ends.
   */
  take(holder: string): ReleaseWatchSlot | undefined;
  /** How many slots `holder` holds now. */
  held(holder: string): number;
}

/** Throws a RangeError for a cap that is not a positive integer (config.ts refuses it first). */
export function createWatchSlots(options: { maxPerToken: number }): WatchSlots {
  const { maxPerToken } = options;
  if (!Number.isInteger(maxPerToken) || maxPerToken < 1) {
    throw new RangeError(`maxPerToken must be a positive integer, not ${String(maxPerToken)}`);
  }
  const open = new Map<string, number>();
  return {
    maxPerToken,
    take(holder) {
      const count = open.get(holder) ?? 0;
      if (count >= maxPerToken) return undefined;
      open.set(holder, count + 1);
      let released = false;
      return () => {
        // A stream ends through several paths (close, error, seal); only the first one counts.
        if (released) return;
        released = true;
        const left = (open.get(holder) ?? 1) - 1;
        if (left <= 0) open.delete(holder);
        else open.set(holder, left);
      };
    },
    held: (holder) => open.get(holder) ?? 0,
  };
}
