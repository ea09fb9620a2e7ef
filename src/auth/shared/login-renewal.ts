/**
 * What an auth method checks when a token from one of its logins is renewed, as Vault's
 * backends do in their renew handlers: the role behind the token must still exist.
 *
 * The role's token TTLs as they are now go back to the token store, which applies them to the
 * renewal as Vault does: a role whose token_max_ttl or token_period was lowered after the login
 * caps the tokens it already issued at their next renewal.
 * Must never: renew a token whose role is gone, so a periodic token cannot outlive its role.
 */
import { badRequest } from '../../core/errors.js';
import type { LoginRenewal, LoginRenewalLimits } from '../../core/router/engine.js';
import type { TokenSettings } from './token-fields.js';

/** What a renewal takes from a role's (or user's) token settings. */
export function renewalLimitsOf(settings: TokenSettings): LoginRenewalLimits {
  return { ttl: settings.ttl, maxTtl: settings.maxTtl, period: settings.period };
}

/**
 * A renewal check that refuses unless the role named by `metadataKey` in the token's metadata
 * exists, and answers with that role's current token TTLs.
 */
export function requireRole(
  tokenSettingsOf: (name: string) => Promise<TokenSettings | undefined>,
  metadataKey: string,
): (login: LoginRenewal) => Promise<LoginRenewalLimits> {
  return async (login) => {
    const name = login.metadata[metadataKey] ?? '';
    const settings = name === '' ? undefined : await tokenSettingsOf(name);
    if (!settings) throw badRequest(`role "${name}" does not exist during renewal`);
    return renewalLimitsOf(settings);
  };
}

/** Vault's EquivalentPolicies: the same set, 'default' aside. */
export function equivalentPolicies(a: readonly string[], b: readonly string[]): boolean {
  const set = (list: readonly string[]): Set<string> => new Set(list.filter((p) => p !== 'default'));
  const left = set(a);
  const right = set(b);
  return left.size === right.size && [...left].every((p) => right.has(p));
}
