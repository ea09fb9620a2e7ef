/**
 * Renewal of a login token goes back to the auth method that issued it (Vault's backend renew
 * handlers): the token's path (`auth/approle/login`) names the mount, whose engine may refuse
 * because the role or user behind the token is gone or has changed.
 *
 * Must never: let a token from an auth mount that no longer routes be renewed.
 */
import { badRequest } from '../errors.js';
import type { Router } from '../router/router.js';
import type { TokenEntry } from './token-store.js';

/** Tokens made by the token auth method itself (auth/token/create, root) have no login behind them. */
const TOKEN_MOUNT = 'auth/token/';

export type LoginRenewalCheck = (entry: TokenEntry) => Promise<void>;

export function createLoginRenewalCheck(router: Pick<Router<{ path: string }>, 'route'>): LoginRenewalCheck {
  return async (entry) => {
    if (!entry.path.startsWith('auth/') || entry.path.startsWith(TOKEN_MOUNT)) return;
    const routed = router.route(entry.path);
    // Disabling an auth method revokes its tokens; one caught in between is not renewed.
    if (!routed) throw badRequest('the auth method that issued the token is no longer enabled, not renewing');
    await routed.engine.checkRenewal?.({ path: routed.relativePath, metadata: entry.meta, policies: entry.policies });
  };
}
