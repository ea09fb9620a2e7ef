/**
 * How tokens are shown on the wire: the `auth` block of a creation or renewal, and the `data`
 * of a lookup. Shared by the token auth method and, later, every login method.
 */
import { rfc3339 } from '../clock.js';
import type { AuthResponse } from '../router/engine.js';
import type { TokenEntry, TokenStore } from './token-store.js';

export function authBlock(token: string, entry: TokenEntry, tokens: Pick<TokenStore, 'ttlSeconds'>): AuthResponse {
  return {
    client_token: token,
    accessor: entry.accessor,
    policies: [...entry.policies],
    token_policies: [...entry.policies],
    metadata: Object.keys(entry.meta).length > 0 ? { ...entry.meta } : null,
    lease_duration: tokens.ttlSeconds(entry),
    renewable: entry.renewable,
    entity_id: entry.entityId,
    token_type: 'service',
    orphan: entry.orphan,
    num_uses: entry.numUses,
    mfa_requirement: null,
  };
}

/** Vault's lookup data. `id` is the raw token when the caller presented it, else ''. */
export function lookupData(entry: TokenEntry, id: string, tokens: Pick<TokenStore, 'ttlSeconds'>): Record<string, unknown> {
  return {
    accessor: entry.accessor,
    creation_time: Math.floor(entry.creationTime / 1000),
    creation_ttl: entry.creationTtl,
    display_name: entry.displayName,
    entity_id: entry.entityId,
    expire_time: entry.expireAt === 0 ? null : rfc3339(entry.expireAt),
    explicit_max_ttl: entry.explicitMaxTtl,
    id,
    identity_policies: [],
    issue_time: rfc3339(entry.creationTime),
    last_renewal: entry.lastRenewal === 0 ? null : rfc3339(entry.lastRenewal),
    last_renewal_time: entry.lastRenewal === 0 ? 0 : Math.floor(entry.lastRenewal / 1000),
    meta: Object.keys(entry.meta).length > 0 ? { ...entry.meta } : null,
    num_uses: entry.numUses,
    orphan: entry.orphan,
    path: entry.path,
    period: entry.period > 0 ? entry.period : undefined,
    policies: [...entry.policies],
    renewable: entry.renewable,
    ttl: tokens.ttlSeconds(entry),
    type: 'service',
    // Shown only when the token is bound, as Vault does.
    ...(entry.boundCidrs && entry.boundCidrs.length > 0 ? { bound_cidrs: [...entry.boundCidrs] } : {}),
    ...(entry.role === undefined ? {} : { role: entry.role }),
  };
}
