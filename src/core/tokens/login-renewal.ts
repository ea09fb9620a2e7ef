/**
 * Renewal of a login token goes back to the auth method that issued it (Vault's backend renew
 * handlers): the token's path (`auth/approle/login`) names the mount, whose engine may refuse
 * because the role or user behind the token is gone or has changed.
 *
 * Must never: let a token from an auth mount that no longer routes be renewed.
 */
import { badRequest } from '../errors.js';
import type { LoginRenewalLimits } from '../router/engine.js';
import type { Router } from '../router/router.js';
import type { TokenEntry } from './token-store.js';

/** Tokens made by the token auth method itself (auth/token/create, root) have no login behind them. */
const TOKEN_MOUNT = 'auth/token/';

/** Resolves with the issuing role's current token TTLs, or undefined for a token with no login behind it. */
export type LoginRenewalCheck = (entry: TokenEntry) => Promise<LoginRenewalLimits | undefined>;

/** What the check needs of a mount: its path, and its tuned max TTL (0 = the system's). */
export interface RenewalMount {
  readonly path: string;
  readonly config?: { readonly max_lease_ttl: number };
}

export function createLoginRenewalCheck(router: Pick<Router<RenewalMount>, 'route'>): LoginRenewalCheck {
  return async (entry) => {
    if (!entry.path.startsWith('auth/') || entry.path.startsWith(TOKEN_MOUNT)) return undefined;
    const routed = router.route(entry.path);
    // Disabling an auth method revokes its tokens; one caught in between is not renewed.
    if (!routed) throw badRequest('the auth method that issued the token is no longer enabled, not renewing');
    const role = await routed.engine.checkRenewal?.({ path: routed.relativePath, metadata: entry.meta, policies: entry.policies });
    if (!role) return undefined;
    // The auth mount's tuned max lowers the role's, as at login (request-handler attachLogin).
    const mountMax = routed.mount.config?.max_lease_ttl ?? 0;
    const maxTtl = role.maxTtl > 0 && mountMax > 0 ? Math.min(role.maxTtl, mountMax) : role.maxTtl || mountMax;
    return { ...role, maxTtl };
  };
}
