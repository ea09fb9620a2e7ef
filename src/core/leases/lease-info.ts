/**
 * How a lease is shown to API callers (sys/leases/lookup, the irrevocable list), in Vault's
 * snake_case with RFC 3339 times.
 * Must never: show a lease's internal data (it may name the target system's user).
 */
import type { LeaseRecord } from './lease-record.js';

export interface LeaseInfo {
  id: string;
  issue_time: string;
  expire_time: string | null;
  last_renewal: string | null;
  renewable: boolean;
  ttl: number;
  irrevocable?: boolean;
  revocation_attempts?: number;
  last_error?: string;
}

const rfc3339 = (ms: number): string => new Date(ms).toISOString();

export function leaseInfo(record: LeaseRecord, now: number): LeaseInfo {
  const out: LeaseInfo = {
    id: record.id,
    issue_time: rfc3339(record.issueTime),
    expire_time: rfc3339(record.expireTime),
    last_renewal: record.lastRenewal === 0 ? null : rfc3339(record.lastRenewal),
    renewable: record.renewable && !record.revocation,
    ttl: Math.max(0, Math.round((record.expireTime - now) / 1000)),
  };
  if (record.revocation) {
    out.irrevocable = record.revocation.irrevocable;
    out.revocation_attempts = record.revocation.attempts;
    out.last_error = record.revocation.lastError;
  }
  return out;
}
