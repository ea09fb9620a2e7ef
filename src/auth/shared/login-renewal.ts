/**
 * What an auth method checks when a token from one of its logins is renewed, as Vault's
 * backends do in their renew handlers: the role behind the token must still exist.
 *
 * The token keeps the TTLs it was issued with; a role's later TTL changes apply to new logins
 * only (Vault re-applies them at renewal).
 * Must never: renew a token whose role is gone, so a periodic token cannot outlive its role.
 */
import { badRequest } from '../../core/errors.js';
import type { LoginRenewal } from '../../core/router/engine.js';

/** A renewal check that refuses unless the role named by `metadataKey` in the token's metadata exists. */
export function requireRole(exists: (name: string) => Promise<boolean>, metadataKey: string): (login: LoginRenewal) => Promise<void> {
  return async (login) => {
    const name = login.metadata[metadataKey] ?? '';
    if (name === '' || !(await exists(name))) throw badRequest(`role "${name}" does not exist during renewal`);
  };
}

/** Vault's EquivalentPolicies: the same set, 'default' aside. */
export function equivalentPolicies(a: readonly string[], b: readonly string[]): boolean {
  const set = (list: readonly string[]): Set<string> => new Set(list.filter((p) => p !== 'default'));
  const left = set(a);
  const right = set(b);
  return left.size === right.size && [...left].every((p) => right.has(p));
}
