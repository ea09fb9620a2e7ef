/**
 * The TTLs of a dynamic credential's lease, from its role and its mount as they are at the time:
 * at issuance (creds/:role) and again at every renewal, so that lowering a role's max_ttl or
 * tuning the mount's max_lease_ttl down caps credentials already issued, as in Vault (its
 * database backend renews with framework.CalculateTTL over the role's current TTLs).
 *
 * The mount's values are effective ones: its tuning, else the server's system TTLs (MountInfo);
 * 0 only in engine test harnesses, meaning Vault's 768h.
 */
import type { MountInfo, RenewalTtls } from '../../core/router/engine.js';
import type { DbRole } from './config-store.js';

/** Vault's system default and maximum lease TTL: 768h. */
export const SYSTEM_MAX_TTL = 768 * 3600;

/**
 * The TTL the lease manager will grant at issuance, computed by the engine because
 * {{expiration}} must match it: the role's (or mount's) default, capped by the role's (or
 * mount's) maximum.
 */
export function effectiveTtl(roleDefault: number, roleMax: number, mountDefault: number, mountMax: number): number {
  const ttl = roleDefault || mountDefault || SYSTEM_MAX_TTL;
  const max = roleMax || mountMax || SYSTEM_MAX_TTL;
  return Math.min(ttl, max, mountMax || SYSTEM_MAX_TTL);
}

/**
 * What a renewal is held to now (Vault's CalculateTTL): the increment defaults to the role's
 * default TTL, else the mount's; the lease lives at most the mount's max TTL from its issue
 * time, or the role's max TTL if that is lower. A lease without a role (`undefined`) gets the
 * mount's.
 */
export function renewalTtls(role: Pick<DbRole, 'defaultTtl' | 'maxTtl'> | undefined, mount: Pick<MountInfo, 'defaultLeaseTtl' | 'maxLeaseTtl'>): RenewalTtls {
  const mountMax = mount.maxLeaseTtl || SYSTEM_MAX_TTL;
  const roleMax = role?.maxTtl ?? 0;
  return {
    ttl: role?.defaultTtl || mount.defaultLeaseTtl || SYSTEM_MAX_TTL,
    maxTtl: roleMax > 0 && roleMax < mountMax ? roleMax : mountMax,
  };
}
