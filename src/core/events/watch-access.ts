/**
 * What a watcher may learn: an event is delivered only if the watcher's token is still valid
 * and its policies grant `read` on the event's path, checked at delivery time (so a revoked
 * token or a tightened policy takes effect on the next event, not the next connection).
 */
import type { PolicyStore } from '../policy/store.js';
import type { TokenStore } from '../tokens/token-store.js';

export interface WatcherAccess {
  /**
   * Who watches: the token's id (the HMAC the token store keeps, never the raw token), by which
   * the per-token cap on open watches counts (watch-slots.ts).
   */
  readonly holder: string;
  canRead(path: string): Promise<boolean>;
  stillValid(): Promise<boolean>;
}

export function createWatchAccess(deps: { tokens: Pick<TokenStore, 'lookup' | 'lookupById'>; policies: Pick<PolicyStore, 'acl'> }) {
  return {
    async forToken(rawToken: string): Promise<WatcherAccess | undefined> {
      const entry = await deps.tokens.lookup(rawToken);
      if (!entry) return undefined;
      const id = entry.id;
      return {
        holder: id,
        async canRead(path) {
          const current = await deps.tokens.lookupById(id);
          if (!current) return false;
          const acl = await deps.policies.acl(current.policies);
          return acl.check(path, 'read').allowed;
        },
        async stillValid() {
          return (await deps.tokens.lookupById(id)) !== undefined;
        },
      };
    },
  };
}

export type WatchAccess = ReturnType<typeof createWatchAccess>;
